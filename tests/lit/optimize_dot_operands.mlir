// hip-optimize-dot-operands: where each tile.dot reads its operands from.
// hip.a: #tile.dot_op (A's fragments in registers: a previous dot's
// accumulator of the same rows, or a loop invariant's fragments loaded once)
// or #tile.shared (a shared tile: staged before the loop with dot_a_shared,
// copied by a pipelined loop, or staged at the dot); hip.b: B's shared tile,
// order [0, 1] when B = trans(x) is read as x's rows. maxPhase 8: the
// 128-byte swizzle of wgmma's descriptors; 1: rows padded for ldmatrix.
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_90a --hip-optimize-dot-operands | FileCheck %s --check-prefixes=CHECK,HOPPER
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_80 --hip-optimize-dot-operands | FileCheck %s --check-prefixes=CHECK,AMPERE
// RUN: hipattn-opt %s --split-input-file --hip-tile-to-llvm=target=sm_90a | FileCheck %s --check-prefix=LLVM
// A pass that runs without the dots' plans is refused, not guessed at.
// RUN: not hipattn-opt %s --split-input-file --hip-optimize-dot-operands 2>&1 | FileCheck %s --check-prefix=NOPLAN
// NOPLAN: a tile.dot without a hip-accelerate-dot plan
// The registered kernels: attention's P V takes P from registers, and
// Q K^T reads K's rows (no transpose in memory).
// RUN: hipattn compile flash_attention --config HEAD_DIM=64 --target sm_90a --emit hip-optimize-dot-operands | FileCheck %s --check-prefix=FLASH
// FLASH: tile.dot {{.*}}hip.a = #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 3, warpsPerCTA = [4, 1]>, kWidth = 2>, hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [0, 1]>
// FLASH: tile.dot {{.*}}hip.a = #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 3, warpsPerCTA = [4, 1]>, kWidth = 2>, hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>

// Chained dots: P = cast(Q K^T) is the second dot's A operand, in the
// registers of the first dot's accumulator (both split M only); the first
// dot reads B = trans(k) as k's rows.
// CHECK-LABEL: tile.kernel @chained
// HOPPER: tile.dot {{.*}}hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [0, 1]>
// AMPERE: tile.dot {{.*}}hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = 1, order = [0, 1]>
// HOPPER: tile.dot {{.*}}hip.a = #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 3, warpsPerCTA = [8, 1]>, kWidth = 2>
// AMPERE: tile.dot {{.*}}hip.a = #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [8, 1]>, kWidth = 2>
// The lowering follows: no ldmatrix of P (A from registers) on sm_90a.
// LLVM-LABEL: llvm.func @chained
// LLVM-NOT: ldmatrix
// LLVM: wgmma.mma_async
tile.kernel @chained(%q: !tile.ptr<bf16>, %k: !tile.ptr<bf16>, %out: !tile.ptr<f32>) num_warps(8) config {} {
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %c64 = tile.constant 64 : i32
  %s64 = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %rows = tile.mul %rr, %s64 : tensor<64x1xi32>
  %rb = tile.broadcast %rows : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %pk0 = tile.splat %k : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %pk = tile.addptr %pk0, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %kt = tile.load %pk : tensor<64x64x!tile.ptr<bf16>>
  %a = tile.constant dense<1.0> : tensor<128x64xbf16>
  %z = tile.constant dense<0.0> : tensor<128x64xf32>
  %ktt = tile.trans %kt : tensor<64x64xbf16> -> tensor<64x64xbf16>
  %s = tile.dot %a, %ktt, %z : tensor<128x64xbf16>, tensor<64x64xbf16> -> tensor<128x64xf32>
  %p = tile.cast %s : tensor<128x64xf32> -> tensor<128x64xbf16>
  %o = tile.dot %p, %kt, %z : tensor<128x64xbf16>, tensor<64x64xbf16> -> tensor<128x64xf32>
}

// -----

