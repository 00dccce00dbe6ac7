// hip-dot-encodings: each dot's accumulator layout (hip.mma) becomes the
// encoding of the tile types that hold it, with tile.convert_layout where a
// value enters or leaves that chain; the result verifies and lowers.
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_90a --hip-optimize-dot-operands --hip-pipeline --hip-allocate-shared --hip-dot-encodings | FileCheck %s
// RUN: hipattn-opt %s --split-input-file --hip-tile-to-llvm=target=sm_80 | FileCheck %s --check-prefix=LLVM
// Without hip-accelerate-dot's plans there is no layout to write: an error.
// RUN: not hipattn-opt %s --split-input-file --hip-dot-encodings 2>&1 | FileCheck %s --check-prefix=BARE
// BARE: error: hip-dot-encodings: a tile.dot without hip-accelerate-dot's plan
// The stage of a registered kernel: the matmul's carried accumulator.
// RUN: hipattn compile matmul --config BLOCK_N=128,num_warps=4,num_stages=3 --target sm_90a --emit hip-dot-encodings | FileCheck %s --check-prefix=MATMUL

// MATMUL: [[INIT:%[0-9]+]] = tile.convert_layout %{{[0-9]+}} : tensor<128x128xf32> -> tensor<128x128xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// MATMUL-NEXT: tile.for {{.*}} iter_args(%[[ACC:.*]] = [[INIT]]) -> tensor<128x128xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> {
// MATMUL: tile.dot %{{[0-9]+}}, %{{[0-9]+}}, %[[ACC]] {{.*}} -> tensor<128x128xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// MATMUL: tile.convert_layout %{{[0-9]+}} : tensor<128x128xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> -> tensor<128x128xf32>

// A loop-carried accumulator: the zero init is converted before the loop,
// the loop, its body's argument, the dot and the yield carry the encoding,
// and the store reads the plain type.
// CHECK-LABEL: tile.kernel @carried
// CHECK: [[Z:%.*]] = tile.convert_layout %{{.*}} : tensor<64x64xf32> -> tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>>
// CHECK: tile.for {{.*}} iter_args(%[[X:.*]] = [[Z]]) -> tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>> {
// CHECK: [[Y:%.*]] = tile.dot %{{.*}}, %{{.*}}, %[[X]] {{.*}} -> tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>>
// CHECK: tile.yield [[Y]] : tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>>
// CHECK: [[P:%.*]] = tile.convert_layout %{{.*}} : tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>> -> tensor<64x64xf32>
// CHECK: tile.store %{{.*}}, [[P]]
// LLVM-LABEL: llvm.func @carried
// LLVM: mma.sync.aligned.m16n8k16
tile.kernel @carried(%a: !tile.ptr<bf16>, %c: !tile.ptr<f32>, %n: i32 {multiple_of = 16}) num_warps(4) config {} {
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
  tile.store %pc, %acc : tensor<64x64x!tile.ptr<f32>>
}

// -----

// Attention's shape: the first dot's zero accumulator is converted at the
// dot, its result read by the softmax through the plain type; the second
// dot accumulates the rescaled carried value, converted at the dot, and its
// result is carried: the body's argument is read by the rescale through the
// plain type.
// CHECK-LABEL: tile.kernel @chained
// CHECK: tile.for {{.*}} -> tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>> {
// CHECK-NEXT: [[XP:%.*]] = tile.convert_layout %{{.*}} : tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>> -> tensor<64x64xf32>
// CHECK: [[Z:%.*]] = tile.convert_layout %{{.*}} : tensor<64x64xf32> -> tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>>
// CHECK-NEXT: [[S:%.*]] = tile.dot %{{.*}}, %{{.*}}, [[Z]]
// CHECK-NEXT: [[SP:%.*]] = tile.convert_layout [[S]] : tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>> -> tensor<64x64xf32>
// CHECK: tile.cast [[SP]]
// CHECK: [[R:%.*]] = tile.mul [[XP]], %{{.*}} : tensor<64x64xf32>
// CHECK: [[RA:%.*]] = tile.convert_layout [[R]] : tensor<64x64xf32> -> tensor<64x64xf32, #tile.mma<version = 3, warpsPerCTA = [4, 1]>>
// CHECK-NEXT: [[O:%.*]] = tile.dot %{{.*}}, %{{.*}}, [[RA]]
// CHECK: tile.yield [[O]]
// LLVM-LABEL: llvm.func @chained
// LLVM-COUNT-2: mma.sync.aligned.m16n8k16
tile.kernel @chained(%kp: !tile.ptr<bf16>, %n: i32 {multiple_of = 16}) num_warps(4) config {} {
  %c0 = tile.constant 0 : i32
  %c64 = tile.constant 64 : i32
  %z = tile.constant dense<0.0> : tensor<64x64xf32>
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
  %acc = tile.for %i = %c0 to %n step %c64 iter_args(%x = %z) -> tensor<64x64xf32> {
    %kt = tile.load %pk : tensor<64x64x!tile.ptr<bf16>>
    %s = tile.dot %q, %kt, %z : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    %p = tile.cast %s : tensor<64x64xf32> -> tensor<64x64xbf16>
    %xr = tile.mul %x, %half : tensor<64x64xf32>
    %y = tile.dot %p, %kt, %xr : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y : tensor<64x64xf32>
  }
  %s = tile.sum %acc axis 1 : tensor<64x64xf32> -> tensor<64xf32>
}
