// hip-remove-layout-conversions: the accumulator encodings hip-dot-encodings
// put on the dots propagate to the values computed from them (elementwise
// ops by the lowering's vote, row reductions as #tile.slice, expand_dims and
// broadcast back to #tile.mma, loop-carried statistics); the conversions to
// the plain type between a dot and its readers go; the result verifies and
// lowers.
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_80 --hip-optimize-dot-operands --hip-pipeline --hip-allocate-shared --hip-dot-encodings --hip-remove-layout-conversions | FileCheck %s
// RUN: hipattn-opt %s --split-input-file --hip-tile-to-llvm=target=sm_80 | FileCheck %s --check-prefix=LLVM
// The stage of a registered kernel: flash attention's softmax runs in the
// accumulator layout, its running max and sum are carried in its rows, and
// the only change of an accumulator in the loop is P's, the second dot's A
// operand, to #tile.dot_op (read from registers); Q, the first dot's A, is
// changed once, outside the loop.
// RUN: hipattn compile flash_attention --config HEAD_DIM=128,BLOCK_M=128,num_warps=8,PIPE=1 --target sm_90a --emit hip-remove-layout-conversions | FileCheck %s --check-prefix=FLASH

// FLASH: [[Q:%.*]] = tile.convert_layout %{{.*}} : tensor<128x128xbf16> -> tensor<128x128xbf16, #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 3, warpsPerCTA = [8, 1]>, kWidth = 2>>
// FLASH-NOT: tile.convert_layout %{{.*}} : tensor<128x128xbf16> -> tensor<128x128xbf16, #tile.dot_op
// FLASH: tile.for {{.*}} -> (tensor<128xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 3, warpsPerCTA = [8, 1]>>>, tensor<128xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 3, warpsPerCTA = [8, 1]>>>, tensor<128x128xf32, #tile.mma<version = 3, warpsPerCTA = [8, 1]>>, tensor<128x64xbf16, #tile.mma<version = 3, warpsPerCTA = [8, 1]>>) {
// FLASH-NEXT: [[P:%.*]] = tile.convert_layout %arg4 : tensor<128x64xbf16, #tile.mma<version = 3, warpsPerCTA = [8, 1]>> -> tensor<128x64xbf16, #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 3, warpsPerCTA = [8, 1]>, kWidth = 2>>
// FLASH-NOT: -> tensor<{{[0-9x]+}}f32>{{$}}
// FLASH: tile.dot [[P]],
// FLASH-NOT: tile.convert_layout {{.*}}#tile.mma{{.*}} -> tensor<{{[0-9x]+}}{{[a-z0-9]+}}>{{$}}
// FLASH: tile.reduce_max %{{.*}} axis 1 : tensor<128x64xf32, #tile.mma<version = 3, warpsPerCTA = [8, 1]>> -> tensor<128xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 3, warpsPerCTA = [8, 1]>>>
// FLASH-NOT: tile.convert_layout {{.*}}#tile.mma{{.*}} -> tensor<{{[0-9x]+}}{{[a-z0-9]+}}>{{$}}
// FLASH: tile.yield

// The softmax of a dot's scores: the scale (a tile constant) is built in the
// accumulator layout where it is read, as is the dot's zero accumulator; the row max is a slice of it, its
// column (expand_dims) and broadcast are accumulator tiles again; the store
// reads the plain type.
// CHECK-LABEL: tile.kernel @softmax
// CHECK: [[Z:%.*]] = tile.constant dense<0.000000e+00> : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[S:%.*]] = tile.dot %{{.*}}, %{{.*}}, [[Z]] {{.*}} -> tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK: [[SC:%.*]] = tile.constant dense<1.250000e-01> : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[L:%.*]] = tile.mul [[S]], [[SC]] : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[M:%.*]] = tile.reduce_max [[L]] axis 1 : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> -> tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [2, 2]>>>
// CHECK-NEXT: [[MC:%.*]] = tile.expand_dims [[M]] axis 1 : tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [2, 2]>>> -> tensor<64x1xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[MB:%.*]] = tile.broadcast [[MC]] : tensor<64x1xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> -> tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[D:%.*]] = tile.sub [[L]], [[MB]] : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[E:%.*]] = tile.exp2 [[D]] : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[EP:%.*]] = tile.convert_layout [[E]] : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> -> tensor<64x64xf32>
// CHECK: tile.store %{{.*}}, [[EP]] : tensor<64x64x!tile.ptr<f32>>
// LLVM-LABEL: llvm.func @softmax
// LLVM: mma.sync.aligned.m16n8k16
// LLVM: shfl.sync.bfly
tile.kernel @softmax(%a: !tile.ptr<bf16>, %c: !tile.ptr<f32>) num_warps(4) config {} {
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %c64 = tile.constant 64 : i32
  %s64 = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %rows = tile.mul %rr, %s64 : tensor<64x1xi32>
  %rb = tile.broadcast %rows : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %pa0 = tile.splat %a : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %pa = tile.addptr %pa0, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %t = tile.load %pa : tensor<64x64x!tile.ptr<bf16>>
  %s = tile.dot %t, %t, %z : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
  %scale = tile.constant dense<0.125> : tensor<64x64xf32>
  %l = tile.mul %s, %scale : tensor<64x64xf32>
  %m = tile.reduce_max %l axis 1 : tensor<64x64xf32> -> tensor<64xf32>
  %mc = tile.expand_dims %m axis 1 : tensor<64xf32> -> tensor<64x1xf32>
  %mb = tile.broadcast %mc : tensor<64x1xf32> -> tensor<64x64xf32>
  %d = tile.sub %l, %mb : tensor<64x64xf32>
  %e = tile.exp2 %d : tensor<64x64xf32>
  %pc0 = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %pc = tile.addptr %pc0, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  tile.store %pc, %e : tensor<64x64x!tile.ptr<f32>>
}

