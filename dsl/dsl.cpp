//===- dsl/dsl.cpp - Tracing DSL calls into tile IR ------------------------===//
//
// Every free function checks its operands' shapes and types, inserts the
// implicit broadcasts (numpy rules, rank <= 2) and emits one op into the
// innermost open block of the current builder.
//
//===----------------------------------------------------------------------===//
#include "hip/dsl/dsl.h"

#include <deque>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <sstream>

namespace hip::dsl {

namespace {
thread_local Builder *gCurrent = nullptr;

std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

Builder &cur(SL loc) {
  if (!gCurrent)
    fail("DSL op called outside of a kernel being traced", loc);
  return *gCurrent;
}
} // namespace

void fail(const std::string &msg, std::source_location loc) {
  throw CompileError(msg, loc);
}

const Type &Val::type() const {
  if (!b_) throw CompileError("use of an empty Val");
  return b_->typeOf(id_);
}

Type ptr(DType pointee) { return Type{DType::ptr, pointee, {}}; }

int64_t Config::operator[](const std::string &key) const {
  auto it = values_.find(key);
  if (it == values_.end())
    throw CompileError("config has no value for '" + key + "' (config: " +
                       str() + ")");
  return it->second;
}
int64_t Config::get(const std::string &key, int64_t dflt) const {
  auto it = values_.find(key);
  return it == values_.end() ? dflt : it->second;
}
std::string Config::str() const {
  std::string s;
  for (auto &[k, v] : values_) s += (s.empty() ? "" : ",") + k + "=" + std::to_string(v);
  return s;
}
Config Config::parse(const std::string &text) {
  Config c;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InvalidArgument("bad config entry '" + item + "': expected key=value");
    try {
      size_t used = 0;
      int64_t v = std::stoll(item.substr(eq + 1), &used);
      if (used != item.size() - eq - 1) throw std::invalid_argument("");
      c.values_[item.substr(0, eq)] = v;
    } catch (const std::exception &) {
      throw InvalidArgument("bad config value in '" + item + "': expected an integer");
    }
  }
  return c;
}

// ---- Builder -----------------------------------------------------------------
Builder::Builder(std::string kernelName) : prev_(gCurrent) {
  kernel_.name = std::move(kernelName);
  blocks_.push_back(&kernel_.body);
  gCurrent = this;
}
Builder::~Builder() { gCurrent = prev_; }
Builder *Builder::current() { return gCurrent; }

int Builder::newValue(Type t) {
  kernel_.valueTypes.push_back(std::move(t));
  return static_cast<int>(kernel_.valueTypes.size()) - 1;
}

Val Builder::arg(const std::string &name, Type t, std::source_location l) {
  if (blocks_.size() != 1 || !kernel_.body.ops.empty())
    fail("kernel arguments must be declared before any op", l);
  if (t.isTile()) fail("kernel argument '" + name + "' must be a scalar or pointer", l);
  if (!t.isPtr() && t.dtype != DType::i32 && t.dtype != DType::i64 &&
      t.dtype != DType::f32)
    fail("scalar kernel argument '" + name + "' must be i32, i64 or f32", l);
  if (t.isPtr() && (t.pointee == DType::ptr || t.pointee == DType::i1))
    fail("pointer argument '" + name + "' must point to a number type", l);
  for (auto &p : kernel_.params)
    if (p.name == name) fail("duplicate kernel argument '" + name + "'", l);
  kernel_.params.push_back({name, t});
  int id = newValue(t);
  kernel_.body.args.push_back(id);
  return Val(this, id);
}

Val Builder::arg(const std::string &name, DType t, int64_t multipleOf,
                 std::source_location l) {
  if (t != DType::i32 && t != DType::i64)
    fail("multipleOf hints apply to i32/i64 arguments ('" + name + "')", l);
  if (multipleOf < 1 || (multipleOf & (multipleOf - 1)))
    fail("multipleOf of '" + name + "' must be a power of two", l);
  Val v = arg(name, scalar(t), l);
  kernel_.params.back().multipleOf = multipleOf;
  return v;
}

void Builder::require(bool cond, const std::string &msg, std::source_location l) {
  if (!cond) fail("config rejected by kernel '" + kernel_.name + "': " + msg, l);
}

Op &Builder::emitOp(OpKind k, std::vector<int> operands,
                    const std::vector<Type> &results, std::source_location loc) {
  Op op;
  op.kind = k;
  op.operands = std::move(operands);
  op.loc = loc;
  for (auto &t : results) op.results.push_back(newValue(t));
  blocks_.back()->ops.push_back(std::move(op));
  return blocks_.back()->ops.back();
}

