//===- compiler/tile/tile_export.cpp - tile dialect -> dsl::Kernel --------===//
//
// The inverse of tile_import.cpp: tile IR read from text (parseKernels) as
// the DSL's kernel, and the import -> export round trip the tests check.
// The backends do not use it: they lower the tile dialect itself. Values are
// numbered in the order the DSL builder numbers them (kernel arguments; then,
// op by op, a tile.for's block arguments and body before its results, a
// tile.if's branches before its results), which makes import -> export
// reproduce a traced kernel exactly. A splat tile constant becomes the DSL's
// scalar constant + splat.
//
//===----------------------------------------------------------------------===//
#include "tile.h"

#include "../lowering.h"

#include "hip/error.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <map>
#include <mutex>
#include <set>

using namespace mlir;
using hip::dsl::DType;
using hip::dsl::OpKind;

namespace hip::tile {

namespace {

/// Op name -> DSL op kind, for every kind (the mnemonics are the DSL's names).
const llvm::StringMap<OpKind> &kindsByName() {
  static const llvm::StringMap<OpKind> map = [] {
    llvm::StringMap<OpKind> m;
    for (int i = 0; i <= static_cast<int>(OpKind::ConvertLayout); ++i)
      m[std::string("tile.") + dsl::opName(static_cast<OpKind>(i))] = static_cast<OpKind>(i);
    return m;
  }();
  return map;
}

/// The C++ DSL stores a constant both ways: as the double it was given and as
/// that double converted to an integer.
int64_t toInt64(double v) {
  // What a conversion by cvttsd2si gives for values out of range (the DSL
  // converts without a check).
  if (!std::isfinite(v) || v >= 9.2233720368547758e18 || v < -9.2233720368547758e18)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

} // namespace

SourceLoc sourceLocOf(Location loc) {
  auto fl = loc->findInstanceOf<FileLineColLoc>();
  if (!fl || fl.getFilename().getValue().empty()) return {};
  static std::mutex mu;
  static std::set<std::string, std::less<>> files;
  std::lock_guard<std::mutex> g(mu);
  const char *file = files.emplace(fl.getFilename().getValue().str()).first->c_str();
  return SourceLoc(file, fl.getLine(), fl.getColumn());
}

namespace {
DType dtypeOf(Type t) {
  if (t.isInteger(1)) return DType::i1;
  if (t.isInteger(32)) return DType::i32;
  if (t.isInteger(64)) return DType::i64;
  if (t.isF16()) return DType::f16;
  if (t.isBF16()) return DType::bf16;
  if (t.isF32()) return DType::f32;
  if (isa<PtrType>(t)) return DType::ptr;
  throw InternalError("unsupported element type");
}
} // namespace

std::optional<dsl::Type> dslTypeOf(Type t) {
  dsl::Type out;
  Type elem = t;
  if (auto r = dyn_cast<RankedTensorType>(t)) {
    out.shape.assign(r.getShape().begin(), r.getShape().end());
    elem = r.getElementType();
  }
  try {
    out.dtype = dtypeOf(elem);
    if (auto p = dyn_cast<PtrType>(elem)) out.pointee = dtypeOf(p.getPointee());
  } catch (const InternalError &) {
    return std::nullopt;
  }
  return out;
}

std::optional<OpKind> kindOf(Operation &op) {
  auto it = kindsByName().find(op.getName().getStringRef());
  if (it == kindsByName().end()) return std::nullopt;
  return it->second;
}

OpKind kindOrThrow(Operation &op) {
  if (std::optional<OpKind> k = kindOf(op)) return *k;
  throw CompileError("'" + op.getName().getStringRef().str() + "' is not an op of the tile dialect",
                     sourceLocOf(op.getLoc()));
}

int64_t intAttrOf(Operation *op, llvm::StringRef name) {
  auto a = op->getAttrOfType<IntegerAttr>(name);
  if (!a)
    throw InternalError("'" + op->getName().getStringRef().str() + "' lacks '" + name.str() + "'");
  return a.getInt();
}

int64_t constantInt(ConstantOp c) {
  Attribute v = c.getValue();
  if (auto dense = dyn_cast<DenseElementsAttr>(v)) v = dense.getSplatValue<Attribute>();
  if (auto f = dyn_cast<FloatAttr>(v)) return toInt64(f.getValueAsDouble());
  auto i = cast<IntegerAttr>(v);
  return i.getType().isInteger(1) ? int64_t(i.getValue().getBoolValue()) : i.getInt();
}

double constantFloat(ConstantOp c) {
  Attribute v = c.getValue();
  if (auto dense = dyn_cast<DenseElementsAttr>(v)) v = dense.getSplatValue<Attribute>();
  if (auto f = dyn_cast<FloatAttr>(v)) return f.getValueAsDouble();
  return static_cast<double>(constantInt(c));
}

namespace {

class Exporter {
public:
  Exporter() = default;

