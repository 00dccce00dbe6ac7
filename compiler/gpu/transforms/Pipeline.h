//===- compiler/gpu/transforms/Pipeline.h - hip-pipeline -------*- C++ -*-===//
//
// The software-pipelining pass of the GPU pipeline (DESIGN.md, "IR
// stages"), after hip-optimize-dot-operands. For each tile.for with num_stages >= 2
// (its own `num_stages` attribute, else the kernel config's) it chooses
// which loads of the body become asynchronous copies into a ring of
// num_stages shared buffers, issued ahead of the dots that read them, and
// marks the loop (the lowering expands it: prologue, copies, waits):
//   tile.for ... {hip.pipeline = {ahead = A, stages = S[, refill_after_wait]}}
//       copies run A iterations ahead (S - 1; with deferred dots S - 2, or
//       S - 1 when issued after the wait that completes the previous
//       iteration's deferred groups: refill_after_wait, see Pipeline.cpp)
//   tile.load ... {hip.copy = N, hip.shared = #tile.shared<...>}
//       the N-th copy of the loop, its buffer's layout (maxPhase 8: the
//       128-byte swizzle wgmma reads; 1: rows padded by 8 halfs for ldmatrix)
//   tile.dot ... {hip.defer}
//       a wgmma dot whose group stays in flight into the next iteration
//   <op> ... {hip.copy_slice}
//       the ops computing the copies' addresses and masks, run with the
//       copies (index loads and gathers included: gathered K/V rows are
//       pipelined with the indices that address them)
// Copied: loads of 16-bit tiles whose only use is a dot of the body that
// reads that operand from shared memory (hip.a / hip.b, whose layout the
// buffer takes; B possibly through a tile.trans the dot reads as rows),
// each address a run of 8 halfs starting at a multiple of 8 (hip-axis-info:
// one 16-byte cp.async; the loop is not pipelined if a load's is not). The loop is left as
// it is when nothing qualifies or an address depends on a carried value or
// on a reduction, dot, sort or nested region.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

namespace hip::detail::gpu {

/// Runs hip-pipeline on `kernel` (after hip-accelerate-dot).
void pipelineLoops(tile::KernelOp kernel);

/// Registers --hip-pipeline with hipattn-opt.
void registerPipelinePass();

} // namespace hip::detail::gpu
