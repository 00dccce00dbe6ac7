// hipattn-opt --hip-tile-to-llvm: textual tile IR through the compiler's own
// backends down to the LLVM dialect (here a scaled copy).
// RUN: hipattn-opt --hip-tile-to-llvm=target=sm_90a %s | FileCheck %s --check-prefix=GPU
// RUN: hipattn-opt --hip-tile-to-llvm=target=cpu %s | FileCheck %s --check-prefix=CPU
// RUN: not hipattn-opt --hip-tile-to-llvm=target=sm_75 %s 2>&1 | FileCheck %s --check-prefix=BAD

// GPU: llvm.func @scale(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: i32)
// GPU-SAME: nvvm.kernel
// GPU: nvvm.read.ptx.sreg.ctaid.x
// GPU: llvm.fmul
// GPU-NOT: tile.
// CPU: llvm.func @scale(
// CPU: llvm.fmul
// CPU-NOT: tile.
// BAD: error: unknown target 'sm_75'
tile.kernel @scale(%x: !tile.ptr<f32>, %out: !tile.ptr<f32>, %n: i32 {multiple_of = 16}) num_warps(4) config {BLOCK = 512} {
  %c512 = tile.constant 512 : i32
  %pid = tile.program_id 0
  %base = tile.mul %pid, %c512 : i32
  %r = tile.arange 0, 512 : tensor<512xi32>
  %b = tile.splat %base : i32 -> tensor<512xi32>
  %offs = tile.add %b, %r : tensor<512xi32>
  %ns = tile.splat %n : i32 -> tensor<512xi32>
  %mask = tile.cmp_lt %offs, %ns : tensor<512xi32>
  %zero = tile.constant dense<0.0> : tensor<512xf32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<512x!tile.ptr<f32>>
  %xp = tile.addptr %xs, %offs : tensor<512x!tile.ptr<f32>>, tensor<512xi32>
  %v = tile.load %xp, %mask, %zero : tensor<512x!tile.ptr<f32>>
  %two = tile.constant dense<2.0> : tensor<512xf32>
  %y = tile.mul %v, %two : tensor<512xf32>
  %os = tile.splat %out : !tile.ptr<f32> -> tensor<512x!tile.ptr<f32>>
  %op = tile.addptr %os, %offs : tensor<512x!tile.ptr<f32>>, tensor<512xi32>
  tile.store %op, %y, %mask : tensor<512x!tile.ptr<f32>>
}