Val Builder::emit(OpKind k, std::vector<int> operands, Type result,
                  std::source_location loc, std::vector<int64_t> ints) {
  Op &op = emitOp(k, std::move(operands), {result}, loc);
  op.ints = std::move(ints);
  return Val(this, op.results[0]);
}

Val Builder::constant(double v, Type t, std::source_location loc) {
  Op &op = emitOp(OpKind::Constant, {}, {t.withShape({})}, loc);
  op.fconst = v;
  op.iconst = static_cast<int64_t>(v);
  Val c(this, op.results[0]);
  return t.isTile() ? splat(Operand(c, loc), t.shape) : c;
}

Val Builder::toVal(const Operand &o, const Type *like) {
  if (o.val.valid()) {
    if (o.val.builder() != this)
      fail("value from another kernel used here", o.loc);
    return o.val;
  }
  DType d;
  if (!like) d = o.isFloatLit ? DType::f32 : DType::i32;
  else if (like->isPtr()) d = DType::i32;
  else d = like->dtype;
  if (o.isFloatLit && !isFloat(d))
    fail("floating-point literal used with an integer operand", o.loc);
  if (d == DType::i1 && o.num != 0 && o.num != 1)
    fail("literal is not a boolean", o.loc);
  return constant(o.num, Type{d, DType::f32, {}}, o.loc);
}

Kernel Builder::finish() {
  if (blocks_.size() != 1) throw InternalError("unbalanced blocks in builder");
  return std::move(kernel_);
}

// ---- Helpers -------------------------------------------------------------------
namespace {

std::vector<int64_t> broadcastShapes(const std::vector<int64_t> &a,
                                     const std::vector<int64_t> &b, SL loc) {
  size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      fail("shapes " + shapeStr(a) + " and " + shapeStr(b) +
               " cannot be broadcast together",
           loc);
    out[i] = std::max(da, db);
  }
  return out;
}

/// Two operands as Vals of one shape; numbers adopt the other's type.
std::pair<Val, Val> binaryOperands(const Operand &a, const Operand &b) {
  SL loc = a.val.valid() ? a.loc : b.loc;
  Builder &bl = cur(loc);
  Val va, vb;
  if (a.val.valid()) {
    va = bl.toVal(a, nullptr);
    vb = bl.toVal(b, &va.type());
  } else {
    vb = bl.toVal(b, nullptr);
    va = bl.toVal(a, &vb.type());
  }
  auto shape = broadcastShapes(va.shape(), vb.shape(), loc);
  return {broadcast_to(Operand(va, loc), shape),
          broadcast_to(Operand(vb, loc), shape)};
}

Val binary(OpKind k, const Operand &a, const Operand &b) {
  SL loc = a.val.valid() ? a.loc : b.loc;
  auto [va, vb] = binaryOperands(a, b);
  Builder &bl = *va.builder();
  const Type &ta = va.type(), &tb = vb.type();
  if (k == OpKind::Add || k == OpKind::Sub) {
    if (ta.isPtr() || tb.isPtr()) {
      if (ta.isPtr() && tb.isPtr())
        fail("cannot combine two pointers", loc);
      Val p = ta.isPtr() ? va : vb, off = ta.isPtr() ? vb : va;
      if (off.dtype() != DType::i32 && off.dtype() != DType::i64)
        fail(std::string("pointer offset must be i32 or i64, got ") +
                 dtypeName(off.dtype()),
             loc);
      if (k == OpKind::Sub) {
        if (!ta.isPtr()) fail("cannot subtract a pointer from an integer", loc);
        off = -Operand(off, loc);
      }
      return bl.emit(OpKind::AddPtr, {p.id(), off.id()}, p.type(), loc);
    }
  }
  if (ta.isPtr() || tb.isPtr())
    fail(std::string("operator '") + opName(k) + "' is not defined on pointers", loc);
  if (ta.dtype != tb.dtype)
    fail(std::string("operand types differ: ") + ta.str() + " vs " + tb.str() +
             " (insert a cast)",
         loc);
  bool isCmp = k >= OpKind::CmpLT && k <= OpKind::CmpNE;
  if ((k == OpKind::And || k == OpKind::Or || k == OpKind::Xor) && !isInt(ta.dtype))
    fail(std::string("bitwise '") + opName(k) + "' needs integer or i1 operands", loc);
  if (ta.dtype == DType::i1 && !isCmp && k != OpKind::And && k != OpKind::Or &&
      k != OpKind::Xor)
    fail(std::string("arithmetic '") + opName(k) + "' on i1 values", loc);
  Type rt = isCmp ? ta.withDType(DType::i1) : ta;
  return bl.emit(k, {va.id(), vb.id()}, rt, loc);
}

