//===- compiler/compiler.cpp - Compile, cache and launch tile kernels -----===//
//
// compile(): traced tile IR -> tile dialect (verified, canonicalized) ->
// backend lowering -> LLVM -> PTX (GPU) or host code (CPU). Results are
// cached in memory per process and, for PTX, on disk under $HIP_CACHE_DIR
// keyed by sha256(traced tile IR, target, compiler version, codegen
// environment). launch(): checks arguments, then runs the grid on the thread
// pool (CPU) or through the driver (CUDA).
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/env.h"

#include "hip/compiler/tile_dialect.h"
#include "hip/runtime/cache.h"
#include "hip/runtime/thread_pool.h"
#include "gpu/transforms/Passes.h"
#include "lowering.h"
#include "tile/tile.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>

namespace hip {

namespace {
struct ChipInfo {
  const char *name;
  int minPtx; // lowest PTX ISA that knows the chip
};
const ChipInfo kChips[] = {{"sm_80", 70},  {"sm_86", 71},  {"sm_87", 74},
                           {"sm_89", 78},  {"sm_90", 78},  {"sm_90a", 80},
                           {"sm_100a", 86}, {"sm_120a", 87}};

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
      .count();
}
} // namespace

const char *backendName(Backend b) { return b == Backend::CPU ? "cpu" : "cuda"; }

// rev 3: kernels are lowered after the tile dialect's canonicalization.
// rev 4: dots load fragments a k-step ahead; pipelined loops carry them;
// masked accesses take their mask as a predicate operand.
// rev 5: chained dots (attention): warps along M, softmax rows in the mma
// layout (Slice), A from registers, loop-invariant A fragments hoisted, B
// from x's rows for dot(a, trans(x)), pipelined (gathered) K/V; the tile
// dialect no longer folds a square transpose away.
// rev 6: sm_90a: dots of one warpgroup row block on wgmma, B from 128-byte
// swizzled shared memory.
// rev 7: PTX carries .loc lines (the DSL ops' C++ source lines).
// rev 8: box loads (load_box) copied with TMA under tma = 1; the cache payload
// (v2) lists the TMA descriptors a launch builds.
// rev 9: NVPTX codegen without loop strength reduction; pingpong and
//        refill_after_wait marks of hip-pipeline.
const char *compilerVersion() { return "hipattn-compiler " HIP_VERSION_STRING " (mlir 22, rev 9)"; }

/// Every environment variable that changes generated code, with its value.
/// (HIP_DUMP_IR / HIP_DUMP_DIR only print code and are not listed.)
std::string codegenEnvironment() {
  std::string s;
  for (const char *name : {"HIP_PTX_VERSION", "HIP_LLVM_OPT", "HIP_WGMMA", "HIP_LINE_INFO"}) {
    const char *v = std::getenv(name);
    s += std::string(name) + "=" + (v ? v : "") + ";";
  }
  return s;
}

std::string Target::str() const {
  return backend == Backend::CPU ? "cpu"
                                 : arch + "/ptx" + std::to_string(ptxVersion) + (wgmma ? "" : "/no-wgmma");
}

Target parseTarget(const std::string &name) {
  checkEnvironment();
  if (name == "cpu") return Target{};
  for (const ChipInfo &c : kChips) {
    if (name != c.name) continue;
    int ptx = std::max(80, c.minPtx);
    if (const char *env = std::getenv("HIP_PTX_VERSION"); env && *env) {
      int v = std::atoi(env);
      if (v < ptx || v > 90)
        throw InvalidArgument("HIP_PTX_VERSION=" + std::string(env) + " is not usable for " +
                              name + " (allowed: " + std::to_string(ptx) + " to 90)");
      ptx = v;
    }
    // O1 by default: without LLVM's middle end the attention kernels ran
    // 18-48 % slower on an H200 (the matmul the same), O1 costs about 45 ms.
    int opt = 1;
    if (const char *env = std::getenv("HIP_LLVM_OPT"); env && *env) opt = env[0] - '0'; // (checked)
    auto off = [](const char *n) { const char *v = std::getenv(n); return v && std::string(v) == "0"; };
    return Target{Backend::CUDA, name, ptx, opt, !off("HIP_WGMMA"), !off("HIP_LINE_INFO")}; // (checked: 0 or 1)
  }
  std::string known = "cpu";
  for (const ChipInfo &c : kChips) known += std::string(", ") + c.name;
  throw InvalidArgument("unknown target '" + name + "' (supported: " + known + ")");
}

