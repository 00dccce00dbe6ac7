//===- compiler/gpu/lowering/dot_mma.cpp - dot on mma.sync m16n8k16 ---------===//
//
// Operands from registers (a 16-bit mma accumulator), from fragments loaded
// once before a loop, from a pipelined stage or staged in shared memory;
// ldmatrix fragments a k-step ahead of the mma.sync that uses them.
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {

/// Writes a 2-byte tile into shared memory rows of pitch `ld` elements (0:
/// the swizzled layout of a wgmma B operand) at temporary offset `byteBase`;
/// runs of 8 consecutive halfs per thread go out as one 16-byte store (ld is
/// a multiple of 8, so they stay aligned).
void GpuLowering::stageRows(const TileVal &v, const dsl::Type &t, int64_t ld, size_t byteBase,
                            Location loc) {
  TileVal in = v.splat || !v.layout ? toLayout(v, t, defaultLayout(t), loc) : v;
  const Layout *il = in.layout;
  int vec = il->kind == Layout::Blocked && !il->wrap1 && il->s1 % 8 == 0 ? 8 : 1;
  for (size_t r = 0; r < in.regs.size(); r += vec) {
    auto [i, j] = coords(il, r, loc);
    Value off = ld ? mul(add(mul(i, c32(ld), loc), j, loc), c32(2), loc)
                   : swizzledOffset(i, j, view2d(t.shape).first, loc);
    off = add(off, c32(int64_t(byteBase)), loc);
    if (vec == 1) {
      smemStore(in.regs[r], t.dtype, off, loc);
      continue;
    }
    std::vector<Value> elems(in.regs.begin() + r, in.regs.begin() + r + vec);
    mk<LLVM::StoreOp>(b_, loc, pack(elems, loc), smemPtr(off, loc), 16u);
  }
}

void GpuLowering::lowerDot(Operation *op, Location loc) {
  const dsl::Type &at = ty(arg(op, 0)), &bt = ty(arg(op, 1));
  int64_t M = at.shape[0], K = at.shape[1], N = bt.shape[1];
  if (at.dtype == DType::f32)
    throw CompileError("dot() of f32 tiles is not supported on the GPU backend (cast the "
                       "operands to bf16 or f16)",
                       srcLoc(op));
  if (K % 16 != 0)
    throw CompileError("dot() inner dimension " + std::to_string(K) +
                           " must be a multiple of 16 for mma.sync",
                       srcLoc(op));
  const Layout *cl = dotLayout(op);
  // The accumulator in the mma layout first: moving it may use the same
  // temporary shared memory as the operand staging below.
  // A deferred wgmma chains on its predecessor's accumulator while that
  // group still runs (the hardware orders them); any other use waits.
  bool chain = wgmmaDot(op) && pending_.count(arg(op, 2)) && uses_[arg(op, 2)] == 1 &&
               vals_.at(arg(op, 2)).layout == cl;
  TileVal acc = chain ? vals_.at(arg(op, 2)) : convert(arg(op, 2), cl, loc);
  if (chain) pending_.erase(arg(op, 2)); // done when this dot's group is
  // Where the operands come from (hip-optimize-dot-operands' hip.a, hip.b):
  //  A in registers: the 16-bit accumulator of a previous dot whose warps own
  //     the same rows (the FlashAttention-2 repack), or the fragments of a
  //     loop invariant loaded once before the loop;
  //  A in shared memory: staged before the loop (attention's Q with
  //     dot_a_shared), a pipelined loop's stage, or staged here;
  //  B: a pipelined stage or staged here, either [K][N] (ldmatrix .trans) or,
  //     for dot(a, trans(x)), x's rows [N][K] (ldmatrix without .trans).
  int aId = arg(op, 0), bId = arg(op, 1);
  bool bRows = transB_.count(bId) > 0;
  int bSrc = bRows ? arg(allDefs_.at(bId), 0) : bId;
  const TileVal *av = vals_.count(aId) ? &val(aId) : nullptr;
  bool inRegs = registersA(op);
  bool aRegs = inRegs && av && av->layout && !av->splat && av->layout->kind == Layout::Mma &&
               av->layout->wn == 1 && cl->wn == 1 && av->layout->wm == cl->wm &&
               av->layout->S0 == M && av->layout->S1 == K;
  bool aHoist = inRegs && !aRegs && size_t(depth_.count(aId) ? depth_.at(aId) : 0) < loops_.size();
  if (inRegs && !aRegs && !aHoist)
    throw InternalError("kernel '" + name_ + "': hip-optimize-dot-operands put a dot's A operand " +
                        "in registers, but it is neither an accumulator of its rows nor a loop " +
                        "invariant");
  auto pa = pipe_.find(aId), pb = pipe_.find(bSrc);
  bool aPipe = !inRegs && pa != pipe_.end(), bPipe = pb != pipe_.end();
  auto sa = sharedA_.find(aId); // (staged before the loop: see stageLoopInvariantA)
  bool aShared = !inRegs && !aPipe && sa != sharedA_.end();
  // wgmma reads B in the swizzled layout (ld 0) a pipelined loop wrote or
  // staged here.
  bool wg = wgmmaDot(op) && (!bPipe || pb->second.ld == 0);
  Value aBase, bBase;
  bool stageA = !inRegs && !aPipe && !aShared, stageB = !bPipe;
  // A staged here for a wgmma descriptor: the swizzled layout (ld 0).
  int64_t lda = wg && stageA && sharedA(op).getMaxPhase() > 1 ? 0 : K + 8,
          ldb = wg ? 0 : bRows ? K + 8 : N + 8;
  if (aPipe) aBase = pa->second.stageBase, lda = pa->second.ld;
  if (aShared) aBase = c32(int64_t(sa->second)), lda = swizzledA_.count(aId) ? 0 : lda;
  if (bPipe) bBase = pb->second.stageBase, ldb = pb->second.ld;
  if (stageA || stageB) {
    // 1. Stage A [M][K] and B ([K][N], or x [N][K]) in shared memory, rows
    //    padded by 8 halfs (swizzled for wgmma, 1024-byte aligned).
    size_t offA = stageA && !lda ? (tempBase_ + 1023) / 1024 * 1024 - tempBase_ : 0;
    size_t bytesA = !stageA ? 0 : lda ? size_t(M * lda * 2) : size_t(M * K * 2);
    size_t offB = (offA + bytesA + 127) / 128 * 128;
    if (!ldb) offB = (tempBase_ + offA + bytesA + 1023) / 1024 * 1024 - tempBase_;
    int64_t rowsB = bRows ? N : K;
    needShared(offB + size_t(rowsB * (ldb ? ldb : bRows ? K : N) * 2));
    barrier(loc);
    if (stageA) stageRows(val(aId), at, lda, offA, loc);
    if (stageB) stageRows(val(bSrc), ty(bSrc), ldb, offB, loc);
    if (wg && (stageB || (stageA && !lda))) fenceProxyAsync(loc);
    barrier(loc);
    if (stageA) aBase = c32(int64_t(tempBase_ + offA));
    if (stageB) bBase = c32(int64_t(tempBase_ + offB));
  }
  DotGeom g = dotGeom(op, loc);
  std::vector<Value> aAll; // aHoist: every k-step's A fragments
  if (aHoist) aAll = hoistedFragsA(aId, g, K, loc);
  auto fragsA = [&](int64_t kk) -> std::vector<Value> {
    if (aRegs) return regFragsA(*av, g, kk, loc);
    if (aHoist)
      return std::vector<Value>(aAll.begin() + kk * g.MI * 4, aAll.begin() + (kk + 1) * g.MI * 4);
    return loadFragsA(g, aBase, lda, kk, loc);
  };
  if (wg) {
    // A in shared memory in the swizzled layout (ld 0: pipelined, staged
    // before the loop or here) is read through its own descriptor;
    // otherwise its fragments go in registers.
    if (!inRegs && lda == 0) {
      lowerDotWgmma(op, acc, {}, aBase, bBase, bRows, loc);
      return;
    }
    std::vector<Value> a;
    for (int64_t kk = 0; kk < K / 16; ++kk) {
      std::vector<Value> f = fragsA(kk);
      a.insert(a.end(), f.begin(), f.end());
    }
    lowerDotWgmma(op, acc, a, Value(), bBase, bRows, loc);
    return;
  }
  auto frags = [&](int64_t kk) {
    std::vector<Value> f = fragsA(kk), fb = loadFragsB(g, bBase, ldb, bRows, kk, loc);
    f.insert(f.end(), fb.begin(), fb.end());
    return f;
  };
  Type f32 = b_.getF32Type();
  Type s4f = LLVM::LLVMStructType::getLiteral(&ctx_, {f32, f32, f32, f32});
  std::string mmaText = std::string("mma.sync.aligned.m16n8k16.row.col.f32.") +
                        (at.dtype == DType::bf16 ? "bf16.bf16" : "f16.f16") +
                        ".f32 {$o0,$o1,$o2,$o3}, {$i0,$i1,$i2,$i3}, {$i4,$i5}, {$i6,$i7,$i8,$i9};";
  bool ahead = prefetch_ && prefetch_->dot == op;
  // The fragments of k-step kk + 1 are loaded before the mma.sync of step
  // kk, so shared-memory latency overlaps the tensor cores. In a loop with
  // fragment prefetch, step 0 came from the previous iteration and the last
  // step loads the next stage's step 0 once its copies have landed.
  std::vector<Value> cur = ahead ? prefetch_->carried : frags(0);
  for (int64_t kk = 0; kk < K / 16; ++kk) {
    std::vector<Value> nxt;
    if (kk + 1 < K / 16) {
      nxt = frags(kk + 1);
    } else if (ahead) {
      Ptx("cp.async.wait_group " + std::to_string(prefetch_->stages - 2) + ";").emit(b_, loc);
      barrier(loc);
      prefetch_->next = loadFrags(g, prefetch_->nextA, lda, prefetch_->nextB, ldb, 0, loc);
    }
    for (int64_t im = 0; im < g.MI; ++im)
      for (int64_t in = 0; in < g.NI; ++in) {
        size_t r0 = size_t((im * g.NI + in) * 4), a0 = size_t(im * 4),
               b0 = size_t(g.MI * 4 + in * 2);
        std::vector<Value> args{cur[a0],         cur[a0 + 1],      cur[a0 + 2],
                                cur[a0 + 3],     cur[b0],          cur[b0 + 1],
                                acc.regs[r0],    acc.regs[r0 + 1], acc.regs[r0 + 2],
                                acc.regs[r0 + 3]};
        Ptx mma(mmaText);
        mma.outs(f32, 4).ins(args);
        std::vector<Value> d = mma.results(b_, loc, mma.emit(b_, loc, /*pure=*/true));
        std::copy(d.begin(), d.end(), acc.regs.begin() + long(r0));
      }
    cur = std::move(nxt);
  }
  acc.layout = cl;
  acc.splat = false;
  vals_[res(op, 0)] = acc;
}

/// The A fragments of k-step kk from a 16-bit tile in the mma accumulator
/// layout of the same rows: a0..a3 of m16n8k16 are the pairs (c0, c1) and
/// (c2, c3) of the accumulator's n8 blocks 2kk and 2kk + 1.
std::vector<Value> GpuLowering::regFragsA(const TileVal &a, const DotGeom &g, int64_t kk,
                                          Location loc) {
  int64_t NIa = (a.layout->S1 / a.layout->wn) / 8;
  auto word = [&](Value x, Value y) {
    return Value(mk<LLVM::BitcastOp>(b_, loc, b_.getI32Type(), pack({x, y}, loc)));
  };
  std::vector<Value> out;
  for (int64_t im = 0; im < g.MI; ++im)
    for (int64_t in : {2 * kk, 2 * kk + 1}) {
      size_t r = size_t((im * NIa + in) * 4);
      out.push_back(word(a.regs[r], a.regs[r + 1]));
      out.push_back(word(a.regs[r + 2], a.regs[r + 3]));
    }
  // In order a0 (rows g, k lo), a1 (rows g + 8, k lo), a2 (rows g, k hi), a3.
  return out;
}

/// Every k-step's A fragments of loop invariant `a`, staged and loaded once
/// before the outermost loop that does not define it.
std::vector<Value> GpuLowering::hoistedFragsA(int a, const DotGeom &g, int64_t K, Location loc) {
  size_t d = size_t(depth_.count(a) ? depth_.at(a) : 0);
  auto key = std::make_pair(a, g.cl);
  if (auto it = hoistedFrags_.find(key); it != hoistedFrags_.end()) return it->second;
  OpBuilder::InsertionGuard guard(b_);
  b_.setInsertionPoint(loops_[d]);
  int64_t lda = K + 8;
  needShared(size_t(g.M * lda * 2));
  barrier(loc);
  stageRows(val(a), ty(a), lda, 0, loc);
  barrier(loc);
  // The geometry's values are defined at the dot: rebuild them here.
  DotGeom h = g;
  h.wRow = mul(fold<arith::DivUIOp>(b_, loc, warp_, c32(g.cl->wn)), c32(g.M / g.cl->wm), loc);
  h.l16 = fold<arith::RemUIOp>(b_, loc, lane_, c32(16));
  h.lHi = mul(fold<arith::DivUIOp>(b_, loc, lane_, c32(16)), c32(8), loc);
  h.sBase = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_);
  std::vector<Value> all;
  for (int64_t kk = 0; kk < K / 16; ++kk) {
    std::vector<Value> f = loadFragsA(h, c32(int64_t(tempBase_)), lda, kk, loc);
    all.insert(all.end(), f.begin(), f.end());
  }
  hoistedFrags_[key] = all;
  hoistDepth_[key] = d;
  return all;
}

