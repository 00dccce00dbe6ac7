//===- compiler/tile/TileDialect.cpp - Verifiers, folders, custom syntax --===//
//
// The hand-written parts of the tile dialect: the verifiers (the checks the
// DSL makes while tracing, so that textual IR gets them too), the folders
// that make --canonicalize simplify x + 0, x * 1, constant operands and
// shape ops of constants, and the syntax of tile.for, tile.if and
// tile.kernel.
//
//===----------------------------------------------------------------------===//
#include "TileDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

#include "TileDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "TileTypes.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "TileAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "TileOps.cpp.inc"

namespace hip::tile {

void TileDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "TileTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "TileAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "TileOps.cpp.inc"
      >();
}

// ---- Layout encodings ---------------------------------------------------------

namespace {
bool isPow2(unsigned v) { return v && !(v & (v - 1)); }
/// Whether `order` is a permutation of 0 .. rank-1.
bool isPermutation(llvm::ArrayRef<unsigned> order, size_t rank) {
  if (order.size() != rank) return false;
  llvm::SmallVector<bool> seen(rank, false);
  for (unsigned d : order) {
    if (d >= rank || seen[d]) return false;
    seen[d] = true;
  }
  return true;
}
bool isLayout(Attribute a) {
  return isa<BlockedEncodingAttr, MmaEncodingAttr, DotOperandEncodingAttr, SharedEncodingAttr,
             SliceEncodingAttr>(a);
}
} // namespace

LogicalResult BlockedEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                          ArrayRef<unsigned> sizePerThread,
                                          ArrayRef<unsigned> threadsPerWarp,
                                          ArrayRef<unsigned> warpsPerCTA, ArrayRef<unsigned> order) {
  size_t rank = sizePerThread.size();
  if (rank < 1 || rank > 2 || threadsPerWarp.size() != rank || warpsPerCTA.size() != rank)
    return emitError() << "#tile.blocked needs 1 or 2 dimensions in each list, got "
                       << sizePerThread.size() << ", " << threadsPerWarp.size() << ", "
                       << warpsPerCTA.size();
  unsigned lanes = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (!isPow2(sizePerThread[d]) || !isPow2(threadsPerWarp[d]) || !isPow2(warpsPerCTA[d]))
      return emitError() << "#tile.blocked sizes must be powers of two";
    lanes *= threadsPerWarp[d];
  }
  if (lanes != 32) return emitError() << "#tile.blocked threadsPerWarp must multiply to 32, got " << lanes;
  if (!isPermutation(order, rank))
    return emitError() << "#tile.blocked order must be a permutation of the " << rank
                       << " dimensions";
  return success();
}

LogicalResult MmaEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                      unsigned version, ArrayRef<unsigned> warpsPerCTA) {
  if (version != 2 && version != 3)
    return emitError() << "#tile.mma version must be 2 (mma.sync) or 3 (wgmma), got " << version;
  if (warpsPerCTA.size() != 2 || !isPow2(warpsPerCTA[0]) || !isPow2(warpsPerCTA[1]))
    return emitError() << "#tile.mma warpsPerCTA must be two powers of two";
  if (version == 3 && (warpsPerCTA[1] != 1 || warpsPerCTA[0] % 4 != 0))
    return emitError() << "#tile.mma version 3 (wgmma) takes whole warpgroups along M: "
                          "warpsPerCTA = [4k, 1]";
  return success();
}

LogicalResult DotOperandEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                             unsigned opIdx, Attribute parent, unsigned kWidth) {
  if (opIdx > 1) return emitError() << "#tile.dot_op opIdx must be 0 (A) or 1 (B), got " << opIdx;
  if (!isa<MmaEncodingAttr>(parent))
    return emitError() << "#tile.dot_op parent must be a #tile.mma layout";
  if (kWidth == 0 || !isPow2(kWidth))
    return emitError() << "#tile.dot_op kWidth must be a power of two";
  return success();
}

LogicalResult SharedEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                         unsigned vec, unsigned perPhase, unsigned maxPhase,
                                         ArrayRef<unsigned> order) {
  if (!isPow2(vec) || !isPow2(perPhase) || !isPow2(maxPhase))
    return emitError() << "#tile.shared vec, perPhase and maxPhase must be powers of two";
  if (!isPermutation(order, order.size()) || order.empty() || order.size() > 2)
    return emitError() << "#tile.shared order must be a permutation of 1 or 2 dimensions";
  return success();
}

