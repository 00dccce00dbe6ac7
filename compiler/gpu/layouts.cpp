//===- compiler/gpu/layouts.cpp - Layouts, shared memory, layout changes ----===//
//
// Each layout's registers and coordinates; shared-memory helpers; moving a
// value between layouts (recomputed where it can be, else through shared
// memory); what --emit layouts prints.
//
//===----------------------------------------------------------------------===//
#include "GpuLowering.h"

namespace hip::detail::gpu {

// ---- Layouts ------------------------------------------------------------------
const Layout *GpuLowering::blocked(int64_t S0, int64_t S1) {
  BlockedShape d = defaultBlocked(S0, S1, nw_); // (hip-assign-blocked's encodings)
  return blockedWith(S0, S1, d.s1, d.t0, d.t1, d.w0, d.w1);
}

const Layout *GpuLowering::blockedWith(int64_t S0, int64_t S1, int s1, int t0, int t1, int w0,
                                       int w1) {
  for (auto &l : layouts_)
    if (l.kind == Layout::Blocked && l.S0 == S0 && l.S1 == S1 && l.s1 == s1 && l.t0 == t0 &&
        l.t1 == t1 && l.w0 == w0 && l.w1 == w1)
      return &l;
  Layout l;
  l.S0 = S0;
  l.S1 = S1;
  l.s1 = s1;
  l.t0 = t0;
  l.t1 = t1;
  l.w0 = w0;
  l.w1 = w1;
  int64_t fp0 = int64_t(l.s0) * l.t0 * l.w0, fp1 = int64_t(l.s1) * l.t1 * l.w1;
  l.wrap0 = fp0 > S0;
  l.wrap1 = fp1 > S1;
  for (int64_t r0 = 0; r0 < std::max<int64_t>(1, S0 / fp0); ++r0)
    for (int64_t r1 = 0; r1 < std::max<int64_t>(1, S1 / fp1); ++r1)
      for (int e = 0; e < l.s1; ++e) l.off.push_back({r0 * fp0, r1 * fp1 + e});
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

const Layout *GpuLowering::mma(int64_t M, int64_t N, const SourceLoc &where) {
  // A value in a dot's layout that is not a dot's result (an accumulator a
  // loop carries): the layout hip-accelerate-dot gives a dot of its shape.
  auto [wm, wn] = accumulatorWarps(M, N, nw_, chained_, wgmma_);
  return mmaWith(M, N, wm, wn, where);
}

const Layout *GpuLowering::dotLayout(Operation *dot) {
  // The accumulator layout its result type names (hip-dot-encodings; checked
  // present by scanKernel).
  Attribute enc = cast<RankedTensorType>(dot->getResult(0).getType()).getEncoding();
  return layoutOf(enc, ty(res(dot, 0)), srcLoc(dot));
}

const Layout *GpuLowering::mmaWith(int64_t M, int64_t N, int wm, int wn,
                                   const SourceLoc &where) {
  for (auto &l : layouts_)
    if (l.kind == Layout::Mma && l.S0 == M && l.S1 == N && l.wm == wm && l.wn == wn) return &l;
  if (M % (16 * wm) != 0 || N % (8 * wn) != 0)
    throw CompileError("dot result " + std::to_string(M) + "x" + std::to_string(N) +
                       " cannot be tiled by mma.sync m16n8 over " + std::to_string(nw_) +
                       " warps (need M % " + std::to_string(16 * wm) + " == 0 and N % " +
                       std::to_string(8 * wn) + " == 0)",
                       where);
  Layout l;
  l.kind = Layout::Mma;
  l.S0 = M;
  l.S1 = N;
  l.wm = wm;
  l.wn = wn;
  int64_t WM = M / wm, WN = N / wn;
  for (int64_t im = 0; im < WM / 16; ++im)
    for (int64_t in = 0; in < WN / 8; ++in)
      for (int c = 0; c < 4; ++c) l.off.push_back({im * 16 + (c / 2) * 8, in * 8 + c % 2});
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

const Layout *GpuLowering::rowsOf(const Layout *parent, Layout::Kind kind) {
  int64_t M = parent->kind == Layout::Slice ? parent->S1 : parent->S0; // (rows of rows: the same)
  for (auto &l : layouts_)
    if (l.kind == kind && (kind == Layout::Slice ? l.S1 : l.S0) == M && l.wm == parent->wm &&
        l.wn == parent->wn)
      return &l;
  Layout l;
  l.kind = kind;
  l.wm = parent->wm;
  l.wn = parent->wn;
  (kind == Layout::Slice ? l.S1 : l.S0) = M;
  for (int64_t r = 0; r < M / parent->wm; r += 8)
    l.off.push_back(kind == Layout::Slice ? std::pair<int64_t, int64_t>{0, r}
                                          : std::pair<int64_t, int64_t>{r, 0});
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

const Layout *GpuLowering::colsOf(const Layout *parent) {
  for (auto &l : layouts_)
    if (l.kind == Layout::Cols && l.S1 == parent->S1 && l.wm == parent->wm && l.wn == parent->wn)
      return &l;
  Layout l;
  l.kind = Layout::Cols;
  l.wm = parent->wm;
  l.wn = parent->wn;
  l.S1 = parent->S1;
  for (int64_t c = 0; c < parent->S1 / parent->wn; c += 8) {
    l.off.push_back({0, c});
    l.off.push_back({0, c + 1});
  }
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

const Layout *GpuLowering::blockedRowsOf(const Layout *parent) {
  for (auto &l : layouts_)
    if (l.kind == Layout::BlockedRows && l.S1 == parent->S0 && l.s0 == parent->s0 &&
        l.t0 == parent->t0 && l.t1 == parent->t1 && l.w0 == parent->w0 && l.w1 == parent->w1)
      return &l;
  Layout l = *parent;
  l.kind = Layout::BlockedRows;
  l.S0 = 1;
  l.S1 = parent->S0;
  l.wrap0 = false;
  l.wrap1 = parent->wrap0;
  l.off.clear();
  int64_t fp0 = int64_t(parent->s0) * parent->t0 * parent->w0;
  for (int64_t r0 = 0; r0 < std::max<int64_t>(1, parent->S0 / fp0); ++r0)
    l.off.push_back({0, r0 * fp0});
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

std::pair<Value, Value> GpuLowering::base(const Layout *l) {
  auto it = bases_.find(l);
  if (it != bases_.end()) return it->second;
  OpBuilder::InsertionGuard g(b_);
  b_.setInsertionPointAfter(prologueEnd_);
  Location loc = b_.getUnknownLoc();
  Value b0, b1;
  if (l->kind == Layout::BlockedRows) { // b1 = the parent's b0
    Value wd0 = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->w1));
    Value ld0 = fold<arith::DivUIOp>(b_, loc, lane_, c32(l->t1));
    b0 = c32(0);
    b1 = mul(add(mul(wd0, c32(l->t0), loc), ld0, loc), c32(l->s0), loc);
  } else if (l->kind == Layout::Blocked) {
    // b0 = ((warp / w1) * t0 + lane / t1) * s0 ; b1 = ((warp % w1) * t1 + lane % t1) * s1
    Value wd0 = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->w1));
    Value wd1 = fold<arith::RemUIOp>(b_, loc, warp_, c32(l->w1));
    Value ld0 = fold<arith::DivUIOp>(b_, loc, lane_, c32(l->t1));
    Value ld1 = fold<arith::RemUIOp>(b_, loc, lane_, c32(l->t1));
    b0 = mul(add(mul(wd0, c32(l->t0), loc), ld0, loc), c32(l->s0), loc);
    b1 = mul(add(mul(wd1, c32(l->t1), loc), ld1, loc), c32(l->s1), loc);
  } else if (l->kind == Layout::Mma) {
    int64_t WM = l->S0 / l->wm, WN = l->S1 / l->wn;
    Value wd0 = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->wn));
    Value wd1 = fold<arith::RemUIOp>(b_, loc, warp_, c32(l->wn));
    b0 = add(mul(wd0, c32(WM), loc), fold<arith::DivUIOp>(b_, loc, lane_, c32(4)), loc);
    b1 = add(mul(wd1, c32(WN), loc),
             mul(fold<arith::RemUIOp>(b_, loc, lane_, c32(4)), c32(2), loc), loc);
  } else if (l->kind == Layout::Cols) { // (warp % wn) * WN + (lane % 4) * 2
    Value wd1 = fold<arith::RemUIOp>(b_, loc, warp_, c32(l->wn));
    b0 = c32(0);
    b1 = add(mul(wd1, c32(l->S1 / l->wn), loc),
             mul(fold<arith::RemUIOp>(b_, loc, lane_, c32(4)), c32(2), loc), loc);
  } else { // the rows of an Mma layout: (warp / wn) * WM + lane / 4
    int64_t M = l->kind == Layout::Slice ? l->S1 : l->S0;
    Value wd0 = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->wn));
    Value row = add(mul(wd0, c32(M / l->wm), loc), fold<arith::DivUIOp>(b_, loc, lane_, c32(4)), loc);
    b0 = l->kind == Layout::Slice ? c32(0) : row;
    b1 = l->kind == Layout::Slice ? row : c32(0);
  }
  if (l->kind == Layout::Blocked || l->kind == Layout::Mma || l->kind == Layout::Cols ||
      l->kind == Layout::BlockedRows)
    prologueEnd_ = b1.getDefiningOp();
  else // the rows: the non-constant coordinate is the one just built
    prologueEnd_ = (l->kind == Layout::Slice ? b1 : b0).getDefiningOp();
  return bases_[l] = {b0, b1};
}

