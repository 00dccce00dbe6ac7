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
#include "AllocateShared.h"
#include "AssignBlocked.h"
#include "DotEncodings.h"
#include "OptimizeDotOperands.h"
#include "Pipeline.h"
#include "RemoveLayoutConversions.h"

#include <string>

namespace hip::detail::gpu {

/// The GPU passes, in order (the IR after each is a dump stage).
inline constexpr const char *kGpuPasses[] = {"hip-accelerate-dot", "hip-optimize-dot-operands",
                                             "hip-pipeline", "hip-allocate-shared",
                                             "hip-dot-encodings", "hip-remove-layout-conversions",
                                             "hip-assign-blocked"};

/// Whether `stage` names a GPU pass.
inline bool isGpuPassStage(const std::string &stage) {
  for (const char *p : kGpuPasses)
    if (stage == p) return true;
  return false;
}

/// Runs the GPU passes on `kernel`; with `stopAfter` (one of kGpuPasses),
/// those up to that one only.
inline void runGpuPasses(tile::KernelOp kernel, const Target &target,
                         const std::string &stopAfter = "") {
  accelerateDots(kernel, target);
  if (stopAfter == kGpuPasses[0]) return;
  optimizeDotOperands(kernel);
  if (stopAfter == kGpuPasses[1]) return;
  pipelineLoops(kernel);
  if (stopAfter == kGpuPasses[2]) return;
  allocateShared(kernel);
  if (stopAfter == kGpuPasses[3]) return;
  encodeDots(kernel);
  if (stopAfter == kGpuPasses[4]) return;
  removeLayoutConversions(kernel);
  if (stopAfter == kGpuPasses[5]) return;
  assignBlocked(kernel);
}

} // namespace hip::detail::gpu
