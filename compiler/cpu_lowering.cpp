//===- compiler/cpu_lowering.cpp - Tile IR -> host loop nests -------------===//
//
// Assumes: a verified tile-IR kernel. Produces: one llvm.func
//   void @name(ptr args, ptr pid, ptr nprog, ptr scratch)
// that runs ONE program of the grid; the runtime calls it for every program,
// in parallel threads, each with its own scratch buffer.
//
// Every tile value lives in its own slice of the scratch buffer (offsets
// fixed at compile time); each op is a loop nest over its result. Scalars are
// SSA values. Loop-carried tiles are copied through a staging buffer at each
// yield so that swapped or aliased carried values stay correct. Layouts do not
// exist here.
//
//===----------------------------------------------------------------------===//
#include "lowering.h"

#include <map>

using namespace mlir;
using hip::dsl::DType;
using hip::dsl::OpKind;

namespace hip::detail {
namespace {

class CpuLowering {
public:
  CpuLowering(const dsl::Kernel &k, MLIRContext &ctx)
      : k_(k), ctx_(ctx), b_(&ctx), se_{b_, false, 0} {}
  Lowered run();

private:
  using Fn2 = std::function<void(Value i, Value j, Value lin)>;
  Value c64(int64_t v) { return constInt(b_, b_.getUnknownLoc(), b_.getI64Type(), v); }
  Type memType(DType t) {
    return t == DType::i1 ? Type(b_.getI8Type()) : elementType(&ctx_, t, 0);
  }
  /// Scratch slice for a new tile of type t.
  size_t allocate(const dsl::Type &t) {
    size_t off = scratch_;
    scratch_ += (size_t(t.numel()) * std::max(1, dsl::dtypeBytes(t.dtype)) + 63) / 64 * 64;
    return off;
  }
  Value bufPtr(size_t off, Location l);
  Value load(int id, Value lin, Location l);
  Value loadAt(size_t off, DType t, Value lin, Location l);
  void storeAt(size_t off, DType t, Value lin, Value v, Location l);
  /// Loop nest over [S0, S1] (i64 induction variables).
  void forEach(int64_t S0, int64_t S1, Location l, const Fn2 &fn);
  void copy(size_t from, size_t to, const dsl::Type &t, Location l);

  void lowerBlock(const dsl::Block &blk);
  void lowerOp(const dsl::Op &op);
  void lowerFor(const dsl::Op &op, Location l);
  void lowerIf(const dsl::Op &op, Location l);
  void lowerSort(const dsl::Op &op, Location l);

  const dsl::Type &ty(int id) const { return k_.typeOf(id); }
  bool isTile(int id) const { return ty(id).isTile(); }

  const dsl::Kernel &k_;
  MLIRContext &ctx_;
  OpBuilder b_;
  ScalarEmitter se_;
  Value scratchBase_, pid_, nprog_;
  size_t scratch_ = 0;
  std::map<int, Value> scalars_;  // scalar values
  std::map<int, size_t> buffers_; // tile values: scratch offsets
};

Value CpuLowering::bufPtr(size_t off, Location l) {
  return mk<LLVM::GEPOp>(b_, l, LLVM::LLVMPointerType::get(&ctx_), b_.getI8Type(),
                         scratchBase_, ValueRange{c64(int64_t(off))});
}

Value CpuLowering::loadAt(size_t off, DType t, Value lin, Location l) {
  Value p = mk<LLVM::GEPOp>(b_, l, LLVM::LLVMPointerType::get(&ctx_), memType(t),
                            bufPtr(off, l), ValueRange{lin});
  Value v = mk<LLVM::LoadOp>(b_, l, memType(t), p);
  if (t == DType::i1) v = mk<arith::TruncIOp>(b_, l, b_.getI1Type(), v);
  return v;
}

void CpuLowering::storeAt(size_t off, DType t, Value lin, Value v, Location l) {
  Value p = mk<LLVM::GEPOp>(b_, l, LLVM::LLVMPointerType::get(&ctx_), memType(t),
                            bufPtr(off, l), ValueRange{lin});
  if (t == DType::i1) v = mk<arith::ExtUIOp>(b_, l, b_.getI8Type(), v);
  mk<LLVM::StoreOp>(b_, l, v, p);
}

Value CpuLowering::load(int id, Value lin, Location l) {
  if (!isTile(id)) return scalars_.at(id);
  return loadAt(buffers_.at(id), ty(id).dtype, lin, l);
}

void CpuLowering::forEach(int64_t S0, int64_t S1, Location l, const Fn2 &fn) {
  auto outer = mk<scf::ForOp>(b_, l, c64(0), c64(S0), c64(1));
  OpBuilder::InsertionGuard g(b_);
  b_.setInsertionPoint(outer.getBody()->getTerminator());
  Value i = outer.getInductionVar();
  auto inner = mk<scf::ForOp>(b_, l, c64(0), c64(S1), c64(1));
  b_.setInsertionPoint(inner.getBody()->getTerminator());
  Value j = inner.getInductionVar();
  Value lin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, i, c64(S1)), j);
  fn(i, j, lin);
}

