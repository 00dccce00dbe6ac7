// hip-axis-info, the analysis the GPU lowering reads to vectorise and
// pipeline memory accesses: contiguity, divisibility and constancy along the
// last dimension, and prefix runs of masks ("big": unbounded).
// RUN: hipattn-opt %s --hip-test-axis-info --verify-diagnostics -o /dev/null

tile.kernel @axis(%x: !tile.ptr<bf16>, %n: i32 {multiple_of = 16}, %m: i32)
    num_warps(4) config {} {
  // expected-remark @below {{contig 1, div 16, cst big, prefix 1}}
  %ns = tile.splat %n : i32 -> tensor<64xi32>
  // expected-remark @below {{contig 1, div 1, cst big, prefix 1}}
  %ms = tile.splat %m : i32 -> tensor<64xi32>
  // expected-remark @below {{contig 64, div big, cst 1, prefix 1}}
  %r = tile.arange 0, 64 : tensor<64xi32>
  // expected-remark @below {{contig 32, div 32, cst 1, prefix 1}}
  %r2 = tile.arange 32, 64 : tensor<32xi32>
  // expected-remark @below {{contig 1, div 8, cst big, prefix 1}}
  %c8 = tile.constant dense<8> : tensor<64xi32>
  // expected-remark @below {{contig 1, div 4, cst big, prefix 1}}
  %c12 = tile.constant 12 : i32
  // a run of 64 consecutive values starting at a multiple of 16:
  // expected-remark @below {{contig 64, div 16, cst 1, prefix 1}}
  %off = tile.add %ns, %r : tensor<64xi32>
  // expected-remark @below {{contig 64, div 1, cst 1, prefix 1}}
  %off2 = tile.add %r, %ms : tensor<64xi32>
  // expected-remark @below {{contig 1, div 128, cst big, prefix 1}}
  %scaled = tile.mul %ns, %c8 : tensor<64xi32>
  // a product of a run has no known divisibility:
  // expected-remark @below {{contig 1, div 8, cst 1, prefix 1}}
  %prod = tile.mul %r, %c8 : tensor<64xi32>
  // expected-remark @below {{contig 64, div 16, cst 1, prefix 1}}
  %sub = tile.sub %off, %ns : tensor<64xi32>
  // r < m: true first in each run of 64 (a prefix), constant over runs of 1
  // expected-remark @below {{contig 1, div 1, cst 1, prefix 64}}
  %lt = tile.cmp_lt %r, %ms : tensor<64xi32>
  // r < n, n a multiple of 16: constant over runs of 16
  // expected-remark @below {{contig 1, div 1, cst 16, prefix 64}}
  %ltn = tile.cmp_lt %r, %ns : tensor<64xi32>
  // n > r: the same prefix run
  // expected-remark @below {{contig 1, div 1, cst 16, prefix 64}}
  %gt = tile.cmp_gt %ns, %r : tensor<64xi32>
  // r == m is no prefix
  // expected-remark @below {{contig 1, div 1, cst 1, prefix 1}}
  %eq = tile.cmp_eq %r, %ms : tensor<64xi32>
  // expected-remark @below {{contig 1, div 1, cst 16, prefix 64}}
  %both = tile.and %ltn, %gt : tensor<64xi1>
  // expected-remark @below {{contig 1, div 1, cst 1, prefix 1}}
  %either = tile.or %lt, %eq : tensor<64xi1>
  // rows of a 2-D tile: a column broadcast is constant along the last dimension
  // expected-remark @below {{contig 1, div 1, cst big, prefix 1}}
  %col = tile.expand_dims %r axis 1 : tensor<64xi32> -> tensor<64x1xi32>
  // expected-remark @below {{contig 1, div 1, cst big, prefix 1}}
  %rows = tile.broadcast %col : tensor<64x1xi32> -> tensor<64x64xi32>
  // expected-remark @below {{contig 64, div big, cst 1, prefix 1}}
  %row = tile.expand_dims %r axis 0 : tensor<64xi32> -> tensor<1x64xi32>
  // expected-remark @below {{contig 64, div big, cst 1, prefix 1}}
  %cols = tile.broadcast %row : tensor<1x64xi32> -> tensor<64x64xi32>
  // expected-remark @below {{contig 64, div 1, cst 1, prefix 1}}
  %grid = tile.add %rows, %cols : tensor<64x64xi32>
  // pointers: the base is 16-byte aligned (8 bf16), the offsets keep runs
  // expected-remark @below {{contig 1, div 8, cst big, prefix 1}}
  %xs = tile.splat %x : !tile.ptr<bf16> -> tensor<64x!tile.ptr<bf16>>
  // expected-remark @below {{contig 64, div 8, cst 1, prefix 1}}
  %p = tile.addptr %xs, %off : tensor<64x!tile.ptr<bf16>>, tensor<64xi32>
  // expected-remark @below {{contig 1, div 1, cst 1, prefix 1}}
  %v = tile.load %p : tensor<64x!tile.ptr<bf16>>
  // i32 -> i64 keeps the facts; other casts do not
  // expected-remark @below {{contig 64, div 16, cst 1, prefix 1}}
  %wide = tile.cast %off : tensor<64xi32> -> tensor<64xi64>
  // expected-remark @below {{contig 1, div 1, cst 1, prefix 1}}
  %f = tile.cast %off : tensor<64xi32> -> tensor<64xf32>
  // expected-remark @below {{contig 1, div big, cst big, prefix 1}}
  %c0 = tile.constant 0 : i32
  // expected-remark @below {{contig 1, div 16, cst big, prefix 1}}
  %c16 = tile.constant 16 : i32
  // the induction variable: a multiple of what start and step both are;
  // carried values and the loop's results are unknown
  // expected-remark @+2 {{iv: contig 1, div 16, cst big, prefix 1}}
  // expected-remark @+1 {{contig 1, div 1, cst 1, prefix 1}}
  %acc = tile.for %i = %c0 to %n step %c16 iter_args(%a = %off) -> (tensor<64xi32>) {
    // expected-remark @below {{contig 1, div 16, cst big, prefix 1}}
    %is = tile.splat %i : i32 -> tensor<64xi32>
    // expected-remark @below {{contig 1, div 1, cst 1, prefix 1}}
    %next = tile.add %a, %is : tensor<64xi32>
    tile.yield %next : tensor<64xi32>
  }
}
