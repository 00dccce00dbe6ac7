//===- tools/hipattn.cpp - The hipattn command-line tool ------------------===//
//
//   hipattn kernels                     registered kernels and config spaces
//   hipattn compile KERNEL [options]    print one compilation stage
//   hipattn demo [--backend B]          run the example kernels and check them
//   hipattn run [options]               HiP against dense attention
//   hipattn cache show|clear            the on-disk compiled-kernel cache
//
//===----------------------------------------------------------------------===//
#include "hip/autotune/autotune.h"
#include "hip/compiler/compiler.h"
#include "hip/dsl/dsl.h"
#include "hip/env.h"
#include "hip/kernels/examples.h"
#include "hip/runtime/cache.h"
#include "hip/runtime/cuda.h"

#include "hip/runtime/thread_pool.h"

#include "cli_common.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace hip::tools {
extern const char *kRunHelp;
extern const char *kTuneHelp;
int cmdRun(const std::map<std::string, std::string> &flags);
int cmdTune(const std::string &what, const std::map<std::string, std::string> &flags);
extern const char *kEvalHelp, *kGenerateHelp;
int cmdEval(const std::vector<std::string> &args);
int cmdGenerate(const std::vector<std::string> &args);
extern const char *kServeHelp;
int cmdServe(const std::vector<std::string> &args);
} // namespace hip::tools

using hip::tools::Options;
using hip::tools::parse;

namespace {

const char *kMainHelp = R"(hipattn: HiP attention kernels, compiled at run time through MLIR.

usage: hipattn <command> [options]

commands:
  run        run hip_attention and dense attention on a workload: latency,
             speedup, error against dense, recall of the mask
  eval       a GGUF Llama model on a text: perplexity (dense, hip or
             streaming attention), HiP's recall on its Q/K/V, Q/K/V dumps
  generate   generate text with a GGUF Llama model (HiP decode with mask reuse)
  serve      an OpenAI-compatible HTTP server over a GGUF Llama model
  kernels    list the registered kernels and their config spaces
  compile    print one compilation stage of a kernel (tile,
             hip-accelerate-dot, hip-optimize-dot-operands, hip-pipeline,
             hip-allocate-shared, hip-dot-encodings,
             hip-remove-layout-conversions, hip-assign-blocked, tile-gpu,
             layouts, mlir, llvm, ptx)
  demo       compile and run the example kernels on the best backend, check
             them against the float64 references, print timings
  tune       tune hip_attention's kernels (or its block sizes and strides,
             --algorithm) for this GPU and shape; cached in autotune.json
  cache      show, clear, export or import the compiled-kernel and tuning
             caches

Run 'hipattn <command> --help' for a command's options.
Environment: HIP_BACKEND, HIP_CACHE_DIR, HIP_DUMP_IR, HIP_DUMP_DIR, HIP_LOG,
HIP_NUM_THREADS, HIP_K, HIP_BQ, HIP_BSQ, HIP_BK, HIP_BSK, HIP_SW, HIP_NSINK
(see README.md).
)";