void CpuLowering::copy(size_t from, size_t to, const dsl::Type &t, Location l) {
  if (from == to) return;
  forEach(1, t.numel(), l, [&](Value, Value, Value lin) {
    storeAt(to, t.dtype, lin, loadAt(from, t.dtype, lin, l), l);
  });
}

Lowered CpuLowering::run() {
  Location loc = FileLineColLoc::get(&ctx_, k_.name, 0, 0);
  Lowered out;
  out.module = ModuleOp::create(loc);
  b_.setInsertionPointToEnd(out.module->getBody());
  Type p = LLVM::LLVMPointerType::get(&ctx_);
  auto fnTy = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&ctx_), {p, p, p, p});
  auto fn = mk<LLVM::LLVMFuncOp>(b_, loc, k_.name, fnTy);
  Block *entry = fn.addEntryBlock(b_);
  b_.setInsertionPointToStart(entry);
  Value args = entry->getArgument(0);
  pid_ = entry->getArgument(1);
  nprog_ = entry->getArgument(2);
  scratchBase_ = entry->getArgument(3);
  for (size_t i = 0; i < k_.params.size(); ++i) {
    Value slot = mk<LLVM::GEPOp>(b_, loc, p, p, args, ValueRange{c64(int64_t(i))});
    Value addr = mk<LLVM::LoadOp>(b_, loc, p, slot);
    scalars_[k_.body.args[i]] =
        mk<LLVM::LoadOp>(b_, loc, elementType(&ctx_, k_.params[i].type.dtype, 0), addr);
  }
  lowerBlock(k_.body);
  mk<LLVM::ReturnOp>(b_, loc, ValueRange{});
  out.entry = k_.name;
  out.scratchBytes = scratch_;
  return out;
}

void CpuLowering::lowerBlock(const dsl::Block &blk) {
  for (const dsl::Op &op : blk.ops) lowerOp(op);
}

