//===- compiler/gpu/lowering/sort_gather.cpp - Sort, top-k and gather -------===//
//
// A bitonic network in shared memory for sort and top-k; gather through
// shared memory.
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {

// Sort and top-k of each row: a bitonic sorting network over (value, index)
// pairs in shared memory, all threads sharing the compare-exchanges of each
// step. Order: values descending (top-k, descending sort) or ascending, ties
// by ascending index, which is the stable order. Cost for R rows of L
// elements: log2(L) (log2(L) + 1) / 2 steps of R L / 2 compare-exchanges
// (45 steps of 256 for L = 512, 2 per thread at 4 warps) and one barrier each,
// against R L^2 comparisons for ranking every element.
Value GpuLowering::sortsBefore(bool desc, DType t, Value v, Value i, Value w, Value k,
                               Location loc) {
  Value strictly = se_.emit(loc, desc ? OpKind::CmpGT : OpKind::CmpLT, {v, w}, t, DType::i1, t);
  Value eq = se_.emit(loc, OpKind::CmpEQ, {v, w}, t, DType::i1, t);
  Value lower = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, i, k);
  return fold<arith::OrIOp>(b_, loc, strictly, fold<arith::AndIOp>(b_, loc, eq, lower));
}

// The same network with each thread holding e = L / threads consecutive
// elements of one row (L a power of two, 32-bit values): the steps of stride
// jj < e compare registers of one thread, jj < 32 e exchange them with
// shuffles (partner lane ^ jj / e), and only the longer ones go through
// shared memory, with two barriers each. For L = 512 on 128 threads 3 of
// the 45 steps touch shared memory (6 barriers instead of 45).
bool GpuLowering::lowerSortInRegisters(Operation *op, Location loc) {
  const dsl::Type &st = ty(arg(op, 0));
  const dsl::Type &rt = ty(res(op, 0));
  auto [R, L] = view2d(st.shape);
  if (R != 1 || L < nthreads_ || L % nthreads_ || (L & (L - 1)) || storageBytes(st.dtype) != 4 ||
      st.dtype == DType::ptr)
    return false;
  bool desc = kind(op) == OpKind::TopK || op->hasAttr("descending");
  DType t = st.dtype;
  int64_t e = L / nthreads_;
  size_t idxOff = size_t(L * 4);
  needShared(idxOff + size_t(L * 4));
  TileVal in = val(arg(op, 0));
  if (in.splat || !in.layout) in = toLayout(in, st, defaultLayout(st), loc);
  barrier(loc);
  writeShared(in, st, loc);
  barrier(loc);
  Value base = mul(add(mul(warp_, c32(32), loc), lane_, loc), c32(e), loc);
  std::vector<Value> v(e), ix(e), pos(e);
  for (int64_t a = 0; a < e; ++a) {
    pos[a] = add(base, c32(a), loc);
    v[a] = smemLoad(t, mul(pos[a], c32(4), loc), loc);
    ix[a] = pos[a];
  }
  auto sel = [&](Value c, Value x, Value y) { return mk<arith::SelectOp>(b_, loc, c, x, y); };
  auto idxAddr = [&](Value p) { return add(mul(p, c32(4), loc), c32(int64_t(idxOff)), loc); };
  auto storeAll = [&] { // every thread's (value, index) pairs at their positions
    barrier(loc);
    for (int64_t a = 0; a < e; ++a) {
      smemStore(v[a], t, mul(pos[a], c32(4), loc), loc);
      smemStore(ix[a], DType::i32, idxAddr(pos[a]), loc);
    }
    barrier(loc);
  };
  auto loadPair = [&](Value p) {
    return std::make_pair(smemLoad(t, mul(p, c32(4), loc), loc), smemLoad(DType::i32, idxAddr(p), loc));
  };
  auto isZero = [&](Value x, int64_t bit) {
    return mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq,
                             fold<arith::AndIOp>(b_, loc, x, c32(bit)), c32(0));
  };
  // Element a (value, index) against its partner (pv, pi) at stride jj of
  // the run of length k: the one that belongs at this position.
  auto exchange = [&](int64_t a, Value pv, Value pi, int64_t k, int64_t jj) {
    Value up = isZero(pos[a], k), low = isZero(pos[a], jj);
    Value fv = sel(low, v[a], pv), fi = sel(low, ix[a], pi); // at the lower position
    Value sv = sel(low, pv, v[a]), si = sel(low, pi, ix[a]);
    Value swap = sel(up, sortsBefore(desc, t, sv, si, fv, fi, loc),
                     sortsBefore(desc, t, fv, fi, sv, si, loc));
    // Lower position: swap ? second : first; upper: swap ? first : second.
    Value mineV = sel(low, sel(swap, sv, fv), sel(swap, fv, sv));
    Value mineI = sel(low, sel(swap, si, fi), sel(swap, fi, si));
    return std::make_pair(mineV, mineI);
  };
  for (int64_t k = 2; k <= L; k *= 2)
    for (int64_t jj = k / 2; jj >= 1; jj /= 2) {
      if (jj < e) { // within the thread
        for (int64_t a = 0; a < e; ++a) {
          if (a & jj) continue;
          int64_t b = a + jj;
          Value up = isZero(pos[a], k);
          Value swap = sel(up, sortsBefore(desc, t, v[b], ix[b], v[a], ix[a], loc),
                           sortsBefore(desc, t, v[a], ix[a], v[b], ix[b], loc));
          Value va = sel(swap, v[b], v[a]), ia = sel(swap, ix[b], ix[a]);
          Value vb = sel(swap, v[a], v[b]), ib = sel(swap, ix[a], ix[b]);
          v[a] = va, ix[a] = ia, v[b] = vb, ix[b] = ib;
        }
      } else if (jj < 32 * e) { // partner lane ^ (jj / e)
        std::vector<Value> nv(e), ni(e);
        for (int64_t a = 0; a < e; ++a) {
          Value pv = shflXor(v[a], int(jj / e), loc), pi = shflXor(ix[a], int(jj / e), loc);
          std::tie(nv[a], ni[a]) = exchange(a, pv, pi, k, jj);
        }
        v = nv, ix = ni;
      } else { // through shared memory
        storeAll();
        std::vector<Value> nv(e), ni(e);
        for (int64_t a = 0; a < e; ++a) {
          auto [pv, pi] = loadPair(fold<arith::XOrIOp>(b_, loc, pos[a], c32(jj)));
          std::tie(nv[a], ni[a]) = exchange(a, pv, pi, k, jj);
        }
        v = nv, ix = ni;
      }
    }
  storeAll();
  const Layout *dst = defaultLayout(rt);
  TileVal vout{dst, false, {}}, iout{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    auto [pv, pi] = loadPair(coords(dst, r, loc).second);
    vout.regs.push_back(pv);
    iout.regs.push_back(pi);
  }
  vals_[res(op, 0)] = vout;
  if (op->getNumResults() > 1) vals_[res(op, 1)] = iout;
  return true;
}

