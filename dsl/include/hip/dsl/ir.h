//===- hip/dsl/ir.h - The tile IR that DSL kernels are traced into -*- C++ -*-===//
//
// A kernel is traced once per config into a `Kernel`: a list of ops in nested
// blocks (SSA, structured control flow). Tiles have static shapes (rank 0-2)
// and an element type; every op remembers the user's source line. The
// compiler imports it once into the MLIR tile dialect, which the backends
// lower (compiler/); the kernel cache hashes its text. It has no MLIR
// dependency.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hip::dsl {

enum class DType : uint8_t { i1, i32, i64, f16, bf16, f32, ptr };

const char *dtypeName(DType t);
/// Size in bytes of one element (ptr: 8, i1: 1).
int dtypeBytes(DType t);
bool isFloat(DType t);
bool isInt(DType t); // i1, i32, i64

/// Type of a value: a scalar (empty shape) or a tile. A pointer carries the
/// type it points to.
struct Type {
  DType dtype = DType::f32;
  DType pointee = DType::f32; // meaningful when dtype == ptr
  std::vector<int64_t> shape;

  bool isTile() const { return !shape.empty(); }
  bool isPtr() const { return dtype == DType::ptr; }
  int64_t numel() const;
  Type withShape(std::vector<int64_t> s) const;
  Type withDType(DType d) const;
  bool operator==(const Type &o) const;
  bool operator!=(const Type &o) const { return !(*this == o); }
  std::string str() const;
};

enum class OpKind : uint8_t {
  // Leaves.
  ProgramId, NumPrograms, Constant, Arange,
  // Shape.
  Splat, Broadcast, ExpandDims, Reshape, Trans,
  // Elementwise.
  Add, Sub, Mul, Div, Rem, Min, Max, And, Or, Xor,
  CmpLT, CmpLE, CmpGT, CmpGE, CmpEQ, CmpNE,
  Neg, Exp, Exp2, Log, Log2, Sqrt, Abs,
  Select, Cast, AddPtr,
  // Memory.
  Load, Store,
  // Reductions and friends.
  ReduceSum, ReduceMax, ReduceMin, Argmax, Dot, Sort, TopK, Gather,
  // Control flow.
  For, If, Yield,
  // A layout change (GPU passes; the DSL never traces one).
  ConvertLayout,
};

const char *opName(OpKind k);

/// Whether `k` is one of the elementwise kinds (Add through AddPtr).
inline bool isElementwise(OpKind k) { return k >= OpKind::Add && k <= OpKind::AddPtr; }

/// Whether `k` is one of the reductions along an axis (ReduceSum through Argmax).
inline bool isReduction(OpKind k) { return k >= OpKind::ReduceSum && k <= OpKind::Argmax; }

struct Block;

/// One operation. Results are value ids; operands are value ids.
struct Op {
  OpKind kind;
  std::vector<int> operands;
  std::vector<int> results;
  /// Kind-specific integer attributes (axis, k, descending flag...).
  std::vector<int64_t> ints;
  /// Constant payload (Constant ops).
  double fconst = 0;
  int64_t iconst = 0;
  /// Regions: For has one (args: iv, carried...), If has then/else.
  std::vector<std::unique_ptr<Block>> regions;
  SourceLoc loc; // where the kernel's author wrote the op
};

struct Block {
  std::vector<int> args;
  std::vector<Op> ops;
};

/// A kernel argument: a pointer, a runtime scalar.
struct Param {
  std::string name;
  Type type; // scalar: i32/i64/f32 or ptr
  /// Integer arguments: the value is a multiple of this (a promise the
  /// kernel makes, checked at every launch; lets loads be vectorised).
  /// Pointer arguments are always 16-byte aligned (also checked).
  int64_t multipleOf = 1;
};

/// A traced kernel: parameters, body, value types.
struct Kernel {
  std::string name;
  std::vector<Param> params;
  Block body; // args = one value per param
  std::vector<Type> valueTypes;
  int numWarps = 4;
  /// Compile-time config the kernel was traced with (printed, hashed).
  std::map<std::string, int64_t> config;

  const Type &typeOf(int v) const { return valueTypes.at(v); }
  /// Textual form (stable: the kernel cache's key is computed from it).
  std::string print() const;
};

} // namespace hip::dsl
