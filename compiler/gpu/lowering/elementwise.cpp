//===- compiler/gpu/lowering/elementwise.cpp - Elementwise ops --------------===//
//
// Elementwise ops run in one layout: the one their result type names
// (hip-remove-layout-conversions), else that of a dot result when an operand
// has one, else the first operand's; the others are converted to it.
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {

void GpuLowering::lowerElementwise(Operation *op, Location loc) {
  const dsl::Type &rt = ty(res(op, 0));
  // A mask (i1) of broadcasts, one of them deferred, waits too: its user (a
  // select on a dot's result, a masked load) recomputes it in its own
  // layout, and a blocked copy never goes through shared memory. (A
  // broadcast already in registers was recomputed there, so it can be again.)
  auto isBroadcast = [&](int o) {
    auto d = defs_.find(o);
    return d != defs_.end() &&
           (kind(d->second) == OpKind::Broadcast || kind(d->second) == OpKind::ExpandDims);
  };
  if (dotResults_ && !eager_ && rt.isTile() && rt.dtype == DType::i1) {
    bool anyDeferred = false, others = false;
    for (int o : args(op)) {
      if (deferred_.count(o)) anyDeferred = true;
      else if (const TileVal &v = val(o); !v.splat && v.layout && !isBroadcast(o)) others = true;
    }
    if (anyDeferred && !others) {
      Operation *marker = mk<arith::ConstantIntOp>(b_, loc, b_.getI32Type(), 0).getOperation();
      vals_[res(op, 0)] = TileVal{nullptr, false, {}};
      deferred_[res(op, 0)] = Deferred{op, marker, tempBase_};
      return;
    }
  }
  // The common layout: the first operand that has one.
  // An mma (or mma-rows) layout wins over a blocked one: the others are
  // mostly index arithmetic, which is recomputed in it for free, while
  // moving a dot's result would cost a trip through shared memory.
  const Layout *l = nullptr;
  bool allSplat = true;
  auto rank = [&](const Layout *x) { return dotResults_ && x->kind != Layout::Blocked ? 1 : 0; };
  // A deferred broadcast (see lowerOpImpl) does not vote when another
  // operand has a layout: it is then recomputed in that layout where it can
  // be (convert tries remat first) instead of going through shared memory.
  bool anyDeferred = false;
  for (int o : args(op)) {
    if (deferred_.count(o)) {
      anyDeferred = true;
      continue;
    }
    const TileVal &v = val(o);
    if (v.layout && (!l || rank(v.layout) > rank(l))) l = v.layout;
    allSplat &= v.splat || !v.layout;
  }
  if (anyDeferred && !l)
    for (int o : args(op)) {
      const TileVal &v = val(o); // (materialised: no other layout to follow)
      if (v.layout && (!l || rank(v.layout) > rank(l))) l = v.layout;
      allSplat &= v.splat || !v.layout;
    }
  else if (anyDeferred)
    allSplat = false;
  // Where the result's type names a layout (hip-remove-layout-conversions
  // voted as above, and converted the operands), that one.
  if (auto t = dyn_cast<RankedTensorType>(op->getResult(0).getType());
      t && t.getEncoding() && !allSplat)
    l = layoutOf(t.getEncoding(), rt, srcLoc(op));
  std::vector<TileVal> ins;
  for (int o : args(op))
    ins.push_back(allSplat || !rt.isTile() ? val(o) : convert(o, l, loc));
  int typed = kind(op) == OpKind::Select ? 1 : 0;
  DType opType = ty(arg(op, typed)).dtype;
  DType pointee = ty(arg(op, 0)).pointee;
  TileVal out{allSplat ? nullptr : l, allSplat && rt.isTile(), {}};
  size_t n = ins[0].regs.size();
  for (size_t r = 0; r < n; ++r) {
    std::vector<Value> args;
    for (auto &in : ins) args.push_back(in.regs[r]);
    out.regs.push_back(se_.emit(loc, kind(op), args, opType, rt.dtype, pointee));
  }
  vals_[res(op, 0)] = out;
}

} // namespace hip::detail::gpu
