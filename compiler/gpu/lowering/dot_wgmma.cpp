//===- compiler/gpu/lowering/dot_wgmma.cpp - dot on Hopper's wgmma ----------===//
//
// sm_90a: a dot whose rows are one m64 block per warpgroup (M == 16 * warps,
// so warp w owns rows 16w..16w+15: the mma.sync accumulator layout with the
// warps along M is also wgmma's) runs as wgmma.mma_async.m64nNk16, A from
// registers (the fragments mma.sync would take: ldmatrix'd, hoisted, or the
// previous dot's accumulator) and B from shared memory through a matrix
// descriptor.
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

bool GpuLowering::wgmmaDot(const dsl::Op &op) const {
  if (!target_.hasWgmma() || nw_ % 4 != 0) return false;
  const dsl::Type &at = ty(op.operands[0]), &bt = ty(op.operands[1]);
  if (at.dtype != DType::bf16 && at.dtype != DType::f16) return false;
  int64_t M = at.shape[0], K = at.shape[1], N = bt.shape[1];
  if (M != 16 * nw_ || K % 16 != 0 || N % 8 != 0 || N > 256) return false;
  bool rows = transB_.count(op.operands[1]) > 0;
  int64_t R = rows ? N : K, C = rows ? K : N;
  return R % 8 == 0 && C % 64 == 0;
}

Value GpuLowering::swizzledOffset(Value i, Value j, int64_t R, Location loc) {
  auto udiv = [&](Value x, int64_t d) { return fold<arith::DivUIOp>(b_, loc, x, c32(d)); };
  auto urem = [&](Value x, int64_t d) { return fold<arith::RemUIOp>(b_, loc, x, c32(d)); };
  Value chunk = fold<arith::XOrIOp>(b_, loc, urem(udiv(j, 8), 8), urem(i, 8));
  Value off = add(mul(udiv(j, 64), c32(R * 128), loc), mul(i, c32(128), loc), loc);
  off = add(off, mul(chunk, c32(16), loc), loc);
  return add(off, mul(urem(j, 8), c32(2), loc), loc);
}

void GpuLowering::fenceProxyAsync(Location loc) {
  if (wgmma_) asmVoid("fence.proxy.async.shared::cta;", ValueRange{}, "", loc);
}

/// `regs` passed through an inline-asm statement `text` (tied in and out):
/// every later use sees the values after it, every earlier write lands
/// before it (CUTLASS's warpgroup_fence_operand, with the instruction).
static std::vector<Value> throughAsm(OpBuilder &b, MLIRContext &ctx, ArrayRef<Value> regs,
                                     const std::string &text, Location loc) {
  std::vector<Type> types;
  std::string cons;
  for (Value v : regs) {
    types.push_back(v.getType());
    cons += std::string(cons.empty() ? "" : ",") + (v.getType().isF32() ? "=f" : "=r");
  }
  for (size_t i = 0; i < regs.size(); ++i) cons += "," + std::to_string(i);
  Type st = LLVM::LLVMStructType::getLiteral(&ctx, types);
  auto op = mk<LLVM::InlineAsmOp>(b, loc, TypeRange{st}, ValueRange(regs), text, cons, true,
                                  false, LLVM::tailcallkind::TailCallKind::None,
                                  LLVM::AsmDialectAttr(), ArrayAttr());
  std::vector<Value> out;
  for (size_t i = 0; i < regs.size(); ++i)
    out.push_back(mk<LLVM::ExtractValueOp>(b, loc, op.getResult(0), ArrayRef<int64_t>{int64_t(i)}));
  return out;
}