// A loop invariant (attention's Q) with dot_a_shared = 1: a shared tile
// staged once before the loop, swizzled for wgmma (K = 64); a uniform A
// (a constant tile) keeps its fragments in registers instead; the loaded
// B of each iteration is a shared tile (pipelined or staged at the dot).
// CHECK-LABEL: tile.kernel @invariant
// HOPPER: tile.dot {{.*}}hip.a = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>, hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>
// AMPERE: tile.dot {{.*}}hip.a = #tile.shared<vec = 8, perPhase = 1, maxPhase = 1, order = [1, 0]>, hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = 1, order = [1, 0]>
// CHECK: tile.dot {{.*}}hip.a = #tile.dot_op<opIdx = 0
// The lowering stages A before the loop and reads it through a descriptor.
// LLVM-LABEL: llvm.func @invariant
// LLVM: llvm.br
// LLVM-NOT: ldmatrix
// LLVM: wgmma.mma_async
tile.kernel @invariant(%q: !tile.ptr<bf16>, %kv: !tile.ptr<bf16>, %n: i32) num_warps(4) config {dot_a_shared = 1} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %c64 = tile.constant 64 : i32
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %one = tile.constant dense<1.0> : tensor<64x64xbf16>
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %s64 = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %rows = tile.mul %rr, %s64 : tensor<64x1xi32>
  %rb = tile.broadcast %rows : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %pq0 = tile.splat %q : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %pq = tile.addptr %pq0, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %qt = tile.load %pq : tensor<64x64x!tile.ptr<bf16>>
  %acc = tile.for %i = %c0 to %n step %c1 iter_args(%x = %z) -> tensor<64x64xf32> {
    %base = tile.mul %i, %c64 : i32
    %bs = tile.splat %base : i32 -> tensor<64x64xi32>
    %o = tile.add %off, %bs : tensor<64x64xi32>
    %p0 = tile.splat %kv : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %p = tile.addptr %p0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %t = tile.load %p : tensor<64x64x!tile.ptr<bf16>>
    %y = tile.dot %qt, %t, %x : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    %y2 = tile.dot %one, %t, %y : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y2 : tensor<64x64xf32>
  }
}

// -----

// The same loop without dot_a_shared: the invariant's fragments stay in
// registers; an A loaded in the body is a shared tile (swizzled on wgmma,
// K = 64: staged at the dot and read through a descriptor, no ldmatrix).
// CHECK-LABEL: tile.kernel @in_body
// CHECK: tile.dot {{.*}}hip.a = #tile.dot_op<opIdx = 0
// HOPPER: tile.dot {{.*}}hip.a = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>
// AMPERE: tile.dot {{.*}}hip.a = #tile.shared<vec = 8, perPhase = 1, maxPhase = 1, order = [1, 0]>
// LLVM-LABEL: llvm.func @in_body
// LLVM: llvm.br
// LLVM-NOT: ldmatrix
// LLVM: wgmma.mma_async
// LLVM-NOT: ldmatrix
// LLVM: wgmma.mma_async
// LLVM-NOT: ldmatrix
// LLVM: llvm.return
tile.kernel @in_body(%q: !tile.ptr<bf16>, %kv: !tile.ptr<bf16>, %n: i32) num_warps(4) config {} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %c64 = tile.constant 64 : i32
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %s64 = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %rows = tile.mul %rr, %s64 : tensor<64x1xi32>
  %rb = tile.broadcast %rows : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %pq0 = tile.splat %q : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %pq = tile.addptr %pq0, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %qt = tile.load %pq : tensor<64x64x!tile.ptr<bf16>>
  %acc = tile.for %i = %c0 to %n step %c1 iter_args(%x = %z) -> tensor<64x64xf32> {
    %base = tile.mul %i, %c64 : i32
    %bs = tile.splat %base : i32 -> tensor<64x64xi32>
    %o = tile.add %off, %bs : tensor<64x64xi32>
    %p0 = tile.splat %kv : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %p = tile.addptr %p0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %t = tile.load %p : tensor<64x64x!tile.ptr<bf16>>
    %y = tile.dot %qt, %t, %x : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    %y2 = tile.dot %t, %t, %y : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y2 : tensor<64x64xf32>
  }
}
