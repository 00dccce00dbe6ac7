// hip-pipeline: which loads of a loop become cp.async copies into a ring of
// num_stages shared buffers (hip.copy: their order; hip.shared: the buffer's
// layout), how far ahead they run (hip.pipeline), the ops that compute their
// addresses (hip.copy_slice) and the wgmma dots left in flight across
// iterations (hip.defer). The GPU lowering expands the loop from these marks.
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_80 --hip-optimize-dot-operands --hip-pipeline | FileCheck %s --check-prefixes=CHECK,AMPERE
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_90a --hip-optimize-dot-operands --hip-pipeline | FileCheck %s --check-prefixes=CHECK,HOPPER
// RUN: hipattn-opt %s --split-input-file --hip-tile-to-llvm=target=sm_80 | FileCheck %s --check-prefix=LLVM
// The IR after each GPU pass of a registered kernel (hipattn compile --emit
// <pass>; HIP_DUMP_IR=<pass> prints the same for the kernels a GPU run
// compiles): the dots' plans first, then the loop's marks.
// RUN: hipattn compile matmul --config BLOCK_N=128,num_warps=4,num_stages=3 --target sm_90a --emit hip-accelerate-dot | FileCheck %s --check-prefix=AFTER-DOT
// RUN: hipattn compile matmul --config BLOCK_N=128,num_warps=4,num_stages=3 --target sm_90a --emit hip-pipeline | FileCheck %s --check-prefix=AFTER-PIPE
// tma = 1: the matmul's tiles are box loads (load_box), copied with TMA on
// sm_90a (the loop is marked tma, on mbarriers), not on sm_80; the PTX takes
// one descriptor per box load after the arguments (a grid constant), thread 0
// arrives with the stage's bytes and copies one box per 64-column group.
// RUN: hipattn compile matmul --config BLOCK_K=64,num_stages=4,tma=1 --target sm_90a --emit hip-pipeline | FileCheck %s --check-prefix=TMA
// RUN: hipattn compile matmul --config BLOCK_K=64,num_stages=4,tma=1 --target sm_80 --emit hip-pipeline | FileCheck %s --check-prefix=TMA-AMPERE
// RUN: hipattn compile matmul --config BLOCK_K=64,num_stages=4,tma=1 --target sm_90a --emit ptx | FileCheck %s --check-prefix=TMA-PTX
// TMA: tile.load {{.*}} box(%{{.*}}, %arg0) {box = array<i64: 0, 3, 5, 6>, hip.copy = 0 : i64, {{.*}}, hip.tma}
// TMA: tile.load {{.*}} box(%arg0, %{{.*}}) {box = array<i64: 1, 5, 4, 7>, hip.copy = 1 : i64, {{.*}}, hip.tma}
// TMA: hip.pipeline = {ahead = 2 : i64, mbarriers, stages = 4 : i64, tma}
// TMA-AMPERE: tile.load {{.*}} box({{.*}}) {box = array<i64: 0, 3, 5, 6>, hip.copy = 0 : i64
// TMA-AMPERE-NOT: hip.tma
// TMA-AMPERE: hip.pipeline = {ahead = 3 : i64, stages = 4 : i64}
// TMA-PTX: .param .align 64 .b8 matmul_param_9[128],
// TMA-PTX-NEXT: .param .align 64 .b8 matmul_param_10[128]
// TMA-PTX: cvta.param.u64
// TMA-PTX-NOT: cp.async.cg
// TMA-PTX: mbarrier.arrive.expect_tx.shared::cta.b64 _, [{{%r[0-9]+}}], {{%r[0-9]+}};
// TMA-PTX-COUNT-5: cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes
// TMA-PTX-NOT: cp.async.cg
// AFTER-DOT-NOT: hip.copy
// AFTER-DOT: tile.dot {{.*}}hip.mma = #tile.mma<version = 2, warpsPerCTA = [2, 2]>
// AFTER-DOT-NOT: hip.pipeline
// AFTER-PIPE: tile.load {{.*}}hip.copy = 0
// AFTER-PIPE: tile.dot {{.*}}hip.mma = #tile.mma<version = 2, warpsPerCTA = [2, 2]>
// AFTER-PIPE: hip.pipeline = {ahead = 2 : i64, stages = 3 : i64}

