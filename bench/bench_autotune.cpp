//===- bench/bench_autotune.cpp - Lookup time of the tuning cache ---------===//
//
// Fills a fresh autotune.json with N entries (as a team's shared file might
// hold) and measures medians: the first Cache::lookup of a file (read and
// parsed under its lock: what a new process pays once), later lookups (the
// parsed file reused while unchanged), and select() on a memo hit (what
// every later call of a kernel at a shape pays).
//   bench-autotune [N]   (default 64)
//
//===----------------------------------------------------------------------===//
#include "hip/autotune/autotune.h"
#include "hip/kernels/examples.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

using namespace hip;
using namespace hip::autotune;

int benchMain(int argc, char **argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 64;
  kernels::registerExampleKernels();
  std::string dir = std::filesystem::temp_directory_path() / ("bench-autotune-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Cache cache(dir + "/autotune.json");
  auto key = [](int i) {
    return Key{"hip_block_sparse_attention", "v", "GPU|sm_90|132|13000", {{"D", 128}, {"i", i % 8}},
               Key::pow2Bucket({{"T_q", int64_t(1024) << (i / 8)}, {"T_k", int64_t(1024) << (i / 8)}})};
  };
  Entry e{dsl::Config{{"BLOCK_M", 64}, {"BLOCK_N", 32}, {"num_warps", 8}}, {}, "now", "bench"};
  for (int c = 0; c < 8; ++c)
    e.candidates.push_back({dsl::Config{{"BLOCK_M", 32 << (c % 2)}, {"BLOCK_N", 32}}, 1.0 + c, "ok"});
  for (int i = 0; i < n; ++i) cache.store(key(i), e);
  auto median = [](const std::function<void()> &f) {
    std::vector<double> t;
    for (int i = 0; i < 200; ++i) {
      auto s = std::chrono::steady_clock::now();
      f();
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  // The first lookup of a file parses it (a fresh copy each time); later
  // lookups reuse the parsed document while the file is unchanged.
  std::vector<double> cold;
  for (int i = 0; i < 50; ++i) {
    std::string copy = dir + "/copy-" + std::to_string(i) + ".json";
    std::filesystem::copy_file(dir + "/autotune.json", copy);
    Cache c(copy);
    auto s = std::chrono::steady_clock::now();
    if (!c.lookup(key(n / 2), false)) std::abort();
    cold.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(cold.begin(), cold.end());
  double coldMs = cold[cold.size() / 2];
  double lookupMs = median([&] {
    if (!cache.lookup(key(n / 2), false)) std::abort();
  });
  Request r;
  r.def = &dsl::findKernel("vector_add");
  r.key = key(n / 2);
  r.defaults = e.config;
  select(r, cache); // fills the memo
  double memoMs = median([&] { select(r, cache); });
  std::printf("{\"entries\": %d, \"file_bytes\": %zu, \"first_lookup_ms\": %.4f, "
              "\"lookup_ms\": %.4f, \"memo_select_ms\": %.5f}\n",
              n, size_t(std::filesystem::file_size(dir + "/autotune.json")), coldMs, lookupMs, memoMs);
  std::filesystem::remove_all(dir);
  return 0;
}

int main(int argc, char **argv) { return hip::runTool("bench-autotune", benchMain, argc, argv); }