Backend selectBackend() {
  checkEnvironment();
  const char *env = std::getenv("HIP_BACKEND");
  std::string v = env ? env : "auto";
  if (v == "cpu") return Backend::CPU;
  std::string why;
  bool ok = rt::cudaAvailable(&why);
  if (v == "cuda") {
    if (!ok) throw RuntimeError("HIP_BACKEND=cuda but CUDA is unavailable: " + why);
    return Backend::CUDA;
  }
  if (v != "auto" && !v.empty())
    throw InvalidArgument("HIP_BACKEND must be auto, cuda or cpu, got '" + v + "'");
  return ok ? Backend::CUDA : Backend::CPU;
}

Target currentTarget(Backend b) {
  if (b == Backend::CPU) return Target{};
  const rt::DeviceInfo &info = rt::Cuda::get().info();
  if (info.ccMajor < 8)
    throw RuntimeError("GPU " + info.name + " (sm_" + std::to_string(info.ccMajor) +
                       std::to_string(info.ccMinor) + ") is older than sm_80, which "
                       "the kernels need (mma.sync bf16, ldmatrix)");
  std::string arch = info.smTarget();
  for (const ChipInfo &c : kChips)
    if (arch == c.name) return parseTarget(arch);
  // A newer chip than this compiler knows: PTX for the newest known family
  // that the driver JIT can still run on it.
  return parseTarget(info.ccMajor >= 10 ? "sm_90" : "sm_80");
}

namespace {
std::string cacheKey(const dsl::Kernel &k, const Target &t, const std::string &irText) {
  return rt::sha256Hex(irText + "\n" + std::to_string(k.numWarps) + "\n" + t.str() + "\n" +
                       compilerVersion() + "\n" + codegenEnvironment());
}

/// The backend's module for the tile kernel `kernel` (in the context of
/// `kernel`, left as it was).
detail::Lowered lowerFor(tile::KernelOp kernel, const Target &t, bool wantLayouts = false) {
  return t.backend == Backend::CUDA
             ? detail::lowerToGpu(kernel, t, wantLayouts)
             : detail::lowerToCpu(kernel);
}

/// GPU cache payload: "hipattn-ptx v2 <threads> <shared> <maps>" and each
/// TMA descriptor's numbers (base, rank, sizes, strides, bf16, box) on the
/// first line, then the PTX.
std::string encodePTX(const CompiledKernel &c) {
  std::string head = "hipattn-ptx v2 " + std::to_string(c.numThreads) + " " +
                     std::to_string(c.sharedBytes) + " " + std::to_string(c.tensorMaps.size());
  for (const TensorMapSpec &m : c.tensorMaps) {
    std::vector<int64_t> v{m.base, int64_t(m.sizes.size())};
    v.insert(v.end(), m.sizes.begin(), m.sizes.end());
    v.insert(v.end(), m.strides.begin(), m.strides.end());
    v.insert(v.end(), {int64_t(m.bf16), int64_t(m.boxRows), int64_t(m.boxCols)});
    for (int64_t x : v) head += " " + std::to_string(x);
  }
  return head + "\n" + c.ptx;
}
bool decodePTX(const std::string &payload, CompiledKernel &c) {
  auto nl = payload.find('\n');
  if (nl == std::string::npos) return false;
  std::istringstream is(payload.substr(0, nl));
  std::string magic, ver;
  size_t maps = 0;
  if (!(is >> magic >> ver >> c.numThreads >> c.sharedBytes >> maps) ||
      magic != "hipattn-ptx" || ver != "v2" || maps > 64)
    return false;
  c.tensorMaps.assign(maps, {});
  for (TensorMapSpec &m : c.tensorMaps) {
    size_t rank = 0;
    if (!(is >> m.base >> rank) || rank < 2 || rank > 5) return false;
    m.sizes.resize(rank);
    m.strides.resize(rank - 1);
    for (int64_t &x : m.sizes) is >> x;
    for (int64_t &x : m.strides) is >> x;
    int64_t bf16 = 0;
    if (!(is >> bf16 >> m.boxRows >> m.boxCols)) return false;
    m.bf16 = bf16 != 0;
  }
  c.ptx = payload.substr(nl + 1);
  return c.ptx.find(".entry") != std::string::npos;
}
} // namespace

