//===- hip/dsl/dsl.h - The embedded C++ tile DSL ----------------*- C++ -*-===//
//
// A kernel is a C++ function `void(Builder &, const Config &)`. Plain C++
// values (config entries, ints) are compile-time constants; `Val` handles are
// device values (scalars and tiles). Device control flow is explicit:
// `for_range` and `if_then`/`if_else`. Every op records the caller's source
// line; a shape or type error throws hip::CompileError naming that line.
//
//   void vecAdd(Builder &b, const Config &c) {
//     Val x = b.arg("x", ptr(DType::f32)), n = b.arg("n", DType::i32);
//     Val offs = program_id(0) * c["BLOCK"] + arange(0, c["BLOCK"]);
//     store(x + offs, load(x + offs, offs < n) * 2.0f, offs < n);
//   }
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/dsl/ir.h"
#include "hip/error.h"

#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

namespace hip::dsl {

class Builder;

/// A device value: scalar or tile. Cheap to copy.
class Val {
public:
  Val() = default;
  Val(Builder *b, int id) : b_(b), id_(id) {}
  bool valid() const { return b_ != nullptr; }
  int id() const { return id_; }
  Builder *builder() const { return b_; }
  const Type &type() const;
  const std::vector<int64_t> &shape() const { return type().shape; }
  DType dtype() const { return type().dtype; }

private:
  Builder *b_ = nullptr;
  int id_ = -1;
};

/// An operand: a Val or a C++ number (becomes a constant of the other
/// operand's type), with the user's source location.
struct Operand {
  Operand(Val v, std::source_location l = std::source_location::current())
      : val(v), loc(l) {}
  Operand(double d, std::source_location l = std::source_location::current())
      : num(d), isFloatLit(true), loc(l) {}
  Operand(float d, std::source_location l = std::source_location::current())
      : num(d), isFloatLit(true), loc(l) {}
  Operand(int i, std::source_location l = std::source_location::current())
      : num(i), loc(l) {}
  Operand(int64_t i, std::source_location l = std::source_location::current())
      : num(static_cast<double>(i)), loc(l) {}
  Val val;
  double num = 0;
  bool isFloatLit = false;
  std::source_location loc;
};

/// Type helper for arguments: ptr(DType::bf16).
Type ptr(DType pointee);
inline Type scalar(DType d) { return Type{d, DType::f32, {}}; }

/// Compile-time configuration of one kernel instance.
class Config {
public:
  Config() = default;
  Config(std::initializer_list<std::pair<const std::string, int64_t>> l)
      : values_(l) {}
  explicit Config(std::map<std::string, int64_t> v) : values_(std::move(v)) {}
  /// The value of `key`; throws CompileError if absent.
  int64_t operator[](const std::string &key) const;
  int64_t get(const std::string &key, int64_t dflt) const;
  bool has(const std::string &key) const { return values_.count(key) != 0; }
  void set(const std::string &key, int64_t v) { values_[key] = v; }
  const std::map<std::string, int64_t> &values() const { return values_; }
  std::string str() const; // "BLOCK=128,num_warps=4"
  /// Parses "k=v,k=v"; throws InvalidArgument on bad syntax.
  static Config parse(const std::string &text);

private:
  std::map<std::string, int64_t> values_;
};

/// Builds a Kernel. Free functions below act on the builder that is tracing
/// (one per thread at a time).
class Builder {
public:
  explicit Builder(std::string kernelName);
  ~Builder();
  Builder(const Builder &) = delete;
  Builder &operator=(const Builder &) = delete;

  /// Declares a kernel argument (pointer or i32/i64/f32 scalar).
  Val arg(const std::string &name, Type t,
          std::source_location l = std::source_location::current());
  Val arg(const std::string &name, DType t,
          std::source_location l = std::source_location::current()) {
    return arg(name, scalar(t), l);
  }
  /// An i32/i64 argument that every launch promises to be a multiple of
  /// `multipleOf` (a power of two); launches that break it are refused.
  Val arg(const std::string &name, DType t, int64_t multipleOf,
          std::source_location l = std::source_location::current());
  /// Throws CompileError at the caller's line unless `cond`.
  void require(bool cond, const std::string &msg,
               std::source_location l = std::source_location::current());
  void setNumWarps(int n) { kernel_.numWarps = n; }

