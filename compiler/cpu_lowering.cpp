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
// exist here (encodings the GPU passes may have added are ignored).
//
//===----------------------------------------------------------------------===//
#include "lowering.h"
#include "tile/tile.h"

#include "llvm/ADT/DenseMap.h"

#include <unordered_map>

using namespace mlir;
using hip::dsl::DType;
using hip::dsl::OpKind;

namespace hip::detail {
namespace {

class CpuLowering {
public:
  CpuLowering(tile::KernelOp kernel, MLIRContext &ctx)
      : kernel_(kernel), ctx_(ctx), b_(&ctx), se_{b_, false, 0} {}
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
  Value load(Value v, Value lin, Location l);
  Value loadAt(size_t off, DType t, Value lin, Location l);
  void storeAt(size_t off, DType t, Value lin, Value v, Location l);
  /// Loop nest over [S0, S1] (i64 induction variables).
  void forEach(int64_t S0, int64_t S1, Location l, const Fn2 &fn);
  void copy(size_t from, size_t to, const dsl::Type &t, Location l);

  void lowerBlock(Block &blk);
  void lowerOp(Operation *op);
  void lowerFor(Operation *op, Location l);
  void lowerIf(Operation *op, Location l);
  void lowerSort(Operation *op, Location l);

  /// The DSL type of `v` (the tile dialect's types are the DSL's). The
  /// reference stays valid: the map's nodes do not move.
  const dsl::Type &ty(Value v) {
    auto it = types_.find(v.getAsOpaquePointer());
    if (it != types_.end()) return it->second;
    std::optional<dsl::Type> t = tile::dslTypeOf(v.getType());
    if (!t) throw InternalError("a value of a type the DSL does not have");
    return types_.emplace(v.getAsOpaquePointer(), *t).first->second;
  }
  bool isTile(Value v) { return ty(v).isTile(); }
  static OpKind kind(Operation *op) { return tile::kindOrThrow(*op); }
  static int64_t intAttr(Operation *op, StringRef name) { return tile::intAttrOf(op, name); }