void GpuLowering::lowerDotWgmma(const dsl::Op &op, TileVal acc,
                                const std::vector<Value> &aFrags, Value bBase, bool bRows,
                                Location loc) {
  const dsl::Type &at = ty(op.operands[0]), &bt = ty(op.operands[1]);
  int64_t K = at.shape[1], N = bt.shape[1], R = bRows ? N : K;
  size_t nAcc = acc.regs.size(); // N / 2 per thread
  // wgmma.fence orders the registers' earlier writes (the rescaled
  // accumulator, the packed A) before the asynchronous reads.
  std::vector<Value> regs(acc.regs.begin(), acc.regs.end());
  regs.insert(regs.end(), aFrags.begin(), aFrags.end());
  regs = throughAsm(b_, ctx_, regs, "wgmma.fence.sync.aligned;", loc);
  std::vector<Value> d(regs.begin(), regs.begin() + nAcc), a(regs.begin() + nAcc, regs.end());
  // Descriptor: start address >> 4 (bits 0-13), leading byte offset >> 4
  // (16-29), stride byte offset >> 4 (32-45), 128-byte swizzle (62-63).
  // K-major: 8-row groups 1024 bytes apart, k-steps 32 bytes apart inside a
  // 64-column group (the leading offset is unused). MN-major: k-steps of 16
  // rows are 2048 bytes apart, 64-column groups R * 128 bytes apart.
  int64_t lbo = bRows ? 16 : R * 128, sbo = 1024;
  uint64_t hi = (uint64_t((lbo >> 4) & 0x3FFF) << 16) | (uint64_t((sbo >> 4) & 0x3FFF) << 32) |
                (uint64_t(1) << 62);
  Type i64 = b_.getI64Type();
  auto c64 = [&](uint64_t v) {
    return Value(mk<arith::ConstantOp>(b_, loc, i64, b_.getI64IntegerAttr(int64_t(v))));
  };
  Value sBase = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_);
  Value addr = fold<arith::AndIOp>(b_, loc, add(sBase, bBase, loc), c32(0x3FFFF));
  Value desc0 = fold<arith::OrIOp>(
      b_, loc, mk<arith::ExtUIOp>(b_, loc, i64, fold<arith::ShRUIOp>(b_, loc, addr, c32(4))),
      c64(hi));
  std::string ab = at.dtype == DType::bf16 ? "bf16.bf16" : "f16.f16";
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, $" + std::to_string(nAcc + 5) +
                     ", 0;\nwgmma.mma_async.sync.aligned.m64n" + std::to_string(N) + "k16.f32." +
                     ab + " {";
  for (size_t i = 0; i < nAcc; ++i) text += (i ? ",$" : "$") + std::to_string(i);
  text += "}, {";
  for (size_t i = 0; i < 4; ++i) text += (i ? ",$" : "$") + std::to_string(nAcc + i);
  text += "}, $" + std::to_string(nAcc + 4) + ", p, 1, 1, " + (bRows ? "0" : "1") + ";\n}";
  std::string cons;
  for (size_t i = 0; i < nAcc; ++i) cons += i ? ",=f" : "=f";
  cons += ",r,r,r,r,l,r";
  for (size_t i = 0; i < nAcc; ++i) cons += "," + std::to_string(i);
  Type f32 = b_.getF32Type();
  Type st = LLVM::LLVMStructType::getLiteral(&ctx_, std::vector<Type>(nAcc, f32));
  for (int64_t kk = 0; kk < K / 16; ++kk) {
    int64_t koff = bRows ? (kk / 4) * R * 128 + (kk % 4) * 32 : kk * 2048;
    Value desc = fold<arith::AddIOp>(b_, loc, desc0, c64(uint64_t(koff >> 4)));
    std::vector<Value> args{a[size_t(kk * 4)], a[size_t(kk * 4 + 1)], a[size_t(kk * 4 + 2)],
                            a[size_t(kk * 4 + 3)], desc, c32(1)};
    args.insert(args.end(), d.begin(), d.end());
    auto m = asmCall(st, args, text, cons, true, loc);
    for (size_t i = 0; i < nAcc; ++i)
      d[i] = mk<LLVM::ExtractValueOp>(b_, loc, m.getResult(0), ArrayRef<int64_t>{int64_t(i)});
  }
  asmVoid("wgmma.commit_group.sync.aligned;", ValueRange{}, "", loc);
  acc.regs = throughAsm(b_, ctx_, d, "wgmma.wait_group.sync.aligned 0;", loc);
  acc.layout = mma(at.shape[0], N, op.loc);
  acc.splat = false;
  vals_[op.results[0]] = acc;
}

} // namespace hip::detail::gpu
