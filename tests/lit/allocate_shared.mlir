// hip-allocate-shared: byte offsets of the buffers that live as long as a
// loop (a gather's source written once before it: hip.smem_src; an A
// operand staged once before it: hip.smem_a; a pipelined copy's ring:
// hip.smem), and each loop's first free byte (hip.smem_top), by liveness:
// a nested loop's buffers stack above its parent's, a loop that follows
// another reuses its bytes.
// RUN: hipattn-opt %s --split-input-file --hip-accelerate-dot=target=sm_90a --hip-optimize-dot-operands --hip-pipeline --hip-allocate-shared | FileCheck %s
// RUN: hipattn-opt %s --split-input-file --hip-tile-to-llvm=target=sm_90a | FileCheck %s --check-prefix=LLVM
// The registered mask search with dot_a_shared: its outer loop stages the
// queries at 0, its inner loop's gather source follows them.
// RUN: hipattn compile hip_mask_tree --config HEAD_DIM=128,CHUNK=32,min_blocks=3,dot_a_shared=1 --target sm_90a --emit hip-allocate-shared --divisible all | FileCheck %s --check-prefix=TREE
// TREE: tile.gather {{.*}}hip.smem_src = 8704
// TREE: tile.dot {{.*}}hip.smem_a = 0
// TREE: } {hip.smem_top = 12800
// TREE: } {hip.smem_top = 8704

// An outer loop with a gathered source (256 i32: 1024 bytes at 0) and Q
// staged (dot_a_shared, swizzled for wgmma: 64 x 64 bf16 = 8192 bytes,
// 1024-byte aligned); in it a pipelined loop whose copy's ring (3 stages of
// 8192 bytes) starts at the outer loop's top; after the outer loop a second
// loop whose two rings start at 0 again (A's first: copy 0).
// CHECK-LABEL: tile.kernel @nested
// CHECK: tile.gather {{.*}}hip.smem_src = 0
// CHECK: tile.load {{.*}}hip.smem = {base = 9216 : i64, stage_bytes = 8192 : i64}
// CHECK: tile.dot {{.*}}hip.smem_a = 1024
// CHECK: } {hip.pipeline = {{.*}}, hip.smem_top = 33792 : i64}
// CHECK: } {hip.smem_top = 9216 : i64}
// CHECK: tile.load {{.*}}hip.copy = 1 : i64, hip.shared = {{.*}}, hip.smem = {base = 24576 : i64, stage_bytes = 8192 : i64}
// CHECK: tile.load {{.*}}hip.copy = 0 : i64, hip.shared = {{.*}}, hip.smem = {base = 0 : i64, stage_bytes = 8192 : i64}
// CHECK: } {hip.pipeline = {{.*}}, hip.smem_top = 49152 : i64}
// The lowering reads the offsets: the second loop's first copy lands at 0.
// LLVM-LABEL: llvm.func @nested
// LLVM: cp.async
tile.kernel @nested(%q: !tile.ptr<bf16>, %kv: !tile.ptr<bf16>, %tab: !tile.ptr<i32>, %out: !tile.ptr<i32>, %n: i32) num_warps(4) config {dot_a_shared = 1, num_stages = 3} {
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
  %r256 = tile.arange 0, 256 : tensor<256xi32>
  %pt0 = tile.splat %tab : !tile.ptr<i32> -> tensor<256x!tile.ptr<i32>>
  %pt = tile.addptr %pt0, %r256 : tensor<256x!tile.ptr<i32>>, tensor<256xi32>
  %table = tile.load %pt : tensor<256x!tile.ptr<i32>>
  %po0 = tile.splat %out : !tile.ptr<i32> -> tensor<64x!tile.ptr<i32>>
  %po = tile.addptr %po0, %r : tensor<64x!tile.ptr<i32>>, tensor<64xi32>
  %acc = tile.for %i = %c0 to %n step %c1 iter_args(%x = %z) -> tensor<64x64xf32> {
    %is = tile.splat %i : i32 -> tensor<64xi32>
    %ri = tile.add %r, %is : tensor<64xi32>
    %picked = tile.gather %table[%ri] : tensor<256xi32>, tensor<64xi32> -> tensor<64xi32>
    tile.store %po, %picked : tensor<64x!tile.ptr<i32>>
    %inner = tile.for %k = %c0 to %n step %c1 iter_args(%y = %x) -> tensor<64x64xf32> {
      %base = tile.mul %k, %c64 : i32
      %bs = tile.splat %base : i32 -> tensor<64x64xi32>
      %o = tile.add %off, %bs : tensor<64x64xi32>
      %p0 = tile.splat %kv : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
      %p = tile.addptr %p0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
      %t = tile.load %p : tensor<64x64x!tile.ptr<bf16>>
      %y2 = tile.dot %qt, %t, %y : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
      tile.yield %y2 : tensor<64x64xf32>
    }
    tile.yield %inner : tensor<64x64xf32>
  }
  %after = tile.for %k = %c0 to %n step %c1 iter_args(%y = %acc) -> tensor<64x64xf32> {
    %base = tile.mul %k, %c64 : i32
    %bs = tile.splat %base : i32 -> tensor<64x64xi32>
    %o = tile.add %off, %bs : tensor<64x64xi32>
    %p0 = tile.splat %kv : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %p = tile.addptr %p0, %o : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %t = tile.load %p : tensor<64x64x!tile.ptr<bf16>>
    %t2 = tile.load %p : tensor<64x64x!tile.ptr<bf16>>
    %y2 = tile.dot %t2, %t, %y : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    tile.yield %y2 : tensor<64x64xf32>
  }
}