LogicalResult SliceEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                        unsigned dim, Attribute parent) {
  if (!isLayout(parent) || isa<SharedEncodingAttr>(parent))
    return emitError() << "#tile.slice parent must be a register layout";
  if (dim > 1) return emitError() << "#tile.slice dim must be 0 or 1 (of a 2-D parent), got " << dim;
  return success();
}

// ---- Type helpers -------------------------------------------------------------

Type boolLike(Type t) {
  auto i1 = IntegerType::get(t.getContext(), 1);
  // (The encoding stays: a comparison's result is held where its operands are.)
  if (auto r = dyn_cast<RankedTensorType>(t))
    return RankedTensorType::get(r.getShape(), i1, r.getEncoding());
  return i1;
}

Type pointeeLike(Type t) {
  auto p = dyn_cast<PtrType>(getElementTypeOrSelf(t));
  // Never null: the parser builds result types with this before the verifier
  // reports that `t` is not a pointer.
  if (!p) return NoneType::get(t.getContext());
  if (auto r = dyn_cast<RankedTensorType>(t))
    return RankedTensorType::get(r.getShape(), p.getPointee(), r.getEncoding());
  return p.getPointee();
}

llvm::ArrayRef<int64_t> shapeOf(Type t) {
  if (auto r = dyn_cast<RankedTensorType>(t)) return r.getShape();
  return {};
}

namespace {
/// Whether `t` can be the element of a tile or a pointer: the DSL's i32, i64,
/// f16, bf16, f32 (no i1, no pointers to pointers).
bool isNumber(Type t) {
  return t.isInteger(32) || t.isInteger(64) || t.isF16() || t.isBF16() || t.isF32();
}

/// Tiles the DSL builds (arange, splat, broadcast, reshape, expand_dims) have
/// power-of-two dimensions: the GPU layouts rely on it.
LogicalResult verifyPow2Shape(Operation *op, Type t) {
  for (int64_t d : shapeOf(t))
    if (d <= 0 || (d & (d - 1)) != 0)
      return op->emitOpError("tile dimensions must be powers of two, got ") << t;
  return success();
}

LogicalResult verifySameShape(Operation *op, Type a, Type b, const char *what) {
  if (shapeOf(a) != shapeOf(b))
    return op->emitOpError() << what << " must have the same shape, got " << a << " and " << b;
  return success();
}
} // namespace

LogicalResult PtrType::verify(function_ref<InFlightDiagnostic()> emitError, Type pointee) {
  if (!isNumber(pointee))
    return emitError() << "pointer must point to i32, i64, f16, bf16 or f32, got " << pointee;
  return success();
}

// ---- Constants -------------------------------------------------------------------

