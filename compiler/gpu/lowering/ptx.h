//===- compiler/gpu/lowering/ptx.h - Typed inline PTX ------------*- C++ -*-===//
//
// A small typed builder for inline PTX, for what the NVVM dialect has no op
// for here (cp.async with a source size, ldmatrix, mma.sync and wgmma on
// packed registers, predicated vector ld/st.global, shfl/redux, waits and
// fences). The statement's text names its operands $o<k> (the k-th result)
// and $i<k> (the k-th input); the builder numbers them the way LLVM wants
// (results first) and derives every constraint from the operand's type, so
// no call site writes a constraint string:
//   i1 -> b (a predicate), i16 -> h, i32 -> r, i64 -> l, f32 -> f;
// a result is "=" + that; tied(v, k) passes v in result k's register.
//   Ptx("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {$o0,$o1}, [$i0];")
//       .outs(i32, 2).in(addr).emit(b, loc)
//
//===----------------------------------------------------------------------===//
#pragma once

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#include <string>
#include <vector>

namespace hip::detail::gpu {

class Ptx {
public:
  explicit Ptx(std::string text) : text_(std::move(text)) {}

  /// One more result of type `t` (`n` more).
  Ptx &out(mlir::Type t);
  Ptx &outs(mlir::Type t, size_t n);
  /// One more input (each of `vs`).
  Ptx &in(mlir::Value v);
  Ptx &ins(mlir::ValueRange vs);
  /// An input that shares result `result`'s register (read, then written).
  Ptx &tied(mlir::Value v, size_t result);

  /// The statement, with side effects unless `pure` (LLVM may then move or
  /// drop it). Its results: results(op).
  mlir::LLVM::InlineAsmOp emit(mlir::OpBuilder &b, mlir::Location loc, bool pure = false);
  /// The results of a statement this builder emitted.
  std::vector<mlir::Value> results(mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::LLVM::InlineAsmOp op) const;

  /// The text with $o<k> / $i<k> numbered, and the constraints (for tests).
  std::string text() const;
  std::string constraints() const;

private:
  std::string text_;
  std::vector<mlir::Type> outs_;
  std::vector<mlir::Value> ins_;
  std::vector<std::string> inCons_;
};

} // namespace hip::detail::gpu
