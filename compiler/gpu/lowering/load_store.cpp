//===- compiler/gpu/lowering/load_store.cpp - Loads and stores --------------===//
//
// Global loads and stores, vectorised as the axis analysis allows, masked
// through PTX predicates; the inline-PTX helpers.
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {

Value GpuLowering::pack(ArrayRef<Value> elems, Location loc) {
  auto vt = VectorType::get({int64_t(elems.size())}, elems[0].getType());
  Value v = mk<LLVM::PoisonOp>(b_, loc, vt);
  for (size_t e = 0; e < elems.size(); ++e)
    v = mk<LLVM::InsertElementOp>(b_, loc, v, elems[e], c32(int64_t(e)));
  return v;
}

std::vector<Value> GpuLowering::unpack(Value v, int n, Location loc) {
  std::vector<Value> out;
  for (int e = 0; e < n; ++e) out.push_back(mk<LLVM::ExtractElementOp>(b_, loc, v, c32(e)));
  return out;
}

namespace {
/// "{$a,$b,...}" for `n` operands starting at `first` (or "$first" for one).
std::string asmOperands(int first, int n) {
  if (n == 1) return "$" + std::to_string(first);
  std::string s = "{";
  for (int i = 0; i < n; ++i) s += (i ? ",$" : "$") + std::to_string(first + i);
  return s + "}";
}
std::string vecSuffix(int words) { return words == 1 ? "" : ".v" + std::to_string(words); }
} // namespace

/// How a group of `vec` elements of `eb` bytes travels through inline PTX:
/// 32-bit words, or one 16/64-bit value when the group is smaller.
PtxWords ptxWords(int vec, int eb) {
  if (vec * eb >= 4 && !(vec == 1 && eb == 8)) return {vec * eb / 4, 32};
  return {1, eb * 8};
}

/// The elements of a group as the words of `pw` (bit casts only).
std::vector<Value> GpuLowering::toWords(ArrayRef<Value> elems, const PtxWords &pw, Location loc) {
  Type wt = b_.getIntegerType(pw.bits);
  if (elems.size() == size_t(pw.count)) { // a word per element: no vector shuffle
    std::vector<Value> out;
    for (Value e : elems)
      out.push_back(e.getType() == wt ? e : Value(mk<arith::BitcastOp>(b_, loc, wt, e)));
    return out;
  }
  return unpack(mk<LLVM::BitcastOp>(b_, loc, VectorType::get({pw.count}, wt), pack(elems, loc)),
                pw.count, loc);
}

std::vector<Value> GpuLowering::loadGroup(ArrayRef<Value> ptrs, ArrayRef<Value> masks,
                                          ArrayRef<Value> others, Type et, int eb,
                                          Location loc) {
  int vec = int(ptrs.size());
  auto vt = VectorType::get({vec}, et);
  if (masks.empty()) {
    if (vec == 1) return {mk<LLVM::LoadOp>(b_, loc, et, ptrs[0])};
    return unpack(mk<LLVM::LoadOp>(b_, loc, vt, ptrs[0], unsigned(vec * eb)), vec, loc);
  }
  // Predicated ld.global (masks[0] guards the group) of the group's words;
  // masked-off lanes keep `others`.
  PtxWords pw = ptxWords(vec, eb);
  int words = pw.count, wbits = pw.bits;
  Type wt = b_.getIntegerType(wbits);
  std::vector<Value> otherWords = toWords(others, pw, loc);
  std::string bits = "b" + std::to_string(wbits);
  // The mask goes in as a predicate register ("b").
  std::string text = "{ ";
  for (int w = 0; w < words; ++w)
    text += "mov." + bits + " $" + std::to_string(w) + ", $" + std::to_string(words + 2 + w) + "; ";
  text += "@$" + std::to_string(words + 1) + " ld.global" + vecSuffix(words) + "." + bits + " " +
          asmOperands(0, words) + ", [$" + std::to_string(words) + "]; }";
  Ptx ld(text);
  ld.outs(wt, size_t(words))
      .in(mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(), ptrs[0]))
      .in(masks[0])
      .ins(otherWords);
  std::vector<Value> ws = ld.results(b_, loc, ld.emit(b_, loc));
  if (vec == 1) return {mk<arith::BitcastOp>(b_, loc, et, ws[0])};
  if (words == vec) { // a word per element: no vector shuffle
    for (Value &w : ws)
      if (w.getType() != et) w = mk<arith::BitcastOp>(b_, loc, et, w);
    return ws;
  }
  return unpack(mk<LLVM::BitcastOp>(b_, loc, vt, pack(ws, loc)), vec, loc);
}

