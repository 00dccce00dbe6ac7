// The layout encodings' verifiers: each bad encoding is refused with its message.
// RUN: hipattn-opt %s --split-input-file --verify-diagnostics -o /dev/null

tile.kernel @k0(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.blocked threadsPerWarp must multiply to 32, got 16}}
  %s = tile.dot %a, %a, %z {l = #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [2, 8], warpsPerCTA = [4, 1], order = [1, 0]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k1(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.blocked order must be a permutation of the 2 dimensions}}
  %s = tile.dot %a, %a, %z {l = #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 1]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k2(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.blocked sizes must be powers of two}}
  %s = tile.dot %a, %a, %z {l = #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [3, 1], order = [1, 0]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k3(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.blocked needs 1 or 2 dimensions in each list, got 1, 2, 2}}
  %s = tile.dot %a, %a, %z {l = #tile.blocked<sizePerThread = [8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k4(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.mma version must be 2 (mma.sync) or 3 (wgmma), got 1}}
  %s = tile.dot %a, %a, %z {l = #tile.mma<version = 1, warpsPerCTA = [4, 1]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k5(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.mma version 3 (wgmma) takes whole warpgroups along M: warpsPerCTA = [4k, 1]}}
  %s = tile.dot %a, %a, %z {l = #tile.mma<version = 3, warpsPerCTA = [2, 2]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k6(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.mma warpsPerCTA must be two powers of two}}
  %s = tile.dot %a, %a, %z {l = #tile.mma<version = 2, warpsPerCTA = [4]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k7(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.dot_op opIdx must be 0 (A) or 1 (B), got 2}}
  %s = tile.dot %a, %a, %z {l = #tile.dot_op<opIdx = 2, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>, kWidth = 2>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k8(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.dot_op parent must be a #tile.mma layout}}
  %s = tile.dot %a, %a, %z {l = #tile.dot_op<opIdx = 0, parent = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>, kWidth = 2>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k9(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.shared vec, perPhase and maxPhase must be powers of two}}
  %s = tile.dot %a, %a, %z {l = #tile.shared<vec = 6, perPhase = 1, maxPhase = 8, order = [1, 0]>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k10(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.slice dim must be 0 or 1 (of a 2-D parent), got 2}}
  %s = tile.dot %a, %a, %z {l = #tile.slice<dim = 2, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @k11(%x: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %z = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{#tile.slice parent must be a register layout}}
  %s = tile.dot %a, %a, %z {l = #tile.slice<dim = 0, parent = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>>} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}