// A matmul's K loop at 3 stages (the config's): both operand loads copied,
// two iterations ahead. On mma.sync the buffers' rows are padded (maxPhase
// 1); on wgmma they take the 128-byte swizzle (A's rows hold 64 columns),
// and the dot, whose result is only yielded, stays in flight (one stage
// less ahead).
// CHECK-LABEL: tile.kernel @kloop
// CHECK: tile.splat %{{.*}} {hip.copy_slice} : i32 -> tensor<64x64xi32>
// CHECK-NEXT: tile.addptr {{.*}} {hip.copy_slice}
// AMPERE-NEXT: tile.load {{.*}} {hip.copy = 0 : i64, hip.shared = #tile.shared<vec = 8, perPhase = 1, maxPhase = 1, order = [1, 0]>}
// HOPPER-NEXT: tile.load {{.*}} {hip.copy = 0 : i64, hip.shared = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>}
// CHECK: tile.mul %{{.*}}, %ldb {hip.copy_slice} : i32
// AMPERE: tile.load {{.*}} {hip.copy = 1 : i64, hip.shared = #tile.shared<vec = 8, perPhase = 1, maxPhase = 1, order = [1, 0]>}
// HOPPER: tile.load {{.*}} {hip.copy = 1 : i64, hip.shared = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>}
// AMPERE: tile.dot
// AMPERE-NOT: hip.defer
// HOPPER: tile.dot {{.*}} {hip.a = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>, hip.b = #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>, hip.defer, hip.mma = #tile.mma<version = 3, warpsPerCTA = [4, 1]>}
// AMPERE: } {hip.pipeline = {ahead = 2 : i64, stages = 3 : i64}}
// HOPPER: } {hip.pipeline = {ahead = 1 : i64, stages = 3 : i64}}
// The lowering follows: the first two stages' copies before the loop, one
// stage's in each iteration.
// LLVM-LABEL: llvm.func @kloop
// LLVM-COUNT-2: cp.async.commit_group
// LLVM-NOT: cp.async.commit_group
// LLVM: llvm.br ^bb1
// LLVM: cp.async.commit_group
tile.kernel @kloop(%a: !tile.ptr<bf16>, %b: !tile.ptr<bf16>, %c: !tile.ptr<f32>, %K: i32 {multiple_of = 16}, %ldb: i32 {multiple_of = 16}) num_warps(4) config {num_stages = 3} {
  %c0 = tile.constant 0 : i32
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
  %pa0 = tile.splat %a : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %pa = tile.addptr %pa0, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %pb0 = tile.splat %b : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %pb = tile.addptr %pb0, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %acc = tile.for %k = %c0 to %K step %c64 iter_args(%x = %z) -> tensor<64x64xf32> {
    %ks = tile.splat %k : i32 -> tensor<64x64xi32>
    %pak = tile.addptr %pa, %ks : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %ta = tile.load %pak : tensor<64x64x!tile.ptr<bf16>>
    %kb = tile.mul %k, %ldb : i32
    %kbs = tile.splat %kb : i32 -> tensor<64x64xi32>
    %pbk = tile.addptr %pb, %kbs : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %tb = tile.load %pbk : tensor<64x64x!tile.ptr<bf16>>
    %y = tile.dot %ta, %tb, %x : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y : tensor<64x64xf32>
  }
  %pc0 = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %pc = tile.addptr %pc0, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  tile.store %pc, %acc : tensor<64x64x!tile.ptr<f32>>
}

// -----