GpuLowering::DotGeom GpuLowering::dotGeom(Operation *op, Location loc) {
  const dsl::Type &at = ty(arg(op, 0)), &bt = ty(arg(op, 1));
  DotGeom g;
  g.M = at.shape[0], g.K = at.shape[1], g.N = bt.shape[1];
  g.cl = dotLayout(op);
  int64_t WM = g.M / g.cl->wm, WN = g.N / g.cl->wn;
  g.MI = WM / 16, g.NI = WN / 8;
  g.wRow = mul(fold<arith::DivUIOp>(b_, loc, warp_, c32(g.cl->wn)), c32(WM), loc);
  g.wCol = mul(fold<arith::RemUIOp>(b_, loc, warp_, c32(g.cl->wn)), c32(WN), loc);
  g.l16 = fold<arith::RemUIOp>(b_, loc, lane_, c32(16));
  g.lHi = mul(fold<arith::DivUIOp>(b_, loc, lane_, c32(16)), c32(8), loc);
  g.sBase = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_);
  return g;
}

std::vector<Value> GpuLowering::loadFrags(const DotGeom &g, Value aBase, int64_t lda,
                                          Value bBase, int64_t ldb, int64_t kk, Location loc) {
  std::vector<Value> out = loadFragsA(g, aBase, lda, kk, loc),
                     fb = loadFragsB(g, bBase, ldb, false, kk, loc);
  out.insert(out.end(), fb.begin(), fb.end());
  return out;
}

