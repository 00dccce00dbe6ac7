//===- compiler/gpu/transforms/AssignBlocked.h - hip-assign-blocked -*- C++ -*-===//
//
// The GPU pass that types the register tiles outside the dots' layouts with
// their blocked encoding (DESIGN.md, "IR stages": coalescing). Each value
// the GPU lowering holds in registers in a blocked layout gets the
// `#tile.blocked` encoding of that layout, so the tile types say, for every
// load, address, mask and index vector as for the softmax before, which
// thread holds which element:
//   %r = tile.arange 0, 64 : tensor<64xi32, #tile.blocked<sizePerThread = [8], ...>>
//   %p = tile.addptr %base, %off : tensor<64x128x!tile.ptr<bf16>, #tile.blocked<...>>, ...
//   %x = tile.load %p, %m, %o : tensor<64x128x!tile.ptr<bf16>, #tile.blocked<...>>
// The layout is the one blocked layout of the tile's shape (defaultBlocked):
// 8 consecutive elements per thread along the last dimension (16 bytes of
// bf16: one vector access, hip-axis-info permitting), the lanes and then the
// warps along it, the rest down the rows; a warp covers whole 128-byte rows
// where the tile is wide enough.
// Typed: aranges, gathers, top-k and column reductions (axis 0 of a rank-2
// tile), whose results the lowering always gives that layout; elementwise
// ops, non-pipelined loads, broadcasts, expand_dims, reshapes, row
// reductions and sorts whose operands are typed or uniform (a splat, a
// constant, or computed from those: built in the layout where read); a
// loop's carried values whose initial value is typed or uniform and whose
// yielded value is typed (decided to a fixed point). Left plain ("the layout
// the lowering gives it"): uniform values; the values in a dot's layout that
// hip-remove-layout-conversions did not type, and what reads them; the loads
// hip-pipeline turned into copies to shared memory; transposes (a dot reads
// one as B in place). A store or a reduction to a scalar of typed (and
// uniform) values reads them typed; other plain readers of a typed value
// (dots, the copies, loop slots left plain, ...) read it through one
// tile.convert_layout to the plain type (no code: the value keeps its
// layout).
// It runs last, after hip-remove-layout-conversions (DESIGN.md lists it
// second): the values it types are those that pass leaves plain, and the
// accumulator propagation does not have to look through blocked types. The
// GPU lowering checks that every value it builds holds exactly the layout
// its type names.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

#include <cstdint>

namespace hip::detail::gpu {

/// The default blocked layout of the (S0, S1) view of a tile (a rank-1 tile
/// is its (1, N) view) over `numWarps` warps: s1 consecutive elements per
/// thread along dimension 1, t0 x t1 lanes and w0 x w1 warps (dimension 1
/// fastest).
struct BlockedShape {
  int s1, t0, t1, w0, w1;
};
BlockedShape defaultBlocked(int64_t S0, int64_t S1, int numWarps);

/// Blocked layout `b` over `numWarps` warps as the #tile.blocked encoding
/// of a tile of rank `rank` (1: of its (1, N) view).
mlir::Attribute blockedEncoding(mlir::MLIRContext *ctx, size_t rank, const BlockedShape &b,
                                int numWarps);

/// The default blocked layout of a tile of `shape` (rank 1 or 2) as its
/// #tile.blocked encoding (null for another rank).
mlir::Attribute defaultBlockedEncoding(mlir::MLIRContext *ctx, llvm::ArrayRef<int64_t> shape,
                                       int numWarps);

/// Runs hip-assign-blocked on `kernel` (after hip-remove-layout-conversions).
void assignBlocked(tile::KernelOp kernel);

/// Registers --hip-assign-blocked with hipattn-opt.
void registerAssignBlockedPass();

} // namespace hip::detail::gpu