namespace {
/// Why `value` cannot be the payload of a tile.constant ("" if it can): a
/// scalar integer/float, or a splat tile (the DSL has no other constants).
std::string constantProblem(Attribute value) {
  if (auto dense = dyn_cast<DenseElementsAttr>(value))
    return dense.isSplat() ? "" : "tile constants must be splats (one value in every element)";
  if (isa<IntegerAttr, FloatAttr>(value)) return "";
  return "value must be an integer, a float or a splat tile";
}

/// The scalar value of a constant operand: itself, or a splat tile's element.
Attribute scalarOf(Attribute a) {
  if (auto s = dyn_cast_or_null<SplatElementsAttr>(a)) return s.getSplatValue<Attribute>();
  return a;
}

/// The scalar constant `v` as a constant of type `t` (a splat for tiles).
Attribute constantOfType(Type t, Attribute v) {
  if (auto s = dyn_cast<ShapedType>(t)) return DenseElementsAttr::get(s, v);
  return v;
}

bool isIntConst(Attribute a, int64_t v) {
  auto i = dyn_cast_or_null<IntegerAttr>(scalarOf(a));
  return i && i.getValue() == APInt(i.getValue().getBitWidth(), v, /*isSigned=*/true);
}
bool isFloatConst(Attribute a, double v) {
  auto f = dyn_cast_or_null<FloatAttr>(scalarOf(a));
  return f && f.getValue().isExactlyValue(v) && f.getValue().isNegative() == std::signbit(v);
}

/// Folds a binary op whose operands are both constants. Integer ops wrap like
/// the backends' i32/i64 arithmetic. Float ops fold only in f32: the
/// backends compute f16/bf16 in f32 and round back, which APFloat
/// arithmetic in the narrow type would not reproduce bit for bit.
template <class IntFn, class FloatFn>
Attribute foldConstants(Type type, Attribute lhs, Attribute rhs, IntFn intFn, FloatFn floatFn) {
  Attribute l = scalarOf(lhs), r = scalarOf(rhs);
  auto li = dyn_cast_or_null<IntegerAttr>(l), ri = dyn_cast_or_null<IntegerAttr>(r);
  if (li && ri) return constantOfType(type, IntegerAttr::get(li.getType(), intFn(li.getValue(), ri.getValue())));
  auto lf = dyn_cast_or_null<FloatAttr>(l), rf = dyn_cast_or_null<FloatAttr>(r);
  if (lf && rf && lf.getType().isF32())
    return constantOfType(type, FloatAttr::get(lf.getType(), floatFn(lf.getValue(), rf.getValue())));
  return {};
}

/// Shape ops of a splat constant are splat constants; a shape op that does
/// not change the type is its operand.
OpFoldResult foldShapeOp(Operation *op, Value src, Attribute srcValue) {
  Type type = op->getResult(0).getType();
  if (auto splat = dyn_cast_or_null<SplatElementsAttr>(srcValue))
    return splat.resizeSplat(cast<ShapedType>(type));
  if (src.getType() == type) return src;
  return {};
}
} // namespace

