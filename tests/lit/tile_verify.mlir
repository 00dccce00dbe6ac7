// The tile dialect's verifiers: each check the DSL makes while tracing,
// made on textual IR.
// RUN: hipattn-opt --split-input-file --verify-diagnostics %s

// expected-error @below {{pointer must point to i32, i64, f16, bf16 or f32, got 'i1'}}
tile.kernel @bad_pointee(%p: !tile.ptr<i1>) num_warps(4) config {} {
}

// -----

tile.kernel @bad_rank(%n: i32) num_warps(4) config {} {
  // expected-error @below {{result #0 must be scalar or rank-1/2 tile of 1-bit signless integer, 32-bit signless integer, 64-bit signless integer, 16-bit float, bfloat16 type, 32-bit float, but got 'tensor<2x2x2xi32>'}}
  %c = tile.constant dense<0> : tensor<2x2x2xi32>
}

// -----

tile.kernel @constant_not_splat(%n: i32) num_warps(4) config {} {
  // expected-error @below {{tile constants must be splats}}
  %c = tile.constant dense<[1, 2]> : tensor<2xi32>
}

// -----

tile.kernel @program_id_axis(%n: i32) num_warps(4) config {} {
  // expected-error @below {{'axis' failed to satisfy constraint: 32-bit signless integer attribute whose minimum value is 0 whose maximum value is 2}}
  %p = tile.program_id 3
}

// -----

tile.kernel @arange_shape(%n: i32) num_warps(4) config {} {
  // expected-error @below {{result must be tensor<64xi32>, got 'tensor<32xi32>'}}
  %r = tile.arange 0, 64 : tensor<32xi32>
}

// -----

tile.kernel @arange_pow2(%n: i32) num_warps(4) config {} {
  // expected-error @below {{tile dimensions must be powers of two, got 'tensor<48xi32>'}}
  %r = tile.arange 0, 48 : tensor<48xi32>
}

// -----

tile.kernel @splat_of_tile(%n: i32) num_warps(4) config {} {
  %r = tile.arange 0, 64 : tensor<64xi32>
  // expected-error @below {{operand must be a scalar (use tile.broadcast for tiles)}}
  %s = tile.splat %r : tensor<64xi32> -> tensor<64xi32>
}

// -----

tile.kernel @splat_element(%n: i32) num_warps(4) config {} {
  // expected-error @below {{requires the same element type for all operands and results}}
  %s = tile.splat %n : i32 -> tensor<64xf32>
}

// -----

tile.kernel @broadcast(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1> : tensor<4x2xi32>
  // expected-error @below {{cannot broadcast 'tensor<4x2xi32>' to 'tensor<4x8xi32>' (same rank; dimensions equal or 1)}}
  %b = tile.broadcast %c : tensor<4x2xi32> -> tensor<4x8xi32>
}

// -----

tile.kernel @expand_dims_axis(%n: i32) num_warps(4) config {} {
  %r = tile.arange 0, 64 : tensor<64xi32>
  // expected-error @below {{axis 2 out of range for 'tensor<64xi32>'}}
  %e = tile.expand_dims %r axis 2 : tensor<64xi32> -> tensor<64x1xi32>
}

// -----

tile.kernel @expand_dims_shape(%n: i32) num_warps(4) config {} {
  %r = tile.arange 0, 64 : tensor<64xi32>
  // expected-error @below {{result shape must be the operand's with a unit dimension at axis 0}}
  %e = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<64x1xi32>
}

// -----

tile.kernel @reshape(%n: i32) num_warps(4) config {} {
  %r = tile.arange 0, 64 : tensor<64xi32>
  // expected-error @below {{reshape from 'tensor<64xi32>' to 'tensor<4x8xi32>' changes the number of elements}}
  %e = tile.reshape %r : tensor<64xi32> -> tensor<4x8xi32>
}

// -----

