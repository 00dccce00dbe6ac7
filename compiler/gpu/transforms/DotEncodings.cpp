//===- compiler/gpu/transforms/DotEncodings.cpp - hip-dot-encodings -------===//
//
// See DotEncodings.h.
//
//===----------------------------------------------------------------------===//
#include "DotEncodings.h"

#include "hip/error.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include <optional>
#include <vector>

using namespace mlir;

namespace hip::detail::gpu {

namespace {

/// `v` as a tile of type `t`: itself, or a tile.convert_layout before `at`.
Value convertTo(OpBuilder &b, Value v, RankedTensorType t, Operation *at) {
  if (v.getType() == t) return v;
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(at);
  return tile::ConvertLayoutOp::create(b, at->getLoc(), t, v);
}

/// The uses of `v` other than those in `keep` read it through one
/// tile.convert_layout to the plain type, placed right after its definition.
void plainForOthers(OpBuilder &b, Value v, llvm::function_ref<bool(OpOperand &)> keep) {
  std::vector<OpOperand *> others;
  for (OpOperand &u : v.getUses())
    if (!keep(u)) others.push_back(&u);
  if (others.empty()) return;
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointAfterValue(v);
  Value plain = tile::ConvertLayoutOp::create(
      b, v.getLoc(), cast<RankedTensorType>(v.getType()).cloneWithEncoding({}), v);
  for (OpOperand *u : others) u->set(plain);
}

/// Loop `loop`'s carried value `slot` in type `enc`: its iter_arg, result
/// and init (converted before the loop); uses of the iter_arg other than
/// `keep` and every use of the result read the plain type.
void encodeSlot(OpBuilder &b, tile::ForOp loop, unsigned slot, RankedTensorType enc,
                Operation *keep) {
  BlockArgument arg = loop.getBody().front().getArgument(slot + 1);
  arg.setType(enc);
  loop->getResult(slot).setType(enc);
  OpOperand &init = loop->getOpOperand(3 + slot);
  init.set(convertTo(b, init.get(), enc, loop));
  plainForOthers(b, arg, [&](OpOperand &u) { return u.getOwner() == keep; });
  plainForOthers(b, loop->getResult(slot), [](OpOperand &) { return false; });
}

void encodeDot(tile::DotOp dot) {
  auto plan = dot->getAttrOfType<tile::MmaEncodingAttr>("hip.mma");
  if (!plan) throw InternalError("hip-dot-encodings: a tile.dot without hip-accelerate-dot's plan");
  OpBuilder b(dot);
  RankedTensorType enc = cast<RankedTensorType>(dot.getType()).cloneWithEncoding(plan);
  Value res = dot.getResult();
  res.setType(enc);
  // The loop that carries the result, if the body's yield passes it on.
  auto loop = dyn_cast<tile::ForOp>(dot->getParentOp());
  Operation *yield = loop ? loop.getBody().front().getTerminator() : nullptr;
  std::optional<unsigned> slot;
  for (OpOperand &u : res.getUses())
    if (u.getOwner() == yield) slot = u.getOperandNumber();
  // The accumulator: that loop's iter_arg of the same slot takes the
  // encoding with the loop; anything else is converted at the dot.
  auto arg = dyn_cast<BlockArgument>(dot.getAcc());
  bool carriedAcc =
      slot && arg && arg.getOwner() == &loop.getBody().front() && arg.getArgNumber() == *slot + 1;
  if (!carriedAcc) dot.getAccMutable().assign(convertTo(b, dot.getAcc(), enc, dot));
  if (slot) encodeSlot(b, loop, *slot, enc, carriedAcc ? dot.getOperation() : nullptr);
  plainForOthers(b, res, [&](OpOperand &u) {
    return slot && u.getOwner() == yield && u.getOperandNumber() == *slot;
  });
}

struct DotEncodingsPass : PassWrapper<DotEncodingsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(DotEncodingsPass)
  StringRef getArgument() const override { return "hip-dot-encodings"; }
  StringRef getDescription() const override {
    return "each dot's accumulator layout as the encoding of the tile types that hold it";
  }
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>()) encodeDots(kernel);
  }
};

} // namespace

void encodeDots(tile::KernelOp kernel) {
  std::vector<tile::DotOp> dots;
  kernel.walk([&](tile::DotOp d) { dots.push_back(d); });
  for (tile::DotOp d : dots) encodeDot(d);
}

void registerDotEncodingsPass() { PassRegistration<DotEncodingsPass>(); }

} // namespace hip::detail::gpu