  dsl::Kernel run(KernelOp kernel) {
    k_.name = kernel.getSymName().str();
    k_.numWarps = static_cast<int>(kernel.getNumWarps());
    for (NamedAttribute kv : kernel.getConfig())
      k_.config[kv.getName().str()] = cast<IntegerAttr>(kv.getValue()).getInt();
    Block &body = kernel.getBody().front();
    for (BlockArgument a : body.getArguments()) {
      dsl::Param p;
      p.name = cast<StringAttr>(kernel.getParamNames()[a.getArgNumber()]).str();
      p.type = typeOf(a.getType(), kernel);
      p.multipleOf = kernel.getMultipleOf()[a.getArgNumber()];
      k_.params.push_back(p);
    }
    block(body, k_.body);
    return std::move(k_);
  }

private:
  [[noreturn]] void fail(Operation *op, const std::string &msg) {
    std::string where = hip::detail::formatLoc(op->getLoc());
    throw CompileError((where.empty() ? "" : where + ": ") + "'" +
                       op->getName().getStringRef().str() + "' " + msg);
  }

  dsl::Type typeOf(Type t, Operation *where) {
    if (auto d = dslTypeOf(t)) return *d;
    std::string s;
    llvm::raw_string_ostream os(s);
    os << t;
    fail(where, "has a value of type " + s + ", which the DSL does not have");
  }

  int define(Value v, Operation *where) {
    int id = static_cast<int>(k_.valueTypes.size());
    k_.valueTypes.push_back(typeOf(v.getType(), where));
    ids_[v] = id;
    return id;
  }

  int use(Value v, Operation *user) {
    auto it = ids_.find(v);
    if (it == ids_.end()) fail(user, "uses a value defined outside the kernel");
    return it->second;
  }

  void block(Block &from, dsl::Block &to) {
    for (BlockArgument a : from.getArguments())
      to.args.push_back(define(a, from.getParentOp()));
    for (Operation &op : from) this->op(op, to);
  }

  dsl::Op &emit(dsl::Block &to, OpKind kind, Operation *op) {
    dsl::Op d;
    d.kind = kind;
    d.loc = sourceLocOf(op->getLoc());
    to.ops.push_back(std::move(d));
    return to.ops.back();
  }

  int64_t intAttr(Operation *op, llvm::StringRef name) {
    auto a = op->getAttrOfType<IntegerAttr>(name);
    if (!a) fail(op, "lacks integer attribute '" + name.str() + "'");
    return a.getInt();
  }

  void op(Operation &op, dsl::Block &to) {
    auto it = kindsByName().find(op.getName().getStringRef());
    if (it == kindsByName().end()) fail(&op, "is not an op of the tile dialect");
    OpKind kind = it->second;
    if (kind == OpKind::Constant) return constant(cast<ConstantOp>(op), to);
    std::vector<int> operands;
    for (Value v : op.getOperands()) operands.push_back(use(v, &op));
    // Regions are numbered before the op's results, as the DSL builder does.
    std::vector<std::unique_ptr<dsl::Block>> regions;
    for (Region &r : op.getRegions()) {
      regions.push_back(std::make_unique<dsl::Block>());
      if (!r.empty()) block(r.front(), *regions.back());
    }
    dsl::Op &d = emit(to, kind, &op);
    d.operands = std::move(operands);
    d.regions = std::move(regions);
    for (Value r : op.getResults()) d.results.push_back(define(r, &op));
    switch (kind) {
    case OpKind::ProgramId: case OpKind::NumPrograms: case OpKind::ExpandDims:
    case OpKind::ReduceSum: case OpKind::ReduceMax: case OpKind::ReduceMin: case OpKind::Argmax:
      d.ints = {intAttr(&op, "axis")};
      break;
    case OpKind::Arange: d.ints = {intAttr(&op, "start"), intAttr(&op, "end")}; break;
    case OpKind::Sort: d.ints = {op.hasAttr("descending") ? 1 : 0}; break;
    case OpKind::Load:
      if (auto box = cast<LoadOp>(op).getBox()) d.ints.assign(box->begin(), box->end());
      break;
    case OpKind::TopK:
      d.ints = {intAttr(&op, "k"), op.hasAttr("index_order") ? 1 : 0};
      break;
    default: break;
    }
  }

  /// A scalar constant, or a scalar constant and its splat for a tile.
  void constant(ConstantOp c, dsl::Block &to) {
    bool dense = isa<DenseElementsAttr>(c.getValue());
    dsl::Op &d = emit(to, OpKind::Constant, c);
    d.iconst = constantInt(c);
    d.fconst = constantFloat(c);
    dsl::Type scalar = typeOf(c.getType(), c);
    scalar.shape.clear();
    int id = static_cast<int>(k_.valueTypes.size());
    k_.valueTypes.push_back(scalar);
    d.results = {id};
    if (!dense) {
      ids_[c.getResult()] = id;
      return;
    }
    dsl::Op &s = emit(to, OpKind::Splat, c);
    s.operands = {id};
    s.results = {define(c.getResult(), c)};
  }

  dsl::Kernel k_;
  llvm::DenseMap<Value, int> ids_;
};

} // namespace

dsl::Kernel exportKernel(KernelOp op) { return Exporter().run(op); }

} // namespace hip::tile