namespace {
std::mutex memoMutex;
std::map<std::string, std::shared_ptr<CompiledKernel>> memo;
} // namespace

void clearInMemoryCache() {
  std::lock_guard<std::mutex> g(memoMutex);
  memo.clear();
}

namespace {
/// With HIP_LOG set (non-empty, not 0): one line per compiled kernel.
void logCompile(const CompiledKernel &c, const std::string &how) {
  if (!logEnabled()) return;
  std::fprintf(stderr, "hip-attention: compiled %s for %s in %.1f ms (%s)\n", c.name.c_str(),
               c.target.str().c_str(), c.compileMs, how.c_str());
}

/// The phases of one compile (times since its start, ms) for logCompile.
std::string phaseTimes(double tile, double lowered, double llvm, double total, const char *last) {
  char s[200];
  std::snprintf(s, sizeof s, "tile dialect %.1f ms, ->mlir %.1f ms, ->llvm dialect %.1f ms, ->%s %.1f ms",
                tile, lowered - tile, llvm - lowered, last, total - llvm);
  return s;
}
} // namespace

std::shared_ptr<CompiledKernel> compile(const dsl::Kernel &k, const Target &t) {
  checkEnvironment(); // the same checks and messages on every backend
  auto t0 = std::chrono::steady_clock::now();
  std::string ir = k.print();
  std::string key = cacheKey(k, t, ir);
  {
    std::lock_guard<std::mutex> g(memoMutex);
    auto it = memo.find(key);
    if (it != memo.end()) return it->second;
  }
  auto out = std::make_shared<CompiledKernel>();
  out->name = k.name;
  out->target = t;
  out->params = k.params;
  out->cacheKey = key;
  detail::maybeDump(k.name, "tile", [&] { return tile::toMLIR(k, true, true); });
  if (t.backend == Backend::CUDA) {
    for (const char *pass : detail::gpu::kGpuPasses)
      detail::maybeDump(k.name, pass, [&] { return tile::toMLIR(k, true, t, pass); });
    detail::maybeDump(k.name, "tile-gpu", [&] { return tile::toMLIR(k, true, t); });
  }
  if (t.backend == Backend::CUDA) {
    if (auto hit = rt::KernelCache::global().get(key); hit && decodePTX(*hit, *out)) {
      out->fromCache = true;
      out->compileMs = msSince(t0);
      detail::maybeDump(k.name, "ptx", [&] { return out->ptx; });
      logCompile(*out, "on-disk cache hit");
      std::lock_guard<std::mutex> g(memoMutex);
      return memo.emplace(key, out).first->second;
    }
  }
  // tile IR -> tile dialect (verified, canonicalized) -> backend MLIR ->
  // LLVM dialect -> PTX or host code.
  auto ctx = detail::createContext();
  auto tileModule = tile::prepareForBackend(k, *ctx, t);
  double tTile = msSince(t0);
  detail::Lowered low = lowerFor(tile::onlyKernel(*tileModule), t, detail::dumpEnabled("layouts"));
  double tLower = msSince(t0);
  if (t.backend == Backend::CUDA) detail::maybeDump(k.name, "layouts", [&] { return low.layouts; });
  detail::maybeDump(k.name, "mlir", [&] { return detail::printModule(*low.module); });
  detail::lowerToLLVMDialect(*low.module, k.name, t);
  double tLLVM = msSince(t0);
  detail::maybeDump(k.name, "llvm", [&] { return detail::translateToLLVMText(*low.module, t); });
  out->numThreads = low.numThreads;
  out->sharedBytes = low.sharedBytes;
  out->tensorMaps = low.tensorMaps;
  out->scratchBytes = low.scratchBytes;
  if (t.backend == Backend::CUDA) {
    out->ptx = detail::emitPTX(*low.module, t);
    detail::maybeDump(k.name, "ptx", [&] { return out->ptx; });
  } else {
    auto [engine, entry] = detail::jitCPU(*low.module, low.entry);
    out->engine = engine;
    out->cpuEntry = reinterpret_cast<decltype(out->cpuEntry)>(entry);
  }
  out->compileMs = msSince(t0);
  logCompile(*out, phaseTimes(tTile, tLower, tLLVM, out->compileMs,
                              t.backend == Backend::CUDA ? "ptx" : "host code"));
  if (t.backend == Backend::CUDA) rt::KernelCache::global().put(key, encodePTX(*out));
  std::lock_guard<std::mutex> g(memoMutex);
  return memo.emplace(key, out).first->second;
}

