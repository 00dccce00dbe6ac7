//===- compiler/gpu/transforms/RemoveLayoutConversions.cpp - hip-remove-layout-conversions ===//
//
// See RemoveLayoutConversions.h. An analysis (forward, in program order,
// loops iterated to a fixed point) decides the accumulator encoding of each
// value; a rewrite then retypes the values and places the conversions the
// new types need.
//
//===----------------------------------------------------------------------===//
#include "RemoveLayoutConversions.h"

#include "AccelerateDot.h"

#include "hip/dsl/ir.h"
#include "hip/error.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include <map>
#include <optional>
#include <vector>

using namespace mlir;
using hip::dsl::OpKind;

namespace hip::detail::gpu {

namespace {

Attribute encodingOfType(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r ? r.getEncoding() : Attribute();
}

/// #tile.mma, or a #tile.slice of one: the layouts of a dot's accumulator,
/// its rows and its columns.
bool isAccumulatorLayout(Attribute a) {
  if (isa_and_nonnull<tile::MmaEncodingAttr>(a)) return true;
  auto s = dyn_cast_or_null<tile::SliceEncodingAttr>(a);
  return s && isa<tile::MmaEncodingAttr>(s.getParent());
}

/// A tile.convert_layout to the plain type: the lowering's alias of its source.
bool isPlainChange(Operation *op) {
  auto c = dyn_cast_or_null<tile::ConvertLayoutOp>(op);
  return c && !c.getType().getEncoding();
}

std::optional<OpKind> kindOf(Operation *op) { return tile::kindOf(*op); }

class Propagation {
public:
  explicit Propagation(tile::KernelOp kernel) : kernel_(kernel) {}

  void run() {
    scan();
    // Loops are visited before their yields decide what they carry: each
    // round starts from the last round's decisions (a carried value not
    // decided yet does not vote), until no decision changes.
    for (int round = 0; round < 8; ++round) {
      enc_.clear();
      changed_ = false;
      kernel_.walk<WalkOrder::PreOrder>([&](Operation *op) { visit(op); });
      if (!changed_) break;
      if (round == 7)
        throw InternalError("hip-remove-layout-conversions: loop encodings do not settle");
    }
    rewrite();
  }

private:
  // ---- facts that do not depend on encodings ----
  void scan() {
    kernel_.walk([&](Operation *op) {
      std::optional<OpKind> k = kindOf(op);
      if (!k) return;
      if (*k == OpKind::Dot) {
        if (computedFromDot(op->getOperand(0))) chained_ = true;
        // A dot result computed on (not only stored, accumulated or carried)
        // makes accumulator layouts win the votes (the lowering's rule).
        std::vector<Value> work{op->getResult(0)};
        while (!work.empty()) {
          Value v = work.back();
          work.pop_back();
          for (Operation *u : v.getUsers()) {
            if (isPlainChange(u)) {
              work.push_back(u->getResult(0));
              continue;
            }
            std::optional<OpKind> uk = kindOf(u);
            if (uk && *uk != OpKind::Store && *uk != OpKind::Dot && *uk != OpKind::Yield)
              dotResults_ = true;
          }
        }
      }
      // Splats (uniform tiles: built where used).
      if (op->getNumResults() == 1 && isa<RankedTensorType>(op->getResult(0).getType()) &&
          isUniform(op->getResult(0)))
        splat_.insert(op->getResult(0));
    });
  }

  /// A loop's iter_arg not decided yet (this round): it does not vote.
  bool undecided(Value v) const {
    auto a = dyn_cast<BlockArgument>(v);
    return a && isa<tile::ForOp>(a.getOwner()->getParentOp()) && a.getArgNumber() > 0 &&
           !carried_.count(v);
  }

  /// The accumulator encoding of `v` (null: none, or not decided).
  Attribute enc(Value v) const {
    if (auto it = enc_.find(v); it != enc_.end()) return it->second;
    if (Attribute a = encodingOfType(v.getType()); isAccumulatorLayout(a)) return a;
    if (auto it = carried_.find(v); it != carried_.end()) return it->second;
    if (isPlainChange(v.getDefiningOp())) return enc(v.getDefiningOp()->getOperand(0));
    return {};
  }

