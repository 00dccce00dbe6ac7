//===- compiler/gpu/transforms/Passes.h - The GPU passes on tile IR -*- C++ -*-===//
//
// The GPU pipeline's passes on the tile dialect, in their order
// (DESIGN.md, "IR stages"), for every caller that prepares a kernel for a
// GPU target (compile, --emit tile-gpu, hipattn-opt --hip-tile-to-llvm).
// hip-axis-info is an analysis: the lowering runs it (AxisInfo.h).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "AccelerateDot.h"
#include "Pipeline.h"

namespace hip::detail::gpu {

inline void runGpuPasses(tile::KernelOp kernel, const Target &target) {
  accelerateDots(kernel, target);
  pipelineLoops(kernel);
}

} // namespace hip::detail::gpu
