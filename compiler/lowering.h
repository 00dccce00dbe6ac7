//===- compiler/lowering.h - Internal interface of the backends -*- C++ -*-===//
//
// Private to compiler/: includes MLIR. Each backend turns a tile-IR Kernel
// into an MLIR module of upstream dialects (arith, scf, math, llvm, nvvm);
// pipeline.cpp lowers that to LLVM and on to PTX or JIT'd host code.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/compiler/compiler.h"
#include "hip/dsl/ir.h"
#include "hip/error.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <memory>
#include <string>

namespace hip::tile {
class KernelOp;
}

namespace hip::detail {

/// A tile shape seen as 2-D (rows, columns): scalars (1, 1), [N] as (1, N).
inline std::pair<int64_t, int64_t> view2d(const std::vector<int64_t> &s) {
  if (s.empty()) return {1, 1};
  if (s.size() == 1) return {1, s[0]};
  return {s[0], s[1]};
}

/// Builds `OpTy` (MLIR 22's OpTy::create, in one place).
template <class OpTy, class... Args>
OpTy mk(mlir::OpBuilder &b, mlir::Location loc, Args &&...args) {
  return OpTy::create(b, loc, std::forward<Args>(args)...);
}

/// Builds `OpTy` and folds it where its operands allow (x + 0, x * 1, x / 1,
/// constant operands): the per-thread code repeats such index arithmetic for
/// every element, and each op left out is one the LLVM conversion and LLVM's
/// own passes need not process.
template <class OpTy, class... Args>
mlir::Value fold(mlir::OpBuilder &b, mlir::Location loc, Args &&...args) {
  return b.createOrFold<OpTy>(loc, std::forward<Args>(args)...);
}

/// Points `b` at the end of `blk` (a region block built with an implicit
/// terminator) with that terminator removed, so the lowering can emit the
/// body and its own yield.
inline void enterEmptyBlock(mlir::OpBuilder &b, mlir::Block *blk) {
  if (!blk->empty() && blk->back().hasTrait<mlir::OpTrait::IsTerminator>()) blk->back().erase();
  b.setInsertionPointToEnd(blk);
}

/// "file:line" of an MLIR location (the first file location inside it), or
/// "" if it has none.
std::string formatLoc(mlir::Location loc);

/// Collects the diagnostics emitted on `ctx` while it lives, one
/// "file:line: message" line each (notes indented below), so that failures
/// become exceptions carrying their text.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext *ctx);
  const std::string &text() const { return text_; }

private:
  void add(mlir::Diagnostic &d, const char *prefix);
  std::string text_;
  mlir::ScopedDiagnosticHandler handler_;
};

/// Every dialect, interface and translation the project uses.
void buildRegistry(mlir::DialectRegistry &registry);
/// A context with every dialect, interface and translation the project uses.
std::unique_ptr<mlir::MLIRContext> createContext();

/// MLIR type of one element: ptr -> !llvm.ptr<addrSpace>.
mlir::Type elementType(mlir::MLIRContext *ctx, dsl::DType t, unsigned addrSpace);
/// MLIR type of a non-pointer element (null for ptr).
mlir::Type scalarType(mlir::MLIRContext *ctx, dsl::DType t);
/// Location of a tile-IR op: the user's file:line:column (unknown if the op
/// has no source file).
mlir::Location locOf(mlir::MLIRContext *ctx, const dsl::Op &op);
/// Location of a tile dialect op for the code lowered from it: the user's
/// file (its name only, as above):line:column (unknown if it has none).
mlir::Location locOf(mlir::MLIRContext *ctx, mlir::Operation *op);

mlir::Value constInt(mlir::OpBuilder &b, mlir::Location loc, mlir::Type t, int64_t v);
mlir::Value constI32(mlir::OpBuilder &b, mlir::Location loc, int64_t v);
mlir::Value constF32(mlir::OpBuilder &b, mlir::Location loc, double v);
/// A scalar constant of tile-IR type `t`.
mlir::Value constantOf(mlir::OpBuilder &b, mlir::Location loc, dsl::DType t,
                       double fv, int64_t iv);

/// Scalar semantics of the elementwise ops, shared by both backends. Floats
/// narrower than f32 are computed in f32. `gpu` selects PTX fast paths for
/// exp/log (ex2.approx, lg2.approx).
struct ScalarEmitter {
  mlir::OpBuilder &b;
  bool gpu;
  unsigned ptrAddrSpace;
  mlir::Value toF32(mlir::Location loc, mlir::Value v, dsl::DType t);
  mlir::Value fromF32(mlir::Location loc, mlir::Value v, dsl::DType t);
  mlir::Value cast(mlir::Location loc, mlir::Value v, dsl::DType from, dsl::DType to);
  /// One element of op `k`; `operandType` is the type of operands[0] (or of
  /// operands[1] for Select), `resultType` that of the result.
  mlir::Value emit(mlir::Location loc, dsl::OpKind k,
                   llvm::ArrayRef<mlir::Value> operands, dsl::DType operandType,
                   dsl::DType resultType, dsl::DType pointee);
  /// Combines two values for a reduction (sum/max/min).
  mlir::Value combine(mlir::Location loc, dsl::OpKind reduceKind, mlir::Value a,
                      mlir::Value b, dsl::DType t);
  /// Identity element of a reduction in type t.
  mlir::Value identity(mlir::Location loc, dsl::OpKind reduceKind, dsl::DType t);
};

/// Result of lowering a kernel to MLIR.
struct Lowered {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string entry;
  int numThreads = 1;
  std::size_t sharedBytes = 0;
  std::size_t scratchBytes = 0;
  /// GPU: the TMA descriptors the kernel takes after its parameters.
  std::vector<TensorMapSpec> tensorMaps;
  /// GPU: the tile kernel with each op's `hip.layout` (the layouts chosen
  /// for its results), in MLIR syntax.
  std::string layouts;
};

/// GPU: per-thread code with layouts for `kernel` (verified, through
/// runGpuPasses), in a new module of its context; the tile IR is left as it
/// was. Throws CompileError for unsupported shapes (e.g. dot tiles the
/// mma.sync shapes cannot cover). `wantLayouts`: also fill
/// Lowered::layouts (printing costs time).
Lowered lowerToGpu(tile::KernelOp kernel, const Target &t, bool wantLayouts = false);
/// CPU: one program as loop nests over scratch buffers (into a new module of
/// `kernel`'s context).
Lowered lowerToCpu(tile::KernelOp kernel);

/// Lowers arith/scf/math/cf to the LLVM dialect in place.
void lowerToLLVMDialect(mlir::ModuleOp m, const std::string &what, const Target &t);
/// LLVM dialect -> LLVM IR text (for --emit llvm).
std::string translateToLLVMText(mlir::ModuleOp m, const Target &t);
/// LLVM dialect -> PTX.
std::string emitPTX(mlir::ModuleOp m, const Target &t);
/// LLVM dialect -> JIT'd host code. Returns the engine (type-erased) and the
/// entry address.
std::pair<std::shared_ptr<void>, void *> jitCPU(mlir::ModuleOp m,
                                                const std::string &entry);
/// Text of an MLIR module.
std::string printModule(mlir::ModuleOp m);

/// Whether HIP_DUMP_IR asks for `stage`.
bool dumpEnabled(const std::string &stage);
/// Dumps the text `make` returns for `stage` if HIP_DUMP_IR asks for it
/// (`make` is not called otherwise).
void maybeDump(const std::string &kernel, const std::string &stage,
               const std::function<std::string()> &make);

} // namespace hip::detail