void CpuLowering::lowerOp(const dsl::Op &op) {
  Location l = locOf(&ctx_, op);
  const dsl::Type *rt = op.results.empty() ? nullptr : &ty(op.results[0]);
  auto newTile = [&](int id) {
    size_t off = allocate(ty(id));
    buffers_[id] = off;
    return off;
  };
  switch (op.kind) {
  case OpKind::ProgramId:
  case OpKind::NumPrograms: {
    Value base = op.kind == OpKind::ProgramId ? pid_ : nprog_;
    Value slot = mk<LLVM::GEPOp>(b_, l, LLVM::LLVMPointerType::get(&ctx_), b_.getI32Type(),
                                 base, ValueRange{c64(op.ints[0])});
    scalars_[op.results[0]] = mk<LLVM::LoadOp>(b_, l, b_.getI32Type(), slot);
    return;
  }
  case OpKind::Constant:
    scalars_[op.results[0]] = constantOf(b_, l, rt->dtype, op.fconst, op.iconst);
    return;
  case OpKind::Arange: {
    size_t off = newTile(op.results[0]);
    forEach(1, rt->numel(), l, [&](Value, Value j, Value lin) {
      Value v = mk<arith::TruncIOp>(b_, l, b_.getI32Type(), j);
      v = mk<arith::AddIOp>(b_, l, v, constI32(b_, l, op.ints[0]));
      storeAt(off, DType::i32, lin, v, l);
    });
    return;
  }
  case OpKind::Splat: {
    size_t off = newTile(op.results[0]);
    Value v = scalars_.at(op.operands[0]);
    forEach(1, rt->numel(), l, [&](Value, Value, Value lin) { storeAt(off, rt->dtype, lin, v, l); });
    return;
  }
  case OpKind::ExpandDims:
  case OpKind::Reshape:
    buffers_[op.results[0]] = buffers_.at(op.operands[0]); // same linear order
    return;
  case OpKind::Broadcast:
  case OpKind::Trans: {
    auto [S0, S1] = view2d(ty(op.operands[0]).shape);
    auto [D0, D1] = view2d(rt->shape);
    size_t off = newTile(op.results[0]);
    bool tr = op.kind == OpKind::Trans;
    forEach(D0, D1, l, [&, S0 = S0, S1 = S1](Value i, Value j, Value lin) {
      Value si = tr ? j : S0 == 1 ? c64(0) : i, sj = tr ? i : S1 == 1 ? c64(0) : j;
      Value slin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, si, c64(S1)), sj);
      storeAt(off, rt->dtype, lin, load(op.operands[0], slin, l), l);
    });
    return;
  }
  case OpKind::Load: {
    DType t = rt->dtype;
    auto one = [&](Value lin) {
      Value p = load(op.operands[0], lin, l);
      if (op.operands.size() == 1) return Value(mk<LLVM::LoadOp>(b_, l, elementType(&ctx_, t, 0), p));
      auto ifOp = mk<scf::IfOp>(b_, l, TypeRange{elementType(&ctx_, t, 0)},
                                load(op.operands[1], lin, l), true);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(ifOp.thenBlock());
      mk<scf::YieldOp>(b_, l, ValueRange{mk<LLVM::LoadOp>(b_, l, elementType(&ctx_, t, 0), p)});
      b_.setInsertionPointToStart(ifOp.elseBlock());
      mk<scf::YieldOp>(b_, l, ValueRange{load(op.operands[2], lin, l)});
      return Value(ifOp.getResult(0));
    };
    if (!rt->isTile()) {
      scalars_[op.results[0]] = one(Value());
      return;
    }
    size_t off = newTile(op.results[0]);
    forEach(1, rt->numel(), l, [&](Value, Value, Value lin) { storeAt(off, t, lin, one(lin), l); });
    return;
  }
  case OpKind::Store: {
    const dsl::Type &pt = ty(op.operands[0]);
    auto one = [&](Value lin) {
      Value p = load(op.operands[0], lin, l), v = load(op.operands[1], lin, l);
      if (op.operands.size() == 2) {
        mk<LLVM::StoreOp>(b_, l, v, p);
        return;
      }
      auto ifOp = mk<scf::IfOp>(b_, l, load(op.operands[2], lin, l), false);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      mk<LLVM::StoreOp>(b_, l, v, p);
    };
    if (!pt.isTile()) one(Value());
    else forEach(1, pt.numel(), l, [&](Value, Value, Value lin) { one(lin); });
    return;
  }
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
  case OpKind::ReduceMin:
  case OpKind::Argmax: {
    const dsl::Type &st = ty(op.operands[0]);
    auto [S0, S1] = view2d(st.shape);
    bool rowReduce = st.shape.size() == 1 || op.ints[0] == 1;
    int64_t L = rowReduce ? S1 : S0, n = rowReduce ? S0 : S1;
    bool isArg = op.kind == OpKind::Argmax;
    auto reduceOne = [&](Value fixed) {
      std::vector<Value> inits{se_.identity(l, isArg ? OpKind::ReduceMax : op.kind, st.dtype)};
      if (isArg) inits.push_back(constI32(b_, l, 0));
      auto loop = mk<scf::ForOp>(b_, l, c64(0), c64(L), c64(1), inits);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(loop.getBody());
      Value m = loop.getInductionVar();
      Value lin = rowReduce
                      ? mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, fixed, c64(S1)), m)
                      : mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, m, c64(S1)), fixed);
      Value x = load(op.operands[0], lin, l);
      Value acc = loop.getRegionIterArgs()[0];
      if (!isArg) {
        mk<scf::YieldOp>(b_, l, ValueRange{se_.combine(l, op.kind, acc, x, st.dtype)});
      } else {
        Value better = se_.emit(l, OpKind::CmpGT, {x, acc}, st.dtype, DType::i1, st.dtype);
        Value m32 = mk<arith::TruncIOp>(b_, l, b_.getI32Type(), m);
        mk<scf::YieldOp>(b_, l, ValueRange{mk<arith::SelectOp>(b_, l, better, x, acc),
                                           mk<arith::SelectOp>(b_, l, better, m32,
                                                               loop.getRegionIterArgs()[1])});
      }
      return loop.getResult(isArg ? 1 : 0);
    };
    if (!rt->isTile()) {
      scalars_[op.results[0]] = reduceOne(c64(0));
      return;
    }
    size_t off = newTile(op.results[0]);
    forEach(1, n, l, [&](Value, Value j, Value lin) { storeAt(off, rt->dtype, lin, reduceOne(j), l); });
    return;
  }
  case OpKind::Dot: {
    const dsl::Type &at = ty(op.operands[0]), &bt = ty(op.operands[1]);
    int64_t M = at.shape[0], K = at.shape[1], N = bt.shape[1];
    size_t off = newTile(op.results[0]);
    copy(buffers_.at(op.operands[2]), off, *rt, l);
    // i, k, j order so that the inner loop streams rows of b and c.
    forEach(M, K, l, [&](Value i, Value kk, Value alin) {
      Value a = se_.toF32(l, load(op.operands[0], alin, l), at.dtype);
      auto inner = mk<scf::ForOp>(b_, l, c64(0), c64(N), c64(1));
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPoint(inner.getBody()->getTerminator());
      Value j = inner.getInductionVar();
      Value blin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, kk, c64(N)), j);
      Value clin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, i, c64(N)), j);
      Value bv = se_.toF32(l, load(op.operands[1], blin, l), bt.dtype);
      Value c = loadAt(off, DType::f32, clin, l);
      storeAt(off, DType::f32, clin,
              mk<arith::AddFOp>(b_, l, c, mk<arith::MulFOp>(b_, l, a, bv)), l);
    });
    return;
  }
  case OpKind::Sort:
  case OpKind::TopK: return lowerSort(op, l);
  case OpKind::Gather: {
    int64_t n = ty(op.operands[0]).numel();
    size_t off = newTile(op.results[0]);
    forEach(1, rt->numel(), l, [&](Value, Value, Value lin) {
      Value i = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), load(op.operands[1], lin, l));
      i = mk<arith::MaxSIOp>(b_, l, mk<arith::MinSIOp>(b_, l, i, c64(n - 1)), c64(0));
      storeAt(off, rt->dtype, lin, load(op.operands[0], i, l), l);
    });
    return;
  }
  case OpKind::For: return lowerFor(op, l);
  case OpKind::If: return lowerIf(op, l);
  case OpKind::Yield: throw InternalError("yield outside a region");
  default: break;
  }
  // Elementwise.
  int typed = op.kind == OpKind::Select ? 1 : 0;
  DType opType = ty(op.operands[typed]).dtype, pointee = ty(op.operands[0]).pointee;
  auto one = [&](Value lin) {
    std::vector<Value> args;
    for (int o : op.operands) args.push_back(load(o, lin, l));
    return se_.emit(l, op.kind, args, opType, rt->dtype, pointee);
  };
  if (!rt->isTile()) {
    scalars_[op.results[0]] = one(Value());
    return;
  }
  size_t off = newTile(op.results[0]);
  forEach(1, rt->numel(), l, [&](Value, Value, Value lin) { storeAt(off, rt->dtype, lin, one(lin), l); });
}

