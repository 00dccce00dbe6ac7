//===- compiler/gpu/transforms/AxisInfo.h - hip-axis-info --------*- C++ -*-===//
//
// The first analysis of the GPU pipeline (../../../DESIGN.md, "IR stages"):
// for every integer, pointer and mask value of a tile.kernel, what is known
// of its elements along the last dimension (AxisInfo: contiguity,
// divisibility, constancy, prefix runs of masks). The lowering reads it to
// vectorise loads and stores, to pipeline copies (cp.async wants 16-byte
// aligned runs) and to turn masks into cp.async's src-size.
//
// A sparse forward dataflow analysis over SSA values: one visit per op in
// program order, each result from its operands' facts (the transfer
// functions in AxisInfo.cpp). Values a loop carries (tile.for's iter_args)
// and the results of tile.for / tile.if are taken as unknown, so no fixpoint
// is needed; a loop's induction variable is a multiple of what both its
// start and its step are multiples of.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../../tile/tile.h"

#include "llvm/ADT/DenseMap.h"

namespace hip::detail::gpu {

/// What the compiler knows of one value's integers along the last
/// dimension: runs of `contig` consecutive values (x, x+1, ...), every value
/// a multiple of `div`, runs of `cst` equal values; for masks, runs of
/// `prefix` elements whose true elements come first. kBig: unbounded.
struct AxisInfo {
  static constexpr int64_t kBig = int64_t(1) << 30;
  int64_t contig = 1, div = 1, cst = 1, prefix = 1;
  bool operator==(const AxisInfo &) const = default;
};

class AxisInfoAnalysis {
public:
  explicit AxisInfoAnalysis(tile::KernelOp kernel);
  /// The facts of `v` (all 1 when unknown).
  AxisInfo get(mlir::Value v) const;
  /// The facts of a constant with the DSL's integer value `iconst`.
  static AxisInfo ofConstant(int64_t iconst);

private:
  void visitBlock(mlir::Block &b);
  void visit(mlir::Operation &op);
  llvm::DenseMap<mlir::Value, AxisInfo> facts_;
};

/// Registers --hip-test-axis-info (hipattn-opt): a remark on each op with
/// the facts of its first result (and on each tile.for, of its induction
/// variable), for lit tests with --verify-diagnostics.
void registerAxisInfoTestPass();

} // namespace hip::detail::gpu