// Top-k in index order (TopKOrder::ByIndex) of one row of L 32-bit values,
// e = L / threads consecutive elements per thread, by a radix select: the
// k-th largest key T (values mapped to unsigned integers in the same order)
// is found one bit at a time from the top, 32 rounds of one count each (e
// compares, a warp's redux.sync, one barrier and a read of the warps'
// counts: about 20 instructions per round, 650 in all for L = 512 on 128
// threads, against about 2,700 for the 45 steps of the bitonic network);
// then the elements above T and the first k - #(above T) equal to T, in
// index order (ties: the smaller index), are compacted through one block-wide
// exclusive scan of the two counts packed in one integer (L < 2^16) and
// written to their slots. -0.0 and +0.0 are equal; NaN ranks above +inf.
bool GpuLowering::lowerTopKSelect(Operation *op, Location loc) {
  const dsl::Type &st = ty(arg(op, 0));
  const dsl::Type &rt = ty(res(op, 0));
  auto [R, L] = view2d(st.shape);
  if (R != 1 || L < nthreads_ || L % nthreads_ || L >= (1 << 16) || storageBytes(st.dtype) != 4 ||
      st.dtype == DType::ptr)
    return false;
  DType t = st.dtype;
  int64_t e = L / nthreads_, k = intAttr(op, "k");
  size_t idxOff = size_t(L * 4), cntOff = 2 * idxOff, totOff = cntOff + size_t(8 * nw_);
  needShared(totOff + size_t(4 * nw_));
  TileVal in = val(arg(op, 0));
  if (in.splat || !in.layout) in = toLayout(in, st, defaultLayout(st), loc);
  barrier(loc);
  writeShared(in, st, loc);
  barrier(loc);
  Type i32 = b_.getI32Type();
  auto cmpU = [&](arith::CmpIPredicate p, Value a, Value c) {
    return mk<arith::CmpIOp>(b_, loc, p, a, c).getResult();
  };
  auto sel = [&](Value c, Value x, Value y) {
    return mk<arith::SelectOp>(b_, loc, c, x, y).getResult();
  };
  auto ext = [&](Value c) { return mk<arith::ExtUIOp>(b_, loc, i32, c).getResult(); };
  Value tid = add(mul(warp_, c32(32), loc), lane_, loc);
  Value base = mul(tid, c32(e), loc);
  std::vector<Value> v(e), key(e), pos(e);
  for (int64_t a = 0; a < e; ++a) {
    pos[a] = add(base, c32(a), loc);
    v[a] = smemLoad(t, mul(pos[a], c32(4), loc), loc);
    Value bits = v[a];
    if (t == DType::f32) { // (-0 as +0: they compare equal)
      bits = mk<arith::BitcastOp>(b_, loc, i32, v[a]);
      bits = sel(cmpU(arith::CmpIPredicate::eq, bits, c32(int64_t(0x80000000u))), c32(0), bits);
    }
    // f32: negative values flip every bit, the others the sign bit; i32: the sign bit.
    Value flip = t == DType::f32
                     ? Value(fold<arith::OrIOp>(b_, loc, mk<arith::ShRSIOp>(b_, loc, bits, c32(31)),
                                                c32(int64_t(0x80000000u))))
                     : c32(int64_t(0x80000000u));
    key[a] = fold<arith::XOrIOp>(b_, loc, bits, flip);
  }
  auto warpSum = [&](Value x) {
    return Ptx("redux.sync.add.u32 $o0, $i0, 0xffffffff;").out(i32).in(x).emit(b_, loc).getResult(0);
  };
  auto leaderStore = [&](Value x, Value off) { // lane 0 writes its warp's value
    auto ifOp = mk<scf::IfOp>(b_, loc, cmpU(arith::CmpIPredicate::eq, lane_, c32(0)), false);
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    smemStore(x, DType::i32, off, loc);
  };
  Value warpSlot = mul(warp_, c32(4), loc);
  // 1. T, bit by bit: the largest prefix with at least k keys >= it. The
  // counts alternate between two slots per warp, so one barrier per round
  // suffices (a slot is written again only after every thread passed the
  // barrier that follows its last read).
  Value prefix = c32(0);
  for (int bit = 31; bit >= 0; --bit) {
    Value cand = fold<arith::OrIOp>(b_, loc, prefix, c32(int64_t(uint32_t(1) << bit)));
    Value c = c32(0);
    for (int64_t a = 0; a < e; ++a)
      c = add(c, ext(cmpU(arith::CmpIPredicate::uge, key[a], cand)), loc);
    size_t slots = cntOff + size_t(4 * nw_ * (bit & 1));
    leaderStore(warpSum(c), add(warpSlot, c32(int64_t(slots)), loc));
    barrier(loc);
    Value total = c32(0);
    for (int w = 0; w < nw_; ++w)
      total = add(total, smemLoad(DType::i32, c32(int64_t(slots) + 4 * w), loc), loc);
    prefix = sel(cmpU(arith::CmpIPredicate::uge, total, c32(k)), cand, prefix);
  }
  // 2. Each element's slot: #(above T) before it + min(#(equal to T) before
  // it, k - #(above T)), the counts packed (above | equal << 16) in one scan.
  std::vector<Value> gt(e), eq(e);
  Value mine = c32(0);
  for (int64_t a = 0; a < e; ++a) {
    gt[a] = cmpU(arith::CmpIPredicate::ugt, key[a], prefix);
    eq[a] = cmpU(arith::CmpIPredicate::eq, key[a], prefix);
    mine = add(mine, add(ext(gt[a]), fold<arith::ShLIOp>(b_, loc, ext(eq[a]), c32(16)), loc), loc);
  }
  Value incl = mine; // inclusive scan over the warp's lanes
  for (int d = 1; d < 32; d *= 2) {
    Value up = Ptx("shfl.sync.up.b32 $o0, $i0, $i1, 0x0, 0xffffffff;")
                   .out(i32)
                   .in(incl)
                   .in(c32(d))
                   .emit(b_, loc)
                   .getResult(0);
    incl = add(incl, sel(cmpU(arith::CmpIPredicate::uge, lane_, c32(d)), up, c32(0)), loc);
  }
  Value last = Ptx("shfl.sync.idx.b32 $o0, $i0, 31, 0x1f, 0xffffffff;")
                   .out(i32)
                   .in(incl)
                   .emit(b_, loc)
                   .getResult(0);
  leaderStore(last, add(warpSlot, c32(int64_t(totOff)), loc));
  barrier(loc);
  Value before = mk<arith::SubIOp>(b_, loc, incl, mine), all = c32(0);
  for (int w = 0; w < nw_; ++w) {
    Value wt = smemLoad(DType::i32, c32(int64_t(totOff) + 4 * w), loc);
    before = add(before, sel(cmpU(arith::CmpIPredicate::ult, c32(w), warp_), wt, c32(0)), loc);
    all = add(all, wt, loc);
  }
  Value need = mk<arith::SubIOp>(b_, loc, c32(k), fold<arith::AndIOp>(b_, loc, all, c32(0xffff)));
  Value gtBefore = fold<arith::AndIOp>(b_, loc, before, c32(0xffff));
  Value eqBefore = mk<arith::ShRUIOp>(b_, loc, before, c32(16));
  for (int64_t a = 0; a < e; ++a) {
    Value take = fold<arith::OrIOp>(
        b_, loc, gt[a],
        fold<arith::AndIOp>(b_, loc, eq[a], cmpU(arith::CmpIPredicate::ult, eqBefore, need)));
    Value slot = add(gtBefore, mk<arith::MinUIOp>(b_, loc, eqBefore, need), loc);
    auto ifOp = mk<scf::IfOp>(b_, loc, take, false);
    {
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      smemStore(v[a], t, mul(slot, c32(4), loc), loc);
      smemStore(pos[a], DType::i32, add(mul(slot, c32(4), loc), c32(int64_t(idxOff)), loc), loc);
    }
    gtBefore = add(gtBefore, ext(gt[a]), loc);
    eqBefore = add(eqBefore, ext(eq[a]), loc);
  }
  barrier(loc);
  const Layout *dst = defaultLayout(rt);
  TileVal vout{dst, false, {}}, iout{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    Value p = mul(coords(dst, r, loc).second, c32(4), loc);
    vout.regs.push_back(smemLoad(t, p, loc));
    iout.regs.push_back(smemLoad(DType::i32, add(p, c32(int64_t(idxOff)), loc), loc));
  }
  vals_[res(op, 0)] = vout;
  vals_[res(op, 1)] = iout;
  return true;
}

