//===- compiler/pipeline.cpp - MLIR -> LLVM -> PTX / host JIT -------------===//
//
// The stages after the backends' own lowering:
//   1. lowerToLLVMDialect: scf -> cf, then arith/math/cf -> llvm (the
//      dialects' ConvertToLLVM interfaces), reconcile casts.
//   2. GPU: translate to LLVM IR, run the O3 pipeline and the NVPTX backend
//      for the target chip and PTX ISA (validated beforehand: LLVM's own
//      errors would abort the process).
//   3. CPU: the same O3 pipeline and the host's backend emit an object that
//      ORC's LLJIT links into the process.
//
//===----------------------------------------------------------------------===//
#include "lowering.h"

#include "mlir/Conversion/ConvertToLLVM/ToLLVMPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/OptBisect.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

#include <mutex>

using namespace mlir;

extern "C" {
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

namespace hip::detail {

namespace {
/// Collects MLIR diagnostics so failures become exceptions with their text.
struct DiagnosticCollector {
  explicit DiagnosticCollector(MLIRContext *ctx)
      : handler(ctx, [this](Diagnostic &d) {
          llvm::raw_string_ostream os(text);
          os << d.getLocation() << ": " << d << "\n";
          return success();
        }) {}
  std::string text;
  ScopedDiagnosticHandler handler;
};

void initNVPTX() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
}

void initNative() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

void optimize(llvm::Module &m, llvm::TargetMachine *tm, llvm::OptimizationLevel level) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(level).run(m, mam);
}
/// Skips NVPTX codegen's straight-line scalar optimisations (GEP offset
/// splitting, strength reduction, n-ary reassociation). On the large unrolled
/// per-thread code the DSL emits they took about 80 % of LLVM -> PTX time,
/// and ptxas performs the same strength reduction on the PTX anyway.
struct SkipSlowNVPTXPasses : llvm::OptPassGate {
  bool isEnabled() const override { return true; }
  bool shouldRunPass(llvm::StringRef pass, llvm::StringRef) const override {
    return pass != "slsr" &&
           pass != "separate-const-offset-from-gep" &&
           pass != "nary-reassociate";
  }
};
} // namespace

std::string printModule(ModuleOp m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m->print(os, OpPrintingFlags().enableDebugInfo(false));
  return s;
}

void lowerToLLVMDialect(ModuleOp m, const std::string &what) {
  DiagnosticCollector diags(m->getContext());
  if (failed(verify(m)))
    throw InternalError("invalid MLIR produced for " + what + ":\n" + diags.text);
  PassManager pm(m->getContext());
  // CSE first: the per-thread code computes the same index expressions for
  // many elements; removing them here halves the conversion's work.
  pm.addPass(createCSEPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(m)))
    throw InternalError("lowering " + what + " to the LLVM dialect failed:\n" + diags.text);
}

namespace {
std::unique_ptr<llvm::Module> translate(ModuleOp m, llvm::LLVMContext &lctx,
                                        const std::string &what) {
  DiagnosticCollector diags(m->getContext());
  auto mod = translateModuleToLLVMIR(m, lctx, what);
  if (!mod) throw InternalError("translating " + what + " to LLVM IR failed:\n" + diags.text);
  return mod;
}

std::unique_ptr<llvm::TargetMachine> nvptxMachine(const Target &t) {
  initNVPTX();
  llvm::Triple triple("nvptx64-nvidia-cuda");
  std::string err;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target) throw InternalError("NVPTX backend missing: " + err);
  std::string features = "+ptx" + std::to_string(t.ptxVersion);
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, t.arch, features, llvm::TargetOptions(), std::nullopt, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
}
} // namespace

std::string translateToLLVMText(ModuleOp m, const Target &t) {
  llvm::LLVMContext lctx;
  auto mod = translate(m, lctx, "kernel");
  if (t.backend == Backend::CUDA) {
    auto tm = nvptxMachine(t);
    mod->setDataLayout(tm->createDataLayout());
    mod->setTargetTriple(tm->getTargetTriple());
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  mod->print(os, nullptr);
  return s;
}

std::string emitPTX(ModuleOp m, const Target &t) {
  llvm::LLVMContext lctx;
  static SkipSlowNVPTXPasses gate;
  lctx.setOptPassGate(gate);
  auto mod = translate(m, lctx, "kernel");
  auto tm = nvptxMachine(t);
  mod->setDataLayout(tm->createDataLayout());
  mod->setTargetTriple(tm->getTargetTriple());
  // ptxas optimises the PTX again, so LLVM's middle end is optional here.
  switch (t.llvmOpt) {
  case 0: break;
  case 1: optimize(*mod, tm.get(), llvm::OptimizationLevel::O1); break;
  case 2: optimize(*mod, tm.get(), llvm::OptimizationLevel::O2); break;
  default: optimize(*mod, tm.get(), llvm::OptimizationLevel::O3); break;
  }
  llvm::SmallString<0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile))
    throw InternalError("NVPTX backend cannot emit assembly");
  pm.run(*mod);
  return std::string(buf.str());
}

std::pair<std::shared_ptr<void>, void *> jitCPU(ModuleOp m, const std::string &entry) {
  // Code generation is done here (O3 + the host's TargetMachine, legacy
  // codegen pipeline) and ORC only links the object: ORC's own compile
  // layer corrupted LLVM's pass registry after a few kernels in this
  // statically linked build.
  initNative();
  auto lctx = std::make_unique<llvm::LLVMContext>();
  auto mod = translate(m, *lctx, "kernel");
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw InternalError("CPU JIT: " + llvm::toString(jtmb.takeError()));
  jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto tm = jtmb->createTargetMachine();
  if (!tm) throw InternalError("CPU JIT: " + llvm::toString(tm.takeError()));
  mod->setDataLayout((*tm)->createDataLayout());
  mod->setTargetTriple((*tm)->getTargetTriple());
  optimize(*mod, tm->get(), llvm::OptimizationLevel::O2);
  llvm::SmallString<0> obj;
  {
    llvm::raw_svector_ostream os(obj);
    llvm::legacy::PassManager pm;
    if ((*tm)->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile))
      throw InternalError("CPU JIT: the host target cannot emit objects");
    pm.run(*mod);
  }
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit) throw InternalError("CPU JIT: " + llvm::toString(jit.takeError()));
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!gen) throw InternalError("CPU JIT: " + llvm::toString(gen.takeError()));
  (*jit)->getMainJITDylib().addGenerator(std::move(*gen));
  if (auto err = (*jit)->addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(obj.str())))
    throw InternalError("CPU JIT: " + llvm::toString(std::move(err)));
  auto sym = (*jit)->lookup(entry);
  if (!sym) throw InternalError("CPU JIT: entry not found: " + llvm::toString(sym.takeError()));
  void *addr = sym->toPtr<void *>();
  std::shared_ptr<llvm::orc::LLJIT> owned(std::move(*jit));
  return {std::static_pointer_cast<void>(owned), addr};
}

} // namespace hip::detail