Val unary(OpKind k, const Operand &a, bool floatOnly) {
  Builder &bl = cur(a.loc);
  Val v = bl.toVal(a, nullptr);
  if (v.type().isPtr() || v.dtype() == DType::i1)
    fail(std::string("'") + opName(k) + "' needs a number operand, got " +
             v.type().str(),
         a.loc);
  if (floatOnly && !isFloat(v.dtype()))
    fail(std::string("'") + opName(k) + "' needs a floating-point operand, got " +
             v.type().str(),
         a.loc);
  return bl.emit(k, {v.id()}, v.type(), a.loc);
}

int normAxis(int axis, size_t rank, SL loc) {
  int r = static_cast<int>(rank);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r)
    fail("axis " + std::to_string(axis) + " out of range for a rank-" +
             std::to_string(r) + " tile",
         loc);
  return axis;
}

Val reduce(OpKind k, const Operand &a, int axis) {
  Builder &bl = cur(a.loc);
  Val v = bl.toVal(a, nullptr);
  if (!v.type().isTile()) fail("reduction of a scalar", a.loc);
  if (v.type().isPtr() || v.dtype() == DType::i1)
    fail("reduction needs a number tile, got " + v.type().str(), a.loc);
  axis = normAxis(axis, v.shape().size(), a.loc);
  auto shape = v.shape();
  shape.erase(shape.begin() + axis);
  Type rt = v.type().withShape(shape);
  if (k == OpKind::Argmax) rt = rt.withDType(DType::i32);
  return bl.emit(k, {v.id()}, rt, a.loc, {axis});
}

void checkShapeRank(const std::vector<int64_t> &shape, SL loc) {
  if (shape.size() > 2)
    fail("tiles of rank > 2 are not supported (shape " + shapeStr(shape) + ")", loc);
  for (int64_t d : shape)
    if (d <= 0 || (d & (d - 1)) != 0)
      fail("tile dimensions must be powers of two (shape " + shapeStr(shape) + ")", loc);
}
} // namespace

// ---- Leaves -------------------------------------------------------------------
Val program_id(int axis, SL l) {
  if (axis < 0 || axis > 2) fail("program_id axis must be 0, 1 or 2", l);
  return cur(l).emit(OpKind::ProgramId, {}, scalar(DType::i32), l, {axis});
}
Val num_programs(int axis, SL l) {
  if (axis < 0 || axis > 2) fail("num_programs axis must be 0, 1 or 2", l);
  return cur(l).emit(OpKind::NumPrograms, {}, scalar(DType::i32), l, {axis});
}
Val arange(int64_t start, int64_t end, SL l) {
  if (end <= start) fail("arange needs end > start", l);
  checkShapeRank({end - start}, l);
  if (end > (int64_t(1) << 31)) fail("arange end exceeds i32", l);
  return cur(l).emit(OpKind::Arange, {}, Type{DType::i32, DType::f32, {end - start}},
                     l, {start, end});
}
Val full(std::vector<int64_t> shape, double value, DType t, SL l) {
  checkShapeRank(shape, l);
  if (t == DType::ptr) fail("full() of pointers", l);
  return cur(l).constant(value, Type{t, DType::f32, shape}, l);
}
Val constant(double value, DType t, SL l) {
  if (t == DType::ptr) fail("constant pointer", l);
  return cur(l).constant(value, scalar(t), l);
}

// ---- Shapes ---------------------------------------------------------------------
Val splat(Operand v, std::vector<int64_t> shape) {
  Builder &bl = cur(v.loc);
  Val s = bl.toVal(v, nullptr);
  checkShapeRank(shape, v.loc);
  if (s.type().isTile()) fail("splat of a tile (use broadcast_to)", v.loc);
  return bl.emit(OpKind::Splat, {s.id()}, s.type().withShape(shape), v.loc);
}

Val broadcast_to(Operand v, std::vector<int64_t> shape) {
  Builder &bl = cur(v.loc);
  Val s = bl.toVal(v, nullptr);
  if (s.shape() == shape) return s;
  if (!s.type().isTile()) return splat(Operand(s, v.loc), shape);
  checkShapeRank(shape, v.loc);
  auto src = s.shape();
  if (src.size() > shape.size())
    fail("cannot broadcast " + shapeStr(src) + " to " + shapeStr(shape), v.loc);
  if (src.size() < shape.size()) { // prepend unit dims
    std::vector<int64_t> r(shape.size() - src.size(), 1);
    r.insert(r.end(), src.begin(), src.end());
    s = reshape(Operand(s, v.loc), r);
    src = r;
  }
  for (size_t i = 0; i < src.size(); ++i)
    if (src[i] != shape[i] && src[i] != 1)
      fail("cannot broadcast " + shapeStr(src) + " to " + shapeStr(shape), v.loc);
  return bl.emit(OpKind::Broadcast, {s.id()}, s.type().withShape(shape), v.loc);
}

