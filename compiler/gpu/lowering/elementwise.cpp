//===- compiler/gpu/lowering/elementwise.cpp - Elementwise ops --------------===//
//
// Elementwise ops run in one layout: that of a dot result when an operand
// has one, else the first operand's; the others are converted to it.
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {

void GpuLowering::lowerElementwise(const dsl::Op &op, Location loc) {
  const dsl::Type &rt = ty(op.results[0]);
  // The common layout: the first operand that has one.
  // An mma (or mma-rows) layout wins over a blocked one: the others are
  // mostly index arithmetic, which is recomputed in it for free, while
  // moving a dot's result would cost a trip through shared memory.
  const Layout *l = nullptr;
  bool allSplat = true;
  auto rank = [&](const Layout *x) { return dotResults_ && x->kind != Layout::Blocked ? 1 : 0; };
  for (int o : op.operands) {
    const TileVal &v = val(o);
    if (v.layout && (!l || rank(v.layout) > rank(l))) l = v.layout;
    allSplat &= v.splat || !v.layout;
  }
  std::vector<TileVal> ins;
  for (int o : op.operands)
    ins.push_back(allSplat || !rt.isTile() ? val(o) : convert(o, l, loc));
  int typed = op.kind == OpKind::Select ? 1 : 0;
  DType opType = ty(op.operands[typed]).dtype;
  DType pointee = ty(op.operands[0]).pointee;
  TileVal out{allSplat ? nullptr : l, allSplat && rt.isTile(), {}};
  size_t n = ins[0].regs.size();
  for (size_t r = 0; r < n; ++r) {
    std::vector<Value> args;
    for (auto &in : ins) args.push_back(in.regs[r]);
    out.regs.push_back(se_.emit(loc, op.kind, args, opType, rt.dtype, pointee));
  }
  vals_[op.results[0]] = out;
}

} // namespace hip::detail::gpu