LogicalResult ConstantOp::verify() {
  std::string why = constantProblem(getValue());
  if (!why.empty()) return emitOpError(why);
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

Operation *TileDialect::materializeConstant(OpBuilder &b, Attribute value, Type type,
                                            Location loc) {
  auto typed = dyn_cast<TypedAttr>(value);
  if (!typed || typed.getType() != type || !constantProblem(value).empty() ||
      isa<PtrType>(getElementTypeOrSelf(type)))
    return nullptr;
  return ConstantOp::create(b, loc, typed);
}

LogicalResult ArangeOp::verify() {
  int64_t start = getStartAttr().getInt(), end = getEndAttr().getInt();
  if (end <= start) return emitOpError("needs end > start, got [") << start << ", " << end << ")";
  if (end > (int64_t(1) << 31)) return emitOpError("end exceeds i32");
  if (shapeOf(getType()) != llvm::ArrayRef<int64_t>{end - start})
    return emitOpError("result must be tensor<") << end - start << "xi32>, got " << getType();
  return verifyPow2Shape(*this, getType());
}

// ---- Shape ops -------------------------------------------------------------------

LogicalResult SplatOp::verify() {
  if (isa<RankedTensorType>(getSrc().getType()))
    return emitOpError("operand must be a scalar (use tile.broadcast for tiles)");
  return verifyPow2Shape(*this, getType());
}

OpFoldResult SplatOp::fold(FoldAdaptor a) {
  if (isa_and_nonnull<IntegerAttr, FloatAttr>(a.getSrc()))
    return DenseElementsAttr::get(getType(), a.getSrc());
  return {};
}

LogicalResult BroadcastOp::verify() {
  auto src = shapeOf(getSrc().getType()), dst = shapeOf(getType());
  bool ok = src.size() == dst.size();
  for (size_t i = 0; ok && i < src.size(); ++i) ok = src[i] == dst[i] || src[i] == 1;
  if (!ok)
    return emitOpError("cannot broadcast ") << getSrc().getType() << " to " << getType()
                                            << " (same rank; dimensions equal or 1)";
  return verifyPow2Shape(*this, getType());
}

OpFoldResult BroadcastOp::fold(FoldAdaptor a) {
  return foldShapeOp(*this, getSrc(), a.getSrc());
}

LogicalResult ExpandDimsOp::verify() {
  llvm::SmallVector<int64_t> want(shapeOf(getSrc().getType()));
  if (getAxis() > want.size())
    return emitOpError("axis ") << getAxis() << " out of range for " << getSrc().getType();
  want.insert(want.begin() + getAxis(), 1);
  if (shapeOf(getType()) != llvm::ArrayRef<int64_t>(want))
    return emitOpError("result shape must be the operand's with a unit dimension at axis ")
           << getAxis() << ", got " << getType();
  return verifyPow2Shape(*this, getType());
}

OpFoldResult ExpandDimsOp::fold(FoldAdaptor a) {
  return foldShapeOp(*this, getSrc(), a.getSrc());
}

LogicalResult ReshapeOp::verify() {
  if (getSrc().getType().getNumElements() != getType().getNumElements())
    return emitOpError("reshape from ") << getSrc().getType() << " to " << getType()
                                        << " changes the number of elements";
  return verifyPow2Shape(*this, getType());
}

OpFoldResult ReshapeOp::fold(FoldAdaptor a) {
  // reshape(reshape(x)) == reshape(x).
  if (auto inner = getSrc().getDefiningOp<ReshapeOp>()) {
    getSrcMutable().assign(inner.getSrc());
    return getResult();
  }
  return foldShapeOp(*this, getSrc(), a.getSrc());
}

LogicalResult TransOp::verify() {
  auto src = shapeOf(getSrc().getType()), dst = shapeOf(getType());
  if (src.size() != 2 || dst.size() != 2 || src[0] != dst[1] || src[1] != dst[0])
    return emitOpError("needs a rank-2 tile and its transposed shape, got ")
           << getSrc().getType() << " -> " << getType();
  return success();
}

OpFoldResult TransOp::fold(FoldAdaptor a) {
  if (auto inner = getSrc().getDefiningOp<TransOp>()) return inner.getSrc();
  // Not foldShapeOp: a square tile's transpose has its source's type but is
  // not its source.
  if (auto splat = dyn_cast_or_null<SplatElementsAttr>(a.getSrc()))
    return splat.resizeSplat(cast<ShapedType>(getType()));
  return {};
}

// ---- Elementwise -------------------------------------------------------------------

OpFoldResult AddOp::fold(FoldAdaptor a) {
  // x + 0 (integers); x + -0.0 (floats: x + +0.0 turns -0.0 into +0.0).
  if (isIntConst(a.getRhs(), 0) || isFloatConst(a.getRhs(), -0.0)) return getLhs();
  return foldConstants(
      getType(), a.getLhs(), a.getRhs(), [](APInt x, APInt y) { return x + y; },
      [](APFloat x, APFloat y) { return x + y; });
}

OpFoldResult SubOp::fold(FoldAdaptor a) {
  if (isIntConst(a.getRhs(), 0) || isFloatConst(a.getRhs(), 0.0)) return getLhs();
  return foldConstants(
      getType(), a.getLhs(), a.getRhs(), [](APInt x, APInt y) { return x - y; },
      [](APFloat x, APFloat y) { return x - y; });
}

OpFoldResult MulOp::fold(FoldAdaptor a) {
  if (isIntConst(a.getRhs(), 1) || isFloatConst(a.getRhs(), 1.0)) return getLhs();
  if (isIntConst(a.getRhs(), 0)) return a.getRhs();
  return foldConstants(
      getType(), a.getLhs(), a.getRhs(), [](APInt x, APInt y) { return x * y; },
      [](APFloat x, APFloat y) { return x * y; });
}

OpFoldResult DivOp::fold(FoldAdaptor a) {
  if (isIntConst(a.getRhs(), 1) || isFloatConst(a.getRhs(), 1.0)) return getLhs();
  return {};
}

OpFoldResult NegOp::fold(FoldAdaptor) {
  if (auto inner = getSrc().getDefiningOp<NegOp>()) return inner.getSrc();
  return {};
}

OpFoldResult SelectOp::fold(FoldAdaptor a) {
  if (getTrueValue() == getFalseValue()) return getTrueValue();
  if (auto c = dyn_cast_or_null<IntegerAttr>(scalarOf(a.getCond())))
    return c.getValue().isZero() ? getFalseValue() : getTrueValue();
  return {};
}

LogicalResult CastOp::verify() {
  return verifySameShape(*this, getSrc().getType(), getType(), "operand and result");
}

namespace {
/// Why `enc` cannot be the register layout of a tile of `rank` dimensions
/// (empty: it can).
std::string registerLayoutError(Attribute enc, size_t rank) {
  if (!enc) return "";
  if (isa<SharedEncodingAttr>(enc))
    return "#tile.shared names a buffer in shared memory, not a register layout";
  if (!isLayout(enc)) return "its encoding is not a tile layout";
  auto ranks = [&](size_t want, const char *what) {
    return rank == want ? std::string()
                        : std::string(what) + " is for rank-" + std::to_string(want) +
                              " tiles, not rank " + std::to_string(rank);
  };
  if (auto b = dyn_cast<BlockedEncodingAttr>(enc))
    return ranks(b.getSizePerThread().size(), "this #tile.blocked");
  if (isa<MmaEncodingAttr>(enc)) return ranks(2, "#tile.mma");
  if (isa<DotOperandEncodingAttr>(enc)) return ranks(2, "#tile.dot_op");
  return ranks(1, "#tile.slice"); // (of a rank-2 parent)
}
} // namespace

LogicalResult ConvertLayoutOp::verify() {
  for (Type t : {getSrc().getType(), getType()}) {
    auto r = cast<RankedTensorType>(t);
    if (std::string why = registerLayoutError(r.getEncoding(), size_t(r.getRank())); !why.empty())
      return emitOpError("cannot hold ") << t << ": " << why;
  }
  return success();
}

OpFoldResult ConvertLayoutOp::fold(FoldAdaptor) {
  if (getSrc().getType() == getType()) return getSrc();
  // A change of a change: one change from the first source.
  if (auto inner = getSrc().getDefiningOp<ConvertLayoutOp>()) {
    if (inner.getSrc().getType() == getType()) return inner.getSrc();
    getSrcMutable().assign(inner.getSrc());
    return getResult();
  }
  return {};
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getSrc().getType() == getType()) return getSrc();
  return {};
}