// ldmatrix reads shared memory: it must count as having side effects, or
// LLVM merges two dots' loads from the same addresses and moves them across
// barriers. mma.sync is a pure function of its registers.
std::vector<Value> GpuLowering::loadFragsA(const DotGeom &g, Value aBase, int64_t lda, int64_t kk,
                                           Location loc) {
  Type i32 = b_.getI32Type();
  Type s4i = LLVM::LLVMStructType::getLiteral(&ctx_, {i32, i32, i32, i32});
  std::vector<Value> out(size_t(g.MI * 4));
  // A via ldmatrix.x4.
  for (int64_t im = 0; im < g.MI; ++im) {
    Value row = add(add(g.wRow, c32(im * 16), loc), g.l16, loc);
    Value col = add(c32(kk * 16), g.lHi, loc);
    Value addr = add(add(g.sBase, aBase, loc),
                     mul(add(mul(row, c32(lda), loc), col, loc), c32(2), loc), loc);
    Ptx ld("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {$o0,$o1,$o2,$o3}, [$i0];");
    ld.outs(b_.getI32Type(), 4).in(addr);
    std::vector<Value> q = ld.results(b_, loc, ld.emit(b_, loc));
    std::copy(q.begin(), q.end(), out.begin() + long(im * 4));
  }
  return out;
}