std::string emitStage(const dsl::Kernel &k, const Target &t, const std::string &stage) {
  if (stage == "tile") return tile::toMLIR(k, /*canonicalize=*/true, /*locations=*/true);
  if (!isIrStage(stage))
    throw InvalidArgument("unknown stage '" + stage + "' (stages: " + irStageList() + ")");
  bool afterPass = detail::gpu::isGpuPassStage(stage);
  if ((stage == "ptx" || stage == "layouts" || stage == "tile-gpu" || afterPass) &&
      t.backend != Backend::CUDA)
    throw InvalidArgument("--emit " + stage + " needs a GPU target (e.g. --target sm_90a)");
  if (stage == "tile-gpu") return tile::toMLIR(k, /*locations=*/true, t);
  if (afterPass) return tile::toMLIR(k, /*locations=*/true, t, stage);
  auto t0 = std::chrono::steady_clock::now();
  auto ctx = detail::createContext();
  auto tileModule = tile::prepareForBackend(k, *ctx, t);
  double tTile = msSince(t0);
  detail::Lowered low = lowerFor(tile::onlyKernel(*tileModule), t, stage == "layouts");
  double tLower = msSince(t0);
  if (stage == "layouts") return low.layouts;
  if (stage == "mlir") return detail::printModule(*low.module);
  detail::lowerToLLVMDialect(*low.module, k.name, t);
  double tLLVM = msSince(t0);
  if (stage == "llvm") return detail::translateToLLVMText(*low.module, t);
  std::string ptx = detail::emitPTX(*low.module, t);
  CompiledKernel timed;
  timed.name = k.name;
  timed.target = t;
  timed.compileMs = msSince(t0);
  logCompile(timed, phaseTimes(tTile, tLower, tLLVM, timed.compileMs, "ptx"));
  return ptx;
}