Val expand_dims(Operand v, int axis) {
  Builder &bl = cur(v.loc);
  Val s = bl.toVal(v, nullptr);
  auto shape = s.shape();
  int r = static_cast<int>(shape.size());
  if (axis < 0) axis += r + 1;
  if (axis < 0 || axis > r) fail("expand_dims axis out of range", v.loc);
  shape.insert(shape.begin() + axis, 1);
  checkShapeRank(shape, v.loc);
  return bl.emit(OpKind::ExpandDims, {s.id()}, s.type().withShape(shape), v.loc,
                 {axis});
}

Val reshape(Operand v, std::vector<int64_t> shape) {
  Builder &bl = cur(v.loc);
  Val s = bl.toVal(v, nullptr);
  checkShapeRank(shape, v.loc);
  if (!s.type().isTile()) fail("reshape of a scalar (use splat)", v.loc);
  Type t = s.type().withShape(shape);
  if (t.numel() != s.type().numel())
    fail("reshape from " + shapeStr(s.shape()) + " to " + shapeStr(shape) +
             " changes the number of elements",
         v.loc);
  return bl.emit(OpKind::Reshape, {s.id()}, t, v.loc);
}

Val trans(Operand v) {
  Builder &bl = cur(v.loc);
  Val s = bl.toVal(v, nullptr);
  if (s.shape().size() != 2) fail("trans needs a rank-2 tile, got " + s.type().str(), v.loc);
  return bl.emit(OpKind::Trans, {s.id()},
                 s.type().withShape({s.shape()[1], s.shape()[0]}), v.loc);
}

// ---- Elementwise -------------------------------------------------------------------
Val operator+(const Operand &a, const Operand &b) { return binary(OpKind::Add, a, b); }
Val operator-(const Operand &a, const Operand &b) { return binary(OpKind::Sub, a, b); }
Val operator*(const Operand &a, const Operand &b) { return binary(OpKind::Mul, a, b); }
Val operator/(const Operand &a, const Operand &b) { return binary(OpKind::Div, a, b); }
Val operator%(const Operand &a, const Operand &b) { return binary(OpKind::Rem, a, b); }
Val operator&(const Operand &a, const Operand &b) { return binary(OpKind::And, a, b); }
Val operator|(const Operand &a, const Operand &b) { return binary(OpKind::Or, a, b); }
Val operator^(const Operand &a, const Operand &b) { return binary(OpKind::Xor, a, b); }
Val operator<(const Operand &a, const Operand &b) { return binary(OpKind::CmpLT, a, b); }
Val operator<=(const Operand &a, const Operand &b) { return binary(OpKind::CmpLE, a, b); }
Val operator>(const Operand &a, const Operand &b) { return binary(OpKind::CmpGT, a, b); }
Val operator>=(const Operand &a, const Operand &b) { return binary(OpKind::CmpGE, a, b); }
Val operator==(const Operand &a, const Operand &b) { return binary(OpKind::CmpEQ, a, b); }
Val operator!=(const Operand &a, const Operand &b) { return binary(OpKind::CmpNE, a, b); }
Val operator-(const Operand &a) { return unary(OpKind::Neg, a, false); }
Val minimum(const Operand &a, const Operand &b) { return binary(OpKind::Min, a, b); }
Val maximum(const Operand &a, const Operand &b) { return binary(OpKind::Max, a, b); }
Val exp(const Operand &a) { return unary(OpKind::Exp, a, true); }
Val exp2(const Operand &a) { return unary(OpKind::Exp2, a, true); }
Val log(const Operand &a) { return unary(OpKind::Log, a, true); }
Val log2(const Operand &a) { return unary(OpKind::Log2, a, true); }
Val sqrt(const Operand &a) { return unary(OpKind::Sqrt, a, true); }
Val abs(const Operand &a) { return unary(OpKind::Abs, a, false); }

Val where(const Operand &cond, const Operand &a, const Operand &b) {
  Builder &bl = cur(cond.loc);
  Val c = bl.toVal(cond, nullptr);
  if (c.dtype() != DType::i1)
    fail("where() condition must be i1, got " + c.type().str(), cond.loc);
  auto [va, vb] = binaryOperands(a, b);
  if (va.type() != vb.type())
    fail("where() branches differ: " + va.type().str() + " vs " + vb.type().str(),
         cond.loc);
  auto shape = broadcastShapes(c.shape(), va.shape(), cond.loc);
  c = broadcast_to(Operand(c, cond.loc), shape);
  va = broadcast_to(Operand(va, cond.loc), shape);
  vb = broadcast_to(Operand(vb, cond.loc), shape);
  return bl.emit(OpKind::Select, {c.id(), va.id(), vb.id()}, va.type(), cond.loc);
}

