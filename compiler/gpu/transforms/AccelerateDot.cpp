//===- compiler/gpu/transforms/AccelerateDot.cpp - hip-accelerate-dot -----===//
//
// See AccelerateDot.h. A dot runs on wgmma when the target has it (sm_90a,
// HIP_WGMMA not 0), the warps form whole warpgroups, A is bf16/f16, M is 16
// rows per warp (one m64 block per warpgroup), K a multiple of 16, N a
// multiple of 8 up to 256, and B's rows fit the 128-byte swizzle (B read
// transposed when it is a tile.trans used once). With any dot on wgmma, the
// kernel's other 16·num_warps-row results take the same layout.
//
//===----------------------------------------------------------------------===//
#include "AccelerateDot.h"

#include "../../lowering.h"

#include "hip/env.h"
#include "hip/error.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

using namespace mlir;
using hip::dsl::OpKind;

namespace hip::detail::gpu {

std::pair<int, int> accumulatorWarps(int64_t M, int64_t N, int nw, bool chained, bool anyWgmma) {
  if (anyWgmma && M == 16 * nw && N % 8 == 0 && N <= 256) return {nw, 1};
  int wm = 1;
  if (chained)
    while (wm < nw && M % (16 * wm * 2) == 0) wm *= 2;
  else
    while (wm < nw && M % (16 * wm * 2) == 0 && M / (wm * 2) >= N / (nw / (wm * 2))) wm *= 2;
  return {wm, nw / wm};
}

namespace {
Type elementOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }
} // namespace

namespace {
bool fromDot(Value v, int depth) {
  Operation *def = v ? v.getDefiningOp() : nullptr;
  if (!def || depth > 12) return false;
  std::optional<OpKind> k = tile::kindOf(*def);
  if (!k) return false;
  if (*k == OpKind::Dot) return true;
  bool through = dsl::isElementwise(*k) || *k == OpKind::Broadcast || *k == OpKind::ExpandDims ||
                 *k == OpKind::ConvertLayout;
  if (!through) return false;
  for (Value o : def->getOperands())
    if (fromDot(o, depth + 1)) return true;
  return false;
}
} // namespace

bool computedFromDot(Value v) { return fromDot(v, 0); }

bool definedOutside(Value v, Operation *region) {
  Operation *def = v.getDefiningOp();
  if (!def) def = cast<BlockArgument>(v).getOwner()->getParentOp();
  return !region->isAncestor(def);
}

bool isUniform(Value v) {
  if (!isa<RankedTensorType>(v.getType())) return true; // a scalar
  Operation *d = v.getDefiningOp();
  std::optional<OpKind> k = d ? tile::kindOf(*d) : std::nullopt;
  if (!k) return false;
  if (*k == OpKind::Splat || *k == OpKind::Constant) return true;
  bool through = dsl::isElementwise(*k) || (*k >= OpKind::Broadcast && *k <= OpKind::Trans) ||
                 *k == OpKind::ConvertLayout;
  return through && llvm::all_of(d->getOperands(), isUniform);
}

Value rebuildSplat(OpBuilder &b, Value v, Type t) {
  Operation *def = v.getDefiningOp();
  if (!isa_and_nonnull<tile::SplatOp, tile::ConstantOp>(def)) return {};
  Operation *copy = b.clone(*def);
  copy->getResult(0).setType(t);
  if (auto c = dyn_cast<tile::ConstantOp>(copy))
    c.setValueAttr(cast<DenseElementsAttr>(c.getValue()).reshape(cast<ShapedType>(t)));
  return copy->getResult(0);
}

bool runsOnWgmma(Operation *op) {
  auto plan = isa<tile::DotOp>(op) ? op->getAttrOfType<tile::MmaEncodingAttr>("hip.mma")
                                   : tile::MmaEncodingAttr();
  return plan && plan.getVersion() == 3;
}

bool readsTransposedB(tile::DotOp dot) {
  Value b = dot->getOperand(1);
  Operation *def = b.getDefiningOp();
  return def && tile::kindOf(*def) == OpKind::Trans && b.hasOneUse() &&
         elementOf(b).getIntOrFloatBitWidth() == 16;
}

namespace {

ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }


class Planner {
public:
  Planner(tile::KernelOp kernel, const Target &t) : kernel_(kernel), target_(t) {
    kernel.getBody().walk([&](tile::DotOp d) { dots_.push_back(d); });
    for (tile::DotOp d : dots_)
      if (computedFromDot(d->getOperand(0))) chained_ = true;
  }