void GpuLowering::storeGroup(ArrayRef<Value> ptrs, ArrayRef<Value> elems, ArrayRef<Value> masks,
                             int eb, Location loc) {
  int vec = int(ptrs.size());
  if (masks.empty()) {
    mk<LLVM::StoreOp>(b_, loc, vec == 1 ? elems[0] : pack(elems, loc), ptrs[0],
                      unsigned(vec * eb));
    return;
  }
  PtxWords pw = ptxWords(vec, eb);
  int words = pw.count, wbits = pw.bits;
  std::vector<Value> ws = toWords(elems, pw, loc);
  // The mask goes in as a predicate register ("b").
  std::string text = "@$1 st.global" + vecSuffix(words) + ".b" + std::to_string(wbits) +
                     " [$0], " + asmOperands(2, words) + ";";
  Ptx(text)
      .in(mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(), ptrs[0]))
      .in(masks[0])
      .ins(ws)
      .emit(b_, loc);
}

/// Pointers to the `vec` consecutive elements of a group, from its first:
/// only the first pointer of each group stays live.
std::vector<Value> GpuLowering::groupPointers(Value first, int vec, DType elem, Location loc) {
  std::vector<Value> out{first};
  for (int e = 1; e < vec; ++e)
    out.push_back(mk<LLVM::GEPOp>(b_, loc, first.getType(), regType(elem), first,
                                  ValueRange{c32(e)}));
  return out;
}

Value GpuLowering::allTrue(ArrayRef<Value> masks, Location loc) {
  Value r = masks[0];
  for (size_t i = 1; i < masks.size(); ++i) r = fold<arith::AndIOp>(b_, loc, r, masks[i]);
  return r;
}

void GpuLowering::lowerLoad(Operation *op, Location loc) {
  const dsl::Type &rt = ty(res(op, 0));
  const TileVal &p = val(arg(op, 0));
  if (!rt.isTile()) {
    Value v = mk<LLVM::LoadOp>(b_, loc, regType(rt.dtype), p.regs[0]);
    if (op->getNumOperands() > 1)
      v = mk<arith::SelectOp>(b_, loc, val(arg(op, 1)).regs[0], v,
                              val(arg(op, 2)).regs[0]);
    vals_[res(op, 0)] = {nullptr, false, {v}};
    return;
  }
  // The layout the result's type names (hip-assign-blocked), else the
  // pointers'.
  auto named = cast<RankedTensorType>(op->getResult(0).getType()).getEncoding();
  const Layout *l = named    ? layoutOf(named, rt, srcLoc(op))
                    : p.layout ? p.layout
                               : defaultLayout(rt);
  TileVal ptrs = convert(arg(op, 0), l, loc);
  bool masked = op->getNumOperands() > 1;
  TileVal mask, other;
  if (masked) {
    mask = convert(arg(op, 1), l, loc);
    other = convert(arg(op, 2), l, loc);
  }
  int eb = dsl::dtypeBytes(rt.dtype);
  Type et = regType(rt.dtype);
  // vec: what addresses allow; known: what the mask is known to allow.
  int vec = vectorWidth(ptrs, nullptr, eb);
  int known = masked ? vectorWidth(ptrs, &mask, eb) : vec;
  TileVal out{l, false, {}};
  auto slice = [](const std::vector<Value> &v, size_t g, int n) {
    return ArrayRef<Value>(v).slice(g, size_t(n));
  };
  for (size_t g = 0; g < ptrs.regs.size(); g += vec) {
    std::vector<Value> got;
    if (!masked) {
      got = loadGroup(slice(ptrs.regs, g, vec), {}, {}, et, eb, loc);
    } else if (known == vec) {
      got = loadGroup(slice(ptrs.regs, g, vec), slice(mask.regs, g, vec),
                      slice(other.regs, g, vec), et, eb, loc);
    } else {
      // The mask may differ inside the group: one vector load when the
      // whole group is in bounds, element by element otherwise.
      auto ifOp = mk<scf::IfOp>(b_, loc, std::vector<Type>(size_t(vec), et),
                                allTrue(slice(mask.regs, g, vec), loc), true);
      OpBuilder::InsertionGuard guard(b_);
      b_.setInsertionPointToStart(ifOp.thenBlock());
      mk<scf::YieldOp>(b_, loc, loadGroup(slice(ptrs.regs, g, vec), {}, {}, et, eb, loc));
      b_.setInsertionPointToStart(ifOp.elseBlock());
      std::vector<Value> each;
      std::vector<Value> elemPtrs = groupPointers(ptrs.regs[g], vec, rt.dtype, loc);
      for (int e = 0; e < vec; ++e)
        each.push_back(loadGroup(slice(elemPtrs, e, 1), slice(mask.regs, g + e, 1),
                                 slice(other.regs, g + e, 1), et, eb, loc)[0]);
      mk<scf::YieldOp>(b_, loc, each);
      got.assign(ifOp.getResults().begin(), ifOp.getResults().end());
    }
    out.regs.insert(out.regs.end(), got.begin(), got.end());
  }
  vals_[res(op, 0)] = out;
}