void launch(CompiledKernel &k, std::array<unsigned, 3> grid, const std::vector<ArgValue> &args,
            rt::Stream stream) {
  if (args.size() != k.params.size())
    throw InvalidArgument("kernel '" + k.name + "' takes " + std::to_string(k.params.size()) +
                          " arguments, got " + std::to_string(args.size()));
  for (size_t i = 0; i < args.size(); ++i) {
    const dsl::Type &t = k.params[i].type;
    ArgValue::Kind want = t.isPtr() ? ArgValue::Ptr
                          : t.dtype == dsl::DType::i32 ? ArgValue::I32
                          : t.dtype == dsl::DType::i64 ? ArgValue::I64 : ArgValue::F32;
    std::string which = "argument " + std::to_string(i) + " ('" + k.params[i].name +
                        "') of kernel '" + k.name + "'";
    if (args[i].kind != want) throw InvalidArgument(which + " must be " + t.str());
    if (want == ArgValue::Ptr && args[i].ptr % 16 != 0)
      throw InvalidArgument(which + " must be 16-byte aligned");
    int64_t m = k.params[i].multipleOf;
    int64_t v = want == ArgValue::I32 ? args[i].i32 : want == ArgValue::I64 ? args[i].i64 : 0;
    if (m > 1 && v % m != 0)
      throw InvalidArgument(which + " must be a multiple of " + std::to_string(m) + ", got " +
                            std::to_string(v));
  }
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0) return;
  std::vector<void *> ptrs;
  for (const ArgValue &a : args) ptrs.push_back(const_cast<void *>(static_cast<const void *>(&a.ptr)));
  // The TMA descriptors, after the arguments (see TensorMapSpec).
  struct alignas(128) TensorMap {
    unsigned char bytes[128];
  };
  std::vector<TensorMap> maps(k.tensorMaps.size());
  for (size_t i = 0; i < maps.size(); ++i) {
    const TensorMapSpec &m = k.tensorMaps[i];
    auto value = [&](int64_t ref) -> int64_t {
      if (ref < 0) return -1 - ref;
      if (size_t(ref) >= args.size())
        throw InternalError("a TMA descriptor names a missing argument");
      const ArgValue &a = args[size_t(ref)];
      return a.kind == ArgValue::I32 ? a.i32 : a.kind == ArgValue::I64 ? a.i64 : int64_t(a.ptr);
    };
    std::vector<uint64_t> sizes, strides;
    std::string which = "kernel '" + k.name + "': the tensor of its box load " + std::to_string(i);
    for (int64_t ref : m.sizes) {
      int64_t v = value(ref);
      if (v < 0) throw InvalidArgument(which + " has a negative size (" + std::to_string(v) + ")");
      sizes.push_back(uint64_t(std::max<int64_t>(v, 1))); // (empty: nothing is copied of it)
    }
    for (size_t d = 0; d < m.strides.size(); ++d) {
      int64_t v = value(m.strides[d]);
      if (v < 1)
        throw InvalidArgument(which + " has stride " + std::to_string(d) + " = " +
                              std::to_string(v) + " (TMA needs positive strides)");
      strides.push_back(uint64_t(v) * 2);
    }
    rt::Cuda::get().encodeTensorMap(maps[i].bytes, m.bf16, uint64_t(value(m.base)), sizes,
                                    strides, unsigned(m.boxRows), unsigned(m.boxCols));
    ptrs.push_back(maps[i].bytes);
  }
  if (k.target.backend == Backend::CUDA) {
    static std::mutex loadMu;
    {
      std::lock_guard<std::mutex> g(loadMu);
      if (!k.gpu.function) k.gpu = rt::Cuda::get().loadPTX(k.ptx, k.name, k.sharedBytes);
    }
    unsigned block[3] = {unsigned(k.numThreads), 1, 1};
    rt::Cuda::get().launch(k.gpu, grid.data(), block, k.sharedBytes, ptrs.data(), stream);
    return;
  }
  size_t total = size_t(grid[0]) * grid[1] * grid[2];
  unsigned workers = rt::numWorkers();
  std::vector<std::vector<char>> scratch(workers);
  rt::parallelFor(total, [&](size_t idx, unsigned w) {
    auto &buf = scratch[w];
    if (buf.size() < k.scratchBytes + 64) buf.resize(k.scratchBytes + 64);
    char *base = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
    int32_t pid[3] = {int32_t(idx % grid[0]), int32_t(idx / grid[0] % grid[1]),
                      int32_t(idx / (size_t(grid[0]) * grid[1]))};
    int32_t np[3] = {int32_t(grid[0]), int32_t(grid[1]), int32_t(grid[2])};
    k.cpuEntry(ptrs.data(), pid, np, base);
  });
}

SpecializedKernel::SpecializedKernel(const dsl::KernelDef &def, const dsl::Config &config,
                                     const Target &t)
    : def_(def), config_(config), target_(t) {}

std::shared_ptr<CompiledKernel> SpecializedKernel::variant(const std::vector<ArgValue> &args) {
  uint64_t bits = 0;
  for (size_t i = 0; i < args.size() && i < 64; ++i) {
    const ArgValue &a = args[i];
    int64_t v = a.kind == ArgValue::I32 ? a.i32 : a.kind == ArgValue::I64 ? a.i64 : 1;
    if ((a.kind == ArgValue::I32 || a.kind == ArgValue::I64) && v % 16 == 0) bits |= 1ull << i;
  }
  std::lock_guard<std::mutex> g(mu_);
  auto it = variants_.find(bits);
  if (it != variants_.end()) return it->second;
  dsl::Kernel k = dsl::trace(def_, config_);
  if (args.size() != k.params.size())
    throw InvalidArgument("kernel '" + k.name + "' takes " + std::to_string(k.params.size()) +
                          " arguments, got " + std::to_string(args.size()));
  for (size_t i = 0; i < k.params.size() && i < 64; ++i)
    if ((bits >> i & 1) && k.params[i].multipleOf < 16) k.params[i].multipleOf = 16;
  auto c = compile(k, target_);
  variants_[bits] = c;
  return c;
}

void SpecializedKernel::launch(std::array<unsigned, 3> grid, const std::vector<ArgValue> &args,
                               rt::Stream stream) {
  hip::launch(*variant(args), grid, args, stream);
}

} // namespace hip
