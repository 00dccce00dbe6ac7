//===- hip/compiler/compiler.h - Compile and launch tile kernels -*- C++ -*-===//
//
// The compiler turns a traced tile-IR Kernel into code for one target:
//   GPU: tile IR -> per-thread MLIR (arith/scf/llvm/nvvm, layouts assigned)
//        -> LLVM dialect -> LLVM IR -> NVPTX -> PTX -> driver JIT
//   CPU: tile IR -> loop-nest MLIR (arith/scf/llvm) -> LLVM -> ORC JIT
// No MLIR header is included here.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/dsl/dsl.h"
#include "hip/dsl/ir.h"
#include "hip/runtime/cuda.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hip {

enum class Backend { CPU, CUDA };
const char *backendName(Backend b);

/// What code is generated for.
struct Target {
  Backend backend = Backend::CPU;
  std::string arch = "cpu"; // "cpu", "sm_80", "sm_90", "sm_90a", ...
  int ptxVersion = 80;      // PTX ISA (80 = 8.0)
  int llvmOpt = 1;          // GPU: LLVM middle-end level before NVPTX (0-3; HIP_LLVM_OPT)
  bool wgmma = true;        // sm_90a: dots that fit a warpgroup use wgmma (HIP_WGMMA)
  bool lineInfo = true;     // GPU: .loc lines naming the kernel's C++ source (HIP_LINE_INFO)
  /// Whether dots may be lowered to Hopper's wgmma (sm_90a, not HIP_WGMMA=0).
  bool hasWgmma() const { return backend == Backend::CUDA && arch == "sm_90a" && wgmma; }
  std::string str() const;
};

/// "cpu", "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a", "sm_100a", "sm_120a":
/// throws InvalidArgument naming the supported ones otherwise. The PTX ISA is
/// the lowest the chip allows (at least 8.0), or HIP_PTX_VERSION (e.g. 85);
/// the LLVM optimisation level is HIP_LLVM_OPT (0 to 3, default 1); HIP_WGMMA=0
/// keeps sm_90a's dots on mma.sync; HIP_LINE_INFO=0 leaves the PTX's .loc lines out.
Target parseTarget(const std::string &name);
/// The backend HIP_BACKEND asks for (auto|cuda|cpu; auto = CUDA when a GPU is
/// usable). Throws InvalidArgument for other values, RuntimeError when cuda
/// is forced but unavailable.
Backend selectBackend();
/// Target of the current device for `b` (reads the GPU's compute capability).
Target currentTarget(Backend b);

/// GPU: a TMA descriptor the kernel takes after its parameters (one per
/// box load the backend copies with TMA), built at each launch from the
/// arguments: a tensor of 16-bit elements at argument `base` of `sizes`
/// (2 to 5 dimensions, outermost first) with `strides` (elements, all but
/// the last dimension's, which is 1), each an argument's index or -1 - v for
/// the number v, copied in boxes of boxRows x boxCols of its last two
/// dimensions.
struct TensorMapSpec {
  int64_t base = 0;
  std::vector<int64_t> sizes, strides;
  bool bf16 = true;
  int boxRows = 0, boxCols = 0;
  bool operator==(const TensorMapSpec &) const = default;
};

/// A kernel compiled for one target, ready to launch.
struct CompiledKernel {
  std::string name;
  Target target;
  std::vector<dsl::Param> params;
  int numThreads = 128;
  std::size_t sharedBytes = 0; // dynamic shared memory (GPU)
  std::vector<TensorMapSpec> tensorMaps; // GPU
  std::string ptx;             // GPU
  std::string cacheKey;
  bool fromCache = false;
  double compileMs = 0; // tile IR -> PTX / JIT'd code (excludes driver JIT)
  // CPU: owning JIT engine and entry point.
  std::shared_ptr<void> engine;
  void (*cpuEntry)(void **args, int32_t pid[3], int32_t nprog[3],
                   char *scratch) = nullptr;
  std::size_t scratchBytes = 0;
  // GPU: loaded lazily on first launch.
  rt::KernelHandle gpu;
};

/// One launch argument: a pointer (device address on CUDA, host address on
/// CPU) or a scalar.
struct ArgValue {
  enum Kind { Ptr, I32, I64, F32 } kind;
  union {
    std::uint64_t ptr;
    int32_t i32;
    int64_t i64;
    float f32;
  };
  static ArgValue pointer(std::uint64_t p) { ArgValue a{Ptr}; a.ptr = p; return a; }
  static ArgValue pointer(const void *p) {
    return pointer(reinterpret_cast<std::uint64_t>(p));
  }
  static ArgValue int32(int32_t v) { ArgValue a{I32}; a.i32 = v; return a; }
  static ArgValue int64(int64_t v) { ArgValue a{I64}; a.i64 = v; return a; }
  static ArgValue float32(float v) { ArgValue a{F32}; a.f32 = v; return a; }
};

/// Compiles (or fetches from the in-memory and on-disk caches). Throws
/// CompileError for kernels the target cannot compile.
std::shared_ptr<CompiledKernel> compile(const dsl::Kernel &k, const Target &t);

/// Forgets the compiled kernels held in memory (the on-disk cache stays).
void clearInMemoryCache();

/// Text of one compilation stage: "tile", "layouts" (GPU: the tile IR with
/// the layout of each value), "mlir" (per-thread code / loop nests), "llvm"
/// (LLVM IR), "ptx" (GPU targets only).
std::string emitStage(const dsl::Kernel &k, const Target &t,
                      const std::string &stage);

/// Launches `grid` programs; checks argument count and kinds against the
/// kernel's parameters (InvalidArgument otherwise). CPU launches run the
/// programs on the thread pool and return when done; CUDA launches are
/// asynchronous on `stream`.
void launch(CompiledKernel &k, std::array<unsigned, 3> grid,
            const std::vector<ArgValue> &args, rt::Stream stream = nullptr);

/// A registered kernel with one config for one target, compiled on demand
/// for each specialisation of its integer arguments: those whose value at a
/// launch is a multiple of 16 (and that promise nothing themselves) get a
/// variant that knows it, which lets masks and loads be vectorised (as
/// Triton does). Thread-safe.
class SpecializedKernel {
public:
  SpecializedKernel(const dsl::KernelDef &def, const dsl::Config &config, const Target &t);
  /// Compiles (or reuses) the variant for `args` and launches it.
  void launch(std::array<unsigned, 3> grid, const std::vector<ArgValue> &args,
              rt::Stream stream = nullptr);
  /// The variant `args` select (compiled if needed).
  std::shared_ptr<CompiledKernel> variant(const std::vector<ArgValue> &args);
  const dsl::Config &config() const { return config_; }

private:
  const dsl::KernelDef &def_;
  dsl::Config config_;
  Target target_;
  std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<CompiledKernel>> variants_;
};

/// The compiler's own version string (part of every cache key).
const char *compilerVersion();

/// Environment variables that change generated code (part of cache keys).
std::string codegenEnvironment();

} // namespace hip
