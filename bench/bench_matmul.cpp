//===- bench/bench_matmul.cpp - DSL matmul vs cuBLAS, compile times -------===//
//
//   bench-matmul [M N K] [--config k=v,...]... [--compile-only]
//     (default 4096^3, bf16 in, f32 out; --config, repeatable: time just those
//     configs; --compile-only: just the compile times)
//
// In one process on one GPU: every valid config of the DSL matmul and cuBLAS
// (cublasGemmEx, bf16 -> f32, CUBLAS_COMPUTE_32F), each timed with events
// (median of 20 after warm-up), the DSL result checked against cuBLAS. Then
// the compile time of the default config, for the variant launched for
// M x N x K and for the generic one: cold (no caches, DSL -> PTX, no driver
// JIT) and warm (on-disk cache hit). Prints a table. Without a GPU
// only the compile times are measured, for sm_90a (DSL -> PTX needs no GPU).
// The kernel cache is a fresh temporary folder (the user's is not touched).
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/kernels/examples.h"
#include "hip/runtime/cache.h"
#include "hip/runtime/cuda.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdlib.h>

using namespace hip;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F> double timeMs(F launchOnce, int reps = 20) {
  auto &cu = rt::Cuda::get();
  for (int i = 0; i < 3; ++i) launchOnce();
  cu.synchronize();
  rt::Event e0 = cu.createEvent(), e1 = cu.createEvent();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    cu.record(e0);
    launchOnce();
    cu.record(e1);
    t.push_back(cu.elapsedMs(e0, e1));
  }
  cu.destroyEvent(e0);
  cu.destroyEvent(e1);
  return median(t);
}
/// CPU time of the calling thread, in ms (leaves out time the thread was
/// not running; a shared host's noise shows as wall time above it).
double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/// The matmul's arguments for a row-major M x N x K product (pointers are
/// only looked at for their kind when a variant is chosen).
std::vector<ArgValue> denseArgs(std::uint64_t a, std::uint64_t b, std::uint64_t c, int M, int N,
                                int K) {
  return kernels::matmulArgs(ArgValue::pointer(a), ArgValue::pointer(b), ArgValue::pointer(c), M,
                             N, K, K, N, N);
}

/// Compile time of the matmul's default config for `t`, medians of 11: cold
/// (no in-memory or on-disk cache; wall and thread CPU time) and warm
/// (on-disk cache hit). Two variants: the one launched for M x N x K (sizes
/// that are multiples of 16 are known to be, as in the timings above), and
/// the generic one (any sizes: scalar edge stores, per-element masks).
void compileTimes(const Target &t, int M, int N, int K) {
  const auto &def = dsl::findKernel("matmul");
  std::vector<ArgValue> args = denseArgs(0, 0, 0, M, N, K);
  for (bool generic : {false, true}) {
    auto once = [&] {
      if (generic) return compile(dsl::trace(def, {}), t);
      return SpecializedKernel(def, {}, t).variant(args); // a new one: no variant memo
    };
    std::vector<double> cold, coldCpu, warm;
    for (int i = 0; i < 11; ++i) {
      rt::KernelCache::global().clear();
      clearInMemoryCache();
      double c0 = threadCpuMs();
      auto t0 = std::chrono::steady_clock::now();
      once();
      cold.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      coldCpu.push_back(threadCpuMs() - c0);
      clearInMemoryCache();
      t0 = std::chrono::steady_clock::now();
      auto cw = once();
      warm.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!cw->fromCache) std::printf("warning: warm compile missed the cache\n");
    }
    std::string what = generic ? std::string("generic variant")
                               : "variant for " + std::to_string(M) + "x" + std::to_string(N) +
                                     "x" + std::to_string(K);
    std::printf("compile time for %s, %s (trace + DSL -> PTX, default config, median of 11): "
                "cold %.1f ms (CPU %.1f ms), warm (disk cache hit) %.2f ms\n",
                t.str().c_str(), what.c_str(), median(cold), median(coldCpu), median(warm));
  }
}
} // namespace