  void set(Value v, Attribute a) {
    if (a) enc_[v] = a;
  }

  void visit(Operation *op) {
    if (auto loop = dyn_cast<tile::ForOp>(op)) {
      Block &body = loop.getBody().front();
      for (unsigned i = 0; i < loop->getNumResults(); ++i)
        if (auto it = carried_.find(body.getArgument(i + 1)); it != carried_.end())
          set(body.getArgument(i + 1), it->second);
      return;
    }
    std::optional<OpKind> k = kindOf(op);
    if (!k) return;
    if (*k == OpKind::Yield) {
      if (auto loop = dyn_cast<tile::ForOp>(op->getParentOp())) decideCarried(loop, op);
      return;
    }
    if (op->getNumResults() != 1) return;
    Value r = op->getResult(0);
    auto rt = dyn_cast<RankedTensorType>(r.getType());
    if (!rt || splat_.count(r)) return;
    if (dsl::isElementwise(*k)) return set(r, vote(op));
    Value src = op->getNumOperands() ? op->getOperand(0) : Value();
    if (!src || splat_.count(src)) return;
    auto st = dyn_cast<RankedTensorType>(src.getType());
    Attribute e = enc(src);
    if (dsl::isReduction(*k) && st && st.getRank() == 2 && st.getShape()[1] > 1 &&
        tile::intAttrOf(op, "axis") == 1 && isa_and_nonnull<tile::MmaEncodingAttr>(e) &&
        st.getElementType().isIntOrFloat() && st.getElementTypeBitWidth() <= 32)
      return set(r, tile::SliceEncodingAttr::get(op->getContext(), 1, e));
    auto slice = dyn_cast_or_null<tile::SliceEncodingAttr>(e);
    if (*k == OpKind::ExpandDims && slice && slice.getDim() == 1 &&
        isa<tile::MmaEncodingAttr>(slice.getParent()) && tile::intAttrOf(op, "axis") == 1)
      return set(r, slice.getParent());
    auto mma = dyn_cast_or_null<tile::MmaEncodingAttr>(e);
    if (*k == OpKind::Broadcast && mma && st && st.getRank() == 2 && st.getShape()[1] == 1 &&
        rt.getRank() == 2 && rt.getShape()[1] % (8 * int64_t(mma.getWarpsPerCTA()[1])) == 0)
      return set(r, mma);
  }

  /// The layout an elementwise op runs in, as the lowering votes: the first
  /// operand of the highest rank, accumulator layouts ranking above others
  /// where dot results are computed on; splats do not vote.
  Attribute vote(Operation *op) const {
    Attribute best;
    int bestRank = -1;
    for (Value o : op->getOperands()) {
      if (splat_.count(o) || undecided(o)) continue;
      Attribute e = enc(o);
      int rank = dotResults_ && isAccumulatorLayout(e) ? 1 : 0;
      if (rank > bestRank) bestRank = rank, best = e;
    }
    return isAccumulatorLayout(best) ? best : Attribute();
  }

  /// What loop `loop` carries in each slot, from the value `yield` passes
  /// on: its encoding when the initial value has it too, or is a splat and
  /// the value is a row statistic or an accumulator of chained dots (the
  /// lowering's carriedLayout).
  void decideCarried(tile::ForOp loop, Operation *yield) {
    Block &body = loop.getBody().front();
    for (unsigned i = 0; i < yield->getNumOperands(); ++i) {
      Value arg = body.getArgument(i + 1), init = loop->getOperand(3 + i);
      Attribute y = enc(yield->getOperand(i)), want;
      if (isAccumulatorLayout(y)) {
        if (enc(init) == y) want = y;
        auto slice = dyn_cast<tile::SliceEncodingAttr>(y);
        bool rows = slice && slice.getDim() == 1, acc = isa<tile::MmaEncodingAttr>(y);
        if (splat_.count(init) && chained_ && (rows || acc)) want = y;
      }
      auto it = carried_.find(arg);
      if (it == carried_.end() || it->second != want) {
        carried_[arg] = want;
        changed_ = true;
      }
      set(arg, want);
      set(loop->getResult(i), want);
    }
  }

