//===- compiler/tile/tile_passes.cpp - Passes on tile IR (hipattn-opt) ----===//
//
// --hip-tile-to-llvm=target=T: each tile.kernel is lowered by the backend
// for T (after the GPU passes on a GPU target: the same code compile() runs)
// down to the LLVM dialect and replaced by the result. Lets lit tests lower
// textual tile IR.
//
//===----------------------------------------------------------------------===//
#include "tile.h"

#include "../gpu/transforms/Passes.h"
#include "../lowering.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace hip::tile {

namespace {
struct TileToLLVMPass : PassWrapper<TileToLLVMPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TileToLLVMPass)

  TileToLLVMPass() = default;
  TileToLLVMPass(const TileToLLVMPass &other) : PassWrapper(other) {}

  StringRef getArgument() const override { return "hip-tile-to-llvm"; }
  StringRef getDescription() const override {
    return "lower tile.kernel ops with the compiler's backend for `target` to the LLVM dialect";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    hip::detail::buildRegistry(registry);
  }

  Option<std::string> target{*this, "target",
                             llvm::cl::desc("cpu, or a GPU chip (sm_80, ..., sm_90a, ...)"),
                             llvm::cl::init("cpu")};

  void runOnOperation() override {
    for (KernelOp kernel : llvm::make_early_inc_range(getOperation().getOps<KernelOp>())) {
      try {
        Target t = parseTarget(target);
        if (t.backend == Backend::CUDA) hip::detail::gpu::runGpuPasses(kernel, t);
        std::string name = kernel.getSymName().str();
        hip::detail::Lowered low = t.backend == Backend::CUDA
                                  ? hip::detail::lowerToGpu(kernel, t)
                                  : hip::detail::lowerToCpu(kernel);
        hip::detail::lowerToLLVMDialect(*low.module, name, t);
        for (Operation &op : llvm::make_early_inc_range(*low.module->getBody()))
          op.moveBefore(kernel);
        kernel.erase();
      } catch (const hip::Error &e) {
        kernel.emitError() << e.what();
        return signalPassFailure();
      }
    }
  }
};
} // namespace

void registerPasses() { PassRegistration<TileToLLVMPass>(); }

} // namespace hip::tile