std::pair<Value, Value> GpuLowering::coords(const Layout *l, size_t r, Location loc) {
  auto [b0, b1] = base(l);
  Value i = add(b0, c32(l->off[r].first), loc);
  Value j = add(b1, c32(l->off[r].second), loc);
  if (l->wrap0) i = fold<arith::RemUIOp>(b_, loc, i, c32(l->S0));
  if (l->wrap1) j = fold<arith::RemUIOp>(b_, loc, j, c32(l->S1));
  return {i, j};
}

// ---- Shared memory ---------------------------------------------------------------
Value GpuLowering::smemPtr(Value byteOffset, Location l) {
  if (tempBase_) byteOffset = add(byteOffset, c32(int64_t(tempBase_)), l);
  return smemPtrAbs(byteOffset, l);
}

Value GpuLowering::smemPtrAbs(Value byteOffset, Location l) {
  Type p3 = LLVM::LLVMPointerType::get(&ctx_, 3);
  return mk<LLVM::GEPOp>(b_, l, p3, b_.getI8Type(), smemBase_, ValueRange{byteOffset});
}

void GpuLowering::smemStore(Value v, DType t, Value off, Location l) {
  if (t == DType::i1) v = mk<arith::ExtUIOp>(b_, l, b_.getI8Type(), v);
  if (t == DType::ptr) v = mk<LLVM::PtrToIntOp>(b_, l, b_.getI64Type(), v);
  mk<LLVM::StoreOp>(b_, l, v, smemPtr(off, l));
}