  tile::KernelOp kernel_;
  std::unordered_map<const void *, dsl::Type> types_;
  MLIRContext &ctx_;
  OpBuilder b_;
  ScalarEmitter se_;
  Value scratchBase_, pid_, nprog_;
  size_t scratch_ = 0;
  llvm::DenseMap<Value, Value> scalars_;  // scalar values
  llvm::DenseMap<Value, size_t> buffers_; // tile values: scratch offsets
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

Value CpuLowering::load(Value v, Value lin, Location l) {
  if (!isTile(v)) return scalars_.at(v);
  return loadAt(buffers_.at(v), ty(v).dtype, lin, l);
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
  std::string name = kernel_.getSymName().str();
  Location loc = FileLineColLoc::get(&ctx_, name, 0, 0);
  Lowered out;
  out.module = ModuleOp::create(loc);
  b_.setInsertionPointToEnd(out.module->getBody());
  Type p = LLVM::LLVMPointerType::get(&ctx_);
  auto fnTy = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&ctx_), {p, p, p, p});
  auto fn = mk<LLVM::LLVMFuncOp>(b_, loc, name, fnTy);
  Block *entry = fn.addEntryBlock(b_);
  b_.setInsertionPointToStart(entry);
  Value args = entry->getArgument(0);
  pid_ = entry->getArgument(1);
  nprog_ = entry->getArgument(2);
  scratchBase_ = entry->getArgument(3);
  Block &body = kernel_.getBody().front();
  for (BlockArgument a : body.getArguments()) {
    Value slot =
        mk<LLVM::GEPOp>(b_, loc, p, p, args, ValueRange{c64(int64_t(a.getArgNumber()))});
    Value addr = mk<LLVM::LoadOp>(b_, loc, p, slot);
    scalars_[a] = mk<LLVM::LoadOp>(b_, loc, elementType(&ctx_, ty(a).dtype, 0), addr);
  }
  lowerBlock(body);
  mk<LLVM::ReturnOp>(b_, loc, ValueRange{});
  out.entry = name;
  out.scratchBytes = scratch_;
  return out;
}

void CpuLowering::lowerBlock(Block &blk) {
  for (Operation &op : blk.without_terminator()) lowerOp(&op);
}

void CpuLowering::lowerOp(Operation *op) {
  Location l = locOf(&ctx_, op);
  const dsl::Type *rt = op->getNumResults() == 0 ? nullptr : &ty(op->getResult(0));
  auto newTile = [&](Value v) {
    size_t off = allocate(ty(v));
    buffers_[v] = off;
    return off;
  };
  switch (kind(op)) {
  case OpKind::ProgramId:
  case OpKind::NumPrograms: {
    Value base = kind(op) == OpKind::ProgramId ? pid_ : nprog_;
    Value slot = mk<LLVM::GEPOp>(b_, l, LLVM::LLVMPointerType::get(&ctx_), b_.getI32Type(),
                                 base, ValueRange{c64(intAttr(op, "axis"))});
    scalars_[op->getResult(0)] = mk<LLVM::LoadOp>(b_, l, b_.getI32Type(), slot);
    return;
  }
  case OpKind::Constant: {
    auto c = cast<tile::ConstantOp>(op);
    Value v = constantOf(b_, l, rt->dtype, tile::constantFloat(c), tile::constantInt(c));
    if (!rt->isTile()) {
      scalars_[c.getResult()] = v;
      return;
    }
    size_t off = newTile(c.getResult()); // a splat
    forEach(1, rt->numel(), l, [&](Value, Value, Value lin) { storeAt(off, rt->dtype, lin, v, l); });
    return;
  }
  case OpKind::Arange: {
    size_t off = newTile(op->getResult(0));
    forEach(1, rt->numel(), l, [&](Value, Value j, Value lin) {
      Value v = mk<arith::TruncIOp>(b_, l, b_.getI32Type(), j);
      v = mk<arith::AddIOp>(b_, l, v, constI32(b_, l, intAttr(op, "start")));
      storeAt(off, DType::i32, lin, v, l);
    });
    return;
  }
  case OpKind::Splat: {
    size_t off = newTile(op->getResult(0));
    Value v = scalars_.at(op->getOperand(0));
    forEach(1, rt->numel(), l, [&](Value, Value, Value lin) { storeAt(off, rt->dtype, lin, v, l); });
    return;
  }
  case OpKind::ExpandDims:
  case OpKind::Reshape:
  case OpKind::ConvertLayout: // (encodings mean nothing here)
    buffers_[op->getResult(0)] = buffers_.at(op->getOperand(0)); // same linear order
    return;
  case OpKind::Broadcast:
  case OpKind::Trans: {
    auto [S0, S1] = view2d(ty(op->getOperand(0)).shape);
    auto [D0, D1] = view2d(rt->shape);
    size_t off = newTile(op->getResult(0));
    bool tr = kind(op) == OpKind::Trans;
    forEach(D0, D1, l, [&, S0 = S0, S1 = S1](Value i, Value j, Value lin) {
      Value si = tr ? j : S0 == 1 ? c64(0) : i, sj = tr ? i : S1 == 1 ? c64(0) : j;
      Value slin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, si, c64(S1)), sj);
      storeAt(off, rt->dtype, lin, load(op->getOperand(0), slin, l), l);
    });
    return;
  }
  case OpKind::Load: {
    DType t = rt->dtype;
    auto one = [&](Value lin) {
      Value p = load(op->getOperand(0), lin, l);
      if (op->getNumOperands() == 1) return Value(mk<LLVM::LoadOp>(b_, l, elementType(&ctx_, t, 0), p));
      auto ifOp = mk<scf::IfOp>(b_, l, TypeRange{elementType(&ctx_, t, 0)},
                                load(op->getOperand(1), lin, l), true);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(ifOp.thenBlock());
      mk<scf::YieldOp>(b_, l, ValueRange{mk<LLVM::LoadOp>(b_, l, elementType(&ctx_, t, 0), p)});
      b_.setInsertionPointToStart(ifOp.elseBlock());
      mk<scf::YieldOp>(b_, l, ValueRange{load(op->getOperand(2), lin, l)});
      return Value(ifOp.getResult(0));
    };
    if (!rt->isTile()) {
      scalars_[op->getResult(0)] = one(Value());
      return;
    }
    size_t off = newTile(op->getResult(0));
    forEach(1, rt->numel(), l, [&](Value, Value, Value lin) { storeAt(off, t, lin, one(lin), l); });
    return;
  }
  case OpKind::Store: {
    const dsl::Type &pt = ty(op->getOperand(0));
    auto one = [&](Value lin) {
      Value p = load(op->getOperand(0), lin, l), v = load(op->getOperand(1), lin, l);
      if (op->getNumOperands() == 2) {
        mk<LLVM::StoreOp>(b_, l, v, p);
        return;
      }
      auto ifOp = mk<scf::IfOp>(b_, l, load(op->getOperand(2), lin, l), false);
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
    const dsl::Type &st = ty(op->getOperand(0));
    auto [S0, S1] = view2d(st.shape);
    bool rowReduce = st.shape.size() == 1 || intAttr(op, "axis") == 1;
    int64_t L = rowReduce ? S1 : S0, n = rowReduce ? S0 : S1;
    bool isArg = kind(op) == OpKind::Argmax;
    auto reduceOne = [&](Value fixed) {
      std::vector<Value> inits{se_.identity(l, isArg ? OpKind::ReduceMax : kind(op), st.dtype)};
      if (isArg) inits.push_back(constI32(b_, l, 0));
      auto loop = mk<scf::ForOp>(b_, l, c64(0), c64(L), c64(1), inits);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(loop.getBody());
      Value m = loop.getInductionVar();
      Value lin = rowReduce
                      ? mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, fixed, c64(S1)), m)
                      : mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, m, c64(S1)), fixed);
      Value x = load(op->getOperand(0), lin, l);
      Value acc = loop.getRegionIterArgs()[0];
      if (!isArg) {
        mk<scf::YieldOp>(b_, l, ValueRange{se_.combine(l, kind(op), acc, x, st.dtype)});
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
      scalars_[op->getResult(0)] = reduceOne(c64(0));
      return;
    }
    size_t off = newTile(op->getResult(0));
    forEach(1, n, l, [&](Value, Value j, Value lin) { storeAt(off, rt->dtype, lin, reduceOne(j), l); });
    return;
  }
  case OpKind::Dot: {
    const dsl::Type &at = ty(op->getOperand(0)), &bt = ty(op->getOperand(1));
    int64_t M = at.shape[0], K = at.shape[1], N = bt.shape[1];
    size_t off = newTile(op->getResult(0));
    copy(buffers_.at(op->getOperand(2)), off, *rt, l);
    // i, k, j order so that the inner loop streams rows of b and c.
    forEach(M, K, l, [&](Value i, Value kk, Value alin) {
      Value a = se_.toF32(l, load(op->getOperand(0), alin, l), at.dtype);
      auto inner = mk<scf::ForOp>(b_, l, c64(0), c64(N), c64(1));
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPoint(inner.getBody()->getTerminator());
      Value j = inner.getInductionVar();
      Value blin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, kk, c64(N)), j);
      Value clin = mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, i, c64(N)), j);
      Value bv = se_.toF32(l, load(op->getOperand(1), blin, l), bt.dtype);
      Value c = loadAt(off, DType::f32, clin, l);
      storeAt(off, DType::f32, clin,
              mk<arith::AddFOp>(b_, l, c, mk<arith::MulFOp>(b_, l, a, bv)), l);
    });
    return;
  }
  case OpKind::Sort:
  case OpKind::TopK: return lowerSort(op, l);
  case OpKind::Gather: {
    int64_t n = ty(op->getOperand(0)).numel();
    size_t off = newTile(op->getResult(0));
    forEach(1, rt->numel(), l, [&](Value, Value, Value lin) {
      Value i = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), load(op->getOperand(1), lin, l));
      i = mk<arith::MaxSIOp>(b_, l, mk<arith::MinSIOp>(b_, l, i, c64(n - 1)), c64(0));
      storeAt(off, rt->dtype, lin, load(op->getOperand(0), i, l), l);
    });
    return;
  }
  case OpKind::For: return lowerFor(op, l);
  case OpKind::If: return lowerIf(op, l);
  case OpKind::Yield: throw InternalError("yield outside a region");
  default: break;
  }
  // Elementwise.
  int typed = kind(op) == OpKind::Select ? 1 : 0;
  DType opType = ty(op->getOperand(typed)).dtype, pointee = ty(op->getOperand(0)).pointee;
  auto one = [&](Value lin) {
    std::vector<Value> args;
    for (Value o : op->getOperands()) args.push_back(load(o, lin, l));
    return se_.emit(l, kind(op), args, opType, rt->dtype, pointee);
  };
  if (!rt->isTile()) {
    scalars_[op->getResult(0)] = one(Value());
    return;
  }
  size_t off = newTile(op->getResult(0));
  forEach(1, rt->numel(), l, [&](Value, Value, Value lin) { storeAt(off, rt->dtype, lin, one(lin), l); });
}

