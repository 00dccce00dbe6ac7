//===- compiler/gpu/transforms/AccelerateDot.h - hip-accelerate-dot -*- C++ -*-===//
//
// The pass of the GPU pipeline that puts dots on tensor cores
// (DESIGN.md, "IR stages"): for each tile.dot of a tile.kernel it chooses the
// instruction (wgmma.mma_async m64nNk16 on sm_90a, else mma.sync m16n8k16)
// and how the warps split the M x N result, and it fixes the kernel's warp
// count: the config's num_warps is a request, halved (down to one warp)
// while some dot's result does not tile over the warps, so no kernel has to
// check its warp counts and a config that does not tile still compiles.
// Each dot gets the discardable attribute (its accumulator's layout)
//   hip.mma = #tile.mma<version = V, warpsPerCTA = [WM, WN]>
// (V: 3 wgmma, 2 mma.sync; WM x WN warps)
// which the lowering reads, and tile.kernel's num_warps becomes the chosen
// count.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

#include "hip/compiler/compiler.h"

#include <utility>

namespace hip::detail::gpu {

/// The warps along M and along N of an M x N accumulator over `nw` warps.
/// When some dot of the kernel runs on wgmma (`anyWgmma`), a result of 16
/// rows per warp and N a multiple of 8 up to 256 takes wgmma's layout: one
/// m64 block per warpgroup, all columns (nw x 1). Otherwise mma.sync's:
/// kernels whose dots are chained (a dot's result feeds another's A
/// operand, as attention's P does) split along M only, as far as M allows,
/// so each warp owns whole rows; others split along M first while each
/// warp keeps at least 16 rows and M / wm >= N / wn, then along N. The
/// lowering takes the same grid for a value in a dot's layout that is not a
/// dot's result (an accumulator a loop carries).
std::pair<int, int> accumulatorWarps(int64_t M, int64_t N, int nw, bool chained, bool anyWgmma);

/// Whether `op` is a tile.dot that hip-accelerate-dot put on wgmma
/// (its hip.mma plan has version 3).
bool runsOnWgmma(mlir::Operation *op);

/// Whether `v` is computed (through elementwise ops and broadcasts) from
/// the result of a tile.dot (a dot whose A operand is: chained dots).
bool computedFromDot(mlir::Value v);

/// Whether `v` is defined outside `region` (an op with regions: a loop):
/// neither by an op nor as a block argument inside it.
bool definedOutside(mlir::Value v, mlir::Operation *region);

/// Whether tile (or scalar) `v` holds one value in every element: a splat,
/// a constant tile, or computed (or changed in layout) from those and scalars only (the lowering
/// keeps it as one register and gives it any layout for free).
bool isUniform(mlir::Value v);

/// Splat or tile constant `v` built again at `b`'s insertion point with
/// type `t` (another encoding of the same shape); null when `v` is neither.
mlir::Value rebuildSplat(mlir::OpBuilder &b, mlir::Value v, mlir::Type t);

/// Whether `dot` reads its B operand as the rows of a transposed tile (B a
/// tile.trans of 16-bit elements that only this dot uses): the GPU backend
/// then reads the source's rows as B's columns and never materialises the
/// transpose.
bool readsTransposedB(tile::DotOp dot);

/// Runs hip-accelerate-dot on `kernel` for `target` (a GPU target).
/// Throws CompileError where a dot does not tile even over one warp.
void accelerateDots(tile::KernelOp kernel, const Target &target);

/// Registers --hip-accelerate-dot=target=T with hipattn-opt.
void registerAccelerateDotPass();

} // namespace hip::detail::gpu
