//===- compiler/gpu/transforms/DotEncodings.h - hip-dot-encodings -*- C++ -*-===//
//
// The last GPU pass on the dialect (DESIGN.md, "IR stages"): each dot's
// accumulator layout (hip-accelerate-dot's hip.mma) becomes the encoding of
// the tile types that hold it: the dot's result and accumulator, and where a
// loop carries the accumulator, the loop's iter_arg, result and yield:
//   %acc = tile.for ... iter_args(%x = %init) -> tensor<128x256xf32, #tile.mma<...>>
//   %y = tile.dot %a, %b, %x : ... -> tensor<128x256xf32, #tile.mma<...>>
// Where a value enters that chain without the encoding (a zero init, a
// rescaled accumulator) a tile.convert_layout to it is inserted; where
// other ops read the chain, a tile.convert_layout to the plain type (no
// encoding: "the layout the value has", which the lowering does not move).
// The GPU lowering reads the dot's layout from its result type.
// hip-remove-layout-conversions then propagates the encodings through the
// ops that read the chain, and most of those conversions disappear.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

namespace hip::detail::gpu {

/// Runs hip-dot-encodings on `kernel` (after hip-allocate-shared).
void encodeDots(tile::KernelOp kernel);

/// Registers --hip-dot-encodings with hipattn-opt.
void registerDotEncodingsPass();

} // namespace hip::detail::gpu
