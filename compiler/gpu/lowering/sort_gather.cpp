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
bool GpuLowering::lowerSortInRegisters(const dsl::Op &op, Location loc) {
  const dsl::Type &st = ty(op.operands[0]);
  const dsl::Type &rt = ty(op.results[0]);
  auto [R, L] = view2d(st.shape);
  if (R != 1 || L < nthreads_ || L % nthreads_ || (L & (L - 1)) || storageBytes(st.dtype) != 4 ||
      st.dtype == DType::ptr)
    return false;
  bool desc = op.kind == OpKind::TopK || op.ints[0] != 0;
  DType t = st.dtype;
  int64_t e = L / nthreads_;
  size_t idxOff = size_t(L * 4);
  needShared(idxOff + size_t(L * 4));
  TileVal in = val(op.operands[0]);
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
  vals_[op.results[0]] = vout;
  if (op.results.size() > 1) vals_[op.results[1]] = iout;
  return true;
}

void GpuLowering::lowerSort(const dsl::Op &op, Location loc) {
  if (lowerSortInRegisters(op, loc)) return;
  const dsl::Type &st = ty(op.operands[0]);
  const dsl::Type &rt = ty(op.results[0]);
  auto [R, L] = view2d(st.shape);
  bool desc = op.kind == OpKind::TopK || op.ints[0] != 0;
  int eb = storageBytes(st.dtype);
  TileVal in = val(op.operands[0]);
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
  auto valAt = [&](Value pos) { return smemLoad(st.dtype, mul(pos, c32(eb), loc), loc); };
  auto idxAt = [&](Value pos) {
    return smemLoad(DType::i32, add(mul(pos, c32(4), loc), c32(int64_t(idxOff)), loc), loc);
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
  const Layout *dst = defaultLayout(rt);
  TileVal vout{dst, false, {}}, iout{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    auto [i, p] = coords(dst, r, loc);
    Value pos = add(mul(i, c32(L), loc), p, loc);
    vout.regs.push_back(valAt(pos));
    iout.regs.push_back(idxAt(pos));
  }
  vals_[op.results[0]] = vout;
  if (op.results.size() > 1) vals_[op.results[1]] = iout;
}

// Through shared memory: the source is written once, every thread then reads
// the elements its own indices name.
void GpuLowering::lowerGather(const dsl::Op &op, Location loc) {
  const dsl::Type &st = ty(op.operands[0]);
  const dsl::Type &rt = ty(op.results[0]);
  int eb = storageBytes(st.dtype);
  int64_t n = st.numel();
  TileVal in = val(op.operands[0]);
  if (in.splat || !in.layout) in = toLayout(in, st, defaultLayout(st), loc);
  const Layout *dst = defaultLayout(rt);
  TileVal idx = convert(op.operands[1], dst, loc);
  // A source the enclosing loop does not change is already in shared memory
  // (hoistGatherSources); else it is written here.
  TileVal out{dst, false, {}};
  if (gatherSrc_.count(op.operands[0])) {
    for (Value i : idx.regs) out.regs.push_back(readGatherSource(op.operands[0], i, loc));
    vals_[op.results[0]] = out;
    return;
  }
  needShared(size_t(n * eb));
  barrier(loc);
  writeShared(in, st, loc);
  barrier(loc);
  for (Value i : idx.regs) {
    i = mk<arith::MaxSIOp>(b_, loc, mk<arith::MinSIOp>(b_, loc, i, c32(n - 1)), c32(0));
    out.regs.push_back(smemLoad(st.dtype, mul(i, c32(eb), loc), loc));
  }
  vals_[op.results[0]] = out;
}

Value GpuLowering::readGatherSource(int src, Value i, Location loc) {
  const dsl::Type &st = ty(src);
  i = mk<arith::MaxSIOp>(b_, loc, mk<arith::MinSIOp>(b_, loc, i, c32(st.numel() - 1)), c32(0));
  size_t temp = tempBase_;
  tempBase_ = gatherSrc_.at(src); // (smemLoad's offsets are relative to it)
  Value v = smemLoad(st.dtype, mul(i, c32(storageBytes(st.dtype)), loc), loc);
  tempBase_ = temp;
  return v;
}

} // namespace hip::detail::gpu