// -----

// Attention's loop: the running max (a splat init) is carried in the rows
// of the scores' layout, the comparison with it too (an i1 tile in the
// slice); the rescaled accumulator is carried in the accumulator layout, so
// the second dot reads it without a conversion; P, the second dot's A
// operand, is changed to #tile.dot_op (registers).
// CHECK-LABEL: tile.kernel @carried
// CHECK: tile.for {{.*}} -> (tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>>>, tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [4, 1]>>) {
// CHECK: [[S:%.*]] = tile.dot
// CHECK-NEXT: [[R:%.*]] = tile.reduce_max [[S]] axis 1
// CHECK-NEXT: [[MN:%.*]] = tile.max %arg{{[0-9]+}}, [[R]] : tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>>>
// CHECK: tile.cmp_eq [[MN]], %{{.*}} : tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>>>
// CHECK: [[P:%.*]] = tile.cast %{{.*}} : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [4, 1]>> -> tensor<64x64xbf16, #tile.mma<version = 2, warpsPerCTA = [4, 1]>>
// CHECK-NEXT: [[PP:%.*]] = tile.convert_layout [[P]] : tensor<64x64xbf16, #tile.mma<version = 2, warpsPerCTA = [4, 1]>> -> tensor<64x64xbf16, #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>, kWidth = 2>>
// CHECK: [[XR:%.*]] = tile.mul %arg{{[0-9]+}}, %{{.*}} : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [4, 1]>>
// CHECK-NEXT: [[Y:%.*]] = tile.dot [[PP]], %{{.*}}, [[XR]]
// CHECK-NEXT: tile.yield [[MN]], [[Y]] : tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>>>, tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [4, 1]>>
// LLVM-LABEL: llvm.func @carried
// LLVM-COUNT-2: mma.sync.aligned.m16n8k16
tile.kernel @carried(%kp: !tile.ptr<bf16>, %n: i32 {multiple_of = 16}) num_warps(4) config {} {
  %c0 = tile.constant 0 : i32
  %c64 = tile.constant 64 : i32
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
  %ninf = tile.constant dense<0xFF800000> : tensor<64xf32>
  %zr = tile.constant dense<0.0> : tensor<64xf32>
  %q = tile.constant dense<1.0> : tensor<64x64xbf16>
  %half = tile.constant dense<0.5> : tensor<64x64xf32>
  %r = tile.arange 0, 64 : tensor<64xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  %s64 = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %rows = tile.mul %rr, %s64 : tensor<64x1xi32>
  %rb = tile.broadcast %rows : tensor<64x1xi32> -> tensor<64x64xi32>
  %cb = tile.broadcast %cc : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = tile.add %rb, %cb : tensor<64x64xi32>
  %pk0 = tile.splat %kp : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %pk = tile.addptr %pk0, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %res:2 = tile.for %i = %c0 to %n step %c64 iter_args(%m = %ninf, %x = %z) -> (tensor<64xf32>, tensor<64x64xf32>) {
    %kt = tile.load %pk : tensor<64x64x!tile.ptr<bf16>>
    %s = tile.dot %q, %kt, %z : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    %rm = tile.reduce_max %s axis 1 : tensor<64x64xf32> -> tensor<64xf32>
    %mn = tile.max %m, %rm : tensor<64xf32>
    %isinf = tile.cmp_eq %mn, %ninf : tensor<64xf32>
    %ms = tile.select %isinf, %zr, %mn : tensor<64xf32>
    %mc = tile.expand_dims %ms axis 1 : tensor<64xf32> -> tensor<64x1xf32>
    %mb = tile.broadcast %mc : tensor<64x1xf32> -> tensor<64x64xf32>
    %d = tile.sub %s, %mb : tensor<64x64xf32>
    %e = tile.exp2 %d : tensor<64x64xf32>
    %p = tile.cast %e : tensor<64x64xf32> -> tensor<64x64xbf16>
    %xr = tile.mul %x, %half : tensor<64x64xf32>
    %y = tile.dot %p, %kt, %xr : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %mn, %y : tensor<64xf32>, tensor<64x64xf32>
  }
}

// -----

// Where no dot result is computed on (the product is only carried and
// then added to a loaded tile), an elementwise op runs in its first
// operand's layout, as the lowering votes: the sum stays plain and reads
// the loop's result through the plain type.
// CHECK-LABEL: tile.kernel @first_operand
// CHECK: [[ACC:%.*]] = tile.for {{.*}} -> tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> {
// CHECK: [[AP:%.*]] = tile.convert_layout [[ACC]] : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> -> tensor<64x64xf32>
// CHECK: tile.add %{{.*}}, [[AP]] : tensor<64x64xf32>{{$}}
// LLVM-LABEL: llvm.func @first_operand
// LLVM: mma.sync.aligned.m16n8k16
tile.kernel @first_operand(%a: !tile.ptr<bf16>, %c: !tile.ptr<f32>, %n: i32 {multiple_of = 16}) num_warps(4) config {} {
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
  %acc = tile.for %k = %c0 to %n step %c64 iter_args(%x = %z) -> tensor<64x64xf32> {
    %t = tile.load %pa : tensor<64x64x!tile.ptr<bf16>>
    %y = tile.dot %t, %t, %x : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y : tensor<64x64xf32>
  }
  %pc0 = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %pc = tile.addptr %pc0, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  %old = tile.load %pc : tensor<64x64x!tile.ptr<f32>>
  %sum = tile.add %old, %acc : tensor<64x64xf32>
  tile.store %pc, %sum : tensor<64x64x!tile.ptr<f32>>
}
