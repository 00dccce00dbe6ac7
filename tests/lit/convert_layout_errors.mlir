// tile.convert_layout to a layout the GPU lowering has no registers for: an
// error that names the encoding and why. (The sources are loaded: a splat
// would be built in the layout instead, with the same error.)
// RUN: not hipattn-opt --hip-tile-to-llvm=target=sm_80 --split-input-file %s 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: the GPU lowering cannot hold a 2-D tile in #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [2, 2]>, kWidth = 2>: not a register layout the lowering has
tile.kernel @to_dot_operand(%out: !tile.ptr<f32>) num_warps(4) config {} {
  %pa = tile.splat %out : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %a = tile.load %pa : tensor<32x32x!tile.ptr<f32>>
  %d = tile.convert_layout %a : tensor<32x32xf32> -> tensor<32x32xf32, #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [2, 2]>, kWidth = 2>>
  %s = tile.sum %d axis 1 : tensor<32x32xf32, #tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [2, 2]>, kWidth = 2>> -> tensor<32xf32>
  %os = tile.splat %out : !tile.ptr<f32> -> tensor<32x!tile.ptr<f32>>
  tile.store %os, %s : tensor<32x!tile.ptr<f32>>
}

// -----

// BAD: the GPU lowering cannot hold a 2-D tile in #tile.mma<version = 2, warpsPerCTA = [4, 2]>: its warps multiply to 8, the kernel has 4
tile.kernel @other_warps(%out: !tile.ptr<f32>) num_warps(4) config {} {
  %pa = tile.splat %out : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %a = tile.load %pa : tensor<32x32x!tile.ptr<f32>>
  %d = tile.convert_layout %a : tensor<32x32xf32> -> tensor<32x32xf32, #tile.mma<version = 2, warpsPerCTA = [4, 2]>>
  %s = tile.sum %d axis 1 : tensor<32x32xf32, #tile.mma<version = 2, warpsPerCTA = [4, 2]>> -> tensor<32xf32>
  %os = tile.splat %out : !tile.ptr<f32> -> tensor<32x!tile.ptr<f32>>
  tile.store %os, %s : tensor<32x!tile.ptr<f32>>
}
