//===- compiler/gpu/transforms/Pipeline.cpp - hip-pipeline ----------------===//
//
// See Pipeline.h. Deferred wgmma dots: a dot whose result is only yielded
// (an accumulator carried by the loop: the matmul's, attention's P V) may
// stay in flight into the next iteration, overlapping that iteration's
// waits, barrier, copies and first dot. Its operands must not change while
// it runs: B from a pipeline stage, A from one too or computed from a dot of
// this body that is waited for (attention's P: the next iteration's P is
// computed after that dot's wait, which completes the deferred group too).
// The stage a deferred dot reads is refilled one iteration later than usual:
// copies run S - 2 ahead, and each iteration begins with wait_group 1 (every
// group but the newest done) before its barrier, so the stage written at
// iteration i, that of i - 2, is no longer read by any warp. Not in a loop
// of at most two iterations known when traced (attention's sink): LLVM
// unrolls it, and ptxas then takes the wait_group 1 for a group left running
// into code that rewrites its registers and serializes every wgmma of the
// kernel (C7515). Deferring needs S >= 3.
// Refilling after the wait (refill_after_wait): when the body's first dot is
// waited for and every deferred dot's A is computed from a waited dot
// (attention: Q K^T, then P V deferred), Q K^T's wait completes the previous
// iteration's P V too. The loop meets the other warps there and copies
// iteration i + S - 1 into the stage iteration i - 1 read, then runs the
// softmax: the copies run S - 1 ahead (one stage more than with the wait at
// the top, for the same shared memory) for a second barrier per iteration.
// Measured on an H100 (RESULTS.md, step 11): dense attention at 16k 1-3 %
// faster, within the run's noise. The same for a matmul's K loop (copies after
// its one deferred dot and a wait_group 1) was 2-4 % slower: it has no wait of
// its own to share the barrier with.
// With the config's mbarriers = 1 a loop with deferred dots (attention's,
// refilled after the wait, and the matmul's, refilled at the top) is marked
// `mbarriers`: the lowering tracks its stages with mbarriers (a full one per
// stage that the copies arrive on, an empty one the readers arrive on)
// instead of block-wide barriers. With the config's tma = 1 and box loads
// (load_box) for every copy, the loop is marked `tma` too: one thread copies
// each stage with the tensor memory accelerator instead of every thread's
// cp.async (see the lowering's issueCopies).
//
//===----------------------------------------------------------------------===//
#include "Pipeline.h"

#include "AccelerateDot.h"
#include "AxisInfo.h"
#include "OptimizeDotOperands.h"

#include "hip/error.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

using namespace mlir;
using hip::dsl::OpKind;

