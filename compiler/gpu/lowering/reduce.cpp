//===- compiler/gpu/lowering/reduce.cpp - Reductions ------------------------===//
//
// Row reductions with shuffles (blocked and mma tiles), column reductions of
// mma tiles with shuffles, the rest through shared memory.
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {

/// Row reduction of a blocked tile without moving the tile: each thread
/// combines its own elements of a row, then lanes of a row combine with
/// butterfly shuffles, then the warps of a row through shared memory. Returns
/// false for the cases it does not handle (replicated columns, 64-bit
/// values); the caller then uses the shared-memory loop.
bool GpuLowering::lowerRowReduceShuffle(Operation *op, const TileVal &in, Location loc) {
  const dsl::Type &st = ty(arg(op, 0)), &rt = ty(res(op, 0));
  const Layout *l = in.layout;
  if (!l || !(l->kind == Layout::Blocked || l->kind == Layout::Mma) || l->wrap1 ||
      dsl::dtypeBytes(st.dtype) > 4)
    return false;
  bool isMma = l->kind == Layout::Mma;
  // Lanes and warps that share a row: a quad and wn warps in the mma layout.
  int rowLanes = isMma ? 4 : l->t1, rowWarps = isMma ? l->wn : l->w1;
  bool isArg = kind(op) == OpKind::Argmax;
  DType t = st.dtype;
  bool fl = dsl::isFloat(t);
  // Values travel as 32-bit words (floats as f32, integers as i32).
  DType wt = fl ? DType::f32 : DType::i32;
  auto widen = [&](Value v) { return se_.cast(loc, v, t, wt); };
  struct Part {
    Value v, idx;
  };
  auto combine = [&](Part a, Part c) -> Part {
    if (!isArg) return {se_.combine(loc, kind(op), a.v, c.v, wt), Value()};
    Value gt = se_.emit(loc, OpKind::CmpGT, {c.v, a.v}, wt, DType::i1, wt);
    Value eq = se_.emit(loc, OpKind::CmpEQ, {c.v, a.v}, wt, DType::i1, wt);
    Value lower = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, c.idx, a.idx);
    Value take = fold<arith::OrIOp>(b_, loc, gt, fold<arith::AndIOp>(b_, loc, eq, lower));
    return {mk<arith::SelectOp>(b_, loc, take, c.v, a.v),
            mk<arith::SelectOp>(b_, loc, take, c.idx, a.idx)};
  };
  // 1. In-thread partials, one per row offset the thread holds.
  std::map<int64_t, Part> parts;
  for (size_t r = 0; r < in.regs.size(); ++r) {
    Part p{widen(in.regs[r]), isArg ? coords(l, r, loc).second : Value()};
    auto it = parts.find(l->off[r].first);
    if (it == parts.end()) parts[l->off[r].first] = p;
    else it->second = combine(it->second, p);
  }
  // 2. Lanes of a row: lane % t1 indexes the columns.
  for (auto &[row, p] : parts)
    for (int off = rowLanes / 2; off >= 1; off /= 2)
      p = combine(p, {shflXor(p.v, off, loc), isArg ? shflXor(p.idx, off, loc) : Value()});
  // 3. Warps of a row, through shared memory: slot (row, warp column).
  Value b0 = base(l).first;
  Value warpCol = fold<arith::RemUIOp>(b_, loc, warp_, c32(rowWarps));
  Value leader = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq,
                                   fold<arith::RemUIOp>(b_, loc, lane_, c32(rowLanes)), c32(0));
  int64_t S0 = view2d(st.shape).first;
  int slot = isArg ? 8 : 4;
  auto rowOf = [&](int64_t off) {
    Value r = add(b0, c32(off), loc);
    return l->wrap0 ? Value(fold<arith::RemUIOp>(b_, loc, r, c32(S0))) : r;
  };
  auto writeSlot = [&](Value index, const Part &p, Value cond) {
    auto ifOp = mk<scf::IfOp>(b_, loc, cond, false);
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    Value off = mul(index, c32(slot), loc);
    smemStore(p.v, wt, off, loc);
    if (isArg) smemStore(p.idx, DType::i32, add(off, c32(4), loc), loc);
  };
  auto readSlot = [&](Value index) {
    Value off = mul(index, c32(slot), loc);
    return Part{smemLoad(wt, off, loc), isArg ? smemLoad(DType::i32, add(off, c32(4), loc), loc) : Value()};
  };
  if (rowWarps > 1) {
    needShared(size_t(S0 * rowWarps * slot));
    barrier(loc);
    for (auto &[off, p] : parts)
      writeSlot(add(mul(rowOf(off), c32(rowWarps), loc), warpCol, loc), p, leader);
    barrier(loc);
    for (auto &[off, p] : parts) {
      Value rowBase = mul(rowOf(off), c32(rowWarps), loc);
      Part acc = readSlot(rowBase);
      for (int w = 1; w < rowWarps; ++w) acc = combine(acc, readSlot(add(rowBase, c32(w), loc)));
      p = acc;
    }
  }
  auto finish = [&](const Part &p) { return isArg ? p.idx : se_.cast(loc, p.v, wt, rt.dtype); };
  if (isMma) { // the result stays in the rows of the mma layout (a Slice)
    const Layout *sl = rowsOf(l, Layout::Slice);
    TileVal out{sl, false, {}};
    for (auto &[off, p] : parts) out.regs.push_back(finish(p));
    if (out.regs.size() != sl->numRegs()) throw InternalError("mma row reduction: row count");
    vals_[res(op, 0)] = out;
    return true;
  }
  if (!rt.isTile()) { // a rank-1 source: every thread holds the one row
    vals_[res(op, 0)] = {nullptr, false, {finish(parts.begin()->second)}};
    return true;
  }
  // 4. The result [S0] in its own layout: row values through shared memory.
  needShared(size_t(S0 * slot));
  barrier(loc);
  Value writer = fold<arith::AndIOp>(
      b_, loc, leader, mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq, warpCol, c32(0)));
  for (auto &[off, p] : parts) writeSlot(rowOf(off), p, writer);
  barrier(loc);
  const Layout *dst = defaultLayout(rt);
  TileVal out{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r)
    out.regs.push_back(finish(readSlot(coords(dst, r, loc).second)));
  vals_[res(op, 0)] = out;
  return true;
}

