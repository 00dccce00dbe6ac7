//===- compiler/tile/tile_import.cpp - dsl::Kernel -> tile dialect --------===//
//
// Each dsl::Op becomes the op named "tile." + dsl::opName(kind) (the
// mnemonics in TileOps.td are the DSL's op names), built generically from
// its operands, result types and the attributes of its kind, at the user's
// source location. The verifier, not this file, checks the result.
//
//===----------------------------------------------------------------------===//
#include "tile.h"
#include "../lowering.h"

#include "hip/error.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using hip::dsl::DType;
using hip::dsl::OpKind;

namespace hip::tile {

namespace {

Type elementType(MLIRContext *ctx, DType t, DType pointee) {
  Type e = hip::detail::scalarType(ctx, t == DType::ptr ? pointee : t);
  if (!e) throw InternalError("unknown dtype in tile import");
  return t == DType::ptr ? Type(PtrType::get(ctx, e)) : e;
}

class Importer {
public:
  Importer(const dsl::Kernel &k, MLIRContext &ctx)
      : k_(k), ctx_(&ctx), b_(&ctx), vals_(k.valueTypes.size()) {}

  OwningOpRef<ModuleOp> run() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(ctx_));
    b_.setInsertionPointToEnd(module->getBody());
    llvm::SmallVector<llvm::StringRef> names;
    llvm::SmallVector<int64_t> multiples;
    for (const dsl::Param &p : k_.params) {
      names.push_back(p.name);
      multiples.push_back(p.multipleOf);
    }
    llvm::SmallVector<NamedAttribute> config;
    for (auto &[key, v] : k_.config) config.push_back(b_.getNamedAttr(key, b_.getI64IntegerAttr(v)));
    // The kernel is located where its first op is (the kernel function).
    Location loc = k_.body.ops.empty() ? Location(UnknownLoc::get(ctx_)) : locOf(k_.body.ops[0]);
    auto kernel = KernelOp::create(b_, loc, llvm::StringRef(k_.name), b_.getStrArrayAttr(names),
                                   llvm::ArrayRef<int64_t>(multiples), uint32_t(k_.numWarps),
                                   b_.getDictionaryAttr(config));
    Block *body = &kernel.getBody().emplaceBlock();
    block(k_.body, *body);
    return module;
  }

private:
  Type typeOf(int id) {
    const dsl::Type &t = k_.typeOf(id);
    Type elem = elementType(ctx_, t.dtype, t.pointee);
    if (!t.isTile()) return elem;
    return RankedTensorType::get(t.shape, elem);
  }

  Location locOf(const dsl::Op &op) { return hip::detail::locOf(ctx_, op); }

  Value val(int id) {
    if (id < 0 || size_t(id) >= vals_.size() || !vals_[id])
      throw InternalError("tile import of kernel '" + k_.name + "': value %" +
                          std::to_string(id) + " used before its definition");
    return vals_[id];
  }

  /// Imports `blk` into `into`, whose arguments become blk.args.
  void block(const dsl::Block &blk, Block &into) {
    for (int a : blk.args) vals_.at(a) = into.addArgument(typeOf(a), into.getParent()->getLoc());
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToEnd(&into);
    for (const dsl::Op &op : blk.ops) this->op(op);
  }

  /// The name of the tile op of `kind` (interned once per kind).
  OperationName nameOf(OpKind kind) {
    auto &slot = names_[static_cast<size_t>(kind)];
    if (!slot) slot = OperationName(std::string("tile.") + dsl::opName(kind), ctx_);
    return *slot;
  }

  void op(const dsl::Op &op) {
    OperationState st(locOf(op), nameOf(op.kind));
    for (int v : op.operands) st.operands.push_back(val(v));
    for (int r : op.results) st.types.push_back(typeOf(r));
    attributes(op, st);
    for (size_t i = 0; i < op.regions.size(); ++i) st.addRegion();
    Operation *created = b_.create(st);
    for (size_t i = 0; i < op.regions.size(); ++i) {
      Block &blk = created->getRegion(i).emplaceBlock();
      block(*op.regions[i], blk);
    }
    for (size_t i = 0; i < op.results.size(); ++i) vals_.at(op.results[i]) = created->getResult(i);
  }

  void attributes(const dsl::Op &op, OperationState &st) {
    auto intAt = [&](size_t i) {
      if (i >= op.ints.size())
        throw InternalError(std::string("tile import: '") + dsl::opName(op.kind) +
                            "' lacks integer attribute " + std::to_string(i));
      return op.ints[i];
    };
    switch (op.kind) {
    case OpKind::ProgramId: case OpKind::NumPrograms: case OpKind::ExpandDims:
    case OpKind::ReduceSum: case OpKind::ReduceMax: case OpKind::ReduceMin: case OpKind::Argmax:
      st.addAttribute("axis", b_.getI32IntegerAttr(int32_t(intAt(0))));
      break;
    case OpKind::Arange:
      st.addAttribute("start", b_.getI64IntegerAttr(intAt(0)));
      st.addAttribute("end", b_.getI64IntegerAttr(intAt(1)));
      break;
    case OpKind::Sort:
      if (intAt(0)) st.addAttribute("descending", b_.getUnitAttr());
      break;
    case OpKind::TopK:
      st.addAttribute("k", b_.getI64IntegerAttr(intAt(0)));
      if (intAt(1)) st.addAttribute("index_order", b_.getUnitAttr());
      break;
    case OpKind::Load: {
      // (load_box: ptr, mask, other, then the box's start coordinates)
      int32_t masked = op.operands.size() > 1 ? 1 : 0;
      int32_t starts = op.ints.empty() ? 0 : int32_t(op.operands.size()) - 3;
      st.addAttribute("operandSegmentSizes",
                      b_.getDenseI32ArrayAttr({1, masked, masked, starts}));
      if (!op.ints.empty()) st.addAttribute("box", b_.getDenseI64ArrayAttr(op.ints));
      break;
    }
    case OpKind::Constant: {
      Type t = st.types.empty() ? Type() : st.types[0];
      if (auto it = dyn_cast_or_null<IntegerType>(t))
        st.addAttribute("value", IntegerAttr::get(it, it.getWidth() == 1 ? op.iconst != 0
                                                                           : op.iconst));
      else if (auto ft = dyn_cast_or_null<FloatType>(t))
        st.addAttribute("value", FloatAttr::get(ft, op.fconst));
      else
        throw InternalError("tile import: constant of a non-number type");
      break;
    }
    default: break;
    }
  }

  const dsl::Kernel &k_;
  MLIRContext *ctx_;
  OpBuilder b_;
  std::vector<Value> vals_;
  std::optional<OperationName> names_[static_cast<size_t>(OpKind::ConvertLayout) + 1];
};

} // namespace

OwningOpRef<ModuleOp> importKernel(const dsl::Kernel &k, MLIRContext &ctx) {
  return Importer(k, ctx).run();
}

} // namespace hip::tile
