//===- compiler/tile/tile.h - Tile dialect <-> dsl::Kernel (private) -*- C++ -*-===//
//
// How the compiler moves a traced kernel through the tile dialect:
//   importKernel: hip::dsl::Kernel -> module with one tile.kernel (each op
//                 located at the user's file:line:column)
//   verify, canonicalize: MLIR's verifier and the dialect's folders
//   prepareForBackend: import, verify, canonicalize, GPU passes: what the
//                 GPU and CPU lowerings take (they lower the dialect itself)
//   exportKernel: tile.kernel -> hip::dsl::Kernel (parsed text, round trips)
// Private to compiler/ (includes MLIR); hip/compiler/tile_dialect.h is the
// MLIR-free interface for the rest of the project.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "TileDialect.h"

#include "hip/compiler/tile_dialect.h"
#include "hip/dsl/ir.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hip::tile {

/// Adds the tile dialect to `registry`.
void registerDialect(mlir::DialectRegistry &registry);
/// A context that holds the tile dialect only (cheap to create: the
/// round trip of compile() uses one of its own).
std::unique_ptr<mlir::MLIRContext> createTileContext();

/// The module holding `k` as one tile.kernel. Not verified.
mlir::OwningOpRef<mlir::ModuleOp> importKernel(const dsl::Kernel &k, mlir::MLIRContext &ctx);
/// The dsl::Kernel of a verified tile.kernel. Throws CompileError (naming the
/// op and its location) for what the lowerings cannot take, e.g. an op of
/// another dialect in the body.
dsl::Kernel exportKernel(KernelOp op);

/// The one tile.kernel of `m`.
KernelOp onlyKernel(mlir::ModuleOp m);
/// `k` imported into `ctx` (which gets the tile dialect), verified,
/// canonicalized and, for a GPU target, through the dialect's GPU passes:
/// what a backend lowers (the compile path of compile() and emitStage()).
mlir::OwningOpRef<mlir::ModuleOp> prepareForBackend(const dsl::Kernel &k, mlir::MLIRContext &ctx,
                                                    const Target &target);

/// The DSL op kind of a tile dialect op (none for other ops).
std::optional<dsl::OpKind> kindOf(mlir::Operation &op);
/// The same for an op a backend lowers: CompileError (naming the op and the
/// user's line) for an op of another dialect in a tile.kernel's body.
dsl::OpKind kindOrThrow(mlir::Operation &op);
/// Integer attribute `name` of a verified tile op (the verifier guarantees
/// it; InternalError if it is missing).
int64_t intAttrOf(mlir::Operation *op, llvm::StringRef name);
/// A constant's value as the DSL holds it: an integer, or a float converted
/// to an integer (as the C++ DSL does; the GPU backend reads divisibility
/// from it).
int64_t constantInt(ConstantOp op);
/// A constant's value as a double (an integer constant converted).
double constantFloat(ConstantOp op);
/// The DSL type of a tile-dialect type (a scalar, a tile, a pointer); none
/// for a type the DSL does not have.
std::optional<dsl::Type> dslTypeOf(mlir::Type t);
/// The user's file:line:column of an MLIR location (none if it has none).
/// File names are kept for the life of the process: compiled kernels and
/// their error messages point at them.
SourceLoc sourceLocOf(mlir::Location loc);

/// Verifies `op`; on failure throws `InternalError` (when the IR came from
/// the DSL, whose own checks should have caught it) or `CompileError`
/// (textual IR), with every diagnostic as "file:line: message".
void verifyOrThrow(mlir::Operation *op, bool fromDSL);
/// Runs the tile dialect's folders and canonicalization patterns on `op`.
void canonicalize(mlir::Operation *op);
/// Text of `op` in MLIR syntax; with `locations`, each op's loc(...) too.
std::string print(mlir::Operation *op, bool locations);

} // namespace hip::tile

namespace hip::tile {
/// Registers the tile dialect's passes with MLIR's pass registry (for
/// hipattn-opt): --hip-tile-to-llvm=target=T lowers every tile.kernel of the
/// module through the compiler's own backend to the LLVM dialect.
void registerPasses();
} // namespace hip::tile