void GpuLowering::lowerSort(Operation *op, Location loc) {
  bool byIndex = kind(op) == OpKind::TopK && op->hasAttr("index_order");
  if (byIndex ? lowerTopKSelect(op, loc) : lowerSortInRegisters(op, loc)) return;
  const dsl::Type &st = ty(arg(op, 0));
  const dsl::Type &rt = ty(res(op, 0));
  auto [R, L] = view2d(st.shape);
  bool desc = kind(op) == OpKind::TopK || op->hasAttr("descending");
  int eb = storageBytes(st.dtype);
  TileVal in = val(arg(op, 0));
  if (in.splat || !in.layout) in = toLayout(in, st, defaultLayout(st), loc);
  size_t idxOff = size_t(R * L * eb + 15) / 16 * 16;
  needShared(idxOff + size_t(R * L * 4));
  barrier(loc);
  writeShared(in, st, loc);
  for (size_t r = 0; r < in.regs.size(); ++r) {
    auto [i, j] = coords(in.layout, r, loc);
    Value pos = add(mul(i, c32(L), loc), j, loc);
    smemStore(j, DType::i32, add(mul(pos, c32(4), loc), c32(int64_t(idxOff)), loc), loc);
  }
  barrier(loc);
  Value tid = add(mul(warp_, c32(32), loc), lane_, loc);
  int64_t pairs = R * L / 2, half = L / 2;
  size_t vBase = 0, iBase = idxOff; // (the results' buffers move for ByIndex)
  auto valAt = [&](Value pos) {
    return smemLoad(st.dtype, add(mul(pos, c32(eb), loc), c32(int64_t(vBase)), loc), loc);
  };
  auto idxAt = [&](Value pos) {
    return smemLoad(DType::i32, add(mul(pos, c32(4), loc), c32(int64_t(iBase)), loc), loc);
  };
  auto put = [&](Value pos, Value v, Value ix) {
    smemStore(v, st.dtype, mul(pos, c32(eb), loc), loc);
    smemStore(ix, DType::i32, add(mul(pos, c32(4), loc), c32(int64_t(idxOff)), loc), loc);
  };
  auto before = [&](Value v, Value i, Value w, Value k) {
    return sortsBefore(desc, st.dtype, v, i, w, k, loc);
  };
  for (int64_t k = 2; k <= L; k *= 2)
    for (int64_t jj = k / 2; jj >= 1; jj /= 2) {
      for (int64_t p0 = 0; p0 < pairs; p0 += nthreads_) {
        Value p = add(tid, c32(p0), loc);
        auto step = [&] {
          // Pair (a, a + jj) of row p / half: a has bit jj clear.
          Value row = fold<arith::DivUIOp>(b_, loc, p, c32(half));
          Value q = fold<arith::RemUIOp>(b_, loc, p, c32(half));
          Value a = add(mul(fold<arith::DivUIOp>(b_, loc, q, c32(jj)), c32(2 * jj), loc),
                        fold<arith::RemUIOp>(b_, loc, q, c32(jj)), loc);
          Value up = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq,
                                       fold<arith::AndIOp>(b_, loc, a, c32(k)), c32(0));
          Value pa = add(mul(row, c32(L), loc), a, loc), pb = add(pa, c32(jj), loc);
          Value va = valAt(pa), ia = idxAt(pa), vb = valAt(pb), ib = idxAt(pb);
          // Ascending runs (up) want a before b; descending runs the reverse.
          Value swap = mk<arith::SelectOp>(b_, loc, up, before(vb, ib, va, ia), before(va, ia, vb, ib));
          auto sel = [&](Value x, Value y) { return mk<arith::SelectOp>(b_, loc, swap, x, y); };
          put(pa, sel(vb, va), sel(ib, ia));
          put(pb, sel(va, vb), sel(ia, ib));
        };
        if (p0 + nthreads_ <= pairs) {
          step();
        } else {
          auto ifOp = mk<scf::IfOp>(b_, loc,
                                    mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::ult, p, c32(pairs)),
                                    false);
          OpBuilder::InsertionGuard g(b_);
          b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
          step();
        }
      }
      barrier(loc);
    }
  int64_t k = kind(op) == OpKind::TopK ? intAttr(op, "k") : L;
  int64_t rowLen = L; // (of the buffers the results are read from)
  if (byIndex) {
    // The row's k best move to the slots their index ranks among them:
    // k comparisons per element, the fallback of lowerTopKSelect.
    size_t outOff = idxOff + size_t(R * L * 4 + 15) / 16 * 16;
    size_t outIdx = outOff + size_t(R * k * eb + 15) / 16 * 16;
    needShared(outIdx + size_t(R * k * 4));
    for (int64_t p0 = 0; p0 < R * k; p0 += nthreads_) {
      Value p = add(tid, c32(p0), loc);
      auto ifOp = mk<scf::IfOp>(
          b_, loc, mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::ult, p, c32(R * k)), false);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value row = fold<arith::DivUIOp>(b_, loc, p, c32(k));
      Value src = add(mul(row, c32(L), loc), fold<arith::RemUIOp>(b_, loc, p, c32(k)), loc);
      Value mineI = idxAt(src);
      auto loop = mk<scf::ForOp>(b_, loc, c32(0), c32(k), c32(1), ValueRange{c32(0)});
      {
        OpBuilder::InsertionGuard g2(b_);
        b_.setInsertionPointToStart(loop.getBody());
        Value other = idxAt(add(mul(row, c32(L), loc), loop.getInductionVar(), loc));
        Value less = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, other, mineI);
        mk<scf::YieldOp>(b_, loc,
                         ValueRange{add(loop.getRegionIterArgs()[0],
                                        mk<arith::ExtUIOp>(b_, loc, b_.getI32Type(), less), loc)});
      }
      Value slot = add(mul(row, c32(k), loc), loop.getResult(0), loc);
      smemStore(valAt(src), st.dtype, add(mul(slot, c32(eb), loc), c32(int64_t(outOff)), loc), loc);
      smemStore(mineI, DType::i32, add(mul(slot, c32(4), loc), c32(int64_t(outIdx)), loc), loc);
    }
    barrier(loc);
    vBase = outOff, iBase = outIdx, rowLen = k;
  }
  const Layout *dst = defaultLayout(rt);
  TileVal vout{dst, false, {}}, iout{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    auto [i, p] = coords(dst, r, loc);
    Value pos = add(mul(i, c32(rowLen), loc), p, loc);
    vout.regs.push_back(valAt(pos));
    iout.regs.push_back(idxAt(pos));
  }
  vals_[res(op, 0)] = vout;
  if (op->getNumResults() > 1) vals_[res(op, 1)] = iout;
}

