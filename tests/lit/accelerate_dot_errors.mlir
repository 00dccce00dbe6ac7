// A dot that does not tile even over one warp (8 rows: mma.sync takes 16)
// is refused with its line, not lowered.
// RUN: hipattn-opt %s --hip-accelerate-dot=target=sm_80 --verify-diagnostics -o /dev/null

// expected-error @below {{dot result 8x16 cannot be tiled by mma.sync m16n8 over 1 warps (need M % 16 == 0 and N % 8 == 0)}}
tile.kernel @eight_rows(%out: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<8x16xbf16>
  %b = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<8x16xf32>
  %s = tile.dot %a, %b, %z : tensor<8x16xbf16>, tensor<16x16xbf16> -> tensor<8x16xf32>
}