  /// Finished kernel (verified).
  Kernel finish();

  // Internal API used by the free functions.
  Val emit(OpKind k, std::vector<int> operands, Type result,
           std::source_location loc, std::vector<int64_t> ints = {});
  Op &emitOp(OpKind k, std::vector<int> operands,
             const std::vector<Type> &results, std::source_location loc);
  Val constant(double v, Type t, std::source_location loc);
  Val toVal(const Operand &o, const Type *like);
  const Type &typeOf(int id) const { return kernel_.valueTypes.at(id); }
  int newValue(Type t);
  void pushBlock(Block *b) { blocks_.push_back(b); }
  void popBlock() { blocks_.pop_back(); }
  static Builder *current();
  Kernel &kernel() { return kernel_; }

private:
  Kernel kernel_;
  std::vector<Block *> blocks_;
  Builder *prev_;
};

[[noreturn]] void fail(const std::string &msg, std::source_location loc);

// ---- Leaves -----------------------------------------------------------------
using SL = std::source_location;
Val program_id(int axis, SL l = SL::current());
Val num_programs(int axis, SL l = SL::current());
/// [start, end) as an i32 tile of shape [end - start].
Val arange(int64_t start, int64_t end, SL l = SL::current());
Val full(std::vector<int64_t> shape, double value, DType t,
         SL l = SL::current());
Val constant(double value, DType t, SL l = SL::current());

// ---- Shapes ----------------------------------------------------------------
Val splat(Operand v, std::vector<int64_t> shape);
Val broadcast_to(Operand v, std::vector<int64_t> shape);
Val expand_dims(Operand v, int axis);
Val reshape(Operand v, std::vector<int64_t> shape);
Val trans(Operand v);

// ---- Elementwise (numpy broadcasting; numbers adopt the other side's type) --
Val operator+(const Operand &a, const Operand &b);
Val operator-(const Operand &a, const Operand &b);
Val operator*(const Operand &a, const Operand &b);
Val operator/(const Operand &a, const Operand &b);
Val operator%(const Operand &a, const Operand &b);
Val operator&(const Operand &a, const Operand &b);
Val operator|(const Operand &a, const Operand &b);
Val operator^(const Operand &a, const Operand &b);
Val operator<(const Operand &a, const Operand &b);
Val operator<=(const Operand &a, const Operand &b);
Val operator>(const Operand &a, const Operand &b);
Val operator>=(const Operand &a, const Operand &b);
Val operator==(const Operand &a, const Operand &b);
Val operator!=(const Operand &a, const Operand &b);
Val operator-(const Operand &a);
Val minimum(const Operand &a, const Operand &b);
Val maximum(const Operand &a, const Operand &b);
Val exp(const Operand &a);
Val exp2(const Operand &a);
Val log(const Operand &a);
Val log2(const Operand &a);
Val sqrt(const Operand &a);
Val abs(const Operand &a);
Val where(const Operand &cond, const Operand &a, const Operand &b);
Val cast(const Operand &a, DType to);

// ---- Memory ------------------------------------------------------------------
/// Loads through a pointer (scalar or tile); masked-off lanes read `other`
/// (default 0).
Val load(const Operand &ptr);
Val load(const Operand &ptr, const Operand &mask);
Val load(const Operand &ptr, const Operand &mask, const Operand &other);
/// A [box[0], box[1]] box of the row-major matrix of `rows` x `cols`
/// elements at `base`, `ld` elements between rows: element (i, j) is
/// base[(r0 + i) * ld + c0 + j] where r0 + i < rows and c0 + j < cols,
/// else 0 (r0 and c0 are >= 0, i32). The same as load() of those pointers
/// with that mask on every backend; where `base` is a pointer argument of
/// the kernel, `rows`, `cols` and `ld` are i32 arguments or numbers, and the
/// config asks (tma = 1), the GPU backend may copy the box with the tensor
/// memory accelerator (sm_90a), from a descriptor each launch builds.
Val load_box(const Operand &base, const Operand &rows, const Operand &cols, const Operand &ld,
             const Operand &r0, const Operand &c0, std::vector<int64_t> box);
/// The same from a tensor of 2 to 5 dimensions (`shape`; `strides` of all
/// but the last, whose stride is 1): the box spans the last two dimensions
/// from `start`, the leading ones are the indices `start` gives (64-bit
/// offsets); elements outside the shape read 0.
Val load_box(const Operand &base, const std::vector<Operand> &shape,
             const std::vector<Operand> &strides, const std::vector<Operand> &start,
             std::vector<int64_t> box);
void store(const Operand &ptr, const Operand &value);
void store(const Operand &ptr, const Operand &value, const Operand &mask);

// ---- Reductions, dot, sort -------------------------------------------------
Val sum(const Operand &a, int axis);
Val max(const Operand &a, int axis);
Val min(const Operand &a, int axis);
/// Index (i32) of the largest element along `axis` (first on ties).
Val argmax(const Operand &a, int axis);
/// a[M,K] x b[K,N] (bf16/f16 or f32) + acc[M,N] (f32) -> f32 [M,N].
Val dot(const Operand &a, const Operand &b);
Val dot(const Operand &a, const Operand &b, const Operand &acc);
/// Sorts along the last axis (stable).
Val sort(const Operand &a, bool descending = false);
/// Order of topk()'s results.
enum class TopKOrder {
  ByValue, ///< descending values (ties: smaller index first)
  ByIndex, ///< ascending indices: the same k elements as ByValue, in their
           ///< original order; needs no sort of the result (on the GPU a
           ///< radix select, see compiler/gpu/lowering/sort_gather.cpp)
};
/// The k largest along the last axis (ties: the smaller index is the larger),
/// with their i32 indices, in the given order.
std::pair<Val, Val> topk(const Operand &a, int64_t k, TopKOrder order = TopKOrder::ByValue);
/// out[i...] = src[index[i...]] for a 1-D tile `src` and an i32 tile (or
/// scalar) `index` of any shape; the result has the shape of `index`.
/// Indices are clamped into [0, size(src)).
Val gather(const Operand &src, const Operand &index);

// ---- Control flow ----------------------------------------------------------
using LoopBody = std::function<std::vector<Val>(Val iv, std::vector<Val>)>;
/// for (iv = lo; iv < hi; iv += step), with loop-carried values; returns the
/// carried values after the loop. The body returns the next carried values.
std::vector<Val> for_range(const Operand &lo, const Operand &hi,
                           const Operand &step, std::vector<Val> init,
                           const LoopBody &body, SL l = SL::current());
/// Device `if` without results.
void if_then(const Operand &cond, const std::function<void()> &then,
             SL l = SL::current());
/// Device `if` with results; both branches return values of equal types.
std::vector<Val> if_else(const Operand &cond,
                         const std::function<std::vector<Val>()> &then,
                         const std::function<std::vector<Val>()> &otherwise,
                         SL l = SL::current());

// ---- Registry ----------------------------------------------------------------
using KernelFn = std::function<void(Builder &, const Config &)>;

/// A kernel known by name: its builder, config space and default config.
struct KernelDef {
  std::string name;
  std::string description;
  /// Each tunable parameter and the values it may take.
  std::vector<std::pair<std::string, std::vector<int64_t>>> space;
  Config defaults;
  KernelFn build;
  /// Rejects configs the kernel cannot compile (returns a reason or "").
  std::function<std::string(const Config &)> validate;
};

/// Registers a kernel; returns true so it can initialise a static.
/// Registered kernels never move: references to them stay valid.
bool registerKernel(KernelDef def);
const std::deque<KernelDef> &registeredKernels();
/// Throws InvalidArgument listing the registered names if unknown.
const KernelDef &findKernel(const std::string &name);
/// Every config of the space (cartesian product), valid ones only.
std::vector<Config> enumerateConfigs(const KernelDef &def);
/// Traces `def` with `config` (defaults fill missing keys).
Kernel trace(const KernelDef &def, const Config &config);

} // namespace hip::dsl