void CpuLowering::lowerSort(const dsl::Op &op, Location l) {
  const dsl::Type &st = ty(op.operands[0]);
  auto [R, L] = view2d(st.shape);
  bool desc = op.kind == OpKind::TopK || op.ints[0] != 0;
  dsl::Type full = st;
  size_t vOut = allocate(full), iOut = allocate(full.withDType(DType::i32));
  forEach(R, L, l, [&](Value i, Value j, Value lin) {
    Value x = load(op.operands[0], lin, l);
    auto loop = mk<scf::ForOp>(b_, l, c64(0), c64(L), c64(1), ValueRange{c64(0)});
    {
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(loop.getBody());
      Value m = loop.getInductionVar();
      Value y = load(op.operands[0], mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, i, c64(L)), m), l);
      Value strictly = se_.emit(l, desc ? OpKind::CmpGT : OpKind::CmpLT, {y, x}, st.dtype,
                                DType::i1, st.dtype);
      Value eq = se_.emit(l, OpKind::CmpEQ, {y, x}, st.dtype, DType::i1, st.dtype);
      Value before = mk<arith::CmpIOp>(b_, l, arith::CmpIPredicate::slt, m, j);
      Value first = mk<arith::OrIOp>(b_, l, strictly, mk<arith::AndIOp>(b_, l, eq, before));
      mk<scf::YieldOp>(b_, l, ValueRange{mk<arith::AddIOp>(
                                  b_, l, loop.getRegionIterArgs()[0],
                                  mk<arith::ExtUIOp>(b_, l, b_.getI64Type(), first))});
    }
    Value pos = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, i, c64(L)), loop.getResult(0));
    storeAt(vOut, st.dtype, pos, x, l);
    storeAt(iOut, DType::i32, pos, mk<arith::TruncIOp>(b_, l, b_.getI32Type(), j), l);
  });
  if (op.kind == OpKind::Sort) {
    buffers_[op.results[0]] = vOut;
    return;
  }
  int64_t kk = op.ints[0];
  bool byIndex = op.ints.size() > 1 && op.ints[1] != 0;
  size_t v = allocate(ty(op.results[0])), ix = allocate(ty(op.results[1]));
  forEach(R, kk, l, [&](Value i, Value p, Value lin) {
    Value row = mk<arith::MulIOp>(b_, l, i, c64(L));
    Value src = mk<arith::AddIOp>(b_, l, row, p);
    Value x = loadAt(vOut, st.dtype, src, l), xi = loadAt(iOut, DType::i32, src, l);
    if (byIndex) { // slot: how many of the row's k have a smaller index
      auto loop = mk<scf::ForOp>(b_, l, c64(0), c64(kk), c64(1), ValueRange{c64(0)});
      {
        OpBuilder::InsertionGuard g(b_);
        b_.setInsertionPointToStart(loop.getBody());
        Value other =
            loadAt(iOut, DType::i32, mk<arith::AddIOp>(b_, l, row, loop.getInductionVar()), l);
        Value less = mk<arith::CmpIOp>(b_, l, arith::CmpIPredicate::slt, other, xi);
        mk<scf::YieldOp>(
            b_, l,
            ValueRange{mk<arith::AddIOp>(b_, l, loop.getRegionIterArgs()[0],
                                         mk<arith::ExtUIOp>(b_, l, b_.getI64Type(), less))});
      }
      lin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, i, c64(kk)), loop.getResult(0));
    }
    storeAt(v, st.dtype, lin, x, l);
    storeAt(ix, DType::i32, lin, xi, l);
  });
  buffers_[op.results[0]] = v;
  buffers_[op.results[1]] = ix;
}