Value GpuLowering::smemLoad(DType t, Value off, Location l) {
  Type st = t == DType::i1 ? b_.getI8Type() : t == DType::ptr ? b_.getI64Type() : regType(t);
  Value v = mk<LLVM::LoadOp>(b_, l, st, smemPtr(off, l));
  if (t == DType::i1) return mk<arith::TruncIOp>(b_, l, b_.getI1Type(), v);
  if (t == DType::ptr) return mk<LLVM::IntToPtrOp>(b_, l, regType(t), v);
  return v;
}


Value GpuLowering::ownsCopy(const Layout *l, Location loc) {
  auto cmp = [&](Value v, int64_t n, arith::CmpIPredicate p) {
    return mk<arith::CmpIOp>(b_, loc, p, v, c32(n)).getResult();
  };
  Value own;
  auto both = [&](Value c) { own = own ? fold<arith::AndIOp>(b_, loc, own, c) : c; };
  if (l->kind == Layout::Slice || l->kind == Layout::RowBcast) {
    // A row lives in the 4 lanes of a quad and in each of the wn warps of a
    // warp row: the first lane of the quad in the first of those warps.
    both(cmp(fold<arith::RemUIOp>(b_, loc, lane_, c32(4)), 0, arith::CmpIPredicate::eq));
    if (l->wn > 1)
      both(cmp(fold<arith::RemUIOp>(b_, loc, warp_, c32(l->wn)), 0, arith::CmpIPredicate::eq));
  } else if (l->kind == Layout::Cols) {
    // A column lives in the 8 quads of a warp and in each of the wm warps of
    // a warp column: lane (lane % 4) of the first warp of the column.
    both(cmp(lane_, 4, arith::CmpIPredicate::ult));
    if (l->wm > 1) both(cmp(warp_, l->wn, arith::CmpIPredicate::ult));
  } else if (l->kind == Layout::BlockedRows) {
    // A row lives in the t1 lanes and the w1 warps along the parent's
    // columns: the first of each.
    both(cmp(fold<arith::RemUIOp>(b_, loc, lane_, c32(l->t1)), 0, arith::CmpIPredicate::eq));
    if (l->w1 > 1)
      both(cmp(fold<arith::RemUIOp>(b_, loc, warp_, c32(l->w1)), 0, arith::CmpIPredicate::eq));
    if (l->wrap1) both(cmp(base(l).second, l->S1, arith::CmpIPredicate::ult));
  } else if (l->kind == Layout::Blocked) {
    // A footprint larger than the tile wraps: the threads past the edge
    // (before the wrap) hold copies.
    auto [b0, b1] = base(l);
    if (l->wrap0) both(cmp(b0, l->S0, arith::CmpIPredicate::ult));
    if (l->wrap1) both(cmp(b1, l->S1, arith::CmpIPredicate::ult));
  }
  return own;
}

