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
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
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

/// LLVM's middle end at `level`. At O1 for the GPU (`trimO1`), InstCombine
/// runs only at its first and its last positions of the pipeline: it ran
/// eight times, each pass costing about the same on the large unrolled
/// per-thread code (most of it in known-bits queries). Without the four
/// middle runs the PTX of every registered kernel and config came out
/// byte-identical (LLVM 22; about 8 % of a cold compile); without the second
/// and third too, 12 of the 102 files of scripts/ptx_compare.sh differ, by
/// two independent instructions in swapped order or an add's operands
/// swapped (the mask search kernels), and the sparse attention kernel
/// compiles in 7 % less time.
void optimize(llvm::Module &m, llvm::TargetMachine *tm, llvm::OptimizationLevel level,
              bool trimO1 = false) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassInstrumentationCallbacks pic;
  int runs = 0, seen = 0;
  pic.registerShouldRunOptionalPassCallback([&](llvm::StringRef pass, llvm::Any) {
    if (!trimO1 || pass != "InstCombinePass") return true;
    ++seen;
    return seen == 1 || seen == runs;
  });
  llvm::PassBuilder pb(tm, llvm::PipelineTuningOptions(), std::nullopt, &pic);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(level);
  if (trimO1) { // how many InstCombine runs this LLVM's pipeline has
    std::string text;
    llvm::raw_string_ostream os(text);
    mpm.printPipeline(os, [&](llvm::StringRef cls) { return pic.getPassNameForClassName(cls); });
    for (size_t at = text.find("instcombine"); at != std::string::npos;
         at = text.find("instcombine", at + 1))
      ++runs;
  }
  mpm.run(m, mam);
}
/// Skips NVPTX codegen's straight-line scalar optimisations (GEP offset
/// splitting, strength reduction, n-ary reassociation). On the large unrolled
/// per-thread code the DSL emits they took about 80 % of LLVM -> PTX time,
/// and ptxas performs the same strength reduction on the PTX anyway. So is
/// codegen's loop strength reduction (10 % of LLVM -> PTX for the sparse
/// attention kernel, pass timings; whole cold compiles 2-9 % fewer
/// instructions under callgrind): without it ptxas gave the sm_90a
/// attention kernels fewer registers (dense 241 against 253) and the mask
/// search fewer spills (108 bytes against 136) and every cubin was as small
/// or smaller.
struct SkipSlowNVPTXPasses : llvm::OptPassGate {
  bool isEnabled() const override { return true; }
  bool shouldRunPass(llvm::StringRef pass, llvm::StringRef) const override {
    return pass != "Loop Strength Reduction" && pass != "slsr" &&
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

namespace {
/// Erases the ops whose results nobody uses and that have no side effects.
/// The backends compute every element of a tile, but vector accesses use
/// one address per group: about three quarters of the matmul's ops are dead.
/// One walk from the end removes whole dead chains (users before producers).
void eraseDeadOps(ModuleOp m) {
  std::vector<Operation *> ops;
  m->walk<WalkOrder::PreOrder>([&](Operation *op) { ops.push_back(op); });
  for (auto it = ops.rbegin(); it != ops.rend(); ++it)
    if (isOpTriviallyDead(*it)) (*it)->erase();
}
} // namespace

void lowerToLLVMDialect(ModuleOp m, const std::string &what, const Target &t) {
  DiagnosticCollector diags(m->getContext());
  eraseDeadOps(m);
  // One verification of the backend's output; the passes below are
  // trusted not to break it (verifying after each cost 8 % of a compile).
  if (failed(verify(m)))
    throw InternalError("invalid MLIR produced for " + what + ":\n" + diags.text());
  PassManager pm(m->getContext());
  pm.enableVerifier(false);
  // CSE first: the per-thread code computes the same index expressions for
  // many elements; removing them here halves the conversion's work.
  pm.addPass(createCSEPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  // Line tables only (.file/.loc, no DWARF sections, like nvcc -lineinfo):
  // compute-sanitizer and Nsight Compute then name the DSL source line.
  if (t.backend == Backend::CUDA && t.lineInfo)
    pm.addPass(LLVM::createDIScopeForLLVMFuncOpPass(
        {LLVM::DIEmissionKind::DebugDirectivesOnly}));
  if (failed(pm.run(m)))
    throw InternalError("lowering " + what + " to the LLVM dialect failed:\n" + diags.text());
}

namespace {
std::unique_ptr<llvm::Module> translate(ModuleOp m, llvm::LLVMContext &lctx,
                                        const std::string &what) {
  DiagnosticCollector diags(m->getContext());
  auto mod = translateModuleToLLVMIR(m, lctx, what);
  if (!mod) throw InternalError("translating " + what + " to LLVM IR failed:\n" + diags.text());
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
  case 1: optimize(*mod, tm.get(), llvm::OptimizationLevel::O1, true); break;
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