void CpuLowering::lowerSort(Operation *op, Location l) {
  const dsl::Type &st = ty(op->getOperand(0));
  auto [R, L] = view2d(st.shape);
  bool desc = kind(op) == OpKind::TopK || op->hasAttr("descending");
  dsl::Type full = st;
  size_t vOut = allocate(full), iOut = allocate(full.withDType(DType::i32));
  forEach(R, L, l, [&](Value i, Value j, Value lin) {
    Value x = load(op->getOperand(0), lin, l);
    auto loop = mk<scf::ForOp>(b_, l, c64(0), c64(L), c64(1), ValueRange{c64(0)});
    {
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(loop.getBody());
      Value m = loop.getInductionVar();
      Value y = load(op->getOperand(0), mk<arith::AddIOp>(b_, l, mk<arith::MulIOp>(b_, l, i, c64(L)), m), l);
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
  if (kind(op) == OpKind::Sort) {
    buffers_[op->getResult(0)] = vOut;
    return;
  }
  int64_t kk = intAttr(op, "k");
  bool byIndex = op->hasAttr("index_order");
  size_t v = allocate(ty(op->getResult(0))), ix = allocate(ty(op->getResult(1)));
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
  buffers_[op->getResult(0)] = v;
  buffers_[op->getResult(1)] = ix;
}

void CpuLowering::lowerFor(Operation *op, Location l) {
  Block &blk = op->getRegion(0).front();
  size_t nc = op->getNumResults();
  // Tiles: an iteration buffer and a staging buffer each; scalars: iter_args.
  std::vector<size_t> iterBuf(nc), stageBuf(nc);
  std::vector<Value> scalarInits;
  for (size_t i = 0; i < nc; ++i) {
    Value init = op->getOperand(unsigned(3 + i));
    if (isTile(init)) {
      iterBuf[i] = allocate(ty(init));
      stageBuf[i] = allocate(ty(init));
      copy(buffers_.at(init), iterBuf[i], ty(init), l);
    } else {
      scalarInits.push_back(scalars_.at(init));
    }
  }
  Value lo = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), scalars_.at(op->getOperand(0)));
  Value hi = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), scalars_.at(op->getOperand(1)));
  Value st = mk<arith::ExtSIOp>(b_, l, b_.getI64Type(), scalars_.at(op->getOperand(2)));
  auto loop = mk<scf::ForOp>(b_, l, lo, hi, st, scalarInits);
  auto bind = [&](ValueRange scalars, ValueRange values) {
    size_t s = 0;
    for (size_t i = 0; i < nc; ++i) {
      if (isTile(op->getOperand(unsigned(3 + i)))) buffers_[values[i]] = iterBuf[i];
      else scalars_[values[i]] = scalars[s++];
    }
  };
  {
    OpBuilder::InsertionGuard g(b_);
    enterEmptyBlock(b_, loop.getBody());
    scalars_[blk.getArgument(0)] =
        mk<arith::TruncIOp>(b_, l, b_.getI32Type(), loop.getInductionVar());
    bind(loop.getRegionIterArgs(), blk.getArguments().drop_front());
    lowerBlock(blk);
    OperandRange yields = blk.getTerminator()->getOperands();
    std::vector<Value> next;
    for (size_t i = 0; i < nc; ++i)
      if (isTile(yields[i])) copy(buffers_.at(yields[i]), stageBuf[i], ty(yields[i]), l);
      else next.push_back(scalars_.at(yields[i]));
    for (size_t i = 0; i < nc; ++i)
      if (isTile(yields[i])) copy(stageBuf[i], iterBuf[i], ty(yields[i]), l);
    mk<scf::YieldOp>(b_, l, next);
  }
  bind(loop.getResults(), op->getResults());
}

