// hip-assign-blocked: the register tiles outside the dots' layouts take the
// blocked encoding of their shape (8 elements per thread along the last
// dimension, lanes then warps along it; a rank-1 tile is its (1, N) view):
// aranges, gathers, top-k and column reductions (always given that layout),
// the elementwise ops, loads, shape ops, sorts and stores whose operands are
// typed or uniform, and loop-carried values whose initial and yielded values
// are; splats and constants are built in the layout; values
// in a dot's layout, the copies hip-pipeline made and their plain readers
// keep the plain type, read through one tile.convert_layout at the value. The result verifies and lowers, and the
// lowering checks that every value holds the layout its type names.
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_80 --hip-optimize-dot-operands --hip-pipeline --hip-allocate-shared --hip-dot-encodings --hip-remove-layout-conversions --hip-assign-blocked | FileCheck %s
// RUN: hipattn-opt %s --split-input-file --hip-tile-to-llvm=target=sm_80 | FileCheck %s --check-prefix=LLVM
// A registered kernel: flash attention's Q tile and its row positions are
// typed loads; the K and V tiles hip-pipeline copies to shared memory stay
// plain, their addresses and masks typed up to the copy.
// RUN: hipattn compile flash_attention --config HEAD_DIM=128,BLOCK_M=128,num_warps=8 --target sm_90a --emit hip-assign-blocked --divisible all | FileCheck %s --check-prefix=FLASH

// FLASH: tile.load %{{.*}} : tensor<128x!tile.ptr<i32>, #tile.blocked<sizePerThread = [8], threadsPerWarp = [32], warpsPerCTA = [8], order = [0]>>
// FLASH: tile.load %{{.*}} : tensor<128x128x!tile.ptr<bf16>, #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [8, 1], order = [1, 0]>>
// FLASH: tile.for
// FLASH: [[KP:%.*]] = tile.convert_layout %{{.*}} {hip.copy_slice} : tensor<64x128x!tile.ptr<bf16>, #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [8, 1], order = [1, 0]>> -> tensor<64x128x!tile.ptr<bf16>>
// FLASH: tile.load [[KP]] {hip.copy = 0 : i64, {{.*}}} : tensor<64x128x!tile.ptr<bf16>>{{ }}

// A 1-D kernel: every tile is typed, the store too; the constants and
// splats it reads are built in the layout.
// CHECK-LABEL: tile.kernel @vadd
// CHECK: [[R:%.*]] = tile.arange 0, 256 : tensor<256xi32, [[B:#tile.blocked<sizePerThread = \[8\], threadsPerWarp = \[32\], warpsPerCTA = \[4\], order = \[0\]>]]>
// CHECK-NEXT: [[BS:%.*]] = tile.splat %{{.*}} : i32 -> tensor<256xi32, [[B]]>
// CHECK-NEXT: [[I:%.*]] = tile.add [[BS]], [[R]] : tensor<256xi32, [[B]]>
// CHECK-NEXT: [[NS:%.*]] = tile.splat %n : i32 -> tensor<256xi32, [[B]]>
// CHECK-NEXT: [[M:%.*]] = tile.cmp_lt [[I]], [[NS]] : tensor<256xi32, [[B]]>
// CHECK-NEXT: [[PX0:%.*]] = tile.splat %x : !tile.ptr<f32> -> tensor<256x!tile.ptr<f32>, [[B]]>
// CHECK-NEXT: [[PX:%.*]] = tile.addptr [[PX0]], [[I]] : tensor<256x!tile.ptr<f32>, [[B]]>, tensor<256xi32, [[B]]>
// CHECK-NEXT: [[Z:%.*]] = tile.constant dense<0.000000e+00> : tensor<256xf32, [[B]]>
// CHECK-NEXT: [[V:%.*]] = tile.load [[PX]], [[M]], [[Z]] : tensor<256x!tile.ptr<f32>, [[B]]>
// CHECK-NEXT: [[TWO:%.*]] = tile.constant dense<2.000000e+00> : tensor<256xf32, [[B]]>
// CHECK-NEXT: [[W:%.*]] = tile.mul [[V]], [[TWO]] : tensor<256xf32, [[B]]>
// CHECK: [[PY:%.*]] = tile.addptr
// CHECK-NEXT: tile.store [[PY]], [[W]], [[M]] : tensor<256x!tile.ptr<f32>, [[B]]>
// CHECK-NOT: tile.convert_layout
// LLVM-LABEL: llvm.func @vadd
// LLVM: llvm.load {{.*}} -> vector<4xf32>
// LLVM: llvm.store {{.*}} : vector<4xf32>, !llvm.ptr<1>
tile.kernel @vadd(%x: !tile.ptr<f32>, %y: !tile.ptr<f32>, %n: i32) num_warps(4) config {} {
  %c256 = tile.constant 256 : i32
  %pid = tile.program_id 0
  %base = tile.mul %pid, %c256 : i32
  %r = tile.arange 0, 256 : tensor<256xi32>
  %b = tile.splat %base : i32 -> tensor<256xi32>
  %i = tile.add %b, %r : tensor<256xi32>
  %nn = tile.splat %n : i32 -> tensor<256xi32>
  %m = tile.cmp_lt %i, %nn : tensor<256xi32>
  %px0 = tile.splat %x : !tile.ptr<f32> -> tensor<256x!tile.ptr<f32>>
  %px = tile.addptr %px0, %i : tensor<256x!tile.ptr<f32>>, tensor<256xi32>
  %z = tile.constant dense<0.0> : tensor<256xf32>
  %v = tile.load %px, %m, %z : tensor<256x!tile.ptr<f32>>
  %two = tile.constant dense<2.0> : tensor<256xf32>
  %w = tile.mul %v, %two : tensor<256xf32>
  %py0 = tile.splat %y : !tile.ptr<f32> -> tensor<256x!tile.ptr<f32>>
  %py = tile.addptr %py0, %i : tensor<256x!tile.ptr<f32>>, tensor<256xi32>
  tile.store %py, %w, %m : tensor<256x!tile.ptr<f32>>
}