void GpuLowering::writeShared(const TileVal &src, const dsl::Type &srcT, Location loc,
                              size_t byteBase) {
  auto [S0, S1] = view2d(srcT.shape);
  int eb = storageBytes(srcT.dtype);
  needShared(byteBase + size_t(S0 * S1) * eb);
  // Each element is written once, by one of the threads holding it: copies
  // written by several threads would be a write/write race (of equal values,
  // but a race to compute-sanitizer's racecheck all the same).
  std::optional<OpBuilder::InsertionGuard> g;
  if (Value own = ownsCopy(src.layout, loc)) {
    g.emplace(b_);
    auto ifOp = mk<scf::IfOp>(b_, loc, own, false);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  }
  for (size_t r = 0; r < src.regs.size(); ++r) {
    auto [i, j] = coords(src.layout, r, loc);
    Value lin = add(mul(i, c32(S1), loc), j, loc);
    smemStore(src.regs[r], srcT.dtype, add(mul(lin, c32(eb), loc), c32(byteBase), loc), loc);
  }
}

TileVal GpuLowering::gather(const TileVal &src, const dsl::Type &srcT, const Layout *dst,
                            const std::function<Value(Value, Value)> &linear, Location loc) {
  TileVal out{dst, false, {}, src.contig, src.div, src.cst, src.prefix};
  if (src.splat || !src.layout) {
    out.regs.assign(dst->numRegs(), src.regs[0]);
    return out;
  }
  barrier(loc);
  writeShared(src, srcT, loc);
  barrier(loc);
  int eb = storageBytes(srcT.dtype);
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    auto [i, j] = coords(dst, r, loc);
    out.regs.push_back(smemLoad(srcT.dtype, mul(linear(i, j), c32(eb), loc), loc));
  }
  return out;
}

TileVal GpuLowering::convert(int id, const Layout *l, Location loc) {
  if (deferred_.count(id))
    if (auto r = remat(id, l, loc)) return *r;
  const TileVal &v = val(id);
  if ((v.layout == l && !v.splat) || v.splat || !v.layout) return toLayout(v, ty(id), l, loc);
  if (auto r = remat(id, l, loc)) return *r;
  return toLayout(v, ty(id), l, loc);
}