void GpuLowering::lowerStore(Operation *op, Location loc) {
  const dsl::Type &pt = ty(arg(op, 0));
  const TileVal &p = val(arg(op, 0));
  if (!pt.isTile()) {
    auto doStore = [&] { mk<LLVM::StoreOp>(b_, loc, val(arg(op, 1)).regs[0], p.regs[0]); };
    if (op->getNumOperands() > 2) {
      auto ifOp = mk<scf::IfOp>(b_, loc, val(arg(op, 2)).regs[0], false);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      doStore();
    } else {
      doStore();
    }
    return;
  }
  // Store in the value's layout when the pointers can be recomputed in it
  // (e.g. an mma accumulator goes out without a trip through shared memory).
  const Layout *l = p.layout ? p.layout : defaultLayout(pt);
  const Layout *vl = val(arg(op, 1)).layout;
  if (vl && vl != l && !val(arg(op, 1)).splat && remat(arg(op, 0), vl, loc)) l = vl;
  TileVal ptrs = convert(arg(op, 0), l, loc);
  TileVal v = convert(arg(op, 1), l, loc);
  bool masked = op->getNumOperands() > 2;
  TileVal mask;
  if (masked) mask = convert(arg(op, 2), l, loc);
  int eb = dsl::dtypeBytes(pt.pointee);
  int vec = vectorWidth(ptrs, nullptr, eb);
  int known = masked ? vectorWidth(ptrs, &mask, eb) : vec;
  auto slice = [](const std::vector<Value> &x, size_t g, int n) {
    return ArrayRef<Value>(x).slice(g, size_t(n));
  };
  for (size_t g = 0; g < ptrs.regs.size(); g += vec) {
    if (!masked || known == vec) {
      storeGroup(slice(ptrs.regs, g, vec), slice(v.regs, g, vec),
                 masked ? slice(mask.regs, g, vec) : ArrayRef<Value>(), eb, loc);
      continue;
    }
    auto ifOp = mk<scf::IfOp>(b_, loc, allTrue(slice(mask.regs, g, vec), loc), true);
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    storeGroup(slice(ptrs.regs, g, vec), slice(v.regs, g, vec), {}, eb, loc);
    b_.setInsertionPoint(ifOp.elseBlock()->getTerminator());
    std::vector<Value> elemPtrs = groupPointers(ptrs.regs[g], vec, pt.pointee, loc);
    for (int e = 0; e < vec; ++e)
      storeGroup(slice(elemPtrs, e, 1), slice(v.regs, g + e, 1), slice(mask.regs, g + e, 1), eb,
                 loc);
  }
}

} // namespace hip::detail::gpu