Val cast(const Operand &a, DType to) {
  Builder &bl = cur(a.loc);
  Val v = bl.toVal(a, nullptr);
  if (v.type().isPtr() || to == DType::ptr)
    fail("cast from or to a pointer is not supported", a.loc);
  if (v.dtype() == to) return v;
  return bl.emit(OpKind::Cast, {v.id()}, v.type().withDType(to), a.loc);
}

// ---- Memory --------------------------------------------------------------------------
namespace {
/// `box`: load_box()'s start coordinates (operands after ptr, mask and
/// other) and the matrix's sources.
Val loadImpl(const Operand &ptrOp, const Operand *mask, const Operand *other,
             std::vector<int> boxStart = {}, std::vector<int64_t> box = {}) {
  Builder &bl = cur(ptrOp.loc);
  Val p = bl.toVal(ptrOp, nullptr);
  if (!p.type().isPtr())
    fail("load() needs a pointer operand, got " + p.type().str(), ptrOp.loc);
  Type rt = Type{p.type().pointee, DType::f32, p.shape()};
  std::vector<int> ops{p.id()};
  if (mask) {
    Val m = broadcast_to(Operand(bl.toVal(*mask, nullptr), mask->loc), p.shape());
    if (m.dtype() != DType::i1)
      fail("load() mask must be i1, got " + m.type().str(), mask->loc);
    ops.push_back(m.id());
    Val o = other ? bl.toVal(*other, &rt) : bl.constant(0, rt.withShape({}), ptrOp.loc);
    if (o.dtype() != rt.dtype)
      fail("load() 'other' type " + o.type().str() + " differs from " + rt.str(),
           other ? other->loc : ptrOp.loc);
    ops.push_back(broadcast_to(Operand(o, ptrOp.loc), p.shape()).id());
  } else if (other) {
    fail("load() 'other' given without a mask", other->loc);
  }
  ops.insert(ops.end(), boxStart.begin(), boxStart.end());
  return bl.emit(OpKind::Load, ops, rt, ptrOp.loc, std::move(box));
}

void storeImpl(const Operand &ptrOp, const Operand &value, const Operand *mask) {
  Builder &bl = cur(ptrOp.loc);
  Val p = bl.toVal(ptrOp, nullptr);
  if (!p.type().isPtr())
    fail("store() needs a pointer operand, got " + p.type().str(), ptrOp.loc);
  Type elem = Type{p.type().pointee, DType::f32, {}};
  Val v = bl.toVal(value, &elem);
  if (v.dtype() != elem.dtype)
    fail(std::string("store() of ") + v.type().str() + " through a pointer to " +
             dtypeName(elem.dtype) + " (insert a cast)",
         value.loc);
  auto shape = broadcastShapes(p.shape(), v.shape(), ptrOp.loc);
  if (shape != p.shape())
    fail("store() value shape " + shapeStr(v.shape()) + " does not fit pointer shape " +
             shapeStr(p.shape()),
         value.loc);
  std::vector<int> ops{p.id(), broadcast_to(Operand(v, value.loc), shape).id()};
  if (mask) {
    Val m = broadcast_to(Operand(bl.toVal(*mask, nullptr), mask->loc), shape);
    if (m.dtype() != DType::i1) fail("store() mask must be i1", mask->loc);
    ops.push_back(m.id());
  }
  bl.emitOp(OpKind::Store, ops, {}, ptrOp.loc);
}

Val dotImpl(const Operand &a, const Operand &b, const Operand *acc);
} // namespace

