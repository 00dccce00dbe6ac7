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

#include <string>

namespace hip::detail::gpu {

/// Runs the GPU passes on `kernel`; with `stopAfter` (a pass's name, e.g.
/// "hip-accelerate-dot"), those up to that one only.
inline void runGpuPasses(tile::KernelOp kernel, const Target &target,
                         const std::string &stopAfter = "") {
  accelerateDots(kernel, target);
  if (stopAfter == "hip-accelerate-dot") return;
  pipelineLoops(kernel);
}

/// Whether `stage` names a GPU pass (the IR after it is a dump stage).
inline bool isGpuPassStage(const std::string &stage) {
  return stage == "hip-accelerate-dot" || stage == "hip-pipeline";
}

} // namespace hip::detail::gpu
