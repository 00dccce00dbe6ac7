//===- compiler/gpu/transforms/AssignBlocked.cpp - hip-assign-blocked -----===//
//
// See AssignBlocked.h. Decides in program order which values are typed (an
// op's operands are decided before it), retypes them, then gives each
// reader the operand type it needs.
//
//===----------------------------------------------------------------------===//
#include "AssignBlocked.h"

#include "AccelerateDot.h"

#include "hip/dsl/ir.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

using namespace mlir;
using hip::dsl::OpKind;

namespace hip::detail::gpu {

BlockedShape defaultBlocked(int64_t S0, int64_t S1, int numWarps) {
  // 8 consecutive elements per thread along the last dimension (16 bytes of
  // bf16/f16: one vector access), lanes then warps along it, the rest along
  // the first dimension; replication only where the tile is smaller than the
  // block.
  auto lg = [](int64_t v) { return int(llvm::Log2_64(uint64_t(std::max<int64_t>(1, v)))); };
  BlockedShape b;
  b.s1 = int(std::min<int64_t>(S1, 8));
  b.t1 = int(std::min<int64_t>(32, std::max<int64_t>(1, S1 / b.s1)));
  b.t0 = 32 / b.t1;
  b.w0 = 1 << std::min(lg(numWarps), lg(S0 / b.t0));
  int rest = numWarps / b.w0;
  b.w1 = 1 << std::min(lg(rest), lg(S1 / (b.s1 * b.t1)));
  b.w0 *= rest / b.w1;
  return b;
}

Attribute blockedEncoding(MLIRContext *ctx, size_t rank, const BlockedShape &b, int numWarps) {
  auto u = [](std::initializer_list<int> v) { return SmallVector<unsigned>(v.begin(), v.end()); };
  if (rank == 1) // the (1, N) view: lanes and warps along N, wrapping where it is larger
    return tile::BlockedEncodingAttr::get(ctx, u({b.s1}), u({32}), u({numWarps}), u({0}));
  return tile::BlockedEncodingAttr::get(ctx, u({1, b.s1}), u({b.t0, b.t1}), u({b.w0, b.w1}),
                                        u({1, 0}));
}

Attribute defaultBlockedEncoding(MLIRContext *ctx, ArrayRef<int64_t> shape, int numWarps) {
  if (shape.empty() || shape.size() > 2) return {};
  int64_t S0 = shape.size() == 1 ? 1 : shape[0];
  return blockedEncoding(ctx, shape.size(), defaultBlocked(S0, shape.back(), numWarps), numWarps);
}

namespace {

RankedTensorType plainTile(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && !r.getEncoding() ? r : RankedTensorType();
}

class Assignment {
public:
  explicit Assignment(tile::KernelOp kernel)
      : kernel_(kernel), ctx_(kernel.getContext()), nw_(int(kernel.getNumWarps())) {}

