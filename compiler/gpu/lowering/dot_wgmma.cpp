//===- compiler/gpu/lowering/dot_wgmma.cpp - dot on Hopper's wgmma ----------===//
//
// sm_90a: a dot whose rows are one m64 block per warpgroup (M == 16 * warps,
// so warp w owns rows 16w..16w+15: the mma.sync accumulator layout with the
// warps along M is also wgmma's) runs as wgmma.mma_async.m64nNk16, B from
// shared memory through a matrix descriptor, A (hip-optimize-dot-operands'
// hip.a) from registers (the fragments mma.sync would take: ldmatrix'd,
// hoisted, or the previous dot's accumulator) or through its own descriptor
// from a swizzled tile.
//
// B's tile (x [N][K] for dot(a, trans(x)), K-major; else B [K][N], MN-major,
// read with the transpose bit) lies in shared memory in the 128-byte swizzle
// layout: its columns in groups of 64 (128 bytes), each group R rows of 128
// bytes, the 16-byte chunk c of row i stored at chunk c ^ (i % 8). The same
// layout serves both majors (only the descriptor's strides differ), so
// cp.async writes it 16 bytes at a time without bank conflicts
// (consecutive chunks of a row stay in distinct banks).
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {


Value GpuLowering::swizzledOffset(Value i, Value j, int64_t R, Location loc) {
  auto udiv = [&](Value x, int64_t d) { return fold<arith::DivUIOp>(b_, loc, x, c32(d)); };
  auto urem = [&](Value x, int64_t d) { return fold<arith::RemUIOp>(b_, loc, x, c32(d)); };
  Value chunk = fold<arith::XOrIOp>(b_, loc, urem(udiv(j, 8), 8), urem(i, 8));
  Value off = add(mul(udiv(j, 64), c32(R * 128), loc), mul(i, c32(128), loc), loc);
  off = add(off, mul(chunk, c32(16), loc), loc);
  return add(off, mul(urem(j, 8), c32(2), loc), loc);
}

void GpuLowering::fenceProxyAsync(Location loc) {
  if (wgmma_) Ptx("fence.proxy.async.shared::cta;").emit(b_, loc);
}

/// `regs` passed through an inline-asm statement `text` (tied in and out):
/// every later use sees the values after it, every earlier write lands
/// before it (CUTLASS's warpgroup_fence_operand, with the instruction).
static std::vector<Value> throughAsm(OpBuilder &b, ArrayRef<Value> regs, const std::string &text,
                                     Location loc) {
  Ptx p(text);
  for (Value v : regs) p.out(v.getType());
  for (size_t i = 0; i < regs.size(); ++i) p.tied(regs[i], i);
  return p.results(b, loc, p.emit(b, loc));
}

std::vector<Value> GpuLowering::wgmmaWait(ArrayRef<Value> regs, int pending, Location loc) {
  return throughAsm(b_, regs, "wgmma.wait_group.sync.aligned " + std::to_string(pending) + ";",
                    loc);
}

void GpuLowering::lowerDotWgmma(Operation *op, TileVal acc,
                                const std::vector<Value> &aFrags, Value aBase, Value bBase,
                                bool bRows, Location loc) {
  const dsl::Type &at = ty(arg(op, 0)), &bt = ty(arg(op, 1));
  int64_t M = at.shape[0], K = at.shape[1], N = bt.shape[1], R = bRows ? N : K;
  size_t nAcc = acc.regs.size(); // N / 2 per thread
  bool aDesc = static_cast<bool>(aBase);
  // A zero accumulator is not read: the first k-step runs with scale-d 0
  // and undefined inputs, so no instruction writes the registers (a write
  // while an earlier group runs would make ptxas serialize the wgmmas).
  bool zeroAcc = isZero(arg(op, 2));
  if (zeroAcc)
    for (Value &r : acc.regs) r = mk<LLVM::UndefOp>(b_, loc, b_.getF32Type());
  // wgmma.fence orders the registers' earlier writes (the rescaled
  // accumulator, the packed A) before the asynchronous reads.
  std::vector<Value> regs(acc.regs.begin(), acc.regs.end());
  regs.insert(regs.end(), aFrags.begin(), aFrags.end());
  regs = throughAsm(b_, regs, "wgmma.fence.sync.aligned;", loc);
  std::vector<Value> d(regs.begin(), regs.begin() + nAcc), a(regs.begin() + nAcc, regs.end());
  // Descriptor: start address >> 4 (bits 0-13), leading byte offset >> 4
  // (16-29), stride byte offset >> 4 (32-45), 128-byte swizzle (62-63).
  // K-major: 8-row groups 1024 bytes apart, k-steps 32 bytes apart inside a
  // 64-column group (the leading offset is unused). MN-major: k-steps of 16
  // rows are 2048 bytes apart, 64-column groups R * 128 bytes apart.
  Type i64 = b_.getI64Type();
  auto c64 = [&](uint64_t v) {
    return Value(mk<arith::ConstantOp>(b_, loc, i64, b_.getI64IntegerAttr(int64_t(v))));
  };
  Value sBase = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_);
  auto descriptor = [&](Value base, bool kMajor, int64_t rows) {
    int64_t lbo = kMajor ? 16 : rows * 128, sbo = 1024;
    uint64_t hi = (uint64_t((lbo >> 4) & 0x3FFF) << 16) |
                  (uint64_t((sbo >> 4) & 0x3FFF) << 32) | (uint64_t(1) << 62);
    Value addr = fold<arith::AndIOp>(b_, loc, add(sBase, base, loc), c32(0x3FFFF));
    return fold<arith::OrIOp>(
        b_, loc, mk<arith::ExtUIOp>(b_, loc, i64, fold<arith::ShRUIOp>(b_, loc, addr, c32(4))),
        c64(hi));
  };
  auto kOffset = [](bool kMajor, int64_t rows, int64_t kk) {
    return kMajor ? (kk / 4) * rows * 128 + (kk % 4) * 32 : kk * 2048;
  };
  Value descB = descriptor(bBase, bRows, R), descA;
  // A from shared memory: warpgroup g reads rows 64g..64g+63 of the M-row
  // K-major tile (8192 bytes into each 64-column group; a multiple of the
  // swizzle's 1024-byte period, so the descriptor needs no base offset).
  if (aDesc)
    descA = descriptor(add(aBase, mul(fold<arith::DivUIOp>(b_, loc, warp_, c32(4)), c32(64 * 128),
                                      loc),
                           loc),
                       true, M);
  size_t nA = aDesc ? 1 : 4; // A's operands per k-step
  std::string ab = at.dtype == DType::bf16 ? "bf16.bf16" : "f16.f16";
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, $" + std::to_string(nAcc + nA + 1) +
                     ", 0;\nwgmma.mma_async.sync.aligned.m64n" + std::to_string(N) + "k16.f32." +
                     ab + " {";
  for (size_t i = 0; i < nAcc; ++i) text += (i ? ",$" : "$") + std::to_string(i);
  text += "}, ";
  if (aDesc) {
    text += "$" + std::to_string(nAcc);
  } else {
    text += "{";
    for (size_t i = 0; i < 4; ++i) text += (i ? ",$" : "$") + std::to_string(nAcc + i);
    text += "}";
  }
  // Immediates: scale-a, scale-b, then (A from shared memory) trans-a =
  // K-major, and trans-b.
  text += ", $" + std::to_string(nAcc + nA) + ", p, 1, 1, " + (aDesc ? "0, " : "") +
          (bRows ? "0" : "1") + ";\n}";
  Type f32 = b_.getF32Type();
  for (int64_t kk = 0; kk < K / 16; ++kk) {
    Value desc = fold<arith::AddIOp>(b_, loc, descB, c64(uint64_t(kOffset(bRows, R, kk) >> 4)));
    // (the text numbers its operands itself: the nAcc accumulators, A, B's
    // descriptor, the scale-d flag; the accumulators are read in place)
    Ptx mma(text);
    mma.outs(f32, nAcc);
    if (aDesc)
      mma.in(fold<arith::AddIOp>(b_, loc, descA, c64(uint64_t(kOffset(true, M, kk) >> 4))));
    else
      mma.ins(ValueRange(ArrayRef<Value>(a).slice(size_t(kk * 4), 4)));
    mma.in(desc).in(c32(zeroAcc && kk == 0 ? 0 : 1));
    for (size_t i = 0; i < nAcc; ++i) mma.tied(d[i], i);
    d = mma.results(b_, loc, mma.emit(b_, loc));
  }
  Ptx("wgmma.commit_group.sync.aligned;").emit(b_, loc);
  acc.layout = dotLayout(op);
  acc.splat = false;
  acc.regs = d; // (the product: the last k-step's outputs)
  int64_t group = groupSeq_++;
  // The product is waited for at its first use (waitFor). Only while its
  // operands stay put: B in a pipeline stage (refilled only after every
  // group of the iteration that reads it is done, see lowerFor), A in
  // registers, a stage or staged before the loop, not in the temporary
  // shared memory that later ops reuse.
  int aId = arg(op, 0);
  bool aStays = !aDesc || pipe_.count(aId) || sharedA_.count(aId);
  if ((deferDots_.count(op) || pipe_.count(bSrcOf(op))) && aStays) {
    vals_[res(op, 0)] = acc;
    pending_[res(op, 0)] = group;
    return;
  }
  vals_[res(op, 0)] = acc;
  pending_[res(op, 0)] = group;
  waitFor(res(op, 0), loc);
}

int GpuLowering::bSrcOf(Operation *dot) const {
  int b = arg(dot, 1);
  return transB_.count(b) ? arg(allDefs_.at(b), 0) : b;
}

void GpuLowering::waitFor(int id, Location loc) {
  int64_t g = pending_.at(id);
  std::vector<int> done;
  std::vector<Value> all;
  for (auto &[v, vg] : pending_)
    if (vg <= g) {
      done.push_back(v);
      all.insert(all.end(), vals_.at(v).regs.begin(), vals_.at(v).regs.end());
    }
  int64_t newer = std::clamp<int64_t>(groupSeq_ - 1 - g, 0, 7);
  all = wgmmaWait(all, int(newer), loc);
  waitedThrough_ = std::max(waitedThrough_, groupSeq_ - 1 - newer);
  size_t pos = 0;
  for (int v : done) {
    for (Value &r : vals_.at(v).regs) r = all[pos++];
    pending_.erase(v);
  }
}

void GpuLowering::flushPending(Location loc) {
  if (pending_.empty()) return;
  int last = pending_.begin()->first;
  for (auto &[v, g] : pending_)
    if (g > pending_.at(last)) last = v;
  waitFor(last, loc);
}

} // namespace hip::detail::gpu