// Through shared memory: the source is written once, every thread then reads
// the elements its own indices name.
void GpuLowering::lowerGather(Operation *op, Location loc) {
  const dsl::Type &st = ty(arg(op, 0));
  const dsl::Type &rt = ty(res(op, 0));
  int eb = storageBytes(st.dtype);
  int64_t n = st.numel();
  TileVal in = val(arg(op, 0));
  if (in.splat || !in.layout) in = toLayout(in, st, defaultLayout(st), loc);
  const Layout *dst = defaultLayout(rt);
  TileVal idx = convert(arg(op, 1), dst, loc);
  // A source the enclosing loop does not change is already in shared memory
  // (hoistGatherSources); else it is written here.
  TileVal out{dst, false, {}};
  if (gatherSrc_.count(arg(op, 0))) {
    for (Value i : idx.regs) out.regs.push_back(readGatherSource(arg(op, 0), i, loc));
    vals_[res(op, 0)] = out;
    return;
  }
  auto copy = smemCopy_.find(arg(op, 0));
  bool inPlace = copy != smemCopy_.end() && copy->second.tempBase == tempBase_ &&
                 copy->second.barriers == barriers_ && copy->second.depth == loops_.size() &&
                 copy->second.t == st.dtype && eb == 4; // still where its producer left it
  if (!inPlace) {
    needShared(size_t(n * eb));
    barrier(loc);
    writeShared(in, st, loc);
    barrier(loc);
  }
  for (Value i : idx.regs) out.regs.push_back(readElement(st, i, loc));
  vals_[res(op, 0)] = out;
}

Value GpuLowering::readElement(const dsl::Type &st, Value i, Location loc) {
  i = mk<arith::MaxSIOp>(b_, loc, mk<arith::MinSIOp>(b_, loc, i, c32(st.numel() - 1)), c32(0));
  return smemLoad(st.dtype, mul(i, c32(storageBytes(st.dtype)), loc), loc);
}

Value GpuLowering::readGatherSource(int src, Value i, Location loc) {
  size_t temp = tempBase_;
  tempBase_ = gatherSrc_.at(src); // (smemLoad's offsets are relative to it)
  Value v = readElement(ty(src), i, loc);
  tempBase_ = temp;
  return v;
}

} // namespace hip::detail::gpu