  void run() {
    // A loop-carried slot is typed when its initial value is typed (or
    // uniform) and the value its loop yields is: assumed for every plain
    // slot, then dropped where that fails, until none is.
    kernel_.walk([&](tile::ForOp loop) {
      for (unsigned i = 0; i < loop->getNumResults(); ++i)
        if (RankedTensorType t = plainTile(loop->getResult(i).getType());
            t && t.getRank() >= 1 && t.getRank() <= 2)
          slots_.insert({loop.getOperation(), i});
    });
    for (bool settled = false; !settled;) {
      decide();
      settled = true;
      for (auto it = slots_.begin(); it != slots_.end();) {
        auto [loop, i] = *it;
        Value init = loop->getOperand(3 + i);
        Value yielded = cast<tile::ForOp>(loop).getBody().front().getTerminator()->getOperand(i);
        if ((typed_.count(init) || isUniform(init)) && typed_.count(yielded)) {
          ++it;
        } else {
          it = slots_.erase(it);
          settled = false;
        }
      }
    }
    std::vector<Value> order(typed_.begin(), typed_.end());
    for (Value v : order) v.setType(withEncoding(v));
    fixOperands();
    // The plain splats and constants that only typed ops read.
    std::vector<Operation *> dead;
    kernel_.walk([&](Operation *op) {
      if (isa<tile::SplatOp, tile::ConstantOp>(op) && op->use_empty() &&
          isa<RankedTensorType>(op->getResult(0).getType()))
        dead.push_back(op);
    });
    for (Operation *op : dead) op->erase();
  }

private:
  /// Which values are typed (the loop slots in slots_ assumed typed), in
  /// program order: an op's operands are decided before it.
  void decide() {
    typed_.clear();
    readers_.clear();
    kernel_.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (auto loop = dyn_cast<tile::ForOp>(op)) {
        for (unsigned i = 0; i < loop->getNumResults(); ++i)
          if (slots_.count({op, i})) {
            typed_.insert(loop.getBody().front().getArgument(i + 1));
            typed_.insert(loop->getResult(i));
          }
        return;
      }
      bool typed = typeable(op);
      if (typed)
        for (Value r : op->getResults()) typed_.insert(r);
      // (An op whose results are always in the default layout reads its
      // operands in theirs unless they are typed; so do stores and
      // reductions to a scalar.)
      std::optional<OpKind> k = tile::kindOf(*op);
      bool scalarReduce =
          k && dsl::isReduction(*k) && !isa<RankedTensorType>(op->getResult(0).getType());
      if ((typed || k == OpKind::Store || scalarReduce) && operandsTyped(op)) readers_.insert(op);
    });
  }

  /// `v`'s type with the default blocked encoding of its shape.
  RankedTensorType withEncoding(Value v) const {
    auto t = cast<RankedTensorType>(v.getType());
    return t.cloneWithEncoding(defaultBlockedEncoding(ctx_, t.getShape(), nw_));
  }

  /// Whether `op`'s results are typed: plain, non-uniform rank-1 or rank-2
  /// tiles the lowering holds in the default blocked layout.
  bool typeable(Operation *op) const {
    if (op->getNumResults() == 0 || op->getNumRegions() != 0) return false;
    for (Value r : op->getResults()) {
      RankedTensorType t = plainTile(r.getType());
      if (!t || t.getRank() < 1 || t.getRank() > 2 || isUniform(r)) return false;
    }
    std::optional<OpKind> k = tile::kindOf(*op);
    if (!k) return false;
    if (*k == OpKind::Arange) return true;
    // A load hip-pipeline turned into a copy lives in shared memory.
    if (*k == OpKind::Load && op->hasAttr("hip.copy")) return false;
    // Gathers, top-k and column reductions (axis 0 of a rank-2 tile) give
    // their results in the default layout, whatever their operands' (the
    // lowering reads the operands through shared memory or shuffles).
    if (*k == OpKind::Gather || *k == OpKind::TopK ||
        (dsl::isReduction(*k) && tile::intAttrOf(op, "axis") == 0 &&
         cast<RankedTensorType>(op->getOperand(0).getType()).getRank() == 2))
      return true;
    bool follows = dsl::isElementwise(*k) || *k == OpKind::Load || *k == OpKind::Broadcast ||
                   *k == OpKind::ExpandDims || *k == OpKind::Reshape || dsl::isReduction(*k) ||
                   *k == OpKind::Sort;
    return follows && operandsTyped(op);
  }

  /// Whether every operand of `op` that is a tile and not uniform is typed
  /// already, and one is (a value in another layout, or plain for the
  /// lowering to place, keeps the op plain).
  bool operandsTyped(Operation *op) const {
    bool any = false;
    for (Value o : op->getOperands()) {
      if (!isa<RankedTensorType>(o.getType()) || isUniform(o)) continue;
      if (!typed_.count(o)) return false;
      any = true;
    }
    return any;
  }

