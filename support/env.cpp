//===- support/env.cpp - Reading the HIP_* environment variables ----------===//
#include "hip/env.h"

#include "hip/error.h"

#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <string>

namespace hip {

namespace {
constexpr const char *kIrStages[] = {
    "tile",     "hip-accelerate-dot", "hip-optimize-dot-operands", "hip-pipeline",
    "hip-allocate-shared", "hip-dot-encodings", "hip-remove-layout-conversions", "hip-assign-blocked", "tile-gpu", "layouts", "mlir", "llvm", "ptx"};
} // namespace

std::string irStageList() {
  std::string s;
  for (const char *stage : kIrStages) s += (s.empty() ? "" : ", ") + std::string(stage);
  return s;
}

bool isIrStage(const std::string &stage) {
  for (const char *s : kIrStages)
    if (stage == s) return true;
  return false;
}

bool logEnabled() {
  const char *env = std::getenv("HIP_LOG");
  return env && *env && std::string(env) != "0";
}

int64_t envInt(const char *name, int64_t fallback) {
  const char *s = std::getenv(name);
  if (!s || !*s) return fallback;
  char *end = nullptr;
  long long v = std::strtoll(s, &end, 10);
  if (*end) throw InvalidArgument(std::string(name) + "='" + s + "' is not an integer");
  return v;
}

namespace {
std::string env(const char *name) {
  const char *s = std::getenv(name);
  return s ? s : "";
}

void oneOf(const char *name, std::initializer_list<const char *> choices) {
  std::string v = env(name), list;
  if (v.empty()) return;
  for (const char *c : choices) {
    if (v == c) return;
    list += std::string(list.empty() ? "" : ", ") + c;
  }
  throw InvalidArgument(std::string(name) + " must be one of " + list + ", got '" + v + "'");
}

void intIn(const char *name, int64_t lo, int64_t hi) {
  std::string v = env(name);
  if (v.empty()) return;
  char *end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (*end || errno || x < lo || x > hi)
    throw InvalidArgument(std::string(name) + " must be an integer from " + std::to_string(lo) +
                          " to " + std::to_string(hi) + ", got '" + v + "'");
}
} // namespace

void checkEnvironment() {
  oneOf("HIP_BACKEND", {"auto", "cpu", "cuda"});
  oneOf("HIP_LLVM_OPT", {"0", "1", "2", "3"});
  oneOf("HIP_WGMMA", {"0", "1"});
  oneOf("HIP_LINE_INFO", {"0", "1"});
  oneOf("HIP_CUDA_ALLOC_CACHE", {"0", "1"});
  intIn("HIP_PTX_VERSION", 80, 90);
  intIn("HIP_NUM_THREADS", 1, 4096);
  oneOf("HIP_DISABLE_AUTOTUNE", {"0", "1"});
  oneOf("HIP_TUNED", {"0", "1"});
  intIn("HIP_REFRESH_INTERVAL", 1, int64_t(1) << 30);
  intIn("HIP_DECODE_SPLITS", 0, 4096);
  for (const char *n : {"HIP_K", "HIP_BQ", "HIP_BSQ", "HIP_BK", "HIP_BSK", "HIP_SW", "HIP_NSINK"})
    intIn(n, 0, int64_t(1) << 30);
  std::string dump = env("HIP_DUMP_IR");
  if (!dump.empty() && dump != "all") {
    size_t start = 0;
    while (start <= dump.size()) {
      size_t end = dump.find(',', start);
      std::string stage = dump.substr(start, end == std::string::npos ? end : end - start);
      if (!isIrStage(stage))
        throw InvalidArgument("HIP_DUMP_IR must be 'all' or a comma list of " + irStageList() +
                              ", got '" + dump + "'");
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
}

} // namespace hip
