//===- compiler/gpu/transforms/Passes.h - The GPU passes on tile IR -*- C++ -*-===//
//
// The GPU pipeline's passes on the tile dialect, in their order
// (DESIGN.md, "IR stages"), for every caller that prepares a kernel for a
// GPU target (compile, --emit tile-gpu, hipattn-opt --hip-tile-to-llvm).
// hip-axis-info is an analysis: the exporter runs it (AxisInfo.h).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "AccelerateDot.h"

namespace hip::detail::gpu {

inline void runGpuPasses(tile::KernelOp kernel, const Target &target) {
  accelerateDots(kernel, target);
}

} // namespace hip::detail::gpu