  void run() {
    const int asked = int(kernel_.getNumWarps());
    int nw = asked;
    tile::DotOp misfit;
    while (nw > 1) {
      auto bad =
          std::find_if(dots_.begin(), dots_.end(), [&](tile::DotOp d) { return !tiles(d, nw); });
      if (bad == dots_.end()) break;
      if (!misfit) misfit = *bad;
      nw /= 2;
    }
    for (tile::DotOp d : dots_) {
      int64_t M = shapeOf(d->getOperand(0))[0], N = shapeOf(d->getOperand(1))[1];
      auto [wm, wn] = accumulatorWarps(M, N, nw, chained_, anyWgmma(nw));
      if (M % (16 * wm) != 0 || N % (8 * wn) != 0)
        throw CompileError(formatLoc(d->getLoc()) + ": dot result " + std::to_string(M) + "x" +
                           std::to_string(N) + " cannot be tiled by mma.sync m16n8 over " +
                           std::to_string(nw) + " warps (need M % " + std::to_string(16 * wm) +
                           " == 0 and N % " + std::to_string(8 * wn) + " == 0)");
      d->setAttr("hip.mma", tile::MmaEncodingAttr::get(kernel_.getContext(), wgmmaDot(d, nw) ? 3 : 2,
                                                      {unsigned(wm), unsigned(wn)}));
    }
    kernel_.setNumWarps(uint32_t(nw));
    if (misfit && logEnabled()) {
      ArrayRef<int64_t> r = shapeOf(misfit.getResult());
      std::fprintf(
          stderr,
          "hip-attention: %s: num_warps %d -> %d (a %lldx%lld dot does not tile over %d warps)\n",
          kernel_.getSymName().str().c_str(), asked, nw, static_cast<long long>(r[0]),
          static_cast<long long>(r[1]), asked);
    }
  }

private:
  bool wgmmaDot(tile::DotOp d, int nw) const {
    if (!target_.hasWgmma() || nw % 4 != 0) return false;
    Type a = elementOf(d->getOperand(0));
    if (!a.isBF16() && !a.isF16()) return false;
    int64_t M = shapeOf(d->getOperand(0))[0], K = shapeOf(d->getOperand(0))[1];
    int64_t N = shapeOf(d->getOperand(1))[1];
    if (M != 16 * nw || K % 16 != 0 || N % 8 != 0 || N > 256) return false;
    bool rows = readsTransposedB(d);
    int64_t R = rows ? N : K, C = rows ? K : N;
    return R % 8 == 0 && C % 64 == 0;
  }

  bool anyWgmma(int nw) const {
    return std::any_of(dots_.begin(), dots_.end(), [&](tile::DotOp d) { return wgmmaDot(d, nw); });
  }

  bool tiles(tile::DotOp d, int nw) const {
    int64_t M = shapeOf(d->getOperand(0))[0], N = shapeOf(d->getOperand(1))[1];
    auto [wm, wn] = accumulatorWarps(M, N, nw, chained_, anyWgmma(nw));
    return M % (16 * wm) == 0 && N % (8 * wn) == 0;
  }

  tile::KernelOp kernel_;
  const Target &target_;
  std::vector<tile::DotOp> dots_;
  bool chained_ = false;
};

struct AccelerateDotPass : PassWrapper<AccelerateDotPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AccelerateDotPass)
  AccelerateDotPass() = default;
  AccelerateDotPass(const AccelerateDotPass &other) : PassWrapper(other) {}
  StringRef getArgument() const override { return "hip-accelerate-dot"; }
  StringRef getDescription() const override {
    return "choose each tile.dot's tensor-core instruction and warp split, and the kernel's warps";
  }
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("a GPU chip (sm_80, ..., sm_90a, ...)"),
                             llvm::cl::init("sm_90a")};
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>()) {
      try {
        Target t = parseTarget(target);
        if (t.backend != Backend::CUDA)
          throw InvalidArgument("hip-accelerate-dot needs a GPU target");
        accelerateDots(kernel, t);
      } catch (const hip::Error &e) {
        kernel.emitError() << e.what();
        return signalPassFailure();
      }
    }
  }
};

} // namespace

void accelerateDots(tile::KernelOp kernel, const Target &target) { Planner(kernel, target).run(); }

void registerAccelerateDotPass() { PassRegistration<AccelerateDotPass>(); }

} // namespace hip::detail::gpu
