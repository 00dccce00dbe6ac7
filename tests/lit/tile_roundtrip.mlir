// The tile dialect's syntax: every op parses, prints and parses again to the
// same text (hipattn-opt verifies after parsing).
// RUN: hipattn-opt %s | hipattn-opt | FileCheck %s

// CHECK-LABEL: tile.kernel @all_ops(%x: !tile.ptr<f32>, %h: !tile.ptr<bf16>, %n: i32 {multiple_of = 16}, %s: f32)
// CHECK-SAME: num_warps(8) config {BLOCK = 64, num_warps = 8}
tile.kernel @all_ops(%x: !tile.ptr<f32>, %h: !tile.ptr<bf16>, %n: i32 {multiple_of = 16}, %s: f32)
    num_warps(8) config {BLOCK = 64, num_warps = 8} {
  // CHECK: tile.program_id 0
  // CHECK: tile.num_programs 2
  // CHECK: tile.constant 1.000000e+00 : f32
  // CHECK: tile.constant dense<0> : tensor<64xi32>
  // CHECK: tile.arange 0, 64 : tensor<64xi32>
  %pid = tile.program_id 0
  %np = tile.num_programs 2
  %one = tile.constant 1.0 : f32
  %zeros = tile.constant dense<0> : tensor<64xi32>
  %r = tile.arange 0, 64 : tensor<64xi32>
  // CHECK: tile.splat %{{.*}} : i32 -> tensor<64xi32>
  // CHECK: tile.expand_dims %{{.*}} axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  // CHECK: tile.broadcast %{{.*}} : tensor<64x1xi32> -> tensor<64x64xi32>
  // CHECK: tile.reshape %{{.*}} : tensor<64x64xi32> -> tensor<4096xi32>
  // CHECK: tile.trans %{{.*}} : tensor<64x64xi32> -> tensor<64x64xi32>
  %pids = tile.splat %pid : i32 -> tensor<64xi32>
  %col = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %sq = tile.broadcast %col : tensor<64x1xi32> -> tensor<64x64xi32>
  %flat = tile.reshape %sq : tensor<64x64xi32> -> tensor<4096xi32>
  %t = tile.trans %sq : tensor<64x64xi32> -> tensor<64x64xi32>
  // CHECK: tile.add
  // CHECK: tile.sub
  // CHECK: tile.mul
  // CHECK: tile.div
  // CHECK: tile.rem
  // CHECK: tile.min
  // CHECK: tile.max
  %a = tile.add %pids, %r : tensor<64xi32>
  %b = tile.sub %a, %r : tensor<64xi32>
  %c = tile.mul %b, %r : tensor<64xi32>
  %d = tile.div %c, %r : tensor<64xi32>
  %e = tile.rem %d, %r : tensor<64xi32>
  %f = tile.min %e, %r : tensor<64xi32>
  %g = tile.max %f, %zeros : tensor<64xi32>
  // CHECK: tile.cmp_lt %{{.*}}, %{{.*}} : tensor<64xi32>
  // CHECK: tile.cmp_ne %{{.*}}, %{{.*}} : tensor<64xi32>
  // CHECK: tile.and %{{.*}}, %{{.*}} : tensor<64xi1>
  // CHECK: tile.or
  // CHECK: tile.xor
  %ns = tile.splat %n : i32 -> tensor<64xi32>
  %lt = tile.cmp_lt %g, %ns : tensor<64xi32>
  %le = tile.cmp_le %g, %ns : tensor<64xi32>
  %gt = tile.cmp_gt %g, %ns : tensor<64xi32>
  %ge = tile.cmp_ge %g, %ns : tensor<64xi32>
  %eq = tile.cmp_eq %g, %ns : tensor<64xi32>
  %ne = tile.cmp_ne %g, %ns : tensor<64xi32>
  %m1 = tile.and %lt, %le : tensor<64xi1>
  %m2 = tile.or %m1, %gt : tensor<64xi1>
  %m3 = tile.xor %m2, %ge : tensor<64xi1>
  // CHECK: tile.addptr %{{.*}}, %{{.*}} : tensor<64x!tile.ptr<f32>>, tensor<64xi32>
  // CHECK: tile.load %{{.*}}, %{{.*}}, %{{.*}} : tensor<64x!tile.ptr<f32>>
  // CHECK: tile.load %{{.*}} : tensor<64x!tile.ptr<f32>>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<64x!tile.ptr<f32>>
  %p = tile.addptr %xs, %g : tensor<64x!tile.ptr<f32>>, tensor<64xi32>
  %fz = tile.constant dense<0.0> : tensor<64xf32>
  %v = tile.load %p, %m3, %fz : tensor<64x!tile.ptr<f32>>
  %w = tile.load %p : tensor<64x!tile.ptr<f32>>
  // CHECK: tile.neg
  // CHECK: tile.exp
  // CHECK: tile.exp2
  // CHECK: tile.log
  // CHECK: tile.log2
  // CHECK: tile.sqrt
  // CHECK: tile.abs
  // CHECK: tile.select %{{.*}}, %{{.*}}, %{{.*}} : tensor<64xf32>
  // CHECK: tile.cast %{{.*}} : tensor<64xf32> -> tensor<64xbf16>
  %u0 = tile.neg %v : tensor<64xf32>
  %u1 = tile.exp %u0 : tensor<64xf32>
  %u2 = tile.exp2 %u1 : tensor<64xf32>
  %u3 = tile.log %u2 : tensor<64xf32>
  %u4 = tile.log2 %u3 : tensor<64xf32>
  %u5 = tile.sqrt %u4 : tensor<64xf32>
  %u6 = tile.abs %u5 : tensor<64xf32>
  %sel = tile.select %eq, %u6, %w : tensor<64xf32>
  %bf = tile.cast %sel : tensor<64xf32> -> tensor<64xbf16>
  // CHECK: tile.sum %{{.*}} axis 0 : tensor<64xf32> -> f32
  // CHECK: tile.reduce_max %{{.*}} axis 1 : tensor<64x64xi32> -> tensor<64xi32>
  // CHECK: tile.reduce_min
  // CHECK: tile.argmax %{{.*}} axis 0 : tensor<64xf32> -> i32
  %sum = tile.sum %sel axis 0 : tensor<64xf32> -> f32
  %rmax = tile.reduce_max %t axis 1 : tensor<64x64xi32> -> tensor<64xi32>
  %rmin = tile.reduce_min %t axis 0 : tensor<64x64xi32> -> tensor<64xi32>
  %am = tile.argmax %sel axis 0 : tensor<64xf32> -> i32
  // CHECK: tile.dot %{{.*}}, %{{.*}}, %{{.*}} : tensor<64x16xbf16>, tensor<16x64xbf16> -> tensor<64x64xf32>
  %hs = tile.splat %h : !tile.ptr<bf16> -> tensor<64x16x!tile.ptr<bf16>>
  %ha = tile.load %hs : tensor<64x16x!tile.ptr<bf16>>
  %hb = tile.trans %ha : tensor<64x16xbf16> -> tensor<16x64xbf16>
  %acc = tile.constant dense<0.0> : tensor<64x64xf32>
  %dot = tile.dot %ha, %hb, %acc : tensor<64x16xbf16>, tensor<16x64xbf16> -> tensor<64x64xf32>
  // CHECK: tile.sort %{{.*}} descending : tensor<64xf32>
  // CHECK: tile.sort %{{.*}} : tensor<64xf32>
  // CHECK: tile.topk %{{.*}}, 8 : tensor<64xf32> -> tensor<8xf32>, tensor<8xi32>
  // CHECK: tile.topk %{{.*}}, 8 index_order : tensor<64xf32> -> tensor<8xf32>, tensor<8xi32>
  // CHECK: tile.gather %{{.*}}[%{{.*}}] : tensor<64xf32>, tensor<8xi32> -> tensor<8xf32>
  %sd = tile.sort %sel descending : tensor<64xf32>
  %sa = tile.sort %sel : tensor<64xf32>
  %tv, %ti = tile.topk %sel, 8 : tensor<64xf32> -> tensor<8xf32>, tensor<8xi32>
  %tw, %tj = tile.topk %sel, 8 index_order : tensor<64xf32> -> tensor<8xf32>, tensor<8xi32>
  %gv = tile.gather %sel[%ti] : tensor<64xf32>, tensor<8xi32> -> tensor<8xf32>
  // CHECK: %{{.*}}:2 = tile.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, tensor<64xf32>) {
  // CHECK: tile.yield %{{.*}}, %{{.*}} : f32, tensor<64xf32>
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %lp:2 = tile.for %i = %c0 to %n step %c1 iter_args(%acc0 = %s, %acc1 = %sel) -> (f32, tensor<64xf32>) {
    %nx = tile.add %acc0, %one : f32
    tile.yield %nx, %acc1 : f32, tensor<64xf32>
  }
  // A loop without carried values prints no terminator.
  // CHECK: tile.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
  // CHECK-NEXT: tile.store
  // CHECK-NEXT: }
  tile.for %i = %c0 to %n step %c1 {
    tile.store %p, %lp#1, %m3 : tensor<64x!tile.ptr<f32>>
  }
  // CHECK: tile.if %{{.*}} -> f32 {
  // CHECK: } else {
  // CHECK: tile.if %{{.*}} {
  // CHECK-NEXT: tile.store %{{.*}}, %{{.*}} : tensor<64x!tile.ptr<f32>>
  // CHECK-NEXT: }
  %cond = tile.cmp_lt %pid, %n : i32
  %iv = tile.if %cond -> (f32) {
    tile.yield %sum : f32
  } else {
    tile.yield %one : f32
  }
  tile.if %cond {
    tile.store %p, %sel : tensor<64x!tile.ptr<f32>>
  }
}
