// The tile dialect's folders under --canonicalize: x + 0, x * 1, x / 1,
// constant operands, shape ops of constants, trivial selects and casts.
// RUN: hipattn-opt --canonicalize %s | FileCheck %s

// CHECK-LABEL: tile.kernel @identities
// Constants go to the top of the kernel (only the one still used is left).
// CHECK-NEXT: %[[Z:.*]] = tile.constant 0.000000e+00 : f32
tile.kernel @identities(%p: !tile.ptr<i32>, %q: !tile.ptr<f32>, %n: i32, %x: f32) num_warps(4) config {} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %f1 = tile.constant 1.0 : f32
  %fm0 = tile.constant -0.0 : f32
  // x + 0, 0 + x, x - 0, x * 1, x / 1 on integers are x.
  %a = tile.add %n, %c0 : i32
  %b = tile.add %c0, %a : i32
  %c = tile.sub %b, %c0 : i32
  %d = tile.mul %c, %c1 : i32
  %e = tile.div %d, %c1 : i32
  // CHECK-NOT: tile.add
  // CHECK-NOT: tile.sub
  // CHECK-NOT: tile.div
  // CHECK-NEXT: tile.store %p, %n : !tile.ptr<i32>
  tile.store %p, %e : !tile.ptr<i32>
  // Floats: x * 1.0 and x + -0.0 are x ...
  %f = tile.mul %x, %f1 : f32
  %g = tile.add %f, %fm0 : f32
  // CHECK-NEXT: tile.store %q, %x : !tile.ptr<f32>
  tile.store %q, %g : !tile.ptr<f32>
  // ... but x + 0.0 is not (-0.0 + 0.0 is +0.0).
  // CHECK-NEXT: %[[S:.*]] = tile.add %x, %[[Z]] : f32
  // CHECK-NEXT: tile.store %q, %[[S]]
  %fz = tile.constant 0.0 : f32
  %h = tile.add %x, %fz : f32
  tile.store %q, %h : !tile.ptr<f32>
}

// CHECK-LABEL: tile.kernel @constants
tile.kernel @constants(%p: !tile.ptr<i32>, %q: !tile.ptr<f32>, %h: !tile.ptr<bf16>) num_warps(4) config {} {
  // Integer arithmetic on constants folds, with i32 wrap-around.
  // CHECK-DAG: %[[I:.*]] = tile.constant 42 : i32
  // CHECK-DAG: %[[W:.*]] = tile.constant -2147483648 : i32
  // CHECK-DAG: %[[F:.*]] = tile.constant 7.500000e+00 : f32
  // CHECK-DAG: %[[B3:.*]] = tile.constant 3.000000e+00 : bf16
  // CHECK-DAG: %[[B4:.*]] = tile.constant 4.000000e+00 : bf16
  %c6 = tile.constant 6 : i32
  %c7 = tile.constant 7 : i32
  %m = tile.mul %c6, %c7 : i32
  // CHECK: tile.store %p, %[[I]]
  tile.store %p, %m : !tile.ptr<i32>
  %max = tile.constant 2147483647 : i32
  %c1 = tile.constant 1 : i32
  %wrap = tile.add %max, %c1 : i32
  // CHECK: tile.store %p, %[[W]]
  tile.store %p, %wrap : !tile.ptr<i32>
  // f32 folds ...
  %f5 = tile.constant 5.0 : f32
  %f25 = tile.constant 2.5 : f32
  %fs = tile.add %f5, %f25 : f32
  // CHECK: tile.store %q, %[[F]]
  tile.store %q, %fs : !tile.ptr<f32>
  // ... bf16 does not: the backends compute it in f32 and round.
  %b3 = tile.constant 3.0 : bf16
  %b4 = tile.constant 4.0 : bf16
  %bs = tile.add %b3, %b4 : bf16
  // CHECK: %[[BS:.*]] = tile.add %[[B3]], %[[B4]] : bf16
  // CHECK: tile.store %h, %[[BS]]
  tile.store %h, %bs : !tile.ptr<bf16>
}

