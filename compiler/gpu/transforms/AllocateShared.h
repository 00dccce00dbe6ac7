//===- compiler/gpu/transforms/AllocateShared.h - hip-allocate-shared -*- C++ -*-===//
//
// The last pass of the GPU pipeline (DESIGN.md, "IR stages"): byte offsets
// in shared memory for the buffers that live as long as a loop, by
// liveness: a loop's buffers are live while it runs, so the loops nested in
// it stack theirs above and the loops that follow it reuse the same bytes.
// A tile.for's buffers, from the first byte above its enclosing loop's:
//  1. the sources of its gathers (direct ops of the body) that are defined
//     before it and not uniform, written once before the loop (the mask
//     search's branch tiles): 16-byte aligned, `hip.smem_src = off` on each
//     gather that reads one;
//  2. the A operands hip-optimize-dot-operands placed in shared memory that
//     are defined before it (attention's Q with dot_a_shared), staged once
//     before the loop: rows padded by 8 halfs (128-byte aligned) or the
//     128-byte swizzle (1024-byte aligned), `hip.smem_a = off` on each dot
//     that reads one;
//  3. the ring of each of hip-pipeline's copies: num_stages buffers of the
//     copy's layout, `hip.smem = {base = off, stage_bytes = n}` on the load.
// The loop gets `hip.smem_top`: the first byte above its buffers, where
// its nested loops' buffers and the lowering's temporaries (the scratch of
// layout changes and of operands staged at a dot, sized when the lowering
// chooses them) begin.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

namespace hip::detail::gpu {

/// Runs hip-allocate-shared on `kernel` (after hip-pipeline).
void allocateShared(tile::KernelOp kernel);

/// Registers --hip-allocate-shared with hipattn-opt.
void registerAllocateSharedPass();

} // namespace hip::detail::gpu
