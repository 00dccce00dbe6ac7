//===- compiler/tile/tile_driver.cpp - Verify, canonicalize, print, parse --===//
//
// The steps compile() runs on a kernel in the tile dialect, and the
// MLIR-free entry points of hip/compiler/tile_dialect.h built from them.
// Every failure is thrown as a hip::Error whose message names the op and the
// user's file:line; nothing here aborts.
//
//===----------------------------------------------------------------------===//
#include "tile.h"

#include "../gpu/transforms/Passes.h"
#include "../lowering.h"

#include "hip/error.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;
using hip::detail::DiagnosticCollector;

namespace hip::tile {

KernelOp onlyKernel(ModuleOp m) {
  auto kernels = m.getOps<KernelOp>();
  if (kernels.empty()) throw InternalError("tile module without a tile.kernel");
  return *kernels.begin();
}

namespace {
/// Imports `k` and verifies it: the module compile() works on.
OwningOpRef<ModuleOp> importVerified(const dsl::Kernel &k, MLIRContext &ctx) {
  OwningOpRef<ModuleOp> m = importKernel(k, ctx);
  verifyOrThrow(*m, /*fromDSL=*/true);
  return m;
}
} // namespace

void registerDialect(DialectRegistry &registry) { registry.insert<TileDialect>(); }

std::unique_ptr<MLIRContext> createTileContext() {
  DialectRegistry registry;
  registerDialect(registry);
  auto ctx = std::make_unique<MLIRContext>(registry, MLIRContext::Threading::DISABLED);
  ctx->loadDialect<TileDialect>();
  return ctx;
}

void verifyOrThrow(Operation *op, bool fromDSL) {
  DiagnosticCollector diags(op->getContext());
  if (succeeded(verify(op))) return;
  if (fromDSL)
    throw InternalError("the tile IR traced from the DSL does not verify (a DSL check is "
                        "missing):\n" + diags.text());
  throw CompileError("invalid tile IR:\n" + diags.text());
}

void canonicalize(Operation *op) {
  MLIRContext *ctx = op->getContext();
  // Only the tile dialect's patterns (and every op's folder): collecting
  // those of all loaded dialects, as --canonicalize does, costs more than
  // the rewrite itself on a kernel.
  RewritePatternSet patterns(ctx);
  ctx->getLoadedDialect<TileDialect>()->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName name : ctx->getRegisteredOperationsByDialect("tile"))
    name.getCanonicalizationPatterns(patterns, ctx);
  (void)applyPatternsGreedily(op, FrozenRewritePatternSet(std::move(patterns)));
}

std::string print(Operation *op, bool locations) {
  std::string s;
  llvm::raw_string_ostream os(s);
  OpPrintingFlags flags;
  flags.assumeVerified();
  if (locations) flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  op->print(os, flags);
  return s;
}

// ---- MLIR-free entry points (hip/compiler/tile_dialect.h) ----------------------

namespace {
/// `k` in a context of its own: imported, verified, canonicalized if asked
/// and, for a GPU `target`, through the dialect's GPU passes.
struct Prepared {
  std::unique_ptr<MLIRContext> ctx;
  OwningOpRef<ModuleOp> module; // (destroyed before its context)
};
OwningOpRef<ModuleOp> prepareIn(const dsl::Kernel &k, MLIRContext &ctx, bool canon,
                                const Target *target, const std::string &stopAfter = "") {
  OwningOpRef<ModuleOp> m = importVerified(k, ctx);
  if (canon) canonicalize(*m);
  if (target && target->backend == Backend::CUDA)
    hip::detail::gpu::runGpuPasses(onlyKernel(*m), *target, stopAfter);
  return m;
}

Prepared prepare(const dsl::Kernel &k, bool canon, const Target *target,
                 const std::string &stopAfter = "") {
  Prepared p{createTileContext(), {}};
  p.module = prepareIn(k, *p.ctx, canon, target, stopAfter);
  return p;
}
} // namespace

OwningOpRef<ModuleOp> prepareForBackend(const dsl::Kernel &k, MLIRContext &ctx,
                                        const Target &target) {
  ctx.loadDialect<TileDialect>();
  return prepareIn(k, ctx, /*canon=*/true, &target);
}

dsl::Kernel roundTrip(const dsl::Kernel &k, bool canon) {
  Prepared p = prepare(k, canon, nullptr);
  return exportKernel(onlyKernel(*p.module));
}

std::string toMLIR(const dsl::Kernel &k, bool canon, bool locations) {
  Prepared p = prepare(k, canon, nullptr);
  return print(*p.module, locations);
}

std::string toMLIR(const dsl::Kernel &k, bool locations, const Target &target,
                   const std::string &afterPass) {
  if (!afterPass.empty() && !hip::detail::gpu::isGpuPassStage(afterPass))
    throw InvalidArgument("'" + afterPass + "' is not a GPU pass");
  Prepared p = prepare(k, /*canon=*/true, &target, afterPass);
  return print(*p.module, locations);
}

std::vector<dsl::Kernel> parseKernels(const std::string &text) {
  auto ctx = createTileContext();
  OwningOpRef<ModuleOp> m;
  {
    DiagnosticCollector diags(ctx.get());
    m = parseSourceString<ModuleOp>(text, ParserConfig(ctx.get()));
    if (!m) throw CompileError("cannot read tile IR:\n" + diags.text());
  }
  std::vector<dsl::Kernel> out;
  for (KernelOp k : m->getOps<KernelOp>()) out.push_back(exportKernel(k));
  return out;
}

} // namespace hip::tile