LogicalResult AddPtrOp::verify() {
  return verifySameShape(*this, getPtr().getType(), getOffset().getType(), "pointer and offset");
}

// ---- Memory ---------------------------------------------------------------------

LogicalResult LoadOp::verify() {
  if (bool(getMask()) != bool(getOther()))
    return emitOpError("takes a mask and `other` (the value of masked-off lanes) together");
  if (getBox().has_value() != !getStart().empty())
    return emitOpError("takes `box` and its start coordinates together");
  if (auto box = getBox()) {
    size_t n = box->size() / 2;
    if (box->size() % 2 || n < 2 || n > 5)
      return emitOpError("`box` names [base, sizes..., strides...] of 2 to 5 dimensions, got ")
             << box->size() << " entries";
    auto t = dyn_cast<RankedTensorType>(getPtr().getType());
    if (!t || t.getRank() != 2 || getStart().size() != n || !getMask())
      return emitOpError("with `box` reads a masked 2-D tile from a start coordinate per "
                         "dimension (")
             << n << ")";
  }
  return success();
}

// ---- Reductions, dot, sort, gather -----------------------------------------------

LogicalResult verifyReduction(Operation *op, int64_t axis) {
  Type src = op->getOperand(0).getType(), res = op->getResult(0).getType();
  llvm::SmallVector<int64_t> want(shapeOf(src));
  if (axis < 0 || axis >= int64_t(want.size()))
    return op->emitOpError("axis ") << axis << " out of range for " << src;
  want.erase(want.begin() + axis);
  if (shapeOf(res) != llvm::ArrayRef<int64_t>(want) || (want.empty() && isa<ShapedType>(res)))
    return op->emitOpError("result must drop dimension ") << axis << " of " << src << ", got "
                                                          << res;
  if (!isa<ArgmaxOp>(op) && getElementTypeOrSelf(res) != getElementTypeOrSelf(src))
    return op->emitOpError("result element type must be the operand's, got ") << res;
  return success();
}

LogicalResult DotOp::verify() {
  auto a = shapeOf(getA().getType()), b = shapeOf(getB().getType()), c = shapeOf(getType());
  if (a.size() != 2 || b.size() != 2 || c.size() != 2)
    return emitOpError("needs rank-2 tiles, got ") << getA().getType() << " x " << getB().getType();
  if (a[1] != b[0])
    return emitOpError("inner dimensions differ: ") << getA().getType() << " x " << getB().getType();
  if (getA().getType().getElementType() != getB().getType().getElementType())
    return emitOpError("operands must have one element type, got ")
           << getA().getType() << " and " << getB().getType();
  if (c[0] != a[0] || c[1] != b[1])
    return emitOpError("accumulator must be ") << a[0] << "x" << b[1] << ", got " << getType();
  return success();
}