Val load_box(const Operand &base, const std::vector<Operand> &shape,
             const std::vector<Operand> &strides, const std::vector<Operand> &start,
             std::vector<int64_t> box) {
  Builder &bl = cur(base.loc);
  size_t n = shape.size();
  if (n < 2 || n > 5 || strides.size() != n - 1 || start.size() != n)
    fail("load_box() takes 2 to 5 dimensions: as many sizes and start coordinates, one stride "
         "fewer (the last dimension's is 1)", base.loc);
  if (box.size() != 2 || box[0] < 1 || box[1] < 1)
    fail("load_box() takes a 2-D box of positive sizes", base.loc);
  Type i32 = scalar(DType::i32);
  auto scalarI32 = [&](const Operand &o, const std::string &what) {
    Val v = bl.toVal(o, &i32);
    if (v.type().isTile() || v.dtype() != DType::i32)
      fail("load_box() " + what + " must be an i32 scalar, got " + v.type().str(), o.loc);
    return v;
  };
  std::vector<Val> dims, strideV, startV;
  for (size_t k = 0; k < n; ++k) {
    dims.push_back(scalarI32(shape[k], "size " + std::to_string(k)));
    if (k + 1 < n) strideV.push_back(scalarI32(strides[k], "stride " + std::to_string(k)));
    startV.push_back(scalarI32(start[k], "start " + std::to_string(k)));
  }
  Val baseV = bl.toVal(base, nullptr);
  if (!baseV.type().isPtr() || baseV.type().isTile())
    fail("load_box() 'base' must be a pointer (scalar), got " + baseV.type().str(), base.loc);
  // The leading dimensions are indices (64-bit offsets), the last two the box.
  Val origin = baseV;
  std::optional<Val> inside;
  for (size_t k = 0; k + 2 < n; ++k) {
    origin = origin + cast(startV[k], DType::i64) * cast(strideV[k], DType::i64);
    Val ok = startV[k] < dims[k];
    inside = inside ? *inside & ok : ok;
  }
  Val r = startV[n - 2] + arange(0, box[0], base.loc);
  Val c = startV[n - 1] + arange(0, box[1], base.loc);
  Val ptrs = origin + (expand_dims(r * strideV[n - 2], 1) + expand_dims(c, 0));
  Val mask = expand_dims(r < dims[n - 2], 1) & expand_dims(c < dims[n - 1], 0);
  if (inside) mask = mask & *inside;
  // Where the tensor comes from, for a descriptor the launch can build: a
  // kernel argument's index, or -1 - v for the number v (else a plain load).
  const std::vector<int> &args = bl.kernel().body.args;
  auto source = [&](const Operand &o) -> std::optional<int64_t> {
    if (!o.val.valid())
      return o.num >= 0 ? std::optional<int64_t>(-1 - int64_t(o.num)) : std::nullopt;
    auto it = std::find(args.begin(), args.end(), o.val.id());
    if (it == args.end()) return std::nullopt;
    return int64_t(it - args.begin());
  };
  std::vector<const Operand *> from{&base};
  for (const Operand &o : shape) from.push_back(&o);
  for (const Operand &o : strides) from.push_back(&o);
  std::vector<int64_t> refs;
  for (const Operand *o : from)
    if (auto src = source(*o)) refs.push_back(*src);
  Operand m(mask, base.loc);
  if (refs.size() != from.size() || refs[0] < 0)
    return loadImpl(Operand(ptrs, base.loc), &m, nullptr);
  std::vector<int> starts;
  for (const Val &v : startV) starts.push_back(v.id());
  return loadImpl(Operand(ptrs, base.loc), &m, nullptr, starts, refs);
}

Val load_box(const Operand &base, const Operand &rows, const Operand &cols, const Operand &ld,
             const Operand &r0, const Operand &c0, std::vector<int64_t> box) {
  return load_box(base, {rows, cols}, {ld}, {r0, c0}, std::move(box));
}

Val load(const Operand &p) { return loadImpl(p, nullptr, nullptr); }
Val load(const Operand &p, const Operand &m) { return loadImpl(p, &m, nullptr); }
Val load(const Operand &p, const Operand &m, const Operand &o) { return loadImpl(p, &m, &o); }
void store(const Operand &p, const Operand &v) { storeImpl(p, v, nullptr); }
void store(const Operand &p, const Operand &v, const Operand &m) { storeImpl(p, v, &m); }
Val dot(const Operand &a, const Operand &b) { return dotImpl(a, b, nullptr); }
Val dot(const Operand &a, const Operand &b, const Operand &acc) { return dotImpl(a, b, &acc); }

// ---- Reductions, dot, sort ----------------------------------------------------------
Val sum(const Operand &a, int axis) { return reduce(OpKind::ReduceSum, a, axis); }
Val max(const Operand &a, int axis) { return reduce(OpKind::ReduceMax, a, axis); }
Val min(const Operand &a, int axis) { return reduce(OpKind::ReduceMin, a, axis); }
Val argmax(const Operand &a, int axis) { return reduce(OpKind::Argmax, a, axis); }

namespace {
Val dotImpl(const Operand &a, const Operand &b, const Operand *acc) {
  Builder &bl = cur(a.loc);
  Val va = bl.toVal(a, nullptr), vb = bl.toVal(b, nullptr);
  if (va.shape().size() != 2 || vb.shape().size() != 2)
    fail("dot() needs rank-2 tiles, got " + va.type().str() + " and " + vb.type().str(),
         a.loc);
  if (va.shape()[1] != vb.shape()[0])
    fail("dot() inner dimensions differ: " + va.type().str() + " x " + vb.type().str(),
         a.loc);
  if (va.dtype() != vb.dtype() || !isFloat(va.dtype()))
    fail("dot() operands must both be bf16, f16 or f32, got " + va.type().str() +
             " and " + vb.type().str(),
         a.loc);
  Type rt{DType::f32, DType::f32, {va.shape()[0], vb.shape()[1]}};
  Val vc = acc ? bl.toVal(*acc, &rt) : bl.constant(0, rt, a.loc);
  if (vc.type() != rt)
    fail("dot() accumulator must be " + rt.str() + ", got " + vc.type().str(),
         acc ? acc->loc : a.loc);
  return bl.emit(OpKind::Dot, {va.id(), vb.id(), vc.id()}, rt, a.loc);
}
} // namespace

