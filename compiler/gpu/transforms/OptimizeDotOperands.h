//===- compiler/gpu/transforms/OptimizeDotOperands.h - hip-optimize-dot-operands -*- C++ -*-===//
//
// The pass of the GPU pipeline that decides where each tile.dot reads its
// operands from (DESIGN.md, "IR stages", after hip-accelerate-dot, before
// hip-pipeline), as two discardable attributes the later passes and the
// lowering read:
//   hip.a = #tile.dot_op<opIdx = 0, parent = <the dot's hip.mma>, kWidth = 2>
//       A's fragments are in registers: the 16-bit accumulator of a previous
//       dot whose warps own the same rows (FlashAttention-2's repack: no
//       shared memory), or a loop invariant whose fragments are loaded once
//       before the loop;
//   hip.a = #tile.shared<vec = 8, perPhase = 1, maxPhase = M, order = [1, 0]>
//       A is read from a shared-memory tile: staged once before the loop
//       (config dot_a_shared = 1, a loop invariant such as attention's Q),
//       copied by a pipelined loop, or staged at the dot. maxPhase 8: the
//       128-byte swizzle a wgmma descriptor reads (wgmma, K a multiple of
//       64); 1: rows padded by 8 halfs, read with ldmatrix;
//   hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = M, order = O>
//       B always comes from shared memory (swizzled for wgmma, padded for
//       mma.sync); order [0, 1] when the dot reads B = trans(x) as x's rows
//       (x [N, K] row-major: B's dimension 0 is the fast one), so the
//       transpose is never materialised.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

namespace hip::detail::gpu {

/// Runs hip-optimize-dot-operands on `kernel` (its dots carry hip.mma).
void optimizeDotOperands(tile::KernelOp kernel);

/// A's placement (hip.a) of `dot`: registers (a dot_op encoding) or a
/// shared tile (null when the pass has not run).
tile::SharedEncodingAttr sharedA(mlir::Operation *dot);
/// Whether `dot` reads A from registers per hip.a.
bool registersA(mlir::Operation *dot);
/// B's shared tile (hip.b) of `dot`.
tile::SharedEncodingAttr sharedB(mlir::Operation *dot);
/// Whether `dot` reads B = trans(x) as the rows of x (hip.b's order [0, 1]).
bool readsRowsB(mlir::Operation *dot);

/// Registers --hip-optimize-dot-operands with hipattn-opt.
void registerOptimizeDotOperandsPass();

} // namespace hip::detail::gpu
