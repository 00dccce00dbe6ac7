//===- compiler/gpu/transforms/AxisInfo.cpp - hip-axis-info ---------------===//
//
// Transfer functions of the axis analysis (see AxisInfo.h). With x = a value
// of a run of constants (cst), c = contiguity, d = divisibility:
//   arange(s, e): c = e - s, d = the power of two dividing s; constants: d
//   from the value, cst unbounded; splat and row broadcasts: constant along
//   the last dimension; a + b: contiguous where one side is contiguous and
//   the other constant over the run; a * b: multiples multiply; comparisons
//   of a contiguous run with a constant: constant runs, and for < and <= a
//   prefix run (the true elements first); and of masks keeps the shorter
//   prefix run; i32 -> i64 casts keep everything.
//
//===----------------------------------------------------------------------===//
#include "AxisInfo.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include <algorithm>
#include <string>

using namespace mlir;
using hip::dsl::OpKind;

namespace hip::detail::gpu {

namespace {
constexpr int64_t kBig = AxisInfo::kBig;

int64_t pow2Divisor(int64_t v) { return v == 0 ? kBig : std::min(kBig, v & -v); }

AxisInfo info(int64_t c, int64_t d, int64_t k) { return AxisInfo{c, d, k, 1}; }

bool isTile(Value v) { return isa<RankedTensorType>(v.getType()); }
ArrayRef<int64_t> shapeOf(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t ? t.getShape() : ArrayRef<int64_t>{};
}
Type elementOf(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t ? t.getElementType() : v.getType();
}
} // namespace

AxisInfo AxisInfoAnalysis::ofConstant(int64_t iconst) { return info(1, pow2Divisor(iconst), kBig); }

AxisInfoAnalysis::AxisInfoAnalysis(tile::KernelOp kernel) {
  Block &body = kernel.getBody().front();
  for (BlockArgument a : body.getArguments()) {
    // Pointers are 16-byte aligned (the launch checks it); integers are
    // multiples of what the parameter declares.
    int64_t div = kernel.getMultipleOf()[a.getArgNumber()];
    if (auto p = dyn_cast<tile::PtrType>(a.getType()))
      div = 16 / std::max<int64_t>(1, (p.getPointee().getIntOrFloatBitWidth() + 7) / 8);
    facts_[a] = info(1, div, kBig);
  }
  visitBlock(body);
}

AxisInfo AxisInfoAnalysis::get(Value v) const {
  auto it = facts_.find(v);
  return it == facts_.end() ? AxisInfo{} : it->second;
}

void AxisInfoAnalysis::visitBlock(Block &b) {
  for (Operation &op : b) visit(op);
}

void AxisInfoAnalysis::visit(Operation &op) {
  std::optional<OpKind> kind = tile::kindOf(op);
  if (auto loop = dyn_cast<tile::ForOp>(op)) {
    Block &body = loop.getBody().front();
    facts_[body.getArgument(0)] =
        info(1, std::min(get(loop.getLo()).div, get(loop.getStep()).div), kBig);
  }
  for (Region &r : op.getRegions())
    if (!r.empty()) visitBlock(r.front());
  if (op.getNumResults() == 0 || !kind) return;
  auto in = [&](unsigned i) { return get(op.getOperand(i)); };
  Value res = op.getResult(0);
  bool scalar = !isTile(res);
  AxisInfo r = info(1, 1, scalar ? kBig : 1);
  switch (*kind) {
  case OpKind::Constant: r = ofConstant(tile::constantInt(cast<tile::ConstantOp>(op))); break;
  case OpKind::Arange: {
    int64_t start = op.getAttrOfType<IntegerAttr>("start").getInt();
    r = info(op.getAttrOfType<IntegerAttr>("end").getInt() - start, pow2Divisor(start), 1);
    break;
  }
  case OpKind::Splat: r = info(1, in(0).div, kBig); break;
  case OpKind::Broadcast: {
    ArrayRef<int64_t> src = shapeOf(op.getOperand(0)), dst = shapeOf(res);
    if (!src.empty() && src.back() == 1 && dst.back() > 1) r = info(1, in(0).div, kBig);
    else r = info(in(0).contig, in(0).div, in(0).cst);
    break;
  }
  case OpKind::ExpandDims:
    if (op.getAttrOfType<IntegerAttr>("axis").getInt() == 0)
      r = info(in(0).contig, in(0).div, in(0).cst);
    else
      r = info(1, in(0).contig > 1 ? 1 : in(0).div, kBig);
    break;
  case OpKind::Add:
  case OpKind::AddPtr: {
    AxisInfo a = in(0), b = in(1);
    r = info(std::max(std::min(a.contig, b.cst), std::min(b.contig, a.cst)), std::min(a.div, b.div),
             std::min(a.cst, b.cst));
    break;
  }
  case OpKind::Sub:
    r = info(std::min(in(0).contig, in(1).cst), std::min(in(0).div, in(1).div),
             std::min(in(0).cst, in(1).cst));
    break;
  case OpKind::Mul: {
    int64_t da = in(0).contig > 1 ? 1 : in(0).div, db = in(1).contig > 1 ? 1 : in(1).div;
    r = info(1, std::min(kBig, da * db), std::min(in(0).cst, in(1).cst));
    break;
  }
  case OpKind::CmpLT: case OpKind::CmpLE: case OpKind::CmpGT:
  case OpKind::CmpGE: case OpKind::CmpEQ: case OpKind::CmpNE: {
    AxisInfo a = in(0), b = in(1);
    int64_t k = 1;
    if (a.contig == 1 && b.contig == 1) k = std::min(a.cst, b.cst);
    else if (a.contig > 1 && b.cst > 1) k = std::min({a.contig, b.cst, std::min(a.div, b.div)});
    else if (b.contig > 1 && a.cst > 1) k = std::min({b.contig, a.cst, std::min(a.div, b.div)});
    r = info(1, 1, k);
    break;
  }
  case OpKind::And: case OpKind::Or: case OpKind::Xor:
    r = info(1, 1, std::min(in(0).cst, in(1).cst));
    break;
  case OpKind::Cast: // i32 -> i64 keeps runs, multiples and constants
    if (elementOf(op.getOperand(0)).isInteger(32) && elementOf(res).isInteger(64))
      r = info(in(0).contig, in(0).div, in(0).cst);
    break;
  case OpKind::Select: r = info(1, 1, std::min({in(0).cst, in(1).cst, in(2).cst})); break;
  case OpKind::ConvertLayout: r = in(0); break; // the same elements
  default: break;
  }
  // Prefix runs of masks; constant runs qualify.
  auto pre = [&](unsigned i) { return std::max(in(i).prefix, in(i).cst); };
  switch (*kind) {
  case OpKind::CmpLT: case OpKind::CmpLE:
    if (in(0).contig > 1 && in(1).cst > 1) r.prefix = std::min(in(0).contig, in(1).cst);
    break;
  case OpKind::CmpGT: case OpKind::CmpGE:
    if (in(1).contig > 1 && in(0).cst > 1) r.prefix = std::min(in(1).contig, in(0).cst);
    break;
  case OpKind::And: r.prefix = std::min(pre(0), pre(1)); break;
  case OpKind::Broadcast: case OpKind::ExpandDims: case OpKind::Reshape:
    r.prefix = in(0).prefix;
    break;
  case OpKind::ConvertLayout: r = in(0); break;
  default: break;
  }
  facts_[res] = r;
}

namespace {
std::string describe(const AxisInfo &a) {
  auto n = [](int64_t v) { return v >= kBig ? std::string("big") : std::to_string(v); };
  return "contig " + n(a.contig) + ", div " + n(a.div) + ", cst " + n(a.cst) + ", prefix " +
         n(a.prefix);
}

struct TestAxisInfoPass : PassWrapper<TestAxisInfoPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestAxisInfoPass)
  StringRef getArgument() const override { return "hip-test-axis-info"; }
  StringRef getDescription() const override {
    return "remarks with the hip-axis-info facts of each op's first result";
  }
  void runOnOperation() override {
    for (tile::KernelOp kernel : getOperation().getOps<tile::KernelOp>()) {
      AxisInfoAnalysis a(kernel);
      kernel.getBody().walk([&](Operation *op) {
        if (auto loop = dyn_cast<tile::ForOp>(op))
          op->emitRemark() << "iv: " << describe(a.get(loop.getBody().front().getArgument(0)));
        if (op->getNumResults() > 0) op->emitRemark() << describe(a.get(op->getResult(0)));
      });
    }
  }
};
} // namespace

void registerAxisInfoTestPass() { PassRegistration<TestAxisInfoPass>(); }

} // namespace hip::detail::gpu