int benchMain(int argc, char **argv) {
  int M = 4096, N = 4096, K = 4096;
  std::vector<std::string> only; // --config k=v,... (repeatable): time just those configs
  bool compileOnly = false;       // --compile-only: just the compile times
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--config" && i + 1 < argc) only.push_back(argv[++i]);
    else if (std::string(argv[i]) == "--compile-only") compileOnly = true;
    else pos.push_back(argv[i]);
  }
  if (pos.size() != 0 && pos.size() != 3)
    throw InvalidArgument("usage: bench-matmul [M N K] [--config k=v,...]... [--compile-only]");
  if (pos.size() == 3) {
    int *dims[3] = {&M, &N, &K};
    for (int i = 0; i < 3; ++i) {
      char *end = nullptr;
      long v = std::strtol(pos[size_t(i)].c_str(), &end, 10);
      if (*end || v <= 0 || v > 65536)
        throw InvalidArgument("M, N and K must be integers from 1 to 65536, got '" + pos[size_t(i)] + "'");
      *dims[i] = int(v);
    }
  }
  char tmpl[] = "/tmp/bench-matmul-cache-XXXXXX";
  const char *dir = mkdtemp(tmpl);
  if (dir) setenv("HIP_CACHE_DIR", dir, 1);
  struct RemoveAtExit {
    const char *dir;
    ~RemoveAtExit() {
      std::error_code ec;
      if (dir) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  std::string why;
  bool gpu = rt::cudaAvailable(&why);
  if (!gpu || compileOnly) {
    if (!gpu)
      std::printf("bench-matmul: no CUDA GPU (%s): only compile times, for sm_90a\n", why.c_str());
    try {
      kernels::registerExampleKernels();
      compileTimes(gpu ? currentTarget(Backend::CUDA) : parseTarget("sm_90a"), M, N, K);
    } catch (const Error &e) {
      std::fprintf(stderr, "bench-matmul: error: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  try {
    kernels::registerExampleKernels();
    auto &cu = rt::Cuda::get();
    Target t = currentTarget(Backend::CUDA);
    std::printf("GPU: %s (%s), %d SMs, driver %d\n", cu.info().name.c_str(), t.str().c_str(),
                cu.info().smCount, cu.info().driverVersion);
    std::printf("matmul %d x %d x %d, bf16 inputs, f32 output\n\n", M, N, K);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uni(-1, 1);
    std::vector<uint16_t> ha(size_t(M) * K), hb(size_t(K) * N);
    for (auto &x : ha) x = kernels::floatToBf16(uni(rng));
    for (auto &x : hb) x = kernels::floatToBf16(uni(rng));
    rt::DeviceBuffer a(ha.size() * 2), b(hb.size() * 2), c(size_t(M) * N * 4),
        ref(size_t(M) * N * 4);
    cu.copyToDevice(a.ptr(), ha.data(), ha.size() * 2);
    cu.copyToDevice(b.ptr(), hb.data(), hb.size() * 2);
    double flop = 2.0 * M * N * K;

    double cublasMs = timeMs([&] { rt::cublasGemm(M, N, K, a.ptr(), b.ptr(), ref.ptr(), 0, true); });
    std::vector<float> hr(size_t(M) * N), hc(size_t(M) * N);
    cu.copyToHost(hr.data(), ref.ptr(), hr.size() * 4);
    std::printf("%-48s %9s %9s %8s %10s\n", "kernel", "ms", "TFLOP/s", "% cuBLAS", "max|diff|");
    std::printf("%-48s %9.3f %9.1f %8s %10s\n", "cuBLAS (cublasGemmEx)", cublasMs,
                flop / cublasMs / 1e9, "100%", "-");

    const auto &def = dsl::findKernel("matmul");
    double bestMs = 1e30;
    std::string best;
    std::shared_ptr<CompiledKernel> bestKernel;
    std::vector<ArgValue> bestArgs;
    std::array<unsigned, 3> bestGrid{};
    std::vector<dsl::Config> configs = dsl::enumerateConfigs(def);
    if (!only.empty()) {
      configs.clear();
      for (const auto &o : only) configs.push_back(dsl::Config::parse(o));
    }
    for (const auto &cfg : configs) {
      dsl::Config full(dsl::trace(def, cfg).config);
      std::vector<ArgValue> args = denseArgs(a.ptr(), b.ptr(), c.ptr(), M, N, K);
      // The variant specialised for these arguments (M, N, K, lda, ldb, ldc
      // that are multiples of 16 are known to be).
      auto ck = SpecializedKernel(def, cfg, t).variant(args);
      std::array<unsigned, 3> grid = kernels::matmulGrid(full, M, N);
      cu.memsetD8(c.ptr(), 0xff, size_t(M) * N * 4); // NaN poison
      double ms = timeMs([&] { launch(*ck, grid, args); });
      cu.copyToHost(hc.data(), c.ptr(), hc.size() * 4);
      double diff = 0;
      for (size_t i = 0; i < hc.size(); ++i) {
        double d = std::fabs(double(hc[i]) - hr[i]);
        diff = std::isnan(d) ? INFINITY : std::max(diff, d);
      }
      std::string label = "DSL " + std::to_string(full["BLOCK_M"]) + "x" +
                          std::to_string(full["BLOCK_N"]) + "x" + std::to_string(full["BLOCK_K"]) +
                          " warps=" + std::to_string(full["num_warps"]) +
                          " stages=" + std::to_string(full["num_stages"]) +
                          " group=" + std::to_string(full["GROUP_M"]) +
                          " minblk=" + std::to_string(full["min_blocks"]);
      std::printf("%-48s %9.3f %9.1f %7.1f%% %10.2e%s\n", label.substr(0, 48).c_str(), ms,
                  flop / ms / 1e9, 100 * cublasMs / ms, diff, diff > 1e-2 ? "  WRONG" : "");
      if (diff <= 1e-2 && ms < bestMs)
        bestMs = ms, best = full.str(), bestKernel = ck, bestArgs = args, bestGrid = grid;
    }
    // Head to head: cuBLAS and the best config alternately, 7 rounds of 20
    // launches each, medians of the rounds (the GPU's clock drifts).
    std::vector<double> rc, rd;
    for (int round = 0; round < 7 && bestKernel; ++round) {
      rc.push_back(timeMs([&] { rt::cublasGemm(M, N, K, a.ptr(), b.ptr(), ref.ptr(), 0, true); }));
      rd.push_back(timeMs([&] { launch(*bestKernel, bestGrid, bestArgs); }));
    }
    if (bestKernel) {
      double mc = median(rc), md = median(rd);
      std::printf("\nhead to head (median of 7 alternating rounds): cuBLAS %.3f ms (%.1f TFLOP/s), "
                  "DSL %s %.3f ms (%.1f TFLOP/s) = %.1f%% of cuBLAS\n",
                  mc, flop / mc / 1e9, best.c_str(), md, flop / md / 1e9, 100 * mc / md);
    }

    compileTimes(t, M, N, K);
  } catch (const Error &e) {
    std::fprintf(stderr, "bench-matmul: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) { return hip::runTool("bench-matmul", benchMain, argc, argv); }
