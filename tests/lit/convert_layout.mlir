// tile.convert_layout through the backends: on the GPU the lowering moves a
// tile between the register layouts its type's encodings name (here a
// blocked load into the mma accumulator layout and into another blocked
// layout: through shared memory, between barriers); on the CPU, where
// encodings mean nothing, it is the same buffer. A layout the lowering has
// no registers for (a dot operand's, or one for other warps) is an error
// that names it (convert_layout_errors.mlir).
// RUN: hipattn-opt --hip-tile-to-llvm=target=sm_80 %s | FileCheck %s --check-prefix=GPU
// RUN: hipattn-opt --hip-tile-to-llvm=target=cpu %s | FileCheck %s --check-prefix=CPU

#mma = #tile.mma<version = 2, warpsPerCTA = [2, 2]>
#bl = #tile.blocked<sizePerThread = [1, 4], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]>
// GPU-LABEL: llvm.func @moves
// GPU: nvvm.barrier0
// GPU: llvm.store {{.*}} : f32, !llvm.ptr<3>
// GPU: nvvm.barrier0
// GPU: llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CPU-LABEL: llvm.func @moves
// CPU-NOT: !llvm.ptr<3>
tile.kernel @moves(%x: !tile.ptr<f32>, %out: !tile.ptr<f32>) num_warps(4) config {} {
  %c32 = tile.constant 32 : i32
  %r = tile.arange 0, 32 : tensor<32xi32>
  %rr = tile.expand_dims %r axis 1 : tensor<32xi32> -> tensor<32x1xi32>
  %cc = tile.expand_dims %r axis 0 : tensor<32xi32> -> tensor<1x32xi32>
  %s = tile.splat %c32 : i32 -> tensor<32x1xi32>
  %rows = tile.mul %rr, %s : tensor<32x1xi32>
  %rb = tile.broadcast %rows : tensor<32x1xi32> -> tensor<32x32xi32>
  %cb = tile.broadcast %cc : tensor<1x32xi32> -> tensor<32x32xi32>
  %off = tile.add %rb, %cb : tensor<32x32xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %xp = tile.addptr %xs, %off : tensor<32x32x!tile.ptr<f32>>, tensor<32x32xi32>
  %v = tile.load %xp : tensor<32x32x!tile.ptr<f32>>
  %m = tile.convert_layout %v : tensor<32x32xf32> -> tensor<32x32xf32, #mma>
  %b = tile.convert_layout %m : tensor<32x32xf32, #mma> -> tensor<32x32xf32, #bl>
  %back = tile.convert_layout %b : tensor<32x32xf32, #bl> -> tensor<32x32xf32>
  %os = tile.splat %out : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %op = tile.addptr %os, %off : tensor<32x32x!tile.ptr<f32>>, tensor<32x32xi32>
  tile.store %op, %back : tensor<32x32x!tile.ptr<f32>>
}