void GpuLowering::leavesOf(int id, std::set<int> &out, std::set<int> &seen) {
  if (!ty(id).isTile() || !seen.insert(id).second) return;
  auto d = defs_.find(id);
  if (d == defs_.end()) {
    out.insert(id);
    return;
  }
  Operation *op = d->second;
  OpKind k = kind(op);
  bool shape = k == OpKind::Arange || k == OpKind::Constant || k == OpKind::ExpandDims ||
               k == OpKind::Broadcast || k == OpKind::Trans || k == OpKind::Reshape ||
               k == OpKind::Splat || k == OpKind::ConvertLayout ||
               (k == OpKind::Gather && gatherSrc_.count(arg(op, 0)));
  if (!shape && !dsl::isElementwise(k)) {
    out.insert(id);
    return;
  }
  std::vector<int> in = args(op);
  for (size_t i = k == OpKind::Gather ? 1 : 0; i < in.size(); ++i) leavesOf(in[i], out, seen);
}

/// Recomputes value `id` directly in layout `l` when it is a pure function
/// of indices (arange, splats, scalars, elementwise ops, broadcasts,
/// reshapes, gathers from a source hoisted to shared memory): index
/// arithmetic then never goes through shared memory.
std::optional<TileVal> GpuLowering::remat(int id, const Layout *l, Location loc) {
  auto [S0, S1] = view2d(ty(id).shape);
  if (S0 != l->S0 || S1 != l->S1) return std::nullopt;
  // What a coordinate is, relative to the target layout: its row, its
  // column, or something else. A value that cannot be recomputed (a load, a
  // reduction) is still reachable when its coordinates are the target's:
  // it is converted once, hoisted out of the loops that do not define it,
  // and register k of the target reads the matching register.
  enum Tag { None, Row, Col };
  size_t k = 0; // the target register being computed
  // Into a blocked layout a leaf is moved only when it is the only one (one
  // [N] vector of indices addressing rows): with more, moving the value as
  // a whole takes fewer trips through shared memory. (Found out when such a
  // leaf is reached: most remat() calls never reach one.)
  std::optional<bool> oneLeaf;
  auto onlyLeaf = [&] {
    if (!oneLeaf) {
      std::set<int> leaves, seen;
      leavesOf(id, leaves, seen);
      oneLeaf = leaves.size() == 1;
    }
    return *oneLeaf;
  };
  std::map<std::pair<int, const Layout *>, TileVal> moved; // leaves converted so far
  auto moveLeaf = [&](int v, const Layout *to) -> const TileVal & {
    auto key = std::make_pair(v, to);
    auto it = moved.find(key);
    if (it != moved.end()) return it->second;
    // A move of the same registers an earlier remat() made (the K and V
    // rows of one tile read the same indices) where it dominates: in this
    // block, before the insertion point.
    const TileVal &src = val(v);
    auto lk = std::make_pair(src.regs.empty() ? nullptr : src.regs[0].getAsOpaquePointer(), to);
    if (auto c = leafMoves_.find(lk); c != leafMoves_.end() && lk.first) {
      Operation *d = c->second.regs.empty() ? nullptr : c->second.regs[0].getDefiningOp();
      Block *blk = b_.getInsertionBlock();
      auto ip = b_.getInsertionPoint();
      if (d && d->getBlock() == blk && (ip == blk->end() || d->isBeforeInBlock(&*ip)))
        return moved.emplace(key, c->second).first->second;
    }
    TileVal r = hoisted(v, to, loc);
    if (lk.first) leafMoves_[lk] = r;
    return moved.emplace(key, std::move(r)).first->second;
  };
  // elem(v, i, j): element (i, j) of value v's 2-D view.
  std::map<std::tuple<int, void *, void *>, Value> memo;
  std::function<Value(int, Value, Value, int, Tag, Tag)> elem =
      [&](int v, Value i, Value j, int depth, Tag ti, Tag tj) -> Value {
    if (!deferred_.count(v)) { // (a deferred shape op is looked through below)
      const TileVal &tv = val(v);
      if (!ty(v).isTile() || tv.splat || !tv.layout) return tv.regs[0];
    }
    if (depth > 24) return Value();
    auto key = std::make_tuple(v, i.getAsOpaquePointer(), j.getAsOpaquePointer());
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    auto d = defs_.find(v);
    auto leaf = [&]() -> Value {
      if (!dotResults_) return Value();
      const dsl::Type &vt = ty(v);
      // A loaded [N] vector (the key indices of a tile) down the rows of a
      // blocked tile (the [N, D] rows they address): moved to the rows each
      // thread holds, once for every such use in this block.
      if (l->kind == Layout::Blocked && view2d(vt.shape).first == 1 && ti == None && tj == Row &&
          vt.shape.back() == l->S0 && d != defs_.end() && kind(d->second) == OpKind::Load &&
          onlyLeaf())
        return moveLeaf(v, blockedRowsOf(l)).regs[blockedRowRegister(l, k)];
      if (l->kind == Layout::Blocked) return Value();
      if (vt.shape.size() == 1 && ti == None && tj == Row) {
        const Layout *sl = rowSlice(l);
        if (!sl || sl->S1 != vt.shape[0]) return Value();
        return moveLeaf(v, sl).regs[rowRegister(l, k)];
      }
      // A [N] vector along the columns (a tile's key indices): moved to
      // the columns this thread holds (N values, not the M x N the
      // broadcast would make of it).
      if (view2d(vt.shape).first == 1 && ti == None && tj == Col && l->kind == Layout::Mma)
        return moveLeaf(v, colsOf(l)).regs[colRegister(l, k)];
      if (vt.shape.size() == 2 && ti == Row && tj == Col && l->kind == Layout::Mma)
        return moveLeaf(v, l).regs[k];
      return Value();
    };
    if (d == defs_.end()) return leaf();
    Operation *op = d->second;
    auto [Q0, Q1] = op->getNumOperands() == 0 ? std::pair<int64_t, int64_t>{1, 1}
                                        : view2d(ty(arg(op, 0)).shape);
    Value out;
    switch (kind(op)) {
    case OpKind::Arange: out = add(j, c32(intAttr(op, "start")), loc); break;
    case OpKind::ExpandDims: // [N] viewed as (1, N): axis 1 turns it into a column
      out = ty(arg(op, 0)).shape.size() == 1 && intAttr(op, "axis") == 1
                ? elem(arg(op, 0), c32(0), i, depth + 1, None, ti)
                : elem(arg(op, 0), i, j, depth + 1, ti, tj);
      break;
    case OpKind::Broadcast:
      out = elem(arg(op, 0), Q0 == 1 ? c32(0) : i, Q1 == 1 ? c32(0) : j, depth + 1,
                 Q0 == 1 ? None : ti, Q1 == 1 ? None : tj);
      break;
    case OpKind::Trans: out = elem(arg(op, 0), j, i, depth + 1, tj, ti); break;
    case OpKind::ConvertLayout: out = elem(arg(op, 0), i, j, depth + 1, ti, tj); break;
    case OpKind::Gather: { // from a source already in shared memory: one read
      if (!gatherSrc_.count(arg(op, 0))) return leaf();
      Value x = elem(arg(op, 1), i, j, depth + 1, ti, tj);
      if (!x) return Value();
      out = readGatherSource(arg(op, 0), x, loc);
      break;
    }
    case OpKind::Reshape: {
      int64_t R1 = view2d(ty(v).shape).second;
      Value lin = add(mul(i, c32(R1), loc), j, loc);
      out = elem(arg(op, 0), fold<arith::DivUIOp>(b_, loc, lin, c32(Q1)),
                 fold<arith::RemUIOp>(b_, loc, lin, c32(Q1)), depth + 1, None, None);
      break;
    }
    default: {
      if (!dsl::isElementwise(kind(op))) return leaf();
      std::vector<Value> elems;
      for (int o : args(op)) {
        Value a = elem(o, i, j, depth + 1, ti, tj);
        if (!a) return Value();
        elems.push_back(a);
      }
      int typed = kind(op) == OpKind::Select ? 1 : 0;
      out = se_.emit(loc, kind(op), elems, ty(arg(op, typed)).dtype, ty(v).dtype,
                     ty(arg(op, 0)).pointee);
    }
    }
    if (out) memo[key] = out;
    return out;
  };
  Tag ti = l->kind == Layout::Slice ? None : Row;
  Tag tj = l->kind == Layout::Slice ? Row : l->kind == Layout::RowBcast ? None : Col;
  TileVal r = deferred_.count(id) ? vals_.at(id) : val(id); // (info only: a deferred one stays)
  r.layout = l;
  r.splat = false;
  r.regs.clear();
  for (k = 0; k < l->numRegs(); ++k) {
    auto [i, j] = coords(l, k, loc);
    Value x = elem(id, i, j, 0, ti, tj);
    if (!x) return std::nullopt;
    r.regs.push_back(x);
  }
  return r;
}