// CHECK-LABEL: tile.kernel @tiles
tile.kernel @tiles(%p: !tile.ptr<i32>, %n: i32) num_warps(4) config {} {
  // A splat of a constant is a tile constant; shape ops of one and
  // elementwise ops between them fold too.
  // CHECK-DAG: %[[T:.*]] = tile.constant dense<10> : tensor<8x4xi32>
  %c2 = tile.constant 2 : i32
  %c5 = tile.constant 5 : i32
  %s2 = tile.splat %c2 : i32 -> tensor<4xi32>
  %e2 = tile.expand_dims %s2 axis 0 : tensor<4xi32> -> tensor<1x4xi32>
  %b2 = tile.broadcast %e2 : tensor<1x4xi32> -> tensor<8x4xi32>
  %s5 = tile.splat %c5 : i32 -> tensor<4x8xi32>
  %t5 = tile.trans %s5 : tensor<4x8xi32> -> tensor<8x4xi32>
  %prod = tile.mul %b2, %t5 : tensor<8x4xi32>
  %ps = tile.splat %p : !tile.ptr<i32> -> tensor<8x4x!tile.ptr<i32>>
  // CHECK: tile.store %{{.*}}, %[[T]] : tensor<8x4x!tile.ptr<i32>>
  tile.store %ps, %prod : tensor<8x4x!tile.ptr<i32>>
  // trans(trans(x)) is x; reshape(reshape(x)) is one reshape.
  %r = tile.arange 0, 32 : tensor<32xi32>
  %r2 = tile.reshape %r : tensor<32xi32> -> tensor<4x8xi32>
  %tt = tile.trans %r2 : tensor<4x8xi32> -> tensor<8x4xi32>
  %t2 = tile.trans %tt : tensor<8x4xi32> -> tensor<4x8xi32>
  %r3 = tile.reshape %t2 : tensor<4x8xi32> -> tensor<8x4xi32>
  // CHECK: %[[R:.*]] = tile.arange 0, 32
  // CHECK-NEXT: %[[R3:.*]] = tile.reshape %[[R]] : tensor<32xi32> -> tensor<8x4xi32>
  // CHECK-NEXT: tile.store %{{.*}}, %[[R3]]
  tile.store %ps, %r3 : tensor<8x4x!tile.ptr<i32>>
}

// CHECK-LABEL: tile.kernel @selects_and_casts
tile.kernel @selects_and_casts(%p: !tile.ptr<f32>, %x: f32, %y: f32) num_warps(4) config {} {
  %t = tile.constant true
  %s = tile.select %t, %x, %y : f32
  // CHECK: tile.store %p, %x
  tile.store %p, %s : !tile.ptr<f32>
  %c = "tile.cast"(%y) : (f32) -> f32
  %n1 = tile.neg %c : f32
  %n2 = tile.neg %n1 : f32
  // CHECK-NEXT: tile.store %p, %y
  tile.store %p, %n2 : !tile.ptr<f32>
}

// CHECK-LABEL: tile.kernel @dead_code
tile.kernel @dead_code(%p: !tile.ptr<f32>) num_warps(4) config {} {
  // Unused pure ops and loads go; stores stay.
  // CHECK-NOT: tile.exp
  // CHECK-NOT: tile.load
  // CHECK: tile.store
  %v = tile.load %p : !tile.ptr<f32>
  %e = tile.exp %v : f32
  %one = tile.constant 1.0 : f32
  tile.store %p, %one : !tile.ptr<f32>
}

// CHECK-LABEL: tile.kernel @square_transpose_stays
tile.kernel @square_transpose_stays(%p: !tile.ptr<i32>) num_warps(4) config {} {
  // A square tile's transpose has its source's type but is not its source.
  %r = tile.arange 0, 16 : tensor<16xi32>
  %r2 = tile.reshape %r : tensor<16xi32> -> tensor<4x4xi32>
  // CHECK: tile.trans %{{.*}} : tensor<4x4xi32> -> tensor<4x4xi32>
  %t = tile.trans %r2 : tensor<4x4xi32> -> tensor<4x4xi32>
  %ps = tile.splat %p : !tile.ptr<i32> -> tensor<4x4x!tile.ptr<i32>>
  tile.store %ps, %t : tensor<4x4x!tile.ptr<i32>>
}

// A layout change to the layout it has is no change; a change of a change
// is one change from the first source, none when it comes back.
#mma = #tile.mma<version = 2, warpsPerCTA = [4, 1]>
#bl = #tile.blocked<sizePerThread = [1, 1], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
// CHECK-LABEL: tile.kernel @layout_changes
tile.kernel @layout_changes(%p: !tile.ptr<i32>) num_warps(4) config {} {
  // CHECK: [[R:%.*]] = tile.reshape
  %r = tile.arange 0, 16 : tensor<16xi32>
  %r2 = tile.reshape %r : tensor<16xi32> -> tensor<4x4xi32>
  %same = tile.convert_layout %r2 : tensor<4x4xi32> -> tensor<4x4xi32>
  %m = tile.convert_layout %same : tensor<4x4xi32> -> tensor<4x4xi32, #mma>
  %b = tile.convert_layout %m : tensor<4x4xi32, #mma> -> tensor<4x4xi32, #bl>
  %back = tile.convert_layout %b : tensor<4x4xi32, #bl> -> tensor<4x4xi32>
  // CHECK-NEXT: [[B:%.*]] = tile.convert_layout [[R]] : tensor<4x4xi32> -> tensor<4x4xi32, #tile.blocked
  // CHECK-NEXT: tile.sum [[R]] axis 1 : tensor<4x4xi32> -> tensor<4xi32>
  // CHECK-NEXT: tile.sum [[B]] axis 1
  %s1 = tile.sum %back axis 1 : tensor<4x4xi32> -> tensor<4xi32>
  %s2 = tile.sum %b axis 1 : tensor<4x4xi32, #bl> -> tensor<4xi32>
  %t = tile.add %s1, %s2 : tensor<4xi32>
  %ps = tile.splat %p : !tile.ptr<i32> -> tensor<4x!tile.ptr<i32>>
  tile.store %ps, %t : tensor<4x!tile.ptr<i32>>
}