  // ---- the rewrite ----
  /// The type operand `o` of `user` must have: the encoding of a value that
  /// follows its reader, else the type the reader saw before.
  Type wanted(OpOperand &o, const DenseMap<Value, Type> &before) const {
    Operation *user = o.getOwner();
    if (isa<tile::ConvertLayoutOp>(user)) return o.get().getType(); // (from any layout)
    auto withEnc = [&](Attribute a) -> Type {
      return cast<RankedTensorType>(o.get().getType()).cloneWithEncoding(a);
    };
    std::optional<OpKind> k = kindOf(user);
    if (auto loop = dyn_cast<tile::ForOp>(user)) {
      if (o.getOperandNumber() >= 3) // an initial value
        if (Attribute a = enc(loop.getBody().front().getArgument(o.getOperandNumber() - 2)))
          return withEnc(a);
    } else if (isa<tile::YieldOp>(user) && isa<tile::ForOp>(user->getParentOp())) {
      if (Attribute a = enc(user->getParentOp()->getResult(o.getOperandNumber())))
        return withEnc(a);
    } else if (k && user->getNumResults() == 1 && enc_.count(user->getResult(0))) {
      if (dsl::isElementwise(*k)) return withEnc(enc_.at(user->getResult(0)));
      if (dsl::isReduction(*k) || *k == OpKind::ExpandDims || *k == OpKind::Broadcast)
        return withEnc(enc(o.get())); // (the source's accumulator layout)
    } else if (k && dsl::isReduction(*k) && isa_and_nonnull<tile::MmaEncodingAttr>(enc(o.get()))) {
      // A column reduction reads the accumulator where it is (the lowering
      // reduces it there, lowerColReduceMma); its result is the plain type's.
      return withEnc(enc(o.get()));
    }
    auto b = before.find(o.get());
    return b != before.end() ? b->second : o.get().getType();
  }