/// Column reduction (axis 0) of an mma accumulator tile without moving the
/// tile: each thread combines its rows of a column, the 8 lanes that share a
/// column (lane % 4) combine with butterfly shuffles, then the warps along M
/// through shared memory, which also hands the [N] result out in the
/// default layout. Argmax and 64-bit values are left to the generic path.
bool GpuLowering::lowerColReduceMma(Operation *op, const TileVal &in, Location loc) {
  const dsl::Type &st = ty(arg(op, 0)), &rt = ty(res(op, 0));
  const Layout *l = in.layout;
  if (!l || l->kind != Layout::Mma || in.splat || kind(op) == OpKind::Argmax ||
      dsl::dtypeBytes(st.dtype) > 4 || !rt.isTile())
    return false;
  DType t = st.dtype, wt = dsl::isFloat(t) ? DType::f32 : DType::i32;
  // 1. In-thread partials, one per column offset.
  std::map<int64_t, Value> parts;
  for (size_t r = 0; r < in.regs.size(); ++r) {
    Value x = se_.cast(loc, in.regs[r], t, wt);
    auto it = parts.find(l->off[r].second);
    if (it == parts.end()) parts[l->off[r].second] = x;
    else it->second = se_.combine(loc, kind(op), it->second, x, wt);
  }
  // 2. The 8 lanes of a column (lane / 4 indexes the rows).
  for (auto &[col, p] : parts)
    for (int off : {4, 8, 16}) p = se_.combine(loc, kind(op), p, shflXor(p, off, loc), wt);
  // 3. The warps along M, through shared memory: slot (column, warp row).
  int64_t N = l->S1;
  int wm = l->wm;
  needShared(size_t(N * wm * 4));
  Value warpRow = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->wn));
  Value leader = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::ult, lane_, c32(4));
  Value b1 = base(l).second;
  barrier(loc);
  {
    auto ifOp = mk<scf::IfOp>(b_, loc, leader, false);
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    for (auto &[col, p] : parts) {
      Value slot = add(mul(add(b1, c32(col), loc), c32(wm), loc), warpRow, loc);
      smemStore(p, wt, mul(slot, c32(4), loc), loc);
    }
  }
  barrier(loc);
  if (wm == 1 && rt.shape.size() == 1) // (slot = column: the result in order)
    smemCopy_[res(op, 0)] = {tempBase_, barriers_, loops_.size(), wt};
  const Layout *dst = defaultLayout(rt);
  TileVal out{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    Value base = mul(coords(dst, r, loc).second, c32(wm), loc);
    Value acc = smemLoad(wt, mul(base, c32(4), loc), loc);
    for (int w = 1; w < wm; ++w)
      acc = se_.combine(loc, kind(op), acc, smemLoad(wt, mul(add(base, c32(w), loc), c32(4), loc), loc), wt);
    out.regs.push_back(se_.cast(loc, acc, wt, rt.dtype));
  }
  vals_[res(op, 0)] = out;
  return true;
}

