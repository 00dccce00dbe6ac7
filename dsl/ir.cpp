//===- dsl/ir.cpp - Tile IR types and printer ------------------------------===//
#include "hip/dsl/ir.h"

#include <sstream>

namespace hip::dsl {

const char *dtypeName(DType t) {
  switch (t) {
  case DType::i1: return "i1";
  case DType::i32: return "i32";
  case DType::i64: return "i64";
  case DType::f16: return "f16";
  case DType::bf16: return "bf16";
  case DType::f32: return "f32";
  case DType::ptr: return "ptr";
  }
  return "?";
}

int dtypeBytes(DType t) {
  switch (t) {
  case DType::i1: return 1;
  case DType::f16: case DType::bf16: return 2;
  case DType::i32: case DType::f32: return 4;
  case DType::i64: case DType::ptr: return 8;
  }
  return 0;
}

bool isFloat(DType t) {
  return t == DType::f16 || t == DType::bf16 || t == DType::f32;
}
bool isInt(DType t) {
  return t == DType::i1 || t == DType::i32 || t == DType::i64;
}

int64_t Type::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}
Type Type::withShape(std::vector<int64_t> s) const {
  Type t = *this;
  t.shape = std::move(s);
  return t;
}
Type Type::withDType(DType d) const {
  Type t = *this;
  t.dtype = d;
  return t;
}
bool Type::operator==(const Type &o) const {
  return dtype == o.dtype && shape == o.shape &&
         (dtype != DType::ptr || pointee == o.pointee);
}

std::string Type::str() const {
  std::string elem = isPtr() ? std::string("!ptr<") + dtypeName(pointee) + ">"
                             : dtypeName(dtype);
  if (shape.empty()) return elem;
  std::string s = "tile<";
  for (int64_t d : shape) s += std::to_string(d) + "x";
  return s + elem + ">";
}

const char *opName(OpKind k) {
  static const char *names[] = {
      "program_id", "num_programs", "constant", "arange", "splat", "broadcast",
      "expand_dims", "reshape", "trans", "add", "sub", "mul", "div", "rem",
      "min", "max", "and", "or", "xor", "cmp_lt", "cmp_le", "cmp_gt",
      "cmp_ge", "cmp_eq", "cmp_ne", "neg", "exp", "exp2", "log", "log2",
      "sqrt", "abs", "select", "cast", "addptr", "load", "store", "sum",
      "reduce_max", "reduce_min", "argmax", "dot", "sort", "topk", "gather", "for",
      "if", "yield", "convert_layout"};
  return names[static_cast<int>(k)];
}

namespace {
struct Printer {
  const Kernel &k;
  std::ostringstream os;
  void values(const std::vector<int> &vs) {
    for (size_t i = 0; i < vs.size(); ++i)
      os << (i ? ", " : "") << "%" << vs[i];
  }
  void types(const std::vector<int> &vs) {
    for (size_t i = 0; i < vs.size(); ++i)
      os << (i ? ", " : "") << k.typeOf(vs[i]).str();
  }
  void block(const Block &b, int indent) {
    for (const Op &op : b.ops) {
      os << std::string(indent, ' ');
      if (!op.results.empty()) {
        values(op.results);
        os << " = ";
      }
      os << "tile." << opName(op.kind);
      if (op.kind == OpKind::Constant) {
        if (isFloat(k.typeOf(op.results[0]).dtype)) os << " " << op.fconst;
        else os << " " << op.iconst;
      }
      if (!op.operands.empty()) {
        os << " ";
        values(op.operands);
      }
      if (!op.ints.empty()) {
        os << " [";
        for (size_t i = 0; i < op.ints.size(); ++i)
          os << (i ? ", " : "") << op.ints[i];
        os << "]";
      }
      if (!op.results.empty()) {
        os << " : ";
        types(op.results);
      } else if (op.kind == OpKind::Store || op.kind == OpKind::Yield) {
        os << " : ";
        types(op.operands);
      }
      if (!op.regions.empty()) {
        for (auto &r : op.regions) {
          os << " {";
          if (!r->args.empty()) {
            os << " ^(";
            for (size_t i = 0; i < r->args.size(); ++i)
              os << (i ? ", " : "") << "%" << r->args[i] << ": "
                 << k.typeOf(r->args[i]).str();
            os << ")";
          }
          os << "\n";
          block(*r, indent + 2);
          os << std::string(indent, ' ') << "}";
        }
      }
      os << "\n";
    }
  }
};
} // namespace

std::string Kernel::print() const {
  Printer p{*this, {}};
  p.os << "tile.kernel @" << name << "(";
  for (size_t i = 0; i < params.size(); ++i)
    p.os << (i ? ", " : "") << "%" << body.args[i] << " " << params[i].name
         << ": " << params[i].type.str()
         << (params[i].multipleOf > 1 ? " {multiple_of = " + std::to_string(params[i].multipleOf) + "}"
                                      : std::string());
  p.os << ") attributes {num_warps = " << numWarps;
  for (auto &[key, v] : config)
    if (key != "num_warps") p.os << ", " << key << " = " << v;
  p.os << "} {\n";
  p.block(body, 2);
  p.os << "}\n";
  return p.os.str();
}

} // namespace hip::dsl