const std::map<std::string, const char *> kHelp = {
    {"kernels", R"(usage: hipattn kernels

Lists every registered kernel with its tunable parameters (the values each
may take) and its default config.
)"},
    {"compile", R"(usage: hipattn compile KERNEL [--config k=v,...] [--target T] [--emit S]
                       [--divisible ARG,...|all] [-o FILE]

  --config k=v,...   config values (others take the kernel's defaults)
  --target T         cpu, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100a,
                     sm_120a (default: the current GPU, else cpu)
  --emit S           tile (the traced tile IR), hip-accelerate-dot,
                     hip-optimize-dot-operands, hip-pipeline,
                     hip-allocate-shared, hip-dot-encodings,
                     hip-remove-layout-conversions, hip-assign-blocked
                     (GPU targets: the tile IR after that GPU pass),
                     tile-gpu (GPU
                     targets: the tile IR after the GPU passes: each
                     dot's instruction, warp split and operand placement,
                     the kernel's warps, the pipelined loops' copies, the
                     loops' shared buffers, the encodings of the values
                     held in accumulator and blocked layouts),
                     layouts (GPU targets: the tile IR with the layout
                     chosen for each value, as a #tile encoding), mlir
                     (GPU: per-thread code; CPU: loop nests), llvm (LLVM
                     IR), ptx (GPU targets); default: tile
  --divisible ARGS   integer arguments assumed multiples of 16 (names, or
                     'all'): the variant a launch with such values compiles
  -o FILE            write to FILE instead of stdout
)"},
    {"demo", R"(usage: hipattn demo [--backend auto|cpu|cuda]

Compiles vector_add, row_softmax, token_nll and matmul (bf16 and f16) for the chosen
backend (default: HIP_BACKEND, else auto = the GPU when one is usable),
runs them on random inputs whose sizes are not multiples of the tiles,
compares every output with a float64 reference and prints where each ran,
compile and run times, and whether it matched.
)"},
    {"run", hip::tools::kRunHelp},
    {"eval", hip::tools::kEvalHelp},
    {"generate", hip::tools::kGenerateHelp},
    {"serve", hip::tools::kServeHelp},
    {"tune", hip::tools::kTuneHelp},
    {"cache", R"(usage: hipattn cache show|clear|export FILE|import FILE

  show         the cache directory ($HIP_CACHE_DIR, default
               ~/.cache/hip-attention): its compiled kernels and their size, and
               the tuning results in autotune.json (kernel, GPU, shape bucket,
               chosen config)
  clear        remove every compiled kernel and every tuning result
  export FILE  write the tuning results to FILE (to ship them to machines with
               the same GPU)
  import FILE  merge the tuning results of FILE into autotune.json
)"},
};

int usageError(const std::string &msg) {
  std::fprintf(stderr, "hipattn: error: %s\n", msg.c_str());
  return 2;
}

bool wantsHelp(const std::vector<std::string> &args) {
  for (auto &a : args)
    if (a == "--help" || a == "-h") return true;
  return false;
}


hip::Target defaultTarget() {
  std::string why;
  if (hip::rt::cudaAvailable(&why)) return hip::currentTarget(hip::Backend::CUDA);
  return hip::Target{};
}

int cmdKernels() {
  for (const auto &def : hip::dsl::registeredKernels()) {
    std::printf("%s  -  %s\n", def.name.c_str(), def.description.c_str());
    for (auto &[key, values] : def.space) {
      std::printf("    %-10s {", key.c_str());
      for (size_t i = 0; i < values.size(); ++i)
        std::printf("%s%lld", i ? ", " : "", static_cast<long long>(values[i]));
      std::printf("}\n");
    }
    std::printf("    default    %s\n", def.defaults.str().c_str());
    std::printf("    configs    %zu valid\n", hip::dsl::enumerateConfigs(def).size());
  }
  return 0;
}

int cmdCompile(const std::vector<std::string> &args) {
  Options o = parse(args, {"--config", "--target", "--emit", "--divisible", "-o"});
  if (o.positional.size() != 1) return usageError("compile needs exactly one KERNEL");
  const auto &def = hip::dsl::findKernel(o.positional[0]);
  hip::dsl::Config cfg = hip::dsl::Config::parse(o.flags.count("--config") ? o.flags["--config"] : "");
  hip::Target t = o.flags.count("--target") ? hip::parseTarget(o.flags["--target"]) : defaultTarget();
  std::string stage = o.flags.count("--emit") ? o.flags["--emit"] : "tile";
  hip::dsl::Kernel k = hip::dsl::trace(def, cfg);
  if (o.flags.count("--divisible")) {
    std::set<std::string> names;
    std::stringstream ss(o.flags["--divisible"]);
    for (std::string n; std::getline(ss, n, ',');) names.insert(n);
    for (auto &p : k.params) {
      bool isInt = !p.type.isPtr() && (p.type.dtype == hip::dsl::DType::i32 ||
                                       p.type.dtype == hip::dsl::DType::i64);
      if (!(names.count(p.name) || (names.count("all") && isInt))) continue;
      if (!isInt) return usageError("--divisible: '" + p.name + "' is not an integer argument");
      p.multipleOf = std::max<int64_t>(p.multipleOf, 16);
      names.erase(p.name);
    }
    names.erase("all");
    if (!names.empty())
      return usageError("--divisible: kernel '" + k.name + "' has no argument '" + *names.begin() + "'");
  }
  std::string text = hip::emitStage(k, t, stage);
  if (o.flags.count("-o")) {
    std::ofstream f(o.flags["-o"]);
    if (!(f << text)) throw hip::RuntimeError("cannot write " + o.flags["-o"]);
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return 0;
}

int cmdDemo(const std::vector<std::string> &args) {
  Options o = parse(args, {"--backend"});
  if (!o.positional.empty()) return usageError("demo takes no positional arguments");
  hip::Backend b;
  if (o.flags.count("--backend")) {
    std::string v = o.flags["--backend"];
    if (v == "cpu") b = hip::Backend::CPU;
    else if (v == "cuda" || v == "auto") {
      std::string why;
      bool ok = hip::rt::cudaAvailable(&why);
      if (v == "cuda" && !ok) throw hip::RuntimeError("--backend cuda: CUDA is unavailable: " + why);
      b = ok ? hip::Backend::CUDA : hip::Backend::CPU;
    } else {
      return usageError("--backend must be auto, cpu or cuda");
    }
  } else {
    b = hip::selectBackend();
  }
  hip::Target t = hip::currentTarget(b);
  std::string where = b == hip::Backend::CPU
                          ? "CPU (LLVM ORC JIT, " + std::to_string(hip::rt::numWorkers()) + " threads)"
                          : hip::rt::Cuda::get().info().name + " (" + t.str() + ")";
  std::string why;
  if (b == hip::Backend::CPU && !hip::rt::cudaAvailable(&why))
    where += "; no GPU: " + why;
  std::printf("backend: %s\n\n", where.c_str());
  bool gpu = b == hip::Backend::CUDA;
  struct Case {
    const char *kernel;
    hip::dsl::Config cfg;
    std::vector<int64_t> dims;
    const char *label;
  };
  std::vector<Case> cases = {
      {"vector_add", {}, {gpu ? 10000003 : 1000003}, "n"},
      {"row_softmax", {}, {gpu ? 4099 : 515, 100}, "rows x cols"},
      {"token_nll", {}, {gpu ? 2049 : 130, gpu ? 49152 : 5000}, "rows x cols"},
      {"matmul", {{"DTYPE", 0}}, gpu ? std::vector<int64_t>{2049, 1023, 1000}
                                     : std::vector<int64_t>{130, 200, 70}, "M x N x K, bf16"},
      {"matmul", {{"DTYPE", 1}}, gpu ? std::vector<int64_t>{2049, 1023, 1000}
                                     : std::vector<int64_t>{130, 200, 70}, "M x N x K, f16"},
  };
  std::printf("%-12s %-24s %-18s %10s %10s %10s  %s\n", "kernel", "shape", "config", "compile",
              "run", "max err", "result");
  bool all = true;
  for (auto &c : cases) {
    auto r = hip::kernels::runExample(c.kernel, c.cfg, t, c.dims, 42, 5);
    std::string shape;
    for (size_t i = 0; i < c.dims.size(); ++i) shape += (i ? "x" : "") + std::to_string(c.dims[i]);
    std::string cfg = r.config.size() > 18 ? r.config.substr(0, 15) + "..." : r.config;
    char comp[32];
    std::snprintf(comp, sizeof comp, "%.1f ms%s", r.compileMs, r.fromCache ? "*" : "");
    std::printf("%-12s %-24s %-18s %10s %7.3f ms %10.2e  %s\n", c.kernel,
                (shape + " (" + c.label + ")").substr(0, 24).c_str(), cfg.c_str(), comp, r.runMs,
                r.maxError, r.passed ? "match" : ("MISMATCH: " + r.detail).c_str());
    all &= r.passed;
  }
  std::printf("\n(* = from the on-disk kernel cache; run = median of 5 launches)\n");
  std::printf("%s\n", all ? "all results match the float64 references"
                          : "SOME RESULTS DO NOT MATCH");
  return all ? 0 : 1;
}

int cmdCache(const std::vector<std::string> &args) {
  if (args.empty()) return usageError("cache needs one of: show, clear, export FILE, import FILE");
  hip::autotune::Cache tuning;
  if (args[0] == "export" || args[0] == "import") {
    if (args.size() != 2) return usageError("cache " + args[0] + " needs a FILE");
    size_t n = args[0] == "export" ? tuning.exportTo(args[1]) : tuning.importFrom(args[1]);
    std::printf("%s %zu tuning results %s %s\n", args[0] == "export" ? "exported" : "imported", n,
                args[0] == "export" ? "to" : "from", args[1].c_str());
    return 0;
  }
  if (args.size() != 1) return usageError("cache " + args[0] + " takes no further arguments");
  auto &cache = hip::rt::KernelCache::global();
  if (args[0] == "show") {
    auto [n, bytes] = cache.usage();
    std::printf("kernel cache: %s\n  entries: %zu\n  size: %.1f KiB\n", cache.dir().c_str(), n,
                double(bytes) / 1024);
    auto doc = tuning.read();
    std::printf("tuning results: %s\n  entries: %zu\n", tuning.path().c_str(), doc["entries"].size());
    for (const auto &e : doc["entries"])
      std::printf("  %-28s %-40s %-28s -> %s\n", e.value("kernel", "").c_str(),
                  e.value("gpu", "").substr(0, 40).c_str(), e["bucket"].dump().c_str(),
                  e["config"].dump().c_str());
    return 0;
  }
  if (args[0] == "clear") {
    std::printf("removed %zu compiled kernels from %s\n", cache.clear(), cache.dir().c_str());
    tuning.clear();
    std::printf("removed the tuning results %s\n", tuning.path().c_str());
    return 0;
  }
  return usageError("unknown cache command '" + args[0] + "' (show, clear, export, import)");
}

} // namespace

int hipattnMain(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kMainHelp, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  auto help = kHelp.find(cmd);
  if (help == kHelp.end()) return usageError("unknown command '" + cmd + "' (see hipattn --help)");
  if (wantsHelp(args)) {
    std::fputs(help->second, stdout);
    return 0;
  }
  {
    hip::checkEnvironment();
    hip::kernels::registerExampleKernels();
    if (cmd == "kernels") {
      if (!args.empty()) return usageError("kernels takes no arguments");
      return cmdKernels();
    }
    if (cmd == "compile") return cmdCompile(args);
    if (cmd == "demo") return cmdDemo(args);
    if (cmd == "eval") return hip::tools::cmdEval(args);
    if (cmd == "generate") return hip::tools::cmdGenerate(args);
    if (cmd == "serve") return hip::tools::cmdServe(args);
    // The workload and HiP options `run` and `tune` share.
    std::vector<std::string> workload = {
        "--backend", "--B", "--T", "--H", "--Hkv", "--D", "--dtype", "--input", "--seed",
        "--data", "--mask-k", "--block-size-q", "--block-stride-q", "--block-size-k",
        "--block-stride-k", "--sink", "--window", "--reps", "--recall-heads", "--recall-blocks"};
    if (cmd == "tune") {
      workload.insert(workload.end(), {"--min-recall", "--max-error", "--dims", "--config"});
      Options o = parse(args, workload, {"--algorithm"});
      if (o.positional.size() != 1)
        return usageError("tune needs one KERNEL: hip_attention, flash_attention, vector_add, "
                          "row_softmax, token_nll or matmul");
      return hip::tools::cmdTune(o.positional[0], o.flags);
    }
    if (cmd == "run") {
      workload.insert(workload.end(), {"--mask-pipeline", "--attention-schedule", "--dense-schedule"});
      Options o = parse(args, workload, {"--json", "--latency-only"});
      if (!o.positional.empty()) return usageError("run takes no positional arguments");
      return hip::tools::cmdRun(o.flags);
    }
    return cmdCache(args);
  }
}

int main(int argc, char **argv) { return hip::runTool("hipattn", hipattnMain, argc, argv); }