/// shfl.sync.bfly of a 32-bit value (f32 or i32).
Value GpuLowering::shflXor(Value v, int offset, Location loc) {
  bool f = v.getType().isF32();
  Value bits = f ? Value(mk<arith::BitcastOp>(b_, loc, b_.getI32Type(), v)) : v;
  Value res = Ptx("shfl.sync.bfly.b32 $o0, $i0, $i1, 0x1f, 0xffffffff;")
                  .out(b_.getI32Type())
                  .in(bits)
                  .in(c32(offset))
                  .emit(b_, loc)
                  .getResult(0);
  return f ? Value(mk<arith::BitcastOp>(b_, loc, b_.getF32Type(), res)) : res;
}

void GpuLowering::lowerReduce(Operation *op, Location loc) {
  const dsl::Type &st = ty(arg(op, 0));
  const dsl::Type &rt = ty(res(op, 0));
  const TileVal &src = val(arg(op, 0));
  auto [S0, S1] = view2d(st.shape);
  int axis = static_cast<int>(intAttr(op, "axis"));
  bool rowReduce = st.shape.size() == 1 || axis == 1; // reduce along S1
  int64_t L = rowReduce ? S1 : S0;
  int eb = storageBytes(st.dtype);
  TileVal in = src;
  if (src.splat) in = toLayout(src, st, defaultLayout(st), loc);
  if (rowReduce && lowerRowReduceShuffle(op, in, loc)) return;
  if (!rowReduce && lowerColReduceMma(op, in, loc)) return;
  barrier(loc);
  writeShared(in, st, loc);
  barrier(loc);
  const Layout *dst = rt.isTile() ? defaultLayout(rt) : nullptr;
  size_t n = dst ? dst->numRegs() : 1;
  bool isArg = kind(op) == OpKind::Argmax;
  TileVal out{dst, false, {}};
  for (size_t r = 0; r < n; ++r) {
    // The fixed coordinate of this output element.
    Value fixed = dst ? coords(dst, r, loc).second : c32(0);
    Value init = se_.identity(loc, isArg ? OpKind::ReduceMax : kind(op), st.dtype);
    std::vector<Value> inits{init};
    if (isArg) inits.push_back(c32(0));
    auto loop = mk<scf::ForOp>(b_, loc, c32(0), c32(L), c32(1), inits);
    {
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(loop.getBody());
      Value m = loop.getInductionVar();
      Value lin = rowReduce ? add(mul(fixed, c32(S1), loc), m, loc)
                            : add(mul(m, c32(S1), loc), fixed, loc);
      Value x = smemLoad(st.dtype, mul(lin, c32(eb), loc), loc);
      Value acc = loop.getRegionIterArgs()[0];
      if (!isArg) {
        mk<scf::YieldOp>(b_, loc, ValueRange{se_.combine(loc, kind(op), acc, x, st.dtype)});
      } else {
        Value better = se_.emit(loc, OpKind::CmpGT, {x, acc}, st.dtype, DType::i1, st.dtype);
        Value nv = mk<arith::SelectOp>(b_, loc, better, x, acc);
        Value ni = mk<arith::SelectOp>(b_, loc, better, m, loop.getRegionIterArgs()[1]);
        mk<scf::YieldOp>(b_, loc, ValueRange{nv, ni});
      }
    }
    out.regs.push_back(loop.getResult(isArg ? 1 : 0));
  }
  vals_[res(op, 0)] = out;
}

} // namespace hip::detail::gpu