tile.kernel @trans(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1> : tensor<4x2xi32>
  // expected-error @below {{needs a rank-2 tile and its transposed shape}}
  %t = tile.trans %c : tensor<4x2xi32> -> tensor<4x2xi32>
}

// -----

tile.kernel @binary_shapes(%n: i32) num_warps(4) config {} {
  %a = tile.arange 0, 64 : tensor<64xi32>
  %b = tile.arange 0, 32 : tensor<32xi32>
  // The DSL broadcasts operands first: an elementwise op sees one type.
  // expected-error @below {{requires the same type for all operands and results}}
  %c = "tile.add"(%a, %b) : (tensor<64xi32>, tensor<32xi32>) -> tensor<64xi32>
}

// -----

tile.kernel @arith_on_i1(%n: i32) num_warps(4) config {} {
  %t = tile.constant true
  // expected-error @below {{operand #0 must be}}
  %c = tile.add %t, %t : i1
}

// -----

tile.kernel @bitwise_on_float(%x: f32) num_warps(4) config {} {
  // expected-error @below {{operand #0 must be}}
  %c = tile.and %x, %x : f32
}

// -----

tile.kernel @exp_of_int(%n: i32) num_warps(4) config {} {
  // expected-error @below {{operand #0 must be}}
  %c = tile.exp %n : i32
}

// -----

tile.kernel @cmp_result(%n: i32) num_warps(4) config {} {
  // expected-error @below {{result is i1 of the operands' shape}}
  %c = "tile.cmp_lt"(%n, %n) : (i32, i32) -> tensor<4xi1>
}

// -----

tile.kernel @select_condition(%x: f32) num_warps(4) config {} {
  %c = tile.constant dense<true> : tensor<8xi1>
  // expected-error @below {{condition is i1 of the values' shape}}
  %s = "tile.select"(%c, %x, %x) : (tensor<8xi1>, f32, f32) -> f32
}

// -----

tile.kernel @cast_shape(%x: f32) num_warps(4) config {} {
  // expected-error @below {{operand and result must have the same shape, got 'f32' and 'tensor<8xi32>'}}
  %c = tile.cast %x : f32 -> tensor<8xi32>
}

// -----

tile.kernel @addptr_of_int(%n: i32) num_warps(4) config {} {
  // expected-error @below {{operand #0 must be scalar or rank-1/2 tile of !tile.ptr, but got 'i32'}}
  %p = "tile.addptr"(%n, %n) : (i32, i32) -> i32
}

// -----

tile.kernel @addptr_shape(%p: !tile.ptr<f32>) num_warps(4) config {} {
  %r = tile.arange 0, 64 : tensor<64xi32>
  // expected-error @below {{pointer and offset must have the same shape}}
  %q = tile.addptr %p, %r : !tile.ptr<f32>, tensor<64xi32>
}

// -----

tile.kernel @load_of_int(%n: i32) num_warps(4) config {} {
  // expected-error @below {{'ptr' must be scalar or rank-1/2 tile of !tile.ptr, but got 'i32'}}
  %v = tile.load %n : i32
}

// -----

tile.kernel @load_mask_without_other(%p: !tile.ptr<f32>) num_warps(4) config {} {
  %m = tile.constant true
  // expected-error @below {{takes a mask and `other` (the value of masked-off lanes) together}}
  %v = "tile.load"(%p, %m) <{operandSegmentSizes = array<i32: 1, 1, 0, 0>}> : (!tile.ptr<f32>, i1) -> f32
}

// -----

tile.kernel @load_mask_shape(%p: !tile.ptr<f32>) num_warps(4) config {} {
  %m = tile.constant dense<true> : tensor<8xi1>
  %o = tile.constant 0.0 : f32
  // expected-error @below {{mask is i1 of the pointer's shape}}
  %v = "tile.load"(%p, %m, %o) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> : (!tile.ptr<f32>, tensor<8xi1>, f32) -> f32
}

// -----

