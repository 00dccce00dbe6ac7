//===- compiler/gpu/transforms/AllocateShared.cpp - hip-allocate-shared ---===//
//
// See AllocateShared.h. One walk over the kernel in program order (the
// order the lowering stages the buffers in), each loop's buffers from the
// first free byte of its enclosing loop; the sources and A operands an
// enclosing loop already holds are not allocated again.
//
//===----------------------------------------------------------------------===//
#include "AllocateShared.h"

#include "AccelerateDot.h"
#include "OptimizeDotOperands.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/DenseSet.h"

#include <functional>
#include <map>

using namespace mlir;

namespace hip::detail::gpu {

namespace {

int64_t alignUp(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

class Allocator {
public:
  explicit Allocator(MLIRContext *ctx) : b_(ctx) {}

  /// Allocates the loops of `blk`, each from byte `base`.
  void block(Block &blk, int64_t base) {
    for (Operation &op : blk) {
      if (auto loop = dyn_cast<tile::ForOp>(op)) {
        forLoop(loop, base);
        continue;
      }
      for (Region &r : op.getRegions())
        if (!r.empty()) block(r.front(), base);
    }
  }

private:
  void forLoop(tile::ForOp loop, int64_t off) {
    Block &body = loop.getBody().front();
    auto outside = [&](Value v) { return definedOutside(v, loop); };
    std::vector<Value> own;
    // 1. Gather sources defined before the loop.
    for (Operation &o : body) {
      auto g = dyn_cast<tile::GatherOp>(o);
      if (!g) continue;
      Value s = g->getOperand(0);
      if (!outside(s) || isUniform(s)) continue;
      if (!held_.count(s)) {
        auto t = cast<RankedTensorType>(s.getType());
        int64_t eb = std::max<int64_t>(1, t.getElementType().getIntOrFloatBitWidth() / 8);
        held_[s] = off;
        own.push_back(s);
        off += alignUp(t.getNumElements() * eb, 16);
      }
      g->setAttr("hip.smem_src", b_.getI64IntegerAttr(held_.at(s)));
    }
    // 2. A operands staged before the loop.
    std::function<void(Block &)> visit = [&](Block &blk) {
      for (Operation &o : blk) {
        for (Region &r : o.getRegions())
          if (!r.empty()) visit(r.front());
        tile::SharedEncodingAttr enc = isa<tile::DotOp>(o) ? sharedA(&o) : nullptr;
        Value a = isa<tile::DotOp>(o) ? o.getOperand(0) : Value();
        if (!enc || !outside(a)) continue;
        if (!held_.count(a)) {
          auto t = cast<RankedTensorType>(a.getType());
          int64_t M = t.getShape()[0], K = t.getShape()[1];
          bool swz = enc.getMaxPhase() > 1;
          if (swz) off = alignUp(off, 1024);
          held_[a] = off;
          own.push_back(a);
          off += swz ? alignUp(M * K * 2, 1024) : alignUp(M * (K + 8) * 2, 128);
        }
        o.setAttr("hip.smem_a", b_.getI64IntegerAttr(held_.at(a)));
      }
    };
    visit(body);
    // 3. The rings of the pipelined copies, in their order.
    if (auto marks = loop->getAttrOfType<DictionaryAttr>("hip.pipeline")) {
      int64_t stages = marks.getAs<IntegerAttr>("stages").getInt();
      std::map<int64_t, Operation *> copies;
      for (Operation &o : body)
        if (auto n = o.getAttrOfType<IntegerAttr>("hip.copy")) copies[n.getInt()] = &o;
      for (auto &[n, l] : copies) {
        auto t = cast<RankedTensorType>(l->getResult(0).getType());
        int64_t R = t.getShape()[0], C = t.getShape()[1];
        bool swz = l->getAttrOfType<tile::SharedEncodingAttr>("hip.shared").getMaxPhase() > 1;
        if (swz) off = alignUp(off, 1024);
        int64_t bytes = swz ? alignUp(R * C * 2, 1024) : alignUp(R * (C + 8) * 2, 128);
        l->setAttr("hip.smem", b_.getDictionaryAttr(
                                   {b_.getNamedAttr("base", b_.getI64IntegerAttr(off)),
                                    b_.getNamedAttr("stage_bytes", b_.getI64IntegerAttr(bytes))}));
        off += bytes * stages;
      }
    }
    loop->setAttr("hip.smem_top", b_.getI64IntegerAttr(off));
    block(body, off);
    for (Value v : own) held_.erase(v);
  }

  Builder b_;
  /// The buffers of the loops being walked: value -> byte offset.
  llvm::DenseMap<Value, int64_t> held_;
};

struct AllocateSharedPass : PassWrapper<AllocateSharedPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AllocateSharedPass)
  StringRef getArgument() const override { return "hip-allocate-shared"; }
  StringRef getDescription() const override {
    return "byte offsets in shared memory of the buffers that live as long as a loop";
  }
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>()) allocateShared(kernel);
  }
};

} // namespace

void allocateShared(tile::KernelOp kernel) {
  Allocator(kernel.getContext()).block(kernel.getBody().front(), 0);
}

void registerAllocateSharedPass() { PassRegistration<AllocateSharedPass>(); }

} // namespace hip::detail::gpu