std::vector<Value> GpuLowering::loadFragsB(const DotGeom &g, Value bBase, int64_t ldb, bool rows,
                                           int64_t kk, Location loc) {
  Type i32 = b_.getI32Type();
  Type s4i = LLVM::LLVMStructType::getLiteral(&ctx_, {i32, i32, i32, i32});
  Type s2i = LLVM::LLVMStructType::getLiteral(&ctx_, {i32, i32});
  std::vector<Value> out(size_t(g.NI * 2));
  bool pair = g.NI % 2 == 0;
  for (int64_t in = 0; in < g.NI; in += pair ? 2 : 1) {
    Value addr;
    if (rows) {
      // B's columns are the rows of x [N][K]: lanes 0-7 address rows n..n+7
      // at k, lanes 8-15 the same rows at k + 8 (then the next n8 block):
      // ldmatrix without .trans gives b0, b1 (, b0, b1 of block in + 1).
      Value l8 = fold<arith::RemUIOp>(b_, loc, lane_, c32(8));
      Value kHalf = mul(fold<arith::RemUIOp>(b_, loc, fold<arith::DivUIOp>(b_, loc, lane_, c32(8)),
                                             c32(2)),
                        c32(8), loc);
      Value nRow = add(add(g.wCol, c32(in * 8), loc), l8, loc);
      if (pair) nRow = add(nRow, g.lHi, loc);
      Value col = add(c32(kk * 16), kHalf, loc);
      addr = add(add(g.sBase, bBase, loc), mul(add(mul(nRow, c32(ldb), loc), col, loc), c32(2), loc),
                 loc);
    } else {
      // B via ldmatrix.x4.trans, two n8 blocks at a time when there are
      // (lanes 16-31 address the second block), else x2.trans.
      Value row = add(c32(kk * 16), g.l16, loc);
      Value col = add(g.wCol, c32(in * 8), loc);
      if (pair) col = add(col, g.lHi, loc);
      addr = add(add(g.sBase, bBase, loc), mul(add(mul(row, c32(ldb), loc), col, loc), c32(2), loc),
                 loc);
    }
    std::string tr = rows ? "" : ".trans";
    Ptx ld(pair ? "ldmatrix.sync.aligned.m8n8.x4" + tr + ".shared.b16 {$o0,$o1,$o2,$o3}, [$i0];"
                : "ldmatrix.sync.aligned.m8n8.x2" + tr + ".shared.b16 {$o0,$o1}, [$i0];");
    ld.outs(b_.getI32Type(), pair ? 4 : 2).in(addr);
    std::vector<Value> q = ld.results(b_, loc, ld.emit(b_, loc));
    std::copy(q.begin(), q.end(), out.begin() + long(in * 2));
  }
  return out;
}

} // namespace hip::detail::gpu
