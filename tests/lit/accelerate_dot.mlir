// hip-accelerate-dot: each tile.dot's accumulator layout (hip.mma, a
// #tile.mma: version 3 wgmma.mma_async, 2 mma.sync; warps along M and N),
// and the kernel's warp count, chosen on the dialect so that
// no kernel checks its warps and a config that does not tile still compiles.
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_90a | FileCheck %s --check-prefixes=CHECK,HOPPER
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_80 | FileCheck %s --check-prefixes=CHECK,AMPERE
// RUN: hipattn-opt %s --split-input-file --hip-tile-to-llvm=target=sm_90a | FileCheck %s --check-prefix=LLVM

// Chained dots (attention: P = cast(Q K^T) is the second dot's A operand):
// the warps split M only, so each warp owns whole rows of P; on sm_90a both
// run on wgmma, one m64 block per warpgroup.
// CHECK-LABEL: tile.kernel @chained
// CHECK-SAME: num_warps(8)
// HOPPER: tile.dot {{.*}}hip.mma = #tile.mma<version = 3, warpsPerCTA = [8, 1]>
// HOPPER: tile.dot {{.*}}hip.mma = #tile.mma<version = 3, warpsPerCTA = [8, 1]>
// AMPERE: tile.dot {{.*}}hip.mma = #tile.mma<version = 2, warpsPerCTA = [8, 1]>
// AMPERE: tile.dot {{.*}}hip.mma = #tile.mma<version = 2, warpsPerCTA = [8, 1]>
tile.kernel @chained(%out: !tile.ptr<f32>) num_warps(8) config {} {
  %a = tile.constant dense<1.0> : tensor<128x64xbf16>
  %b = tile.constant dense<1.0> : tensor<64x64xbf16>
  %z = tile.constant dense<0.0> : tensor<128x64xf32>
  %s = tile.dot %a, %b, %z : tensor<128x64xbf16>, tensor<64x64xbf16> -> tensor<128x64xf32>
  %p = tile.cast %s : tensor<128x64xf32> -> tensor<128x64xbf16>
  %o = tile.dot %p, %b, %z : tensor<128x64xbf16>, tensor<64x64xbf16> -> tensor<128x64xf32>
}

// -----

// One dot: on mma.sync the warps split M while each keeps at least 16 rows
// and as many rows as columns, then N (2 x 2 here).
// CHECK-LABEL: tile.kernel @single
// CHECK-SAME: num_warps(4)
// HOPPER: tile.dot {{.*}}hip.mma = #tile.mma<version = 3, warpsPerCTA = [4, 1]>
// AMPERE: tile.dot {{.*}}hip.mma = #tile.mma<version = 2, warpsPerCTA = [2, 2]>
tile.kernel @single(%out: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<64x32xbf16>
  %b = tile.constant dense<1.0> : tensor<32x64xbf16>
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %s = tile.dot %a, %b, %z : tensor<64x32xbf16>, tensor<32x64xbf16> -> tensor<64x64xf32>
}

// -----

// 16 x 32 does not tile over 8 warps (1 x 8 would need N % 64): the kernel
// runs on 4, each with 8 of the columns.
// CHECK-LABEL: tile.kernel @fewer_warps
// CHECK-SAME: num_warps(4)
// CHECK: tile.dot {{.*}}hip.mma = #tile.mma<version = 2, warpsPerCTA = [1, 4]>
tile.kernel @fewer_warps(%out: !tile.ptr<f32>) num_warps(8) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %b = tile.constant dense<1.0> : tensor<16x32xbf16>
  %z = tile.constant dense<0.0> : tensor<16x32xf32>
  %s = tile.dot %a, %b, %z : tensor<16x16xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
}

// The GPU lowering (which runs the pass first) follows the plan: the block
// of @fewer_warps has 4 warps.
// LLVM-LABEL: llvm.func @fewer_warps
// LLVM-SAME: nvvm.maxntid = array<i32: 128, 1, 1>

// `hipattn compile --emit tile-gpu` shows a registered kernel after the pass:
// the sm_90a flash attention's two dots on wgmma over 8 warps.
// RUN: hipattn compile flash_attention --config HEAD_DIM=128,BLOCK_M=128,num_warps=8 --target sm_90a --emit tile-gpu | FileCheck %s --check-prefix=EMIT
// EMIT: tile.kernel @flash_attention
// EMIT-SAME: num_warps(8)
// EMIT-COUNT-2: tile.dot {{.*}}hip.mma = #tile.mma<version = 3, warpsPerCTA = [8, 1]>
