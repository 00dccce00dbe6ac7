//===- compiler/tile/TileDialect.h - The tile dialect (private) -*- C++ -*-===//
//
// C++ side of TileOps.td: the generated dialect, type and op classes, and
// the helpers their type constraints call. Private to compiler/ (includes
// MLIR); the rest of the project reaches the dialect through
// hip/compiler/tile_dialect.h.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "TileDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "TileTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "TileAttrs.h.inc"

namespace hip::tile {

/// i1 of the shape of `t` (a scalar or a tile): the type of masks and of
/// comparison results.
mlir::Type boolLike(mlir::Type t);
/// For a pointer (tile) type: its pointee, of the same shape; null otherwise.
mlir::Type pointeeLike(mlir::Type t);
/// Shape of a scalar (empty) or a tile.
llvm::ArrayRef<int64_t> shapeOf(mlir::Type t);
/// The verifier of the reduction ops (sum, reduce_max, reduce_min, argmax).
llvm::LogicalResult verifyReduction(mlir::Operation *op, int64_t axis);

} // namespace hip::tile

#define GET_OP_CLASSES
#include "TileOps.h.inc"