// -----

// A 2-D tile: the index vectors' columns and rows ([64, 1]: one element per
// thread down the rows; [1, 64] and [64, 64]: 8 per thread along them), the
// loaded tile; the dot reads it through the plain type, its result keeps its
// #tile.mma, and the store of that result reads its pointers plain (the
// lowering recomputes them in the accumulator layout).
// CHECK-LABEL: tile.kernel @scores
// CHECK: [[R:%.*]] = tile.arange 0, 64 : tensor<64xi32, #tile.blocked<sizePerThread = [8], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>>
// CHECK-NEXT: tile.expand_dims [[R]] axis 1 : {{.*}} -> tensor<64x1xi32, [[COL:#tile.blocked<sizePerThread = \[1, 1\], threadsPerWarp = \[32, 1\], warpsPerCTA = \[4, 1\], order = \[1, 0\]>]]>
// CHECK-NEXT: tile.expand_dims [[R]] axis 0 : {{.*}} -> tensor<1x64xi32, [[B2:#tile.blocked<sizePerThread = \[1, 8\], threadsPerWarp = \[4, 8\], warpsPerCTA = \[4, 1\], order = \[1, 0\]>]]>
// CHECK: tile.broadcast %{{.*}} : tensor<64x1xi32, [[COL]]> -> tensor<64x64xi32, [[B2]]>
// CHECK: [[OFF:%.*]] = tile.add %{{.*}}, %{{.*}} : tensor<64x64xi32, [[B2]]>
// CHECK: [[T:%.*]] = tile.load %{{.*}} : tensor<64x64x!tile.ptr<bf16>, [[B2]]>
// CHECK-NEXT: [[TP:%.*]] = tile.convert_layout [[T]] : tensor<64x64xbf16, [[B2]]> -> tensor<64x64xbf16>{{$}}
// CHECK: [[S:%.*]] = tile.dot [[TP]], [[TP]], %{{.*}} -> tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK: [[PC:%.*]] = tile.addptr %{{.*}}, [[OFF]] : tensor<64x64x!tile.ptr<f32>, [[B2]]>, tensor<64x64xi32, [[B2]]>
// CHECK-NEXT: [[PCP:%.*]] = tile.convert_layout [[PC]] : tensor<64x64x!tile.ptr<f32>, [[B2]]> -> tensor<64x64x!tile.ptr<f32>>
// CHECK-NEXT: tile.store [[PCP]], %{{.*}} : tensor<64x64x!tile.ptr<f32>>{{$}}
// LLVM-LABEL: llvm.func @scores
// LLVM: mma.sync.aligned.m16n8k16
tile.kernel @scores(%a: !tile.ptr<bf16>, %c: !tile.ptr<f32>) num_warps(4) config {} {
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
  %pc0 = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %pc = tile.addptr %pc0, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  tile.store %pc, %l : tensor<64x64x!tile.ptr<f32>>
}

