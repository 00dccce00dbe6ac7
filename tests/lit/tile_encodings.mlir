// The tile dialect's layout encodings (what a GPU pass says about which
// thread holds which element): blocked, mma (mma.sync / wgmma accumulator),
// dot_op (an A or B operand of a dot with its parent accumulator), shared
// (swizzled) and slice (a reduction's result). Each parses, prints and parses
// again to the same text.
// RUN: hipattn-opt %s | hipattn-opt | FileCheck %s

// CHECK-LABEL: tile.kernel @layouts
// CHECK: blocked = #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
// CHECK-SAME: dot_a = #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>, kWidth = 2>
// CHECK-SAME: mma = #tile.mma<version = 3, warpsPerCTA = [8, 1]>
// CHECK-SAME: rows = #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-SAME: swizzled = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>
tile.kernel @layouts(%x: !tile.ptr<f32>) num_warps(8) config {} {
  %a = tile.constant dense<1.0> : tensor<128x64xbf16>
  %b = tile.constant dense<1.0> : tensor<64x64xbf16>
  %z = tile.constant dense<0.0> : tensor<128x64xf32>
  %s = tile.dot %a, %b, %z {
      blocked = #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>,
      mma = #tile.mma<version = 3, warpsPerCTA = [8, 1]>,
      dot_a = #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>, kWidth = 2>,
      swizzled = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>,
      rows = #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [2, 2]>>}
      : tensor<128x64xbf16>, tensor<64x64xbf16> -> tensor<128x64xf32>
}