// num_stages on the loop wins over the config's (1 here), and gathered rows
// are pipelined with the indices that address them: the i32 load of the
// block index is in the copies' slice, not a copy itself (only 16-bit tiles
// feeding a dot are copied).
// CHECK-LABEL: tile.kernel @gathered
// CHECK: tile.load %{{.*}} {hip.copy_slice} : !tile.ptr<i32>
// CHECK: tile.load {{.*}} {hip.copy = 0 : i64
// CHECK: } {hip.pipeline = {ahead = 1 : i64, stages = 2 : i64}, num_stages = 2 : i64}
// LLVM-LABEL: llvm.func @gathered
// LLVM: cp.async.commit_group
// LLVM-NOT: cp.async.commit_group
// LLVM: llvm.br ^bb1
tile.kernel @gathered(%idx: !tile.ptr<i32>, %kv: !tile.ptr<bf16>, %n: i32) num_warps(4) config {num_stages = 1} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %c64 = tile.constant 64 : i32
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %q = tile.constant dense<1.0> : tensor<64x64xbf16>
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %s64 = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %rows = tile.mul %rr, %s64 : tensor<64x1xi32>
  %rb = tile.broadcast %rows : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %acc = tile.for %i = %c0 to %n step %c1 iter_args(%x = %z) -> tensor<64x64xf32> {
    %pi = tile.addptr %idx, %i : !tile.ptr<i32>, i32
    %blk = tile.load %pi : !tile.ptr<i32>
    %base = tile.mul %blk, %c64 : i32
    %bs = tile.splat %base : i32 -> tensor<64x64xi32>
    %o = tile.add %off, %bs : tensor<64x64xi32>
    %p0 = tile.splat %kv : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %p = tile.addptr %p0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %t = tile.load %p : tensor<64x64x!tile.ptr<bf16>>
    %y = tile.dot %q, %t, %x : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y : tensor<64x64xf32>
  } {num_stages = 2 : i64}
}

// -----

// Two chained dots (attention's Q K^T and P V): on wgmma the first is waited
// for at once and the second, whose A is computed from it, stays in flight.
// The first dot's wait completes the previous iteration's second dot too, so
// the copies are issued after it (refill_after_wait) and run two of three
// stages ahead; with the wait at the top of the body they would run one.
// CHECK-LABEL: tile.kernel @chained
// HOPPER: tile.dot {{.*}}hip.defer
// AMPERE: } {hip.pipeline = {ahead = 2 : i64, stages = 3 : i64}}
// HOPPER: } {hip.pipeline = {ahead = 2 : i64, refill_after_wait, stages = 3 : i64}}
tile.kernel @chained(%kp: !tile.ptr<bf16>, %vp: !tile.ptr<bf16>, %n: i32 {multiple_of = 16}) num_warps(4) config {num_stages = 3} {
  %c0 = tile.constant 0 : i32
  %c64 = tile.constant 64 : i32
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %q = tile.constant dense<1.0> : tensor<64x64xbf16>
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %s64 = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %rows = tile.mul %rr, %s64 : tensor<64x1xi32>
  %rb = tile.broadcast %rows : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %acc = tile.for %i = %c0 to %n step %c64 iter_args(%x = %z) -> tensor<64x64xf32> {
    %row = tile.mul %i, %c64 : i32
    %rs = tile.splat %row : i32 -> tensor<64x64xi32>
    %o = tile.add %off, %rs : tensor<64x64xi32>
    %pk0 = tile.splat %kp : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %pk = tile.addptr %pk0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %kt = tile.load %pk : tensor<64x64x!tile.ptr<bf16>>
    %pv0 = tile.splat %vp : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %pv = tile.addptr %pv0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %vt = tile.load %pv : tensor<64x64x!tile.ptr<bf16>>
    %s = tile.dot %q, %kt, %z : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    %p = tile.cast %s : tensor<64x64xf32> -> tensor<64x64xbf16>
    %y = tile.dot %p, %vt, %x : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y : tensor<64x64xf32>
  }
}

// -----

// An address computed from a loop-carried value cannot be computed ahead:
// the loop is not pipelined.
// CHECK-LABEL: tile.kernel @carried_address
// CHECK-NOT: hip.copy
// CHECK-NOT: hip.pipeline
// LLVM-LABEL: llvm.func @carried_address
// LLVM-NOT: cp.async
tile.kernel @carried_address(%kv: !tile.ptr<bf16>, %n: i32) num_warps(4) config {num_stages = 3} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %q = tile.constant dense<1.0> : tensor<64x64xbf16>
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %rb = tile.broadcast %rr : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %acc:2 = tile.for %i = %c0 to %n step %c1 iter_args(%x = %z, %at = %c0) -> (tensor<64x64xf32>, i32) {
    %bs = tile.splat %at : i32 -> tensor<64x64xi32>
    %o = tile.add %off, %bs : tensor<64x64xi32>
    %p0 = tile.splat %kv : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %p = tile.addptr %p0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %t = tile.load %p : tensor<64x64x!tile.ptr<bf16>>
    %y = tile.dot %q, %t, %x : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    %next = tile.add %at, %c1 : i32
    tile.yield %y, %next : tensor<64x64xf32>, i32
  }
}