LogicalResult TopKOp::verify() {
  auto src = shapeOf(getSrc().getType());
  int64_t k = getKAttr().getInt(), n = src.back();
  if (k < 1 || k > n) return emitOpError("k = ") << k << " must be in [1, " << n << "]";
  llvm::SmallVector<int64_t> want(src);
  want.back() = k;
  if (shapeOf(getValues().getType()) != llvm::ArrayRef<int64_t>(want) ||
      shapeOf(getIndices().getType()) != llvm::ArrayRef<int64_t>(want))
    return emitOpError("results must have the operand's shape with the last dimension k = ") << k;
  if (getValues().getType().getElementType() != getSrc().getType().getElementType())
    return emitOpError("values must have the operand's element type");
  return success();
}

LogicalResult GatherOp::verify() {
  if (getSrc().getType().getRank() != 1)
    return emitOpError("reads from a rank-1 tile, got ") << getSrc().getType();
  if (getType().getElementType() != getSrc().getType().getElementType())
    return emitOpError("result element type must be the source's, got ") << getType();
  return verifySameShape(*this, getIndex().getType(), getType(), "index and result");
}

// ---- Control flow ---------------------------------------------------------------------

namespace {
/// The types a region's tile.yield returns must be `types`.
LogicalResult verifyYield(Operation *op, Region &r, TypeRange types, const char *what) {
  if (r.empty()) return op->emitOpError() << what << " has no block";
  auto y = dyn_cast<YieldOp>(r.front().getTerminator());
  if (!y) return op->emitOpError() << what << " must end with tile.yield";
  if (y.getValues().getTypes() != types)
    return y.emitOpError("yields (") << y.getValues().getTypes() << ") but "
                                     << op->getName() << " needs (" << types << ")";
  return success();
}

ParseResult parseRegionWithTerminator(OpAsmParser &parser, Region &r,
                                      llvm::ArrayRef<OpAsmParser::Argument> args,
                                      OperationState &state) {
  if (parser.parseRegion(r, args)) return failure();
  if (r.empty()) r.emplaceBlock();
  ForOp::ensureTerminator(r, parser.getBuilder(), state.location);
  return success();
}
} // namespace

LogicalResult ForOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != 1 + getInits().size() ||
      !body.getArgument(0).getType().isInteger(32))
    return emitOpError("body must take the i32 induction variable and one argument per "
                       "carried value");
  if (TypeRange(body.getArgumentTypes()).drop_front() != TypeRange(getInits().getTypes()) ||
      getResultTypes() != getInits().getTypes())
    return emitOpError("carried values, body arguments and results must have the same types");
  return verifyYield(*this, getBody(), getResultTypes(), "body");
}

void ForOp::print(OpAsmPrinter &p) {
  Block &body = getBody().front();
  p << " " << body.getArgument(0) << " = " << getLo() << " to " << getHi() << " step "
    << getStep();
  if (!getInits().empty()) {
    p << " iter_args(";
    llvm::interleaveComma(llvm::zip(body.getArguments().drop_front(), getInits()), p,
                          [&](auto it) { p << std::get<0>(it) << " = " << std::get<1>(it); });
    p << ")";
    p.printArrowTypeList(getResultTypes());
  }
  p << " ";
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false,
                /*printBlockTerminators=*/!getInits().empty());
  p.printOptionalAttrDict((*this)->getAttrs());
}