Val sort(const Operand &a, bool descending) {
  Builder &bl = cur(a.loc);
  Val v = bl.toVal(a, nullptr);
  if (!v.type().isTile() || v.type().isPtr() || v.dtype() == DType::i1)
    fail("sort() needs a number tile, got " + v.type().str(), a.loc);
  return bl.emit(OpKind::Sort, {v.id()}, v.type(), a.loc, {descending ? 1 : 0});
}

std::pair<Val, Val> topk(const Operand &a, int64_t k, TopKOrder order) {
  Builder &bl = cur(a.loc);
  Val v = bl.toVal(a, nullptr);
  if (!v.type().isTile() || v.type().isPtr() || v.dtype() == DType::i1)
    fail("topk() needs a number tile, got " + v.type().str(), a.loc);
  int64_t n = v.shape().back();
  if (k <= 0 || k > n)
    fail("topk() k = " + std::to_string(k) + " must be in [1, " + std::to_string(n) + "]",
         a.loc);
  auto shape = v.shape();
  shape.back() = k;
  Op &op = bl.emitOp(OpKind::TopK, {v.id()},
                     {v.type().withShape(shape), Type{DType::i32, DType::f32, shape}},
                     a.loc);
  op.ints = {k, order == TopKOrder::ByIndex ? 1 : 0};
  return {Val(&bl, op.results[0]), Val(&bl, op.results[1])};
}

Val gather(const Operand &src, const Operand &index) {
  Builder &bl = cur(src.loc);
  Val s = bl.toVal(src, nullptr);
  if (!s.type().isTile() || s.type().isPtr() || s.shape().size() != 1)
    fail("gather() needs a 1-D number tile to read from, got " + s.type().str(), src.loc);
  Val i = bl.toVal(index, nullptr);
  if (i.dtype() != DType::i32 || i.type().isPtr())
    fail("gather() index must be i32, got " + i.type().str(), index.loc);
  if (!i.type().isTile())
    i = splat(Operand(i, index.loc), {1});
  return bl.emit(OpKind::Gather, {s.id(), i.id()}, s.type().withShape(i.shape()), src.loc);
}

// ---- Control flow --------------------------------------------------------------------
namespace {
Val scalarInt(Builder &bl, const Operand &o) {
  Val v = bl.toVal(o, nullptr);
  if (v.type().isTile() || (v.dtype() != DType::i32 && v.dtype() != DType::i64))
    fail("loop bound must be an i32 or i64 scalar, got " + v.type().str(), o.loc);
  return v.dtype() == DType::i32 ? v : cast(Operand(v, o.loc), DType::i32);
}
} // namespace

std::vector<Val> for_range(const Operand &lo, const Operand &hi, const Operand &step,
                           std::vector<Val> init, const LoopBody &body, SL l) {
  Builder &bl = cur(l);
  Val vlo = scalarInt(bl, lo), vhi = scalarInt(bl, hi), vst = scalarInt(bl, step);
  std::vector<int> operands{vlo.id(), vhi.id(), vst.id()};
  std::vector<Type> types;
  for (Val &v : init) {
    if (!v.valid()) fail("for_range: empty carried value", l);
    operands.push_back(v.id());
    types.push_back(v.type());
  }
  auto region = std::make_unique<Block>();
  Block *blk = region.get();
  Val iv(&bl, bl.newValue(scalar(DType::i32)));
  blk->args.push_back(iv.id());
  std::vector<Val> carried;
  for (auto &t : types) {
    carried.emplace_back(&bl, bl.newValue(t));
    blk->args.push_back(carried.back().id());
  }
  bl.pushBlock(blk);
  std::vector<Val> next;
  try {
    next = body(iv, carried);
  } catch (...) {
    bl.popBlock();
    throw;
  }
  if (next.size() != types.size()) {
    bl.popBlock();
    fail("for_range body returned " + std::to_string(next.size()) +
             " values but the loop carries " + std::to_string(types.size()),
         l);
  }
  std::vector<int> yields;
  for (size_t i = 0; i < next.size(); ++i) {
    if (!next[i].valid() || next[i].type() != types[i]) {
      bl.popBlock();
      fail("for_range body returned " +
               (next[i].valid() ? next[i].type().str() : std::string("nothing")) +
               " for carried value " + std::to_string(i) + " of type " +
               types[i].str(),
           l);
    }
    yields.push_back(next[i].id());
  }
  bl.emitOp(OpKind::Yield, yields, {}, l);
  bl.popBlock();
  Op &op = bl.emitOp(OpKind::For, operands, types, l);
  op.regions.push_back(std::move(region));
  std::vector<Val> results;
  for (int r : op.results) results.emplace_back(&bl, r);
  return results;
}