  /// Readers of typed values and typed ops' operands get the types they
  /// need: a typed op, loop slot, store or reduction to a scalar (readsTyped)
  /// reads each operand in the default layout of the operand's shape (a
  /// uniform one built there: a splat or constant cloned in the layout, else
  /// changed to it, which costs nothing); any other reader (but a
  /// tile.convert_layout, which takes any source) reads a typed value
  /// through one change to the plain type, at the value.
  void fixOperands() {
    OpBuilder b(ctx_);
    std::vector<OpOperand *> uses;
    kernel_.walk([&](Operation *op) {
      for (OpOperand &o : op->getOpOperands()) uses.push_back(&o);
    });
    std::map<std::pair<const void *, const void *>, Value> built; // (value, type) -> its copy
    for (OpOperand *o : uses) {
      Value v = o->get();
      RankedTensorType want;
      if (readsTyped(*o)) want = withEncoding(v);
      else if (typed_.count(v) && !isa<tile::ConvertLayoutOp>(o->getOwner()))
        want = cast<RankedTensorType>(v.getType()).cloneWithEncoding({});
      if (!want || v.getType() == want) continue;
      // One copy per value and type, right after the value.
      auto key = std::make_pair(v.getAsOpaquePointer(), want.getAsOpaquePointer());
      auto it = built.find(key);
      if (it == built.end()) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointAfterValue(v);
        Value copy = want.getEncoding() ? inLayout(b, v, want) : changed(b, v, want);
        it = built.emplace(key, copy).first;
      }
      o->set(it->second);
    }
  }

  /// Whether `o` is read in the default blocked layout of its shape: an
  /// operand of a typed op or store, a typed loop slot's initial or yielded
  /// value.
  bool readsTyped(OpOperand &o) const {
    if (!isa<RankedTensorType>(o.get().getType())) return false;
    Operation *user = o.getOwner();
    unsigned n = o.getOperandNumber();
    if (isa<tile::ForOp>(user)) return n >= 3 && slots_.count({user, n - 3});
    if (isa<tile::YieldOp>(user))
      return isa<tile::ForOp>(user->getParentOp()) && slots_.count({user->getParentOp(), n});
    return readers_.count(user);
  }

  /// Uniform `v` built as type `t` at `b`: a splat or a tile constant
  /// cloned with that type, anything else changed to it.
  static Value inLayout(OpBuilder &b, Value v, RankedTensorType t) {
    Value copy = rebuildSplat(b, v, t);
    return copy ? copy : changed(b, v, t);
  }

  /// A tile.convert_layout of `v` to `t` at `b`; it is part of a pipelined
  /// loop's address slice where `v` is (hip.copy_slice: the lowering runs
  /// the slice again for the copies).
  static Value changed(OpBuilder &b, Value v, RankedTensorType t) {
    auto c = tile::ConvertLayoutOp::create(b, v.getLoc(), t, v);
    if (Operation *def = v.getDefiningOp(); def && def->hasAttr("hip.copy_slice"))
      c->setAttr("hip.copy_slice", b.getUnitAttr());
    return c.getResult();
  }

  tile::KernelOp kernel_;
  MLIRContext *ctx_;
  int nw_;
  llvm::SetVector<Value> typed_; // (program order)
  DenseSet<Operation *> readers_; // typed ops and stores of typed values
  std::set<std::pair<Operation *, unsigned>> slots_; // typed loop slots (loop, index)
};

struct AssignBlockedPass : PassWrapper<AssignBlockedPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AssignBlockedPass)
  StringRef getArgument() const override { return "hip-assign-blocked"; }
  StringRef getDescription() const override {
    return "the blocked encodings of the register tiles outside the dots' layouts";
  }
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>()) assignBlocked(kernel);
  }
};

} // namespace

void assignBlocked(tile::KernelOp kernel) { Assignment(kernel).run(); }

void registerAssignBlockedPass() { PassRegistration<AssignBlockedPass>(); }

} // namespace hip::detail::gpu
