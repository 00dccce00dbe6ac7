//===- compiler/mlir_util.cpp - Context set-up and scalar semantics -------===//
//
// The MLIR context every compilation uses, and the scalar meaning of each
// elementwise tile op (shared by the GPU and CPU backends so that both give
// the same results).
//
//===----------------------------------------------------------------------===//
#include "lowering.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace mlir;
using hip::dsl::DType;
using hip::dsl::OpKind;

namespace hip::detail {

std::string formatLoc(Location loc) {
  if (auto fl = loc->findInstanceOf<FileLineColLoc>())
    return fl.getFilename().str() + ":" + std::to_string(fl.getLine());
  return "";
}

DiagnosticCollector::DiagnosticCollector(MLIRContext *ctx)
    : handler_(ctx, [this](Diagnostic &d) {
        add(d, "");
        for (Diagnostic &note : d.getNotes()) add(note, "  note: ");
        return success();
      }) {}

void DiagnosticCollector::add(Diagnostic &d, const char *prefix) {
  std::string where = formatLoc(d.getLocation());
  if (!text_.empty()) text_ += "\n";
  text_ += prefix + (where.empty() ? std::string() : where + ": ") + d.str();
}

void buildRegistry(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, scf::SCFDialect, LLVM::LLVMDialect,
                  NVVM::NVVMDialect, math::MathDialect, cf::ControlFlowDialect,
                  func::FuncDialect>();
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

std::unique_ptr<MLIRContext> createContext() {
  DialectRegistry registry;
  buildRegistry(registry);
  auto ctx = std::make_unique<MLIRContext>(registry, MLIRContext::Threading::DISABLED);
  ctx->loadAllAvailableDialects();
  return ctx;
}

Type scalarType(MLIRContext *ctx, DType t) {
  switch (t) {
  case DType::i1: return IntegerType::get(ctx, 1);
  case DType::i32: return IntegerType::get(ctx, 32);
  case DType::i64: return IntegerType::get(ctx, 64);
  case DType::f16: return Float16Type::get(ctx);
  case DType::bf16: return BFloat16Type::get(ctx);
  case DType::f32: return Float32Type::get(ctx);
  case DType::ptr: return {};
  }
  return {};
}

Type elementType(MLIRContext *ctx, DType t, unsigned addrSpace) {
  if (t == DType::ptr) return LLVM::LLVMPointerType::get(ctx, addrSpace);
  return scalarType(ctx, t);
}

Location locOf(MLIRContext *ctx, const dsl::Op &op) {
  const char *file = op.loc.file_name();
  if (!file || !*file) return UnknownLoc::get(ctx);
  return FileLineColLoc::get(ctx, std::filesystem::path(file).filename().string(),
                             op.loc.line(), op.loc.column());
}

Location locOf(MLIRContext *ctx, Operation *op) {
  auto fl = op->getLoc()->findInstanceOf<FileLineColLoc>();
  if (!fl || fl.getFilename().getValue().empty()) return UnknownLoc::get(ctx);
  return FileLineColLoc::get(ctx, std::filesystem::path(fl.getFilename().str()).filename().string(),
                             fl.getLine(), fl.getColumn());
}

Value constInt(OpBuilder &b, Location loc, Type t, int64_t v) {
  return mk<arith::ConstantIntOp>(b, loc, t, v);
}
Value constI32(OpBuilder &b, Location loc, int64_t v) {
  return constInt(b, loc, b.getI32Type(), v);
}
Value constF32(OpBuilder &b, Location loc, double v) {
  return mk<arith::ConstantFloatOp>(b, loc, b.getF32Type(), llvm::APFloat(float(v)));
}

Value constantOf(OpBuilder &b, Location loc, DType t, double fv, int64_t iv) {
  Type ty = elementType(b.getContext(), t, 0);
  if (t == DType::i1) return constInt(b, loc, ty, iv != 0);
  if (dsl::isInt(t)) return constInt(b, loc, ty, iv);
  llvm::APFloat f(fv);
  bool lost = false;
  f.convert(cast<FloatType>(ty).getFloatSemantics(),
            llvm::APFloat::rmNearestTiesToEven, &lost);
  return mk<arith::ConstantFloatOp>(b, loc, cast<FloatType>(ty), f);
}

// ---- ScalarEmitter ----------------------------------------------------------------
Value ScalarEmitter::toF32(Location loc, Value v, DType t) {
  if (t == DType::f32) return v;
  if (t == DType::bf16 && !gpu) {
    // bf16 -> f32 is a shift of the bits (no libcall on hosts without bf16).
    Value bits = mk<arith::BitcastOp>(b, loc, b.getI16Type(), v);
    Value wide = mk<arith::ExtUIOp>(b, loc, b.getI32Type(), bits);
    Value sh = mk<arith::ShLIOp>(b, loc, wide, constI32(b, loc, 16));
    return mk<arith::BitcastOp>(b, loc, b.getF32Type(), sh);
  }
  return mk<arith::ExtFOp>(b, loc, b.getF32Type(), v);
}

Value ScalarEmitter::fromF32(Location loc, Value v, DType t) {
  if (t == DType::f32) return v;
  if (t == DType::bf16 && !gpu) {
    // Round to nearest even on the bits; NaN stays NaN (quiet bit forced).
    Value bits = mk<arith::BitcastOp>(b, loc, b.getI32Type(), v);
    Value lsb = mk<arith::AndIOp>(
        b, loc, mk<arith::ShRUIOp>(b, loc, bits, constI32(b, loc, 16)),
        constI32(b, loc, 1));
    Value rounded = mk<arith::AddIOp>(
        b, loc, bits, mk<arith::AddIOp>(b, loc, lsb, constI32(b, loc, 0x7fff)));
    Value isNan = mk<arith::CmpFOp>(b, loc, arith::CmpFPredicate::UNO, v, v);
    Value nanBits = mk<arith::OrIOp>(b, loc, bits, constI32(b, loc, 0x400000));
    Value sel = mk<arith::SelectOp>(b, loc, isNan, nanBits, rounded);
    Value hi = mk<arith::ShRUIOp>(b, loc, sel, constI32(b, loc, 16));
    Value narrow = mk<arith::TruncIOp>(b, loc, b.getI16Type(), hi);
    return mk<arith::BitcastOp>(b, loc, b.getBF16Type(), narrow);
  }
  return mk<arith::TruncFOp>(b, loc, elementType(b.getContext(), t, 0), v);
}

Value ScalarEmitter::cast(Location loc, Value v, DType from, DType to) {
  if (from == to) return v;
  MLIRContext *ctx = b.getContext();
  Type toTy = elementType(ctx, to, 0);
  if (to == DType::i1) {
    if (dsl::isFloat(from))
      return mk<arith::CmpFOp>(b, loc, arith::CmpFPredicate::UNE, toF32(loc, v, from),
                               constF32(b, loc, 0));
    return mk<arith::CmpIOp>(b, loc, arith::CmpIPredicate::ne, v,
                             constInt(b, loc, v.getType(), 0));
  }
  if (dsl::isInt(from) && dsl::isInt(to)) {
    unsigned fw = v.getType().getIntOrFloatBitWidth(), tw = toTy.getIntOrFloatBitWidth();
    if (fw < tw)
      return from == DType::i1 ? Value(mk<arith::ExtUIOp>(b, loc, toTy, v))
                               : Value(mk<arith::ExtSIOp>(b, loc, toTy, v));
    return mk<arith::TruncIOp>(b, loc, toTy, v);
  }
  if (dsl::isInt(from)) { // int -> float
    Value f = from == DType::i1 ? Value(mk<arith::UIToFPOp>(b, loc, b.getF32Type(), v))
                                : Value(mk<arith::SIToFPOp>(b, loc, b.getF32Type(), v));
    return fromF32(loc, f, to);
  }
  Value f = toF32(loc, v, from);
  if (dsl::isInt(to)) return mk<arith::FPToSIOp>(b, loc, toTy, f);
  return fromF32(loc, f, to);
}

namespace {
/// One-operand f32 PTX instruction through inline asm.
Value ptxUnary(OpBuilder &b, Location loc, const char *instr, Value x) {
  std::string text = std::string(instr) + " $0, $1;";
  auto op = mk<LLVM::InlineAsmOp>(b, loc, b.getF32Type(), ValueRange{x}, text, "=f,f",
                                  false, false, LLVM::tailcallkind::TailCallKind::None,
                                  LLVM::AsmDialectAttr(), ArrayAttr());
  return op.getResult(0);
}
} // namespace

Value ScalarEmitter::emit(Location loc, OpKind k, llvm::ArrayRef<Value> ops,
                          DType t, DType rt, DType pointee) {
  bool fl = dsl::isFloat(t);
  auto f32 = [&](Value v) { return toF32(loc, v, t); };
  auto back = [&](Value v) { return fromF32(loc, v, t); };
  switch (k) {
  case OpKind::Add:
    return fl ? back(mk<arith::AddFOp>(b, loc, f32(ops[0]), f32(ops[1])))
              : Value(mk<arith::AddIOp>(b, loc, ops[0], ops[1]));
  case OpKind::Sub:
    return fl ? back(mk<arith::SubFOp>(b, loc, f32(ops[0]), f32(ops[1])))
              : Value(mk<arith::SubIOp>(b, loc, ops[0], ops[1]));
  case OpKind::Mul:
    return fl ? back(mk<arith::MulFOp>(b, loc, f32(ops[0]), f32(ops[1])))
              : Value(mk<arith::MulIOp>(b, loc, ops[0], ops[1]));
  case OpKind::Div:
    return fl ? back(mk<arith::DivFOp>(b, loc, f32(ops[0]), f32(ops[1])))
              : Value(mk<arith::DivSIOp>(b, loc, ops[0], ops[1]));
  case OpKind::Rem:
    return fl ? back(mk<arith::RemFOp>(b, loc, f32(ops[0]), f32(ops[1])))
              : Value(mk<arith::RemSIOp>(b, loc, ops[0], ops[1]));
  case OpKind::Min:
    return fl ? back(mk<arith::MinimumFOp>(b, loc, f32(ops[0]), f32(ops[1])))
              : Value(mk<arith::MinSIOp>(b, loc, ops[0], ops[1]));
  case OpKind::Max:
    return fl ? back(mk<arith::MaximumFOp>(b, loc, f32(ops[0]), f32(ops[1])))
              : Value(mk<arith::MaxSIOp>(b, loc, ops[0], ops[1]));
  case OpKind::And: return mk<arith::AndIOp>(b, loc, ops[0], ops[1]);
  case OpKind::Or: return mk<arith::OrIOp>(b, loc, ops[0], ops[1]);
  case OpKind::Xor: return mk<arith::XOrIOp>(b, loc, ops[0], ops[1]);
  case OpKind::CmpLT: case OpKind::CmpLE: case OpKind::CmpGT:
  case OpKind::CmpGE: case OpKind::CmpEQ: case OpKind::CmpNE: {
    int i = static_cast<int>(k) - static_cast<int>(OpKind::CmpLT);
    if (fl) {
      static const arith::CmpFPredicate fp[] = {
          arith::CmpFPredicate::OLT, arith::CmpFPredicate::OLE, arith::CmpFPredicate::OGT,
          arith::CmpFPredicate::OGE, arith::CmpFPredicate::OEQ, arith::CmpFPredicate::UNE};
      return mk<arith::CmpFOp>(b, loc, fp[i], f32(ops[0]), f32(ops[1]));
    }
    static const arith::CmpIPredicate ip[] = {
        arith::CmpIPredicate::slt, arith::CmpIPredicate::sle, arith::CmpIPredicate::sgt,
        arith::CmpIPredicate::sge, arith::CmpIPredicate::eq, arith::CmpIPredicate::ne};
    return mk<arith::CmpIOp>(b, loc, ip[i], ops[0], ops[1]);
  }
  case OpKind::Neg:
    return fl ? back(mk<arith::NegFOp>(b, loc, f32(ops[0])))
              : Value(mk<arith::SubIOp>(b, loc, constInt(b, loc, ops[0].getType(), 0), ops[0]));
  case OpKind::Abs:
    return fl ? back(mk<math::AbsFOp>(b, loc, f32(ops[0])))
              : Value(mk<math::AbsIOp>(b, loc, ops[0]));
  case OpKind::Exp: case OpKind::Exp2: {
    Value x = f32(ops[0]);
    if (!gpu)
      return back(k == OpKind::Exp ? Value(mk<math::ExpOp>(b, loc, x))
                                   : Value(mk<math::Exp2Op>(b, loc, x)));
    if (k == OpKind::Exp) x = mk<arith::MulFOp>(b, loc, x, constF32(b, loc, 1.4426950408889634));
    return back(ptxUnary(b, loc, "ex2.approx.ftz.f32", x));
  }
  case OpKind::Log: case OpKind::Log2: {
    Value x = f32(ops[0]);
    if (!gpu)
      return back(k == OpKind::Log ? Value(mk<math::LogOp>(b, loc, x))
                                   : Value(mk<math::Log2Op>(b, loc, x)));
    Value r = ptxUnary(b, loc, "lg2.approx.ftz.f32", x);
    if (k == OpKind::Log) r = mk<arith::MulFOp>(b, loc, r, constF32(b, loc, 0.6931471805599453));
    return back(r);
  }
  case OpKind::Sqrt: return back(mk<math::SqrtOp>(b, loc, f32(ops[0])));
  case OpKind::Select: return mk<arith::SelectOp>(b, loc, ops[0], ops[1], ops[2]);
  case OpKind::Cast: return cast(loc, ops[0], t, rt);
  case OpKind::AddPtr: {
    Type ptrTy = LLVM::LLVMPointerType::get(b.getContext(), ptrAddrSpace);
    return mk<LLVM::GEPOp>(b, loc, ptrTy, elementType(b.getContext(), pointee, 0), ops[0],
                           ValueRange{ops[1]});
  }
  default:
    throw InternalError(std::string("not an elementwise op: ") + dsl::opName(k));
  }
}

Value ScalarEmitter::combine(Location loc, OpKind k, Value a, Value c, DType t) {
  OpKind e = k == OpKind::ReduceSum ? OpKind::Add
             : k == OpKind::ReduceMin ? OpKind::Min : OpKind::Max;
  return emit(loc, e, {a, c}, t, t, t);
}

Value ScalarEmitter::identity(Location loc, OpKind k, DType t) {
  double inf = std::numeric_limits<double>::infinity();
  if (k == OpKind::ReduceSum) return constantOf(b, loc, t, 0, 0);
  bool isMax = k != OpKind::ReduceMin;
  if (dsl::isFloat(t)) return constantOf(b, loc, t, isMax ? -inf : inf, 0);
  int64_t lo = t == DType::i32 ? std::numeric_limits<int32_t>::min()
                               : std::numeric_limits<int64_t>::min();
  int64_t hi = t == DType::i32 ? std::numeric_limits<int32_t>::max()
                               : std::numeric_limits<int64_t>::max();
  return constantOf(b, loc, t, 0, isMax ? lo : hi);
}

// ---- Dumps ------------------------------------------------------------------------
bool dumpEnabled(const std::string &stage) {
  const char *env = std::getenv("HIP_DUMP_IR");
  if (!env || !*env) return false;
  std::string want = std::string(",") + env + ",";
  return want == ",all," || want.find("," + stage + ",") != std::string::npos;
}

void maybeDump(const std::string &kernel, const std::string &stage,
               const std::function<std::string()> &make) {
  if (!dumpEnabled(stage)) return;
  std::string text = make();
  const char *dir = std::getenv("HIP_DUMP_DIR");
  if (dir && *dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::ofstream out(std::filesystem::path(dir) / (kernel + "." + stage));
    if (ec || !(out << text))
      throw RuntimeError("HIP_DUMP_DIR=" + std::string(dir) + ": cannot write " + kernel + "." +
                         stage + (ec ? " (" + ec.message() + ")" : ""));
    return;
  }
  std::cerr << "// ----- HIP_DUMP_IR " << kernel << " [" << stage << "] -----\n"
            << text << "\n";
}

} // namespace hip::detail