TileVal GpuLowering::toLayout(const TileVal &v, const dsl::Type &t, const Layout *l,
                              Location loc) {
  if (v.layout == l && !v.splat) return v;
  auto [S0, S1] = view2d(t.shape);
  return gather(v, t, l, [&](Value i, Value j) { return add(mul(i, c32(S1), loc), j, loc); },
                loc);
}

// ---- Layouts as encodings ------------------------------------------------------
Attribute GpuLowering::encodingOf(const Layout &l, size_t rank) {
  auto list = [](std::initializer_list<int64_t> v) {
    SmallVector<unsigned> out;
    for (int64_t x : v) out.push_back(unsigned(x));
    return out;
  };
  // The accumulator layout of wgmma m64nNk16 (one m64 block per warpgroup)
  // is that of mma.sync with the warps along M, 16 rows each: version 3
  // where the kernel's dots run on wgmma and each warp holds 16 rows.
  auto mmaEnc = [&] {
    bool v3 = wgmma_ && l.wn == 1 && l.wm == nw_ && nw_ % 4 == 0;
    return tile::MmaEncodingAttr::get(&ctx_, v3 ? 3 : 2, list({l.wm, l.wn}));
  };
  // (A blocked layout holds one row per thread and step: s0 is 1.)
  auto blockedEnc = [&](size_t r) {
    return blockedEncoding(&ctx_, r, BlockedShape{l.s1, l.t0, l.t1, l.w0, l.w1}, nw_);
  };
  switch (l.kind) {
  case Layout::Blocked: return blockedEnc(rank); // (a 1-D tile: its (1, N) view)
  case Layout::Mma:
  case Layout::RowBcast: return mmaEnc(); // ([M, 1]: the rows of the parent)
  case Layout::Slice: return tile::SliceEncodingAttr::get(&ctx_, 1, mmaEnc());
  case Layout::Cols: return tile::SliceEncodingAttr::get(&ctx_, 0, mmaEnc());
  case Layout::BlockedRows: return tile::SliceEncodingAttr::get(&ctx_, 1, blockedEnc(2));
  }
  return {};
}