// -----

// A loop: the running sum starts from a constant and yields a typed sum,
// so it is carried in the layout (the constant built in it); the loop's
// result is stored typed.
// CHECK-LABEL: tile.kernel @carried
// CHECK: [[Z:%.*]] = tile.constant dense<0.000000e+00> : tensor<128xf32, [[B:#tile.blocked<sizePerThread = \[8\], threadsPerWarp = \[32\], warpsPerCTA = \[4\], order = \[0\]>]]>
// CHECK: [[PX0:%.*]] = tile.splat %x : !tile.ptr<f32> -> tensor<128x!tile.ptr<f32>, [[B]]>
// CHECK: [[ACC:%.*]] = tile.for {{.*}} iter_args([[S:%.*]] = [[Z]]) -> tensor<128xf32, [[B]]> {
// CHECK: [[P:%.*]] = tile.addptr [[PX0]], %{{.*}}
// CHECK-NEXT: [[V:%.*]] = tile.load [[P]] : tensor<128x!tile.ptr<f32>, [[B]]>
// CHECK-NEXT: [[T:%.*]] = tile.add [[S]], [[V]] : tensor<128xf32, [[B]]>
// CHECK-NEXT: tile.yield [[T]] : tensor<128xf32, [[B]]>
// CHECK: tile.store %{{.*}}, [[ACC]] : tensor<128x!tile.ptr<f32>, [[B]]>
// LLVM-LABEL: llvm.func @carried
// LLVM: llvm.load {{.*}} : !llvm.ptr<1> -> f32
tile.kernel @carried(%x: !tile.ptr<f32>, %y: !tile.ptr<f32>, %n: i32) num_warps(4) config {} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %zero = tile.constant dense<0.0> : tensor<128xf32>
  %r = tile.arange 0, 128 : tensor<128xi32>
  %px0 = tile.splat %x : !tile.ptr<f32> -> tensor<128x!tile.ptr<f32>>
  %acc = tile.for %i = %c0 to %n step %c1 iter_args(%s = %zero) -> (tensor<128xf32>) {
    %k = tile.mul %i, %c1 : i32
    %ks = tile.splat %k : i32 -> tensor<128xi32>
    %o = tile.add %ks, %r : tensor<128xi32>
    %p = tile.addptr %px0, %o : tensor<128x!tile.ptr<f32>>, tensor<128xi32>
    %v = tile.load %p : tensor<128x!tile.ptr<f32>>
    %t = tile.add %s, %v : tensor<128xf32>
    tile.yield %t : tensor<128xf32>
  }
  %py0 = tile.splat %y : !tile.ptr<f32> -> tensor<128x!tile.ptr<f32>>
  %py = tile.addptr %py0, %r : tensor<128x!tile.ptr<f32>>, tensor<128xi32>
  tile.store %py, %acc : tensor<128x!tile.ptr<f32>>
}

// -----