namespace hip::detail::gpu {

namespace {

bool isDot(Operation &op) { return isa<tile::DotOp>(op); }

/// The value of a scalar tile.constant `v` (none for anything else).
std::optional<int64_t> constantOf(Value v) {
  auto c = v.getDefiningOp<tile::ConstantOp>();
  if (!c || isa<RankedTensorType>(c.getType())) return std::nullopt;
  return tile::constantInt(c);
}

int64_t stagesOf(tile::ForOp loop, tile::KernelOp kernel) {
  if (auto a = loop->getAttrOfType<IntegerAttr>("num_stages")) return a.getInt();
  if (auto a = kernel.getConfig().getAs<IntegerAttr>("num_stages")) return a.getInt();
  return 1;
}

void pipeline(tile::ForOp loop, int64_t stages, const AxisInfoAnalysis &axis) {
  MLIRContext *ctx = loop->getContext();
  Block &blk = loop.getBody().front();
  auto inBody = [&](Value v) -> Operation * {
    Operation *d = v.getDefiningOp();
    return d && d->getBlock() == &blk ? d : nullptr;
  };
  // 1. Loads of 16-bit tiles whose only use is as an operand of a dot of
  //    this body that reads it from shared memory (hip-optimize-dot-operands'
  //    hip.a / hip.b), A then B of each dot in order; each copy's buffer
  //    takes the operand's shared layout (the 128-byte swizzle wgmma's
  //    descriptors read, or rows padded for ldmatrix).
  std::vector<Operation *> loads;
  std::map<Operation *, tile::SharedEncodingAttr> layoutOf;
  for (Operation &o : blk) {
    if (!isDot(o)) continue;
    if (!sharedB(&o))
      throw InternalError("hip-pipeline: a tile.dot without hip-optimize-dot-operands' placement");
    for (unsigned i = 0; i < 2; ++i) {
      tile::SharedEncodingAttr enc = i == 0 ? sharedA(&o) : sharedB(&o);
      if (!enc) continue; // (A from registers)
      Value x = o.getOperand(i);
      if (i == 1 && readsRowsB(&o) && inBody(x)) x = inBody(x)->getOperand(0);
      Operation *d = inBody(x);
      if (!d || !isa<tile::LoadOp>(d) || !x.hasOneUse()) continue;
      auto t = cast<RankedTensorType>(x.getType());
      if (t.getElementType().getIntOrFloatBitWidth() != 16) continue;
      // cp.async moves 16 bytes: the addresses must be runs of 8 halfs
      // starting at multiples of 8 (hip-axis-info), rows of 8 or more.
      AxisInfo p = axis.get(d->getOperand(0));
      if (t.getShape()[1] < 8 || p.contig < 8 || p.div < 8) return;
      loads.push_back(d);
      layoutOf[d] = tile::SharedEncodingAttr::get(ctx, enc.getVec(), enc.getPerPhase(),
                                                  enc.getMaxPhase(), {1, 0});
    }
  }
  if (loads.empty()) return;
  // Deferred dots (see above).
  Operation *yield = blk.getTerminator();
  auto swz = [&](Operation &dot, unsigned i) { // operand i of `dot` read from a swizzled copy
    Value x = dot.getOperand(i);
    if (i == 1 && readsRowsB(&dot) && inBody(x)) x = inBody(x)->getOperand(0);
    Operation *d = inBody(x);
    return d && layoutOf.count(d) && layoutOf.at(d).getMaxPhase() > 1;
  };
  auto lo = constantOf(loop.getLo()), hi = constantOf(loop.getHi()), step = constantOf(loop.getStep());
  bool shortLoop = lo && hi && step && *step > 0 && (*hi - *lo + *step - 1) / *step <= 2;
  std::set<Operation *> waited, deferred;
  Operation *firstDot = nullptr;
  bool deferredAFromWaited = true; // every deferred dot's A computed from a waited dot of the body
  for (Operation &o : blk) {
    if (!isDot(o)) continue;
    if (!firstDot) firstDot = &o;
    Value r = o.getResult(0);
    bool yielded = llvm::is_contained(yield->getOperands(), r);
    std::function<bool(Value, int)> fromWaited = [&](Value v, int depth) {
      Operation *d = inBody(v);
      if (!d || depth > 16) return false;
      if (waited.count(d)) return true;
      for (Value x : d->getOperands())
        if (fromWaited(x, depth + 1)) return true;
      return false;
    };
    bool aWaited = !swz(o, 0) && fromWaited(o.getOperand(0), 0);
    if (stages >= 3 && !shortLoop && runsOnWgmma(&o) && swz(o, 1) && r.hasOneUse() && yielded &&
        (swz(o, 0) || aWaited)) {
      deferred.insert(&o);
      deferredAFromWaited = deferredAFromWaited && aWaited;
    } else if (runsOnWgmma(&o))
      waited.insert(&o);
  }
  // 2. The ops computing the copies' addresses and masks: pure ops of this
  //    body that depend on the induction variable and loop invariants only.
  std::set<Operation *> slice;
  bool ok = true;
  std::function<void(Value)> visit = [&](Value v) {
    if (auto a = dyn_cast<BlockArgument>(v); a && a.getOwner() == &blk && a.getArgNumber() > 0)
      ok = false; // a carried value
    Operation *d = inBody(v);
    if (!d || slice.count(d)) return;
    std::optional<OpKind> k = tile::kindOf(*d);
    if (d->getNumRegions() != 0 || !k || (*k >= OpKind::ReduceSum && *k < OpKind::Gather))
      ok = false;
    slice.insert(d);
    for (Value x : d->getOperands()) visit(x);
  };
  for (Operation *l : loads)
    for (Value x : l->getOperands()) visit(x);
  if (!ok) return;
  Builder b(ctx);
  DictionaryAttr config = loop->getParentOfType<tile::KernelOp>().getConfig();
  auto asks = [&](StringRef key, int64_t absent = 0) {
    auto a = config.getAs<IntegerAttr>(key);
    return (a ? a.getInt() : absent) == 1;
  };
  // (Refilling after the first dot's wait: see the top; the config's
  // refill_after_wait = 0 keeps the copies at the top, S - 2 ahead.)
  bool attentionLike = !deferred.empty() && waited.count(firstDot) && deferredAFromWaited;
  bool refillAfterWait = attentionLike && asks("refill_after_wait", 1);
  int64_t ahead = deferred.empty() || refillAfterWait ? stages - 1 : stages - 2;
  SmallVector<NamedAttribute> marks{b.getNamedAttr("stages", b.getI64IntegerAttr(stages)),
                                    b.getNamedAttr("ahead", b.getI64IntegerAttr(ahead))};
  if (refillAfterWait) marks.push_back(b.getNamedAttr("refill_after_wait", b.getUnitAttr()));
  // The config's mbarriers = 1: the stages tracked by mbarriers, not
  // block-wide barriers (see Pipeline in GpuLowering.h).
  // The config's tma = 1: where every copy is a box load (load_box) into
  // the 128-byte swizzle whose rows hold whole 64-column groups (one TMA
  // box of R x 64 each, R <= 256), thread 0 copies each stage with TMA and
  // its mbarrier counts the bytes (on mbarriers, as above).
  bool tma = !deferred.empty() && asks("tma") && llvm::all_of(loads, [&](Operation *l) {
    auto t = cast<RankedTensorType>(l->getResult(0).getType());
    return cast<tile::LoadOp>(l).getBox() && layoutOf.at(l).getMaxPhase() > 1 &&
           t.getShape()[1] % 64 == 0 && t.getShape()[0] <= 256;
  });
  bool mbarriers = !deferred.empty() && (asks("mbarriers") || tma);
  if (mbarriers) marks.push_back(b.getNamedAttr("mbarriers", b.getUnitAttr()));
  if (tma) marks.push_back(b.getNamedAttr("tma", b.getUnitAttr()));
  // The config's pingpong = 1 (FlashAttention-3's ping-pong): in an
  // attention loop on mbarriers (no block-wide barrier in it) whose dots
  // all run on wgmma in two warpgroups, the warpgroups take turns to issue
  // their dots: one's P V and the next Q K^T while the other runs its
  // softmax (see the lowering's lowerFor).
  // (wgmma's warpgroups split the rows: each owns its softmax.)
  bool allWgmma = llvm::all_of(blk, [&](Operation &o) { return !isDot(o) || runsOnWgmma(&o); });
  int64_t warps = loop->getParentOfType<tile::KernelOp>().getNumWarps();
  if (asks("pingpong") && mbarriers && attentionLike && deferred.size() == 1 && allWgmma &&
      warps == 8)
    marks.push_back(b.getNamedAttr("pingpong", b.getUnitAttr()));
  loop->setAttr("hip.pipeline", b.getDictionaryAttr(marks));
  for (size_t n = 0; n < loads.size(); ++n) {
    loads[n]->setAttr("hip.copy", b.getI64IntegerAttr(int64_t(n)));
    loads[n]->setAttr("hip.shared", layoutOf.at(loads[n]));
    if (tma) loads[n]->setAttr("hip.tma", b.getUnitAttr());
  }
  for (Operation *d : deferred) d->setAttr("hip.defer", b.getUnitAttr());
  for (Operation *o : slice) o->setAttr("hip.copy_slice", b.getUnitAttr());
}

struct PipelinePass : PassWrapper<PipelinePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PipelinePass)
  StringRef getArgument() const override { return "hip-pipeline"; }
  StringRef getDescription() const override {
    return "choose the loads each loop copies ahead into a ring of shared buffers (num_stages)";
  }
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>()) pipelineLoops(kernel);
  }
};

} // namespace

void pipelineLoops(tile::KernelOp kernel) {
  AxisInfoAnalysis axis(kernel);
  kernel.getBody().walk([&](tile::ForOp loop) {
    int64_t stages = stagesOf(loop, kernel);
    if (stages >= 2) pipeline(loop, stages, axis);
  });
}

void registerPipelinePass() { PassRegistration<PipelinePass>(); }

} // namespace hip::detail::gpu