const Layout *GpuLowering::layoutOf(Attribute enc, const dsl::Type &t, const SourceLoc &where) {
  auto refuse = [&](const std::string &why) -> const Layout * {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << enc;
    throw CompileError("the GPU lowering cannot hold a " + std::to_string(t.shape.size()) +
                           "-D tile in " + os.str() + ": " + why,
                       where);
  };
  auto warps = [&](ArrayRef<unsigned> w) {
    unsigned n = 1;
    for (unsigned x : w) n *= x;
    if (int(n) != nw_)
      refuse("its warps multiply to " + std::to_string(n) + ", the kernel has " +
             std::to_string(nw_));
  };
  auto [S0, S1] = view2d(t.shape);
  auto fromBlocked = [&](tile::BlockedEncodingAttr b, int64_t R0, int64_t R1) {
    ArrayRef<unsigned> spt = b.getSizePerThread(), tpw = b.getThreadsPerWarp();
    ArrayRef<unsigned> wpc = b.getWarpsPerCTA();
    warps(wpc);
    if (spt.size() == 1) { // the (1, N) view, as in encodingOf
      int s1 = int(spt[0]);
      int t1 = int(std::min<int64_t>(tpw[0], std::max<int64_t>(1, R1 / s1)));
      int w1 = int(std::min<int64_t>(wpc[0], std::max<int64_t>(1, R1 / (int64_t(s1) * t1))));
      return blockedWith(R0, R1, s1, 32 / t1, t1, nw_ / w1, w1);
    }
    if (b.getOrder()[0] != 1) refuse("only order = [1, 0] (rows contiguous) is lowered");
    if (spt[0] != 1) refuse("only sizePerThread = [1, n] is lowered");
    return blockedWith(R0, R1, int(spt[1]), int(tpw[0]), int(tpw[1]), int(wpc[0]), int(wpc[1]));
  };
  if (auto b = dyn_cast<tile::BlockedEncodingAttr>(enc)) {
    if (b.getSizePerThread().size() != std::max<size_t>(1, t.shape.size()))
      refuse("its rank is not the tile's");
    return fromBlocked(b, S0, S1);
  }
  if (auto m = dyn_cast<tile::MmaEncodingAttr>(enc)) {
    if (t.shape.size() != 2) refuse("an accumulator layout is rank 2");
    warps(m.getWarpsPerCTA());
    int wm = int(m.getWarpsPerCTA()[0]), wn = int(m.getWarpsPerCTA()[1]);
    if (S1 == 1) return rowsOf(mmaWith(S0, 8 * wn, wm, wn, where), Layout::RowBcast);
    return mmaWith(S0, S1, wm, wn, where);
  }
  if (auto s = dyn_cast<tile::SliceEncodingAttr>(enc)) {
    if (t.shape.size() != 1) refuse("a slice is rank 1");
    int64_t N = t.shape[0];
    if (auto m = dyn_cast<tile::MmaEncodingAttr>(s.getParent())) {
      warps(m.getWarpsPerCTA());
      int wm = int(m.getWarpsPerCTA()[0]), wn = int(m.getWarpsPerCTA()[1]);
      if (s.getDim() == 1) return rowsOf(mmaWith(N, 8 * wn, wm, wn, where), Layout::Slice);
      return colsOf(mmaWith(16 * wm, N, wm, wn, where));
    }
    auto b = dyn_cast<tile::BlockedEncodingAttr>(s.getParent());
    if (b && s.getDim() == 1 && b.getSizePerThread().size() == 2)
      return blockedRowsOf(fromBlocked(b, N, int64_t(b.getSizePerThread()[1]) *
                                                 b.getThreadsPerWarp()[1] * b.getWarpsPerCTA()[1]));
    refuse("only rows and columns of an accumulator and rows of a blocked layout are lowered");
  }
  return refuse("not a register layout the lowering has (a dot operand's lives only in a dot)");
}

