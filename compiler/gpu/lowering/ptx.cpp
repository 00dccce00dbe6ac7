//===- compiler/gpu/lowering/ptx.cpp - Typed inline PTX -------------------===//
#include "ptx.h"

#include "hip/error.h"

#include <cctype>

using namespace mlir;

namespace hip::detail::gpu {

namespace {
/// The register class of a value of type `t` in an inline PTX constraint.
std::string regClass(Type t) {
  if (t.isInteger(1)) return "b";
  if (t.isInteger(16) || t.isF16() || t.isBF16()) return "h";
  if (t.isInteger(32)) return "r";
  if (t.isInteger(64) || isa<LLVM::LLVMPointerType>(t)) return "l";
  if (t.isF32()) return "f";
  throw InternalError("inline PTX: no register class for this operand type");
}
} // namespace

Ptx &Ptx::out(Type t) {
  outs_.push_back(t);
  return *this;
}
Ptx &Ptx::outs(Type t, size_t n) {
  outs_.insert(outs_.end(), n, t);
  return *this;
}
Ptx &Ptx::in(Value v) {
  ins_.push_back(v);
  inCons_.push_back(regClass(v.getType()));
  return *this;
}
Ptx &Ptx::ins(ValueRange vs) {
  for (Value v : vs) in(v);
  return *this;
}
Ptx &Ptx::tied(Value v, size_t result) {
  ins_.push_back(v);
  inCons_.push_back(std::to_string(result));
  return *this;
}

std::string Ptx::text() const {
  std::string s;
  for (size_t i = 0; i < text_.size(); ++i) {
    char c = text_[i];
    if (c == '$' && i + 2 < text_.size() && (text_[i + 1] == 'o' || text_[i + 1] == 'i') &&
        std::isdigit(static_cast<unsigned char>(text_[i + 2]))) {
      size_t j = i + 2, k = 0;
      while (j < text_.size() && std::isdigit(static_cast<unsigned char>(text_[j])))
        k = k * 10 + size_t(text_[j++] - '0');
      bool result = text_[i + 1] == 'o';
      if (k >= (result ? outs_.size() : ins_.size()))
        throw InternalError("inline PTX: " + text_.substr(i, j - i) + " names no operand in '" +
                            text_ + "'");
      s += "$" + std::to_string(result ? k : outs_.size() + k);
      i = j - 1;
    } else {
      s += c;
    }
  }
  return s;
}

std::string Ptx::constraints() const {
  std::string s;
  auto add = [&](const std::string &c) { s += (s.empty() ? "" : ",") + c; };
  for (Type t : outs_) add("=" + regClass(t));
  for (const std::string &c : inCons_) add(c);
  return s;
}

LLVM::InlineAsmOp Ptx::emit(OpBuilder &b, Location loc, bool pure) {
  TypeRange results;
  Type st;
  if (outs_.size() == 1) {
    results = TypeRange(outs_);
  } else if (outs_.size() > 1) {
    st = LLVM::LLVMStructType::getLiteral(b.getContext(), outs_);
    results = TypeRange(st);
  }
  return LLVM::InlineAsmOp::create(b, loc, results, ValueRange(ins_), text(), constraints(), !pure,
                                   false, LLVM::tailcallkind::TailCallKind::None,
                                   LLVM::AsmDialectAttr(), ArrayAttr());
}

std::vector<Value> Ptx::results(OpBuilder &b, Location loc, LLVM::InlineAsmOp op) const {
  if (outs_.size() == 1) return {op.getResult(0)};
  std::vector<Value> r;
  for (size_t i = 0; i < outs_.size(); ++i)
    r.push_back(
        LLVM::ExtractValueOp::create(b, loc, op.getResult(0), ArrayRef<int64_t>{int64_t(i)}));
  return r;
}

} // namespace hip::detail::gpu