void CpuLowering::lowerFor(const dsl::Op &op, Location l) {
  const dsl::Block &blk = *op.regions[0];
  size_t nc = op.results.size();
  // Tiles: an iteration buffer and a staging buffer each; scalars: iter_args.
  std::vector<size_t> iterBuf(nc), stageBuf(nc);
  std::vector<Value> scalarInits;
  for (size_t i = 0; i < nc; ++i) {
    int init = op.operands[3 + i];
    if (isTile(init)) {
      iterBuf[i] = allocate(ty(init));
      stageBuf[i] = allocate(ty(init));
      copy(buffers_.at(init), iterBuf[i], ty(init), l);
    } else {
      scalarInits.push_back(scalars_.at(init));
    }
  }
  Value lo = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), scalars_.at(op.operands[0]));
  Value hi = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), scalars_.at(op.operands[1]));
  Value st = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), scalars_.at(op.operands[2]));
  auto loop = mk<scf::ForOp>(b_, l, lo, hi, st, scalarInits);
  auto bind = [&](ValueRange scalars, const std::vector<int> &ids) {
    size_t s = 0;
    for (size_t i = 0; i < nc; ++i) {
      if (isTile(op.operands[3 + i])) buffers_[ids[i]] = iterBuf[i];
      else scalars_[ids[i]] = scalars[s++];
    }
  };
  {
    OpBuilder::InsertionGuard g(b_);
    enterEmptyBlock(b_, loop.getBody());
    scalars_[blk.args[0]] = mk<arith::TruncIOp>(b_, l, b_.getI32Type(), loop.getInductionVar());
    bind(loop.getRegionIterArgs(), std::vector<int>(blk.args.begin() + 1, blk.args.end()));
    for (size_t i = 0; i + 1 < blk.ops.size(); ++i) lowerOp(blk.ops[i]);
    const auto &yields = blk.ops.back().operands;
    std::vector<Value> next;
    for (size_t i = 0; i < nc; ++i)
      if (isTile(yields[i])) copy(buffers_.at(yields[i]), stageBuf[i], ty(yields[i]), l);
      else next.push_back(scalars_.at(yields[i]));
    for (size_t i = 0; i < nc; ++i)
      if (isTile(yields[i])) copy(stageBuf[i], iterBuf[i], ty(yields[i]), l);
    mk<scf::YieldOp>(b_, l, next);
  }
  bind(loop.getResults(), op.results);
}