/// The layout of value `id` for --emit layouts: its encoding (checked to
/// name that very layout), "splat" (not materialised: built where used),
/// "broadcast of [1, N] in <encoding>" (a tile equal along dimension 0 held
/// as its one row, broadcast where used) or how a pipelined load travels.
Attribute GpuLowering::describe(int id) {
  if (pipelined_.count(id))
    return StringAttr::get(&ctx_, std::string("cp.async pipelined into shared memory") +
                                      (swizzled_.count(id) ? ", 128B swizzle" : ""));
  auto it = vals_.find(id);
  if (it == vals_.end() || !ty(id).isTile()) return {};
  const TileVal &v = it->second;
  if (v.splat || !v.layout) return StringAttr::get(&ctx_, "splat");
  dsl::Type held = ty(id);
  auto [V0, V1] = view2d(held.shape);
  bool row = v.layout->kind == Layout::Blocked && held.shape.size() == 2 &&
             (v.layout->S0 != V0 || v.layout->S1 != V1);
  if (row) held.shape = {v.layout->S0, v.layout->S1};
  Attribute enc = encodingOf(*v.layout, held.shape.size());
  if (const Layout *back = layoutOf(enc, held, {}); back != v.layout) {
    auto show = [](const Layout &l) {
      return "kind " + std::to_string(int(l.kind)) + " view " + std::to_string(l.S0) + "x" +
             std::to_string(l.S1) + " s " + std::to_string(l.s0) + "," + std::to_string(l.s1) +
             " t " + std::to_string(l.t0) + "," + std::to_string(l.t1) + " w " +
             std::to_string(l.w0) + "," + std::to_string(l.w1) + " mma " + std::to_string(l.wm) +
             "," + std::to_string(l.wn);
    };
    throw InternalError("kernel '" + name_ + "': the encoding of a layout (" + show(*v.layout) +
                        ") names another (" + show(*back) + ")");
  }
  if (!row) return enc;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "broadcast of [" << held.shape[0] << ", " << held.shape[1] << "] in " << enc;
  return StringAttr::get(&ctx_, os.str());
}

} // namespace hip::detail::gpu
