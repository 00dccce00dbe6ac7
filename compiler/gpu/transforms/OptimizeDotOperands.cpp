//===- compiler/gpu/transforms/OptimizeDotOperands.cpp - hip-optimize-dot-operands ---===//
//
// See OptimizeDotOperands.h. A's placement, in order:
//  1. computed from a dot's result (through elementwise ops: attention's
//     P = cast(S); and loops that carry it) whose warps own the same rows (both plans split M only,
//     same warps along M, the producer's result of A's shape): registers;
//  2. a loop invariant (defined outside the innermost loop around the dot):
//     a shared tile staged once before the loop when the config asks
//     (dot_a_shared = 1), A is 16-bit, not uniform (a splat) and not computed
//     from a dot, and on wgmma its rows hold whole 64-column swizzle groups;
//     else its fragments in registers, loaded once before the loop;
//  3. otherwise a shared tile, written at the dot or by a pipelined loop's
//     copy: swizzled for a wgmma descriptor when K is a multiple of 64, else
//     padded rows for ldmatrix.
//
//===----------------------------------------------------------------------===//
#include "OptimizeDotOperands.h"

#include "AccelerateDot.h"

#include "hip/error.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using hip::dsl::OpKind;

namespace hip::detail::gpu {

namespace {

/// The dot whose result `v` is computed from through elementwise ops (the
/// first operand that is, as the lowering's layouts follow) and loops that
/// carry it (an iteration argument or a result of a tile.for: the value its
/// body yields), or null.
tile::DotOp producerDot(Value v, int depth = 0) {
  if (depth > 12) return {};
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto loop = dyn_cast<tile::ForOp>(arg.getOwner()->getParentOp());
    if (!loop || arg.getArgNumber() == 0) return {};
    Operation *yield = arg.getOwner()->getTerminator();
    return producerDot(yield->getOperand(arg.getArgNumber() - 1), depth + 1);
  }
  Operation *d = v.getDefiningOp();
  if (auto loop = dyn_cast_or_null<tile::ForOp>(d)) {
    Operation *yield = loop.getBody().front().getTerminator();
    return producerDot(yield->getOperand(cast<OpResult>(v).getResultNumber()), depth + 1);
  }
  if (!d) return {};
  if (auto dot = dyn_cast<tile::DotOp>(d)) return dot;
  std::optional<OpKind> k = tile::kindOf(*d);
  if (!k || !dsl::isElementwise(*k)) return {};
  for (Value o : d->getOperands())
    if (tile::DotOp p = producerDot(o, depth + 1)) return p;
  return {};
}

/// Whether `v` is defined outside the innermost tile.for around `user`
/// (false when there is no such loop).
bool loopInvariant(Value v, Operation *user) {
  auto loop = user->getParentOfType<tile::ForOp>();
  return loop && definedOutside(v, loop);
}

tile::MmaEncodingAttr planOf(Operation *dot) {
  auto plan = dot->getAttrOfType<tile::MmaEncodingAttr>("hip.mma");
  if (!plan)
    throw InternalError("hip-optimize-dot-operands: a tile.dot without a hip-accelerate-dot plan");
  return plan;
}

void place(tile::DotOp dot, bool stageInvariants) {
  MLIRContext *ctx = dot->getContext();
  tile::MmaEncodingAttr plan = planOf(dot);
  bool wg = plan.getVersion() == 3;
  Value a = dot->getOperand(0);
  auto at = cast<RankedTensorType>(a.getType());
  int64_t K = at.getShape()[1];
  bool half = at.getElementType().getIntOrFloatBitWidth() == 16;
  auto shared = [&](bool swizzle, bool rows) {
    return tile::SharedEncodingAttr::get(ctx, 8, 1, swizzle ? 8 : 1,
                                         rows ? ArrayRef<unsigned>{0, 1} : ArrayRef<unsigned>{1, 0});
  };
  Attribute regs = tile::DotOperandEncodingAttr::get(ctx, 0, plan, 2);
  Attribute placeA;
  tile::DotOp p = producerDot(a);
  auto pp = p ? planOf(p) : tile::MmaEncodingAttr();
  if (p && pp.getWarpsPerCTA()[1] == 1 && plan.getWarpsPerCTA()[1] == 1 &&
      pp.getWarpsPerCTA()[0] == plan.getWarpsPerCTA()[0] &&
      cast<RankedTensorType>(p.getType()).getShape() == at.getShape())
    placeA = regs;
  else if (loopInvariant(a, dot))
    placeA = stageInvariants && half && !p && !isUniform(a) && (!wg || K % 64 == 0)
                 ? Attribute(shared(wg, false))
                 : regs;
  else
    placeA = shared(wg && half && K % 64 == 0, false);
  dot->setAttr("hip.a", placeA);
  dot->setAttr("hip.b", shared(wg, readsTransposedB(dot)));
}

struct OptimizeDotOperandsPass
    : PassWrapper<OptimizeDotOperandsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(OptimizeDotOperandsPass)
  StringRef getArgument() const override { return "hip-optimize-dot-operands"; }
  StringRef getDescription() const override {
    return "decide where each tile.dot reads its operands from (registers, swizzled or padded "
           "shared tiles)";
  }
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>()) {
      try {
        optimizeDotOperands(kernel);
      } catch (const hip::Error &e) {
        kernel.emitError() << e.what();
        return signalPassFailure();
      }
    }
  }
};

} // namespace

void optimizeDotOperands(tile::KernelOp kernel) {
  auto cfg = kernel.getConfig().getAs<IntegerAttr>("dot_a_shared");
  bool stage = cfg && cfg.getInt() != 0;
  kernel.getBody().walk([&](tile::DotOp dot) { place(dot, stage); });
}

tile::SharedEncodingAttr sharedA(Operation *dot) {
  return dot->getAttrOfType<tile::SharedEncodingAttr>("hip.a");
}

bool registersA(Operation *dot) {
  return static_cast<bool>(dot->getAttrOfType<tile::DotOperandEncodingAttr>("hip.a"));
}

tile::SharedEncodingAttr sharedB(Operation *dot) {
  return dot->getAttrOfType<tile::SharedEncodingAttr>("hip.b");
}

bool readsRowsB(Operation *dot) {
  tile::SharedEncodingAttr b = sharedB(dot);
  return b && b.getOrder()[0] == 0;
}

void registerOptimizeDotOperandsPass() { PassRegistration<OptimizeDotOperandsPass>(); }

} // namespace hip::detail::gpu