void CpuLowering::lowerIf(Operation *op, Location l) {
  size_t nr = op->getNumResults();
  std::vector<Type> types;
  std::vector<size_t> bufs(nr);
  for (size_t i = 0; i < nr; ++i) {
    if (isTile(op->getResult(i))) bufs[i] = allocate(ty(op->getResult(i)));
    else types.push_back(elementType(&ctx_, ty(op->getResult(i)).dtype, 0));
  }
  auto ifOp = mk<scf::IfOp>(b_, l, types, scalars_.at(op->getOperand(0)), true);
  for (int br = 0; br < 2; ++br) {
    OpBuilder::InsertionGuard g(b_);
    enterEmptyBlock(b_, br == 0 ? ifOp.thenBlock() : ifOp.elseBlock());
    Block &src = op->getRegion(unsigned(br)).front();
    lowerBlock(src);
    std::vector<Value> next;
    OperandRange yields = src.getTerminator()->getOperands();
    for (size_t i = 0; i < nr; ++i)
      if (isTile(op->getResult(i))) copy(buffers_.at(yields[i]), bufs[i], ty(yields[i]), l);
      else next.push_back(scalars_.at(yields[i]));
    mk<scf::YieldOp>(b_, l, next);
  }
  size_t s = 0;
  for (size_t i = 0; i < nr; ++i)
    if (isTile(op->getResult(i))) buffers_[op->getResult(i)] = bufs[i];
    else scalars_[op->getResult(i)] = ifOp.getResult(s++);
}

} // namespace

Lowered lowerToCpu(tile::KernelOp kernel) {
  CpuLowering l(kernel, *kernel->getContext());
  return l.run();
}

} // namespace hip::detail