void CpuLowering::lowerIf(const dsl::Op &op, Location l) {
  size_t nr = op.results.size();
  std::vector<Type> types;
  std::vector<size_t> bufs(nr);
  for (size_t i = 0; i < nr; ++i) {
    if (isTile(op.results[i])) bufs[i] = allocate(ty(op.results[i]));
    else types.push_back(elementType(&ctx_, ty(op.results[i]).dtype, 0));
  }
  auto ifOp = mk<scf::IfOp>(b_, l, types, scalars_.at(op.operands[0]), true);
  for (int br = 0; br < 2; ++br) {
    OpBuilder::InsertionGuard g(b_);
    enterEmptyBlock(b_, br == 0 ? ifOp.thenBlock() : ifOp.elseBlock());
    const dsl::Block &src = *op.regions[br];
    for (size_t i = 0; i + 1 < src.ops.size(); ++i) lowerOp(src.ops[i]);
    std::vector<Value> next;
    const auto &yields = src.ops.back().operands;
    for (size_t i = 0; i < nr; ++i)
      if (isTile(op.results[i])) copy(buffers_.at(yields[i]), bufs[i], ty(yields[i]), l);
      else next.push_back(scalars_.at(yields[i]));
    mk<scf::YieldOp>(b_, l, next);
  }
  size_t s = 0;
  for (size_t i = 0; i < nr; ++i)
    if (isTile(op.results[i])) buffers_[op.results[i]] = bufs[i];
    else scalars_[op.results[i]] = ifOp.getResult(s++);
}

} // namespace

Lowered lowerToCpu(const dsl::Kernel &k, MLIRContext &ctx) {
  CpuLowering l(k, ctx);
  return l.run();
}

} // namespace hip::detail