// A loop whose yielded value is not typed (it adds a transpose, which the
// pass leaves to the lowering): the slot stays plain, and so does the sum;
// the loaded tile is typed and read through the plain type.
// CHECK-LABEL: tile.kernel @dropped
// CHECK: tile.for {{.*}} -> tensor<32x32xf32> {
// CHECK: [[V:%.*]] = tile.load %{{.*}} : tensor<32x32x!tile.ptr<f32>, #tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]>>
// CHECK-NEXT: [[VP:%.*]] = tile.convert_layout [[V]] : {{.*}} -> tensor<32x32xf32>{{$}}
// CHECK-NEXT: [[T:%.*]] = tile.trans [[VP]] : tensor<32x32xf32> -> tensor<32x32xf32>{{$}}
// CHECK-NEXT: [[U:%.*]] = tile.add %arg{{[0-9]+}}, [[T]] : tensor<32x32xf32>{{$}}
// CHECK-NEXT: tile.yield [[U]] : tensor<32x32xf32>{{$}}
// LLVM-LABEL: llvm.func @dropped
// LLVM: llvm.store
tile.kernel @dropped(%x: !tile.ptr<f32>, %y: !tile.ptr<f32>, %n: i32) num_warps(4) config {} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %zero = tile.constant dense<0.0> : tensor<32x32xf32>
  %r = tile.arange 0, 32 : tensor<32xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<32xi32> -> tensor<32x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<32xi32> -> tensor<1x32xi32>
  %c32 = tile.constant 32 : i32
  %s32 = tile.splat %c32 : i32 -> tensor<32x1xi32>
  %rows = tile.mul %rr, %s32 : tensor<32x1xi32>
  %rb = tile.broadcast %rows : tensor<32x1xi32> -> tensor<32x32xi32>
  %cb = tile.broadcast %cc : tensor<1x32xi32> -> tensor<32x32xi32>
  %off = tile.add %rb, %cb : tensor<32x32xi32>
  %px0 = tile.splat %x : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %px = tile.addptr %px0, %off : tensor<32x32x!tile.ptr<f32>>, tensor<32x32xi32>
  %acc = tile.for %i = %c0 to %n step %c1 iter_args(%s = %zero) -> (tensor<32x32xf32>) {
    %v = tile.load %px : tensor<32x32x!tile.ptr<f32>>
    %t = tile.trans %v : tensor<32x32xf32> -> tensor<32x32xf32>
    %u = tile.add %s, %t : tensor<32x32xf32>
    tile.yield %u : tensor<32x32xf32>
  }
  %py0 = tile.splat %y : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %py = tile.addptr %py0, %off : tensor<32x32x!tile.ptr<f32>>, tensor<32x32xi32>
  tile.store %py, %acc : tensor<32x32x!tile.ptr<f32>>
}

// -----

// A column reduction of a dot's result: it reads the accumulator where it
// is (hip-remove-layout-conversions), and the lowering gives its result the
// default layout whatever its operand's, so that result is typed, and what
// is computed from it.
// CHECK-LABEL: tile.kernel @colmax
// CHECK: [[S:%.*]] = tile.dot {{.*}} -> tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
// CHECK-NEXT: [[M:%.*]] = tile.reduce_max [[S]] axis 0 : tensor<64x64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>> -> tensor<64xf32, [[B:#tile.blocked<sizePerThread = \[8\], threadsPerWarp = \[32\], warpsPerCTA = \[4\], order = \[0\]>]]>
// CHECK: [[M2:%.*]] = tile.mul [[M]], %{{.*}} : tensor<64xf32, [[B]]>
// CHECK: tile.store %{{.*}}, [[M2]] : tensor<64x!tile.ptr<f32>, [[B]]>
// LLVM-LABEL: llvm.func @colmax
// LLVM: shfl.sync.bfly
tile.kernel @colmax(%a: !tile.ptr<bf16>, %c: !tile.ptr<f32>) num_warps(4) config {} {
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
  %m = tile.reduce_max %s axis 0 : tensor<64x64xf32> -> tensor<64xf32>
  %two = tile.constant dense<2.0> : tensor<64xf32>
  %m2 = tile.mul %m, %two : tensor<64xf32>
  %pc0 = tile.splat %c : !tile.ptr<f32> -> tensor<64x!tile.ptr<f32>>
  %pc = tile.addptr %pc0, %r : tensor<64x!tile.ptr<f32>>, tensor<64xi32>
  tile.store %pc, %m2 : tensor<64x!tile.ptr<f32>>
}

// -----

// A tile already typed with another blocked layout keeps it, and the
// lowering builds it there: 4 elements per thread cover the 512 once, one
// 16-byte store each (the default, 8 per thread, would wrap around and store
// twice).
// CHECK-LABEL: tile.kernel @own
// CHECK: tile.arange 0, 512 : tensor<512xi32, #tile.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>>
// CHECK-NOT: tile.convert_layout
// LLVM-LABEL: llvm.func @own
// LLVM: llvm.store {{.*}} : vector<4xi32>, !llvm.ptr<1>
// LLVM-NOT: llvm.store
// LLVM: llvm.return
tile.kernel @own(%y: !tile.ptr<i32>) num_warps(4) config {} {
  %r = tile.arange 0, 512 : tensor<512xi32, #tile.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>>
  %p0 = tile.splat %y : !tile.ptr<i32> -> tensor<512x!tile.ptr<i32>, #tile.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>>
  %p = tile.addptr %p0, %r : tensor<512x!tile.ptr<i32>, #tile.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>>, tensor<512xi32, #tile.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>>
  tile.store %p, %r : tensor<512x!tile.ptr<i32>, #tile.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>>
}