tile.kernel @load_box_without_start(%p: !tile.ptr<bf16>, %n: i32) num_warps(4) config {} {
  %q = tile.splat %p : !tile.ptr<bf16> -> tensor<16x64x!tile.ptr<bf16>>
  %m = tile.constant dense<true> : tensor<16x64xi1>
  %o = tile.constant dense<0.0> : tensor<16x64xbf16>
  // expected-error @below {{takes `box` and its start coordinates together}}
  %v = tile.load %q, %m, %o {box = array<i64: 0, 1, 1, 1>} : tensor<16x64x!tile.ptr<bf16>>
}

// -----

tile.kernel @load_box_entries(%p: !tile.ptr<bf16>, %n: i32) num_warps(4) config {} {
  %q = tile.splat %p : !tile.ptr<bf16> -> tensor<16x64x!tile.ptr<bf16>>
  %m = tile.constant dense<true> : tensor<16x64xi1>
  %o = tile.constant dense<0.0> : tensor<16x64xbf16>
  // expected-error @below {{`box` names [base, sizes..., strides...] of 2 to 5 dimensions, got 3 entries}}
  %v = tile.load %q, %m, %o box(%n, %n) {box = array<i64: 0, 1, 1>} : tensor<16x64x!tile.ptr<bf16>>
}

// -----

tile.kernel @load_box_rank(%p: !tile.ptr<bf16>, %n: i32) num_warps(4) config {} {
  %q = tile.splat %p : !tile.ptr<bf16> -> tensor<64x!tile.ptr<bf16>>
  %m = tile.constant dense<true> : tensor<64xi1>
  %o = tile.constant dense<0.0> : tensor<64xbf16>
  // expected-error @below {{with `box` reads a masked 2-D tile from a start coordinate per dimension (2)}}
  %v = tile.load %q, %m, %o box(%n) {box = array<i64: 0, 1, 1, 1>} : tensor<64x!tile.ptr<bf16>>
}

// -----

tile.kernel @store_value_type(%p: !tile.ptr<f32>) num_warps(4) config {} {
  %v = tile.constant 1.0 : f16
  // expected-error @below {{value is the pointee of `ptr`, of its shape}}
  "tile.store"(%p, %v) : (!tile.ptr<f32>, f16) -> ()
}

// -----

tile.kernel @reduce_axis(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1.0> : tensor<4x8xf32>
  // expected-error @below {{axis 2 out of range for 'tensor<4x8xf32>'}}
  %s = tile.sum %c axis 2 : tensor<4x8xf32> -> tensor<4xf32>
}

// -----

tile.kernel @reduce_shape(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1.0> : tensor<4x8xf32>
  // expected-error @below {{result must drop dimension 1 of 'tensor<4x8xf32>', got 'tensor<8xf32>'}}
  %s = tile.reduce_max %c axis 1 : tensor<4x8xf32> -> tensor<8xf32>
}

// -----

tile.kernel @reduce_element(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1.0> : tensor<8xf32>
  // expected-error @below {{result element type must be the operand's, got 'i32'}}
  %s = tile.reduce_min %c axis 0 : tensor<8xf32> -> i32
}

// -----

tile.kernel @argmax_element(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1.0> : tensor<8xf32>
  // expected-error @below {{result #0 must be scalar or rank-1/2 tile of 32-bit signless integer, but got 'f32'}}
  %s = tile.argmax %c axis 0 : tensor<8xf32> -> f32
}

// -----

tile.kernel @dot_inner(%n: i32) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x32xbf16>
  %b = tile.constant dense<1.0> : tensor<16x16xbf16>
  %c = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{inner dimensions differ: 'tensor<16x32xbf16>' x 'tensor<16x16xbf16>'}}
  %d = tile.dot %a, %b, %c : tensor<16x32xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @dot_types(%n: i32) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %b = tile.constant dense<1.0> : tensor<16x16xf16>
  %c = tile.constant dense<0.0> : tensor<16x16xf32>
  // expected-error @below {{operands must have one element type}}
  %d = tile.dot %a, %b, %c : tensor<16x16xbf16>, tensor<16x16xf16> -> tensor<16x16xf32>
}