  void rewrite() {
    DenseMap<Value, Type> before;
    for (auto &[v, a] : enc_) {
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getEncoding() == a) continue;
      before[v] = t;
      v.setType(t.cloneWithEncoding(a));
    }
    OpBuilder b(kernel_.getContext());
    // One change to the plain type per value (an alias: placed at the value).
    std::map<std::pair<const void *, const void *>, Value> plain;
    std::vector<OpOperand *> uses;
    kernel_.walk([&](Operation *op) {
      for (OpOperand &o : op->getOpOperands()) uses.push_back(&o);
    });
    for (OpOperand *o : uses) {
      Type want = wanted(*o, before);
      if (o->get().getType() == want) continue;
      // Back through changes to the plain type to a value that has it.
      Value v = o->get();
      while (isPlainChange(v.getDefiningOp()) && v.getType() != want)
        v = v.getDefiningOp()->getOperand(0);
      if (v.getType() == want) {
        o->set(v);
        continue;
      }
      v = o->get();
      OpBuilder::InsertionGuard g(b);
      if (!encodingOfType(want)) {
        auto key = std::make_pair(v.getAsOpaquePointer(), want.getAsOpaquePointer());
        if (auto it = plain.find(key); it != plain.end()) {
          o->set(it->second);
          continue;
        }
        b.setInsertionPointAfterValue(v);
        o->set(plain[key] = tile::ConvertLayoutOp::create(b, v.getLoc(), want, v));
        continue;
      }
      // Into an accumulator layout: where it is read (before the loop, for
      // a loop's initial value), as the lowering converted operands there; a
      // splat or a tile constant is built there in that layout instead.
      b.setInsertionPoint(o->getOwner());
      if (Value copy = rebuildSplat(b, v, want)) o->set(copy);
      else o->set(tile::ConvertLayoutOp::create(b, o->getOwner()->getLoc(), want, v));
    }
    // A dot's A operand read from registers (hip-optimize-dot-operands'
    // hip.a = #tile.dot_op): a change to that encoding, from the value's own
    // layout (the lowering moves it into the fragments at the dot).
    std::map<std::pair<const void *, const void *>, Value> asA; // one change per value
    kernel_.walk([&](tile::DotOp dot) {
      auto a = dot->getAttrOfType<tile::DotOperandEncodingAttr>("hip.a");
      if (!a) return;
      Value v = dot.getA();
      while (isPlainChange(v.getDefiningOp())) v = v.getDefiningOp()->getOperand(0);
      auto t = cast<RankedTensorType>(v.getType()).cloneWithEncoding(a);
      if (v.getType() == t) return;
      auto key = std::make_pair(v.getAsOpaquePointer(), t.getAsOpaquePointer());
      if (auto it = asA.find(key); it != asA.end()) {
        dot.getAMutable().assign(it->second);
        return;
      }
      OpBuilder::InsertionGuard g(b); // (at the value: a loop invariant stays outside)
      b.setInsertionPointAfterValue(v);
      dot.getAMutable().assign(asA[key] = tile::ConvertLayoutOp::create(b, v.getLoc(), t, v));
    });
    // Changes of splats (hip-dot-encodings' zero accumulators): the splat
    // built in the layout.
    std::vector<tile::ConvertLayoutOp> ofSplats;
    kernel_.walk([&](tile::ConvertLayoutOp c) {
      if (c.getType().getEncoding()) ofSplats.push_back(c);
    });
    for (tile::ConvertLayoutOp c : ofSplats) {
      if (isa<tile::DotOperandEncodingAttr>(c.getType().getEncoding())) continue; // (the dot's own)
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(c);
      if (Value copy = rebuildSplat(b, c.getSrc(), c.getType())) c.getResult().replaceAllUsesWith(copy);
    }
    // Changes to the type a value has and round trips; changes, splats and
    // constants left without readers.
    bool erased = true;
    while (erased) {
      std::vector<Operation *> dead;
      kernel_.walk([&](Operation *op) {
        auto c = dyn_cast<tile::ConvertLayoutOp>(op);
        if (c && c.getSrc().getType() == c.getType()) c.getResult().replaceAllUsesWith(c.getSrc());
        // A round trip (a change of a change back to the first type).
        auto inner = c ? c.getSrc().getDefiningOp<tile::ConvertLayoutOp>() : nullptr;
        if (inner && inner.getSrc().getType() == c.getType())
          c.getResult().replaceAllUsesWith(inner.getSrc());
        if (isa<tile::ConvertLayoutOp, tile::SplatOp, tile::ConstantOp>(op) &&
            op->use_empty() && isa<RankedTensorType>(op->getResult(0).getType()))
          dead.push_back(op);
      });
      for (Operation *op : dead) op->erase();
      erased = !dead.empty();
    }
  }

  tile::KernelOp kernel_;
  bool dotResults_ = false, chained_ = false, changed_ = false;
  DenseSet<Value> splat_;
  DenseMap<Value, Attribute> enc_;     // this round's encodings
  DenseMap<Value, Attribute> carried_; // iter_args decided (null: plain)
};

struct RemoveLayoutConversionsPass
    : PassWrapper<RemoveLayoutConversionsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RemoveLayoutConversionsPass)
  StringRef getArgument() const override { return "hip-remove-layout-conversions"; }
  StringRef getDescription() const override {
    return "the dots' accumulator encodings propagated to the values computed from them";
  }
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>())
      removeLayoutConversions(kernel);
  }
};

} // namespace

void removeLayoutConversions(tile::KernelOp kernel) { Propagation(kernel).run(); }

void registerRemoveLayoutConversionsPass() { PassRegistration<RemoveLayoutConversionsPass>(); }

} // namespace hip::detail::gpu