ParseResult ForOp::parse(OpAsmParser &parser, OperationState &result) {
  Type i32 = parser.getBuilder().getI32Type();
  OpAsmParser::Argument iv;
  OpAsmParser::UnresolvedOperand lo, hi, step;
  if (parser.parseArgument(iv) || parser.parseEqual() || parser.parseOperand(lo) ||
      parser.parseKeyword("to") || parser.parseOperand(hi) || parser.parseKeyword("step") ||
      parser.parseOperand(step))
    return failure();
  iv.type = i32;
  llvm::SmallVector<OpAsmParser::Argument> args{iv};
  llvm::SmallVector<OpAsmParser::UnresolvedOperand> inits;
  llvm::SMLoc initsLoc = parser.getCurrentLocation();
  if (succeeded(parser.parseOptionalKeyword("iter_args"))) {
    if (parser.parseAssignmentList(args, inits) || parser.parseArrowTypeList(result.types))
      return failure();
    if (result.types.size() != inits.size())
      return parser.emitError(initsLoc, "iter_args has ")
             << inits.size() << " values but " << result.types.size() << " types";
    for (size_t i = 0; i < inits.size(); ++i) args[i + 1].type = result.types[i];
  }
  if (parser.resolveOperands({lo, hi, step}, i32, result.operands) ||
      parser.resolveOperands(inits, result.types, initsLoc, result.operands))
    return failure();
  if (parseRegionWithTerminator(parser, *result.addRegion(), args, result)) return failure();
  return parser.parseOptionalAttrDict(result.attributes);
}

LogicalResult IfOp::verifyRegions() {
  for (Region *r : {&getThenRegion(), &getElseRegion()})
    if (!r->empty() && r->front().getNumArguments() != 0)
      return emitOpError("branches take no arguments");
  if (failed(verifyYield(*this, getThenRegion(), getResultTypes(), "then branch")))
    return failure();
  return verifyYield(*this, getElseRegion(), getResultTypes(), "else branch");
}

void IfOp::print(OpAsmPrinter &p) {
  p << " " << getCond();
  p.printOptionalArrowTypeList(getResultTypes());
  bool withResults = !getResults().empty();
  p << " ";
  p.printRegion(getThenRegion(), false, withResults);
  Block &other = getElseRegion().front();
  if (withResults || other.getOperations().size() > 1) {
    p << " else ";
    p.printRegion(getElseRegion(), false, withResults);
  }
  p.printOptionalAttrDict((*this)->getAttrs());
}

ParseResult IfOp::parse(OpAsmParser &parser, OperationState &result) {
  OpAsmParser::UnresolvedOperand cond;
  if (parser.parseOperand(cond) ||
      parser.resolveOperand(cond, parser.getBuilder().getI1Type(), result.operands) ||
      parser.parseOptionalArrowTypeList(result.types))
    return failure();
  Region *thenRegion = result.addRegion(), *elseRegion = result.addRegion();
  if (parseRegionWithTerminator(parser, *thenRegion, {}, result)) return failure();
  if (succeeded(parser.parseOptionalKeyword("else"))) {
    if (parseRegionWithTerminator(parser, *elseRegion, {}, result)) return failure();
  } else {
    elseRegion->emplaceBlock();
    IfOp::ensureTerminator(*elseRegion, parser.getBuilder(), result.location);
  }
  return parser.parseOptionalAttrDict(result.attributes);
}

// ---- Kernel ------------------------------------------------------------------------------

namespace {
constexpr llvm::StringLiteral kMultipleOf = "multiple_of";
} // namespace

LogicalResult KernelOp::verify() {
  Block &body = getBody().front();
  size_t n = body.getNumArguments();
  if (getParamNames().size() != n || getMultipleOf().size() != n)
    return emitOpError("needs one name and one multiple_of per argument");
  llvm::StringSet<> seen;
  for (size_t i = 0; i < n; ++i) {
    auto name = dyn_cast<StringAttr>(getParamNames()[i]);
    Type t = body.getArgument(i).getType();
    int64_t m = getMultipleOf()[i];
    if (!name || name.getValue().empty() || !seen.insert(name.getValue()).second)
      return emitOpError("argument ") << i << " needs a unique, non-empty name";
    if (!isa<PtrType>(t) && !t.isInteger(32) && !t.isInteger(64) && !t.isF32())
      return emitOpError("argument '") << name.getValue()
                                       << "' must be an i32, i64 or f32 scalar or a pointer, got "
                                       << t;
    if (m < 1 || (m & (m - 1)) != 0 || (m > 1 && !t.isInteger(32) && !t.isInteger(64)))
      return emitOpError("multiple_of of '")
             << name.getValue() << "' must be a power of two, and 1 unless it is an integer";
  }
  for (NamedAttribute kv : getConfig())
    if (!isa<IntegerAttr>(kv.getValue()))
      return emitOpError("config value '") << kv.getName().getValue() << "' must be an integer";
  return success();
}

void KernelOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  for (auto [arg, name] : llvm::zip(region.getArguments(), getParamNames()))
    if (auto s = dyn_cast<StringAttr>(name)) setName(arg, s.getValue());
}

void KernelOp::print(OpAsmPrinter &p) {
  // Integers print without their type (`BLOCK = 256`, `multiple_of = 8`): the
  // parser reads untyped integer attributes as i64, which they are.
  auto printInt = [&](llvm::StringRef key, Attribute v) {
    p.printKeywordOrString(key);
    p << " = ";
    if (auto i = dyn_cast<IntegerAttr>(v); i && i.getType().isInteger(64)) p << i.getInt();
    else p.printAttribute(v);
  };
  p << " ";
  p.printSymbolName(getSymName());
  p << "(";
  Block &body = getBody().front();
  for (unsigned i = 0; i < body.getNumArguments(); ++i) {
    BlockArgument arg = body.getArgument(i);
    if (i) p << ", ";
    p << arg << ": " << arg.getType();
    if (int64_t m = i < getMultipleOf().size() ? getMultipleOf()[i] : 1; m != 1) {
      p << " {";
      printInt(kMultipleOf, IntegerAttr::get(IntegerType::get(getContext(), 64), m));
      p << "}";
    }
  }
  p << ") num_warps(" << getNumWarps() << ") config {";
  llvm::interleaveComma(getConfig(), p, [&](NamedAttribute kv) { printInt(kv.getName(), kv.getValue()); });
  p << "}";
  p.printOptionalAttrDictWithKeyword((*this)->getAttrs(),
                                     {getSymNameAttrName(), getParamNamesAttrName(),
                                      getMultipleOfAttrName(), getNumWarpsAttrName(),
                                      getConfigAttrName()});
  p << " ";
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false, /*printBlockTerminators=*/false);
}

ParseResult KernelOp::parse(OpAsmParser &parser, OperationState &result) {
  Builder &b = parser.getBuilder();
  StringAttr name;
  llvm::SmallVector<OpAsmParser::Argument> args;
  if (parser.parseSymbolName(name) ||
      parser.parseArgumentList(args, OpAsmParser::Delimiter::Paren, /*allowType=*/true,
                               /*allowAttrs=*/true))
    return failure();
  // The SSA names of the arguments are the kernel's argument names.
  llvm::SmallVector<llvm::StringRef> names;
  llvm::SmallVector<int64_t> multiples;
  for (OpAsmParser::Argument &a : args) {
    names.push_back(a.ssaName.name.drop_front()); // drop the '%'
    int64_t m = 1;
    for (NamedAttribute kv : a.attrs ? a.attrs : b.getDictionaryAttr({})) {
      auto v = dyn_cast<IntegerAttr>(kv.getValue());
      if (kv.getName() != kMultipleOf || !v)
        return parser.emitError(a.ssaName.location,
                                "the only argument attribute is an integer 'multiple_of'");
      m = v.getInt();
    }
    multiples.push_back(m);
    a.attrs = {};
  }
  int64_t numWarps = 0;
  DictionaryAttr config;
  if (parser.parseKeyword("num_warps") || parser.parseLParen() ||
      parser.parseInteger(numWarps) || parser.parseRParen() || parser.parseKeyword("config") ||
      parser.parseAttribute(config) || parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();
  OperationName opName = result.name;
  result.addAttribute(getSymNameAttrName(opName), name);
  result.addAttribute(getParamNamesAttrName(opName), b.getStrArrayAttr(names));
  result.addAttribute(getMultipleOfAttrName(opName), b.getDenseI64ArrayAttr(multiples));
  result.addAttribute(getNumWarpsAttrName(opName), b.getI32IntegerAttr(int32_t(numWarps)));
  result.addAttribute(getConfigAttrName(opName), config);
  Region *body = result.addRegion();
  if (parser.parseRegion(*body, args)) return failure();
  if (body->empty()) return parser.emitError(parser.getCurrentLocation(), "kernel has no body");
  return success();
}

} // namespace hip::tile