// -----

tile.kernel @dot_accumulator(%n: i32) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<16x16xbf16>
  %c = tile.constant dense<0.0> : tensor<16x32xf32>
  // expected-error @below {{accumulator must be 16x16, got 'tensor<16x32xf32>'}}
  %d = tile.dot %a, %a, %c : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x32xf32>
}

// -----

tile.kernel @sort_of_bool(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<true> : tensor<8xi1>
  // expected-error @below {{operand #0 must be}}
  %s = tile.sort %c : tensor<8xi1>
}

// -----

tile.kernel @topk_k(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1.0> : tensor<8xf32>
  // expected-error @below {{k = 16 must be in [1, 8]}}
  %v, %i = tile.topk %c, 16 : tensor<8xf32> -> tensor<16xf32>, tensor<16xi32>
}

// -----

tile.kernel @gather_rank(%n: i32) num_warps(4) config {} {
  %c = tile.constant dense<1.0> : tensor<8x8xf32>
  %i = tile.arange 0, 8 : tensor<8xi32>
  // expected-error @below {{reads from a rank-1 tile, got 'tensor<8x8xf32>'}}
  %g = tile.gather %c[%i] : tensor<8x8xf32>, tensor<8xi32> -> tensor<8xf32>
}

// -----

tile.kernel @for_yield(%n: i32, %x: f32) num_warps(4) config {} {
  %c0 = tile.constant 0 : i32
  %c1 = tile.constant 1 : i32
  %r = tile.for %i = %c0 to %n step %c1 iter_args(%acc = %x) -> f32 {
    // expected-error @below {{yields ('i32') but tile.for needs ('f32')}}
    tile.yield %i : i32
  }
}

// -----

tile.kernel @if_branches(%n: i32, %x: f32) num_warps(4) config {} {
  %c = tile.cmp_lt %n, %n : i32
  %r = tile.if %c -> f32 {
    tile.yield %x : f32
  } else {
    // expected-error @below {{yields ('i32') but tile.if needs ('f32')}}
    tile.yield %n : i32
  }
}

// -----

// expected-error @below {{argument 'h' must be an i32, i64 or f32 scalar or a pointer, got 'f16'}}
tile.kernel @kernel_argument(%h: f16) num_warps(4) config {} {
}

// -----

// expected-error @below {{multiple_of of 'n' must be a power of two, and 1 unless it is an integer}}
tile.kernel @kernel_multiple_of(%n: i32 {multiple_of = 3}) num_warps(4) config {} {
}

// -----

// expected-error @below {{config value 'BLOCK' must be an integer}}
tile.kernel @kernel_config(%n: i32) num_warps(4) config {BLOCK = "big"} {
}

// -----

// tile.convert_layout moves a tile between register layouts: a shared
// buffer's layout is not one.
tile.kernel @convert_to_shared(%p: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<64x64xf32>
  // expected-error @below {{cannot hold 'tensor<64x64xf32, #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>>': #tile.shared names a buffer in shared memory, not a register layout}}
  %b = tile.convert_layout %a : tensor<64x64xf32> -> tensor<64x64xf32, #tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>>
}

// -----

// An encoding for another rank.
tile.kernel @convert_rank(%p: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<64xf32>
  // expected-error @below {{#tile.mma is for rank-2 tiles, not rank 1}}
  %b = tile.convert_layout %a : tensor<64xf32> -> tensor<64xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
}

// -----

// The same elements: shape and element type stay.
tile.kernel @convert_shape(%p: !tile.ptr<f32>) num_warps(4) config {} {
  %a = tile.constant dense<1.0> : tensor<64x64xf32>
  // expected-error @below {{requires the same shape for all operands and results}}
  %b = tile.convert_layout %a : tensor<64x64xf32> -> tensor<64x32xf32, #tile.mma<version = 2, warpsPerCTA = [2, 2]>>
}