namespace {
std::unique_ptr<Block> traceBranch(Builder &bl,
                                   const std::function<std::vector<Val>()> &fn,
                                   std::vector<Val> &out) {
  auto region = std::make_unique<Block>();
  bl.pushBlock(region.get());
  try {
    out = fn();
  } catch (...) {
    bl.popBlock();
    throw;
  }
  std::vector<int> ids;
  for (Val &v : out) ids.push_back(v.valid() ? v.id() : -1);
  region->ops.push_back(Op{OpKind::Yield, ids, {}, {}, 0, 0, {}, {}});
  bl.popBlock();
  return region;
}
} // namespace

void if_then(const Operand &cond, const std::function<void()> &then, SL l) {
  if_else(cond, [&] { then(); return std::vector<Val>{}; },
          [] { return std::vector<Val>{}; }, l);
}

std::vector<Val> if_else(const Operand &cond,
                         const std::function<std::vector<Val>()> &then,
                         const std::function<std::vector<Val>()> &otherwise, SL l) {
  Builder &bl = cur(l);
  Val c = bl.toVal(cond, nullptr);
  if (c.type().isTile() || c.dtype() != DType::i1)
    fail("if condition must be an i1 scalar, got " + c.type().str(), l);
  std::vector<Val> tv, ev;
  auto tr = traceBranch(bl, then, tv);
  auto er = traceBranch(bl, otherwise, ev);
  if (tv.size() != ev.size())
    fail("if branches return different numbers of values", l);
  std::vector<Type> types;
  for (size_t i = 0; i < tv.size(); ++i) {
    if (!tv[i].valid() || !ev[i].valid() || tv[i].type() != ev[i].type())
      fail("if branches return different types for value " + std::to_string(i), l);
    types.push_back(tv[i].type());
  }
  tr->ops.back().loc = l;
  er->ops.back().loc = l;
  Op &op = bl.emitOp(OpKind::If, {c.id()}, types, l);
  op.regions.push_back(std::move(tr));
  op.regions.push_back(std::move(er));
  std::vector<Val> results;
  for (int r : op.results) results.emplace_back(&bl, r);
  return results;
}

// ---- Registry --------------------------------------------------------------------------
namespace {
/// A deque: registering a kernel must not move the others, since
/// findKernel's references are kept (SpecializedKernel, tuned launches).
std::deque<KernelDef> &registry() {
  static std::deque<KernelDef> r;
  return r;
}
} // namespace

bool registerKernel(KernelDef def) {
  registry().push_back(std::move(def));
  return true;
}
const std::deque<KernelDef> &registeredKernels() { return registry(); }

const KernelDef &findKernel(const std::string &name) {
  for (auto &d : registry())
    if (d.name == name) return d;
  std::string names;
  for (auto &d : registry()) names += (names.empty() ? "" : ", ") + d.name;
  throw InvalidArgument("unknown kernel '" + name + "' (registered: " + names + ")");
}

std::vector<Config> enumerateConfigs(const KernelDef &def) {
  std::vector<Config> out{def.defaults};
  for (auto &[key, values] : def.space) {
    std::vector<Config> next;
    for (auto &c : out)
      for (int64_t v : values) {
        Config n = c;
        n.set(key, v);
        next.push_back(n);
      }
    out = std::move(next);
  }
  std::vector<Config> valid;
  for (auto &c : out)
    if (!def.validate || def.validate(c).empty()) valid.push_back(c);
  return valid;
}

Kernel trace(const KernelDef &def, const Config &config) {
  Config full = def.defaults;
  for (auto &[k, v] : config.values()) {
    bool known = def.defaults.has(k);
    for (auto &s : def.space) known |= s.first == k;
    if (!known)
      throw InvalidArgument("kernel '" + def.name + "' has no config parameter '" + k + "'");
    full.set(k, v);
  }
  if (def.validate) {
    std::string why = def.validate(full);
    if (!why.empty())
      throw InvalidArgument("config " + full.str() + " of kernel '" + def.name +
                            "' rejected: " + why);
  }
  int64_t nw = full.get("num_warps", 4);
  if (nw < 1 || nw > 32 || (nw & (nw - 1)))
    throw InvalidArgument("num_warps must be a power of two in [1, 32], got " +
                          std::to_string(nw));
  Builder b(def.name);
  b.setNumWarps(static_cast<int>(nw));
  def.build(b, full);
  Kernel k = b.finish();
  k.config = full.values();
  return k;
}

} // namespace hip::dsl
