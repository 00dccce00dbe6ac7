//===- compiler/opt_main.cpp - Driver behind hipattn-opt ------------------===//
//
// hipattn-opt runs passes on textual MLIR, for lit tests of each lowering
// step. It lives in the library (which holds MLIR, hidden) and is called by
// the thin tools/hipattn-opt.cpp. It reads the tile dialect (as printed by
// `hipattn compile KERNEL --emit tile`); --canonicalize runs its folders,
// --verify-diagnostics checks its verifiers. Besides the upstream passes the
// project uses, it offers:
//   --hip-lower-to-llvm   scf -> cf, arith/math/cf -> llvm, reconcile casts
//   --hip-tile-to-llvm=target=T   tile.kernel -> the backend for T -> llvm
//   --hip-test-axis-info  remarks with the hip-axis-info facts of each value
//   --hip-accelerate-dot=target=T  each tile.dot's instruction and warp split
//   --hip-optimize-dot-operands  where each tile.dot reads A and B from
//   --hip-pipeline        the loads each loop copies ahead (num_stages)
//   --hip-allocate-shared  shared-memory offsets of the loops' buffers
//   --hip-dot-encodings    the dots' accumulator layouts as encodings of tile types
//   --hip-remove-layout-conversions  those encodings propagated to the values
//                         computed from the dots
//   --hip-assign-blocked   the blocked encodings of the other register tiles
//
//===----------------------------------------------------------------------===//
#include "gpu/transforms/AccelerateDot.h"
#include "gpu/transforms/AllocateShared.h"
#include "gpu/transforms/AssignBlocked.h"
#include "gpu/transforms/DotEncodings.h"
#include "gpu/transforms/AxisInfo.h"
#include "gpu/transforms/OptimizeDotOperands.h"
#include "gpu/transforms/Pipeline.h"
#include "gpu/transforms/RemoveLayoutConversions.h"
#include "lowering.h"
#include "tile/tile.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

namespace hip::detail {

int optMain(int argc, char **argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSCFToControlFlowPass();
  mlir::registerConvertToLLVMPass();
  mlir::registerReconcileUnrealizedCastsPass();
  mlir::PassPipelineRegistration<>(
      "hip-lower-to-llvm", "the project's lowering of arith/scf/math/cf to the LLVM dialect",
      [](mlir::OpPassManager &pm) {
        pm.addPass(mlir::createSCFToControlFlowPass());
        pm.addPass(mlir::createConvertToLLVMPass());
        pm.addPass(mlir::createReconcileUnrealizedCastsPass());
        pm.addPass(mlir::createCanonicalizerPass());
        pm.addPass(mlir::createCSEPass());
      });
  tile::registerPasses();
  gpu::registerAxisInfoTestPass();
  gpu::registerAccelerateDotPass();
  gpu::registerOptimizeDotOperandsPass();
  gpu::registerPipelinePass();
  gpu::registerAllocateSharedPass();
  gpu::registerDotEncodingsPass();
  gpu::registerRemoveLayoutConversionsPass();
  gpu::registerAssignBlockedPass();
  mlir::DialectRegistry registry;
  buildRegistry(registry);
  tile::registerDialect(registry);
  // Its failures are the input's (a parse or verifier error, an unknown
  // option, a pass that rejects the IR): exit status 2, like hipattn's.
  return mlir::failed(mlir::MlirOptMain(argc, argv, "hipattn-opt", registry)) ? 2 : 0;
}

} // namespace hip::detail

/// Exported entry point used by tools/hipattn-opt.cpp.
extern "C" __attribute__((visibility("default"))) int hipattn_opt_main(int argc, char **argv) {
  return hip::runTool("hipattn-opt", hip::detail::optMain, argc, argv);
}
