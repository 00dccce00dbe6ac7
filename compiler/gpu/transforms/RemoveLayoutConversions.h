//===- compiler/gpu/transforms/RemoveLayoutConversions.h - hip-remove-layout-conversions -*- C++ -*-===//
//
// The GPU pass after hip-dot-encodings (DESIGN.md, "IR stages"): the
// accumulator encodings it put on the dots propagate forward to the values
// computed from them, so that the tile types say which values live in a
// dot's layout and the tile.convert_layout ops to the plain type that
// hip-dot-encodings left between a dot and its readers disappear:
//   - an elementwise op takes the layout its operands vote for, as the GPU
//     lowering does: the first operand in an accumulator layout (#tile.mma
//     or a #tile.slice of one) wins over the others (the rest is mostly
//     index arithmetic, recomputed there for free), and where no dot result
//     is computed on in the kernel, the first operand that is not a splat;
//     operands in another layout get a tile.convert_layout to it;
//   - a row reduction (axis 1) of an accumulator gives #tile.slice<1, mma>;
//     tile.expand_dims (axis 1) of that gives the #tile.mma [M, 1] column,
//     and tile.broadcast of the column over whole mma column blocks gives the
//     [M, N] accumulator;
//   - a loop-carried value takes the encoding of the value its loop yields
//     when its initial value is a splat or has that encoding (softmax's
//     running max and sum, a rescaled accumulator); loops are iterated to a
//     fixed point.
// A dot's A operand that hip-optimize-dot-operands reads from registers
// (hip.a = #tile.dot_op) is typed so, through a tile.convert_layout from
// the value's own layout (P, the second dot's A in attention, from the
// accumulator layout of the first: a register repack at the dot).
// A column reduction (axis 0) of an accumulator reads it in its layout (the
// lowering reduces it in place; its result stays plain). Other readers the
// rule does not cover (stores, loads, B operands, shape ops into other
// layouts) read a tile.convert_layout to the type they had (the plain type:
// no code, the value keeps its layout). hip-assign-blocked then types the
// other register tiles with their blocked layouts; the lowering checks that
// every encoded value it builds holds exactly the layout its type names.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

namespace hip::detail::gpu {

/// Runs hip-remove-layout-conversions on `kernel` (after hip-dot-encodings).
void removeLayoutConversions(tile::KernelOp kernel);

/// Registers --hip-remove-layout-conversions with hipattn-opt.
void registerRemoveLayoutConversionsPass();

} // namespace hip::detail::gpu
