//===- runtime/cuda.cpp - CUDA driver, NVRTC and cuBLAS via dlopen --------===//
//
// No CUDA header is included and nothing links against CUDA: the few types
// and enum values the library needs are declared here (numbers copied from
// the CUDA 13 driver API headers) and every entry point is found with dlsym.
//
//===----------------------------------------------------------------------===//

#include "hip/runtime/cuda.h"

#include "hip/error.h"

#include <dlfcn.h>

#include <cstdlib>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hip::rt {
namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;
using CUdeviceptr = std::uint64_t;

constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK = 12;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr int CU_JIT_GENERATE_LINE_INFO = 13;
constexpr std::size_t kDefaultSharedLimit = 48 * 1024;

/// Opens the first library of `names` that loads; on failure `err` holds the
/// last dlerror().
void *openFirst(std::initializer_list<const char *> names, std::string &err) {
  for (const char *n : names) {
    if (void *h = dlopen(n, RTLD_NOW | RTLD_LOCAL))
      return h;
    const char *e = dlerror();
    err = e ? e : n;
  }
  return nullptr;
}

/// Looks `name` up in `lib`; returns false if missing.
template <typename Fn> bool sym(void *lib, Fn &fn, const char *name) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  return fn != nullptr;
}

/// The driver entry points; members are named after the exported symbols.
struct Driver {
  std::string error; // non-empty: why CUDA is unavailable
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceTotalMem_v2)(std::size_t *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuMemAlloc_v2)(CUdeviceptr *, std::size_t);
  CUresult (*cuMemFree_v2)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, std::size_t);
  CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, std::size_t);
  CUresult (*cuMemsetD8_v2)(CUdeviceptr, unsigned char, std::size_t);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuEventDestroy_v2)(CUevent);
  // (CUDA >= 12.0; optional: only kernels that copy with TMA need it)
  CUresult (*cuTensorMapEncodeTiled)(void *, int, unsigned, void *, const std::uint64_t *,
                                     const std::uint64_t *, const unsigned *, const unsigned *,
                                     int, int, int, int) = nullptr;
};

/// Loads libcuda.so.1 and initializes the driver; never throws.
Driver loadDriver() {
  Driver d{};
  void *lib = openFirst({"libcuda.so.1"}, d.error);
  if (!lib) {
    d.error = "libcuda.so.1 not found: " + d.error;
    return d;
  }
#define HIP_CU_SYM(fn)                                                         \
  if (!sym(lib, d.fn, #fn)) {                                                  \
    d.error = "libcuda.so.1 lacks " #fn;                                       \
    return d;                                                                  \
  }
  HIP_CU_SYM(cuInit)
  HIP_CU_SYM(cuDriverGetVersion)
  HIP_CU_SYM(cuDeviceGetCount)
  HIP_CU_SYM(cuDeviceGet)
  HIP_CU_SYM(cuDeviceGetName)
  HIP_CU_SYM(cuDeviceGetAttribute)
  HIP_CU_SYM(cuDeviceTotalMem_v2)
  HIP_CU_SYM(cuDevicePrimaryCtxRetain)
  HIP_CU_SYM(cuCtxSetCurrent)
  HIP_CU_SYM(cuCtxSynchronize)
  HIP_CU_SYM(cuGetErrorName)
  HIP_CU_SYM(cuGetErrorString)
  HIP_CU_SYM(cuModuleLoadDataEx)
  HIP_CU_SYM(cuModuleUnload)
  HIP_CU_SYM(cuModuleGetFunction)
  HIP_CU_SYM(cuFuncSetAttribute)
  HIP_CU_SYM(cuLaunchKernel)
  HIP_CU_SYM(cuMemAlloc_v2)
  HIP_CU_SYM(cuMemFree_v2)
  HIP_CU_SYM(cuMemcpyHtoD_v2)
  HIP_CU_SYM(cuMemcpyDtoH_v2)
  HIP_CU_SYM(cuMemsetD8_v2)
  HIP_CU_SYM(cuEventCreate)
  HIP_CU_SYM(cuEventRecord)
  HIP_CU_SYM(cuEventSynchronize)
  HIP_CU_SYM(cuEventDestroy_v2)
#undef HIP_CU_SYM
  sym(lib, d.cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled");
  // CUDA 13 exports the elapsed-time entry point as _v2 only.
  if (!sym(lib, d.cuEventElapsedTime, "cuEventElapsedTime_v2") &&
      !sym(lib, d.cuEventElapsedTime, "cuEventElapsedTime")) {
    d.error = "libcuda.so.1 lacks cuEventElapsedTime";
    return d;
  }
  int count = 0;
  CUresult r = d.cuInit(0);
  if (r == 0)
    r = d.cuDeviceGetCount(&count);
  if (r == CUDA_ERROR_NO_DEVICE || (r == 0 && count == 0))
    d.error = "no CUDA device";
  else if (r != 0)
    d.error = "cuInit failed with CUDA error " + std::to_string(r);
  return d;
}

/// The driver, loaded on first use; `error` says why it is unusable.
Driver &loadedDriver() {
  static Driver d = loadDriver();
  return d;
}

/// The loaded driver; throws hip::RuntimeError if CUDA is unavailable.
Driver &driver() {
  Driver &d = loadedDriver();
  if (!d.error.empty())
    throw RuntimeError("CUDA is unavailable: " + d.error);
  return d;
}

/// The driver's name and text of error `r`: "NAME (text)".
std::string errorText(CUresult r) {
  const char *name = nullptr, *text = nullptr;
  driver().cuGetErrorName(r, &name);
  driver().cuGetErrorString(r, &text);
  return std::string(name ? name : std::to_string(r)) + " (" + (text ? text : "unknown error") +
         ")";
}

/// Throws hip::RuntimeError naming `call` and the driver's error.
void check(CUresult r, const char *call, const std::string &extra = "") {
  if (r == 0)
    return;
  throw RuntimeError(std::string(call) + " failed: " + errorText(r) + extra);
}

#define HIP_CU(fn, ...) check(driver().fn(__VA_ARGS__), #fn)

CUcontext gContext = nullptr; // primary context of device 0, set by Cuda()

/// Makes the primary context current on the calling thread (once per thread).
void bindContext() {
  thread_local CUcontext bound = nullptr;
  if (bound != gContext) {
    HIP_CU(cuCtxSetCurrent, gContext);
    bound = gContext;
  }
}

} // namespace

std::string DeviceInfo::smTarget() const {
  if (ccMajor == 9 && ccMinor == 0)
    return "sm_90a";
  return "sm_" + std::to_string(ccMajor) + std::to_string(ccMinor);
}

std::string DeviceInfo::fingerprint() const {
  return name + "|sm_" + std::to_string(ccMajor) + std::to_string(ccMinor) +
         "|" + std::to_string(smCount) + "|" + std::to_string(driverVersion);
}

bool cudaAvailable(std::string *why) {
  const std::string &error = loadedDriver().error;
  if (why)
    *why = error;
  return error.empty();
}

Cuda &Cuda::get() {
  static Cuda instance;
  return instance;
}

Cuda::Cuda() {
  CUdevice dev = 0;
  HIP_CU(cuDeviceGet, &dev, 0);
  HIP_CU(cuDevicePrimaryCtxRetain, &gContext, dev);
  char name[256] = {};
  HIP_CU(cuDeviceGetName, name, static_cast<int>(sizeof(name)), dev);
  info_.name = name;
  auto attr = [&](int a) {
    int v = 0;
    HIP_CU(cuDeviceGetAttribute, &v, a, dev);
    return v;
  };
  info_.ccMajor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  info_.ccMinor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  info_.smCount = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  HIP_CU(cuDriverGetVersion, &info_.driverVersion);
  HIP_CU(cuDeviceTotalMem_v2, &info_.totalMemory, dev);
  info_.sharedPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
  info_.sharedPerBlockOptin =
      attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  info_.sharedPerSM =
      attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
  info_.regsPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
  info_.maxThreadsPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
}

KernelHandle Cuda::loadPTX(const std::string &ptx, const std::string &entry,
                           std::size_t sharedBytes) {
  if (sharedBytes > info_.sharedPerBlockOptin)
    throw RuntimeError("kernel '" + entry + "' needs " +
                       std::to_string(sharedBytes) +
                       " bytes of shared memory; " + info_.name +
                       " allows at most " +
                       std::to_string(info_.sharedPerBlockOptin) + " per block");
  bindContext();
  char log[16384] = {};
  // Line info (the PTX's .loc lines, when it has them) goes into the SASS
  // for compute-sanitizer and Nsight Compute; it does not change the code.
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                   CU_JIT_GENERATE_LINE_INFO};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log)), reinterpret_cast<void *>(1)};
  KernelHandle k;
  check(driver().cuModuleLoadDataEx(&k.module, ptx.c_str(), 3, options, values),
        "cuModuleLoadDataEx", std::string("\nJIT log:\n") + log);
  try {
    HIP_CU(cuModuleGetFunction, &k.function, k.module, entry.c_str());
    if (sharedBytes > kDefaultSharedLimit)
      HIP_CU(cuFuncSetAttribute, k.function,
             CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
             static_cast<int>(sharedBytes));
  } catch (...) {
    driver().cuModuleUnload(k.module);
    throw;
  }
  return k;
}

void Cuda::launch(const KernelHandle &k, const unsigned grid[3],
                  const unsigned block[3], std::size_t sharedBytes,
                  void **args, Stream stream) {
  bindContext();
  HIP_CU(cuLaunchKernel, k.function, grid[0], grid[1], grid[2], block[0],
         block[1], block[2], static_cast<unsigned>(sharedBytes), stream, args,
         nullptr);
}

void Cuda::encodeTensorMap(void *out, bool bf16, std::uint64_t base,
                           const std::vector<std::uint64_t> &sizes,
                           const std::vector<std::uint64_t> &strideBytes, unsigned boxRows,
                           unsigned boxCols) {
  if (!driver().cuTensorMapEncodeTiled)
    throw RuntimeError("this CUDA driver has no cuTensorMapEncodeTiled (CUDA >= 12.0 needed "
                       "for kernels that copy with TMA)");
  size_t n = sizes.size();
  if (n < 2 || n > 5 || strideBytes.size() != n - 1)
    throw InvalidArgument("a TMA descriptor needs 2 to 5 sizes and one stride fewer");
  // The driver lists dimensions innermost first. CUtensorMapDataType
  // FLOAT16 = 6, BFLOAT16 = 9; interleave none (0), swizzle 128B (3), L2
  // promotion 256B (3), out-of-bounds fill zeros (0).
  constexpr int kFloat16 = 6, kBFloat16 = 9, kSwizzle128B = 3, kL2Promote256B = 3;
  std::uint64_t dims[5], strides[4];
  unsigned box[5], elementStrides[5];
  for (size_t d = 0; d < n; ++d) {
    dims[d] = sizes[n - 1 - d];
    box[d] = d == 0 ? boxCols : d == 1 ? boxRows : 1;
    elementStrides[d] = 1;
    if (d + 1 < n) strides[d] = strideBytes[n - 2 - d];
  }
  CUresult r = driver().cuTensorMapEncodeTiled(out, bf16 ? kBFloat16 : kFloat16, unsigned(n),
                                               reinterpret_cast<void *>(base), dims, strides,
                                               box, elementStrides, 0, kSwizzle128B,
                                               kL2Promote256B, 0);
  if (r != 0) {
    std::string shape, pitch;
    for (size_t d = 0; d < n; ++d) shape += (d ? " x " : "") + std::to_string(sizes[d]);
    for (size_t d = 0; d + 1 < n; ++d) pitch += (d ? ", " : "") + std::to_string(strideBytes[d]);
    throw InvalidArgument("cuTensorMapEncodeTiled refused a " + shape + " tensor (strides " +
                          pitch + " bytes) in " + std::to_string(boxRows) + " x " +
                          std::to_string(boxCols) + " boxes: " + errorText(r));
  }
}

// Freed buffers are kept for reuse by a later request of the same size
// (attention's outputs and temporaries repeat call after call):
// cuMemAlloc of 100 MiB costs a fraction of a millisecond and cuMemFree
// waits for the device, which a caller would pay on every call. Everything
// runs on the legacy default stream, so a kept buffer handed out again is
// only touched after the work that used it. Exact sizes only: memcheck
// still sees every overrun. HIP_CUDA_ALLOC_CACHE=0 frees at once.
namespace {
struct AllocCache {
  std::mutex m;
  std::unordered_map<CUdeviceptr, std::size_t> sizes; // live and kept
  std::multimap<std::size_t, CUdeviceptr> kept;
  bool enabled = [] {
    const char *e = std::getenv("HIP_CUDA_ALLOC_CACHE");
    return !(e && std::string(e) == "0");
  }();
};
AllocCache &allocCache() {
  static AllocCache *c = new AllocCache; // (outlives the static Cuda)
  return *c;
}
} // namespace

DevicePtr Cuda::alloc(std::size_t bytes) {
  bindContext();
  AllocCache &c = allocCache();
  std::lock_guard<std::mutex> g(c.m);
  if (auto it = c.kept.find(bytes); it != c.kept.end()) {
    CUdeviceptr p = it->second;
    c.kept.erase(it);
    return p;
  }
  CUdeviceptr p = 0;
  CUresult r = driver().cuMemAlloc_v2(&p, bytes);
  if (r == CUDA_ERROR_OUT_OF_MEMORY && !c.kept.empty()) {
    // Give the kept buffers back and try again.
    for (auto &[size, q] : c.kept) {
      c.sizes.erase(q);
      check(driver().cuMemFree_v2(q), "cuMemFree_v2");
    }
    c.kept.clear();
    r = driver().cuMemAlloc_v2(&p, bytes);
  }
  check(r, "cuMemAlloc_v2");
  c.sizes[p] = bytes;
  return p;
}

void Cuda::free(DevicePtr p) {
  if (!p)
    return;
  bindContext();
  AllocCache &c = allocCache();
  std::lock_guard<std::mutex> g(c.m);
  auto it = c.sizes.find(p);
  if (c.enabled && it != c.sizes.end()) {
    c.kept.emplace(it->second, p);
    return;
  }
  if (it != c.sizes.end()) c.sizes.erase(it);
  HIP_CU(cuMemFree_v2, p);
}

void Cuda::copyToDevice(DevicePtr dst, const void *src, std::size_t bytes) {
  bindContext();
  HIP_CU(cuMemcpyHtoD_v2, dst, src, bytes);
}

void Cuda::copyToHost(void *dst, DevicePtr src, std::size_t bytes) {
  bindContext();
  HIP_CU(cuMemcpyDtoH_v2, dst, src, bytes);
}

void Cuda::memsetD8(DevicePtr dst, unsigned char value, std::size_t bytes) {
  bindContext();
  HIP_CU(cuMemsetD8_v2, dst, value, bytes);
}

void Cuda::synchronize() {
  bindContext();
  HIP_CU(cuCtxSynchronize);
}

Event Cuda::createEvent() {
  bindContext();
  CUevent e = nullptr;
  HIP_CU(cuEventCreate, &e, 0u);
  return e;
}

void Cuda::destroyEvent(Event e) {
  bindContext();
  HIP_CU(cuEventDestroy_v2, e);
}

void Cuda::record(Event e, Stream s) {
  bindContext();
  HIP_CU(cuEventRecord, e, s);
}

float Cuda::elapsedMs(Event start, Event end) {
  bindContext();
  HIP_CU(cuEventSynchronize, end);
  float ms = 0;
  HIP_CU(cuEventElapsedTime, &ms, start, end);
  return ms;
}

DeviceBuffer::DeviceBuffer(std::size_t bytes)
    : ptr_(Cuda::get().alloc(bytes)), size_(bytes) {}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) {
    try {
      Cuda::get().free(ptr_);
    } catch (const Error &) {
      // A destructor must not throw; the context is being torn down anyway.
    }
  }
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&o) noexcept
    : ptr_(o.ptr_), size_(o.size_) {
  o.ptr_ = 0;
  o.size_ = 0;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&o) noexcept {
  if (this != &o) {
    DeviceBuffer old(std::move(*this));
    ptr_ = o.ptr_;
    size_ = o.size_;
    o.ptr_ = 0;
    o.size_ = 0;
  }
  return *this;
}

//===----------------------------------------------------------------------===//
// NVRTC
//===----------------------------------------------------------------------===//

namespace {

using nvrtcProgram = void *;

struct Nvrtc {
  std::string error;
  int (*nvrtcCreateProgram)(nvrtcProgram *, const char *, const char *, int,
                            const char *const *, const char *const *);
  int (*nvrtcCompileProgram)(nvrtcProgram, int, const char *const *);
  int (*nvrtcGetPTXSize)(nvrtcProgram, std::size_t *);
  int (*nvrtcGetPTX)(nvrtcProgram, char *);
  int (*nvrtcGetProgramLogSize)(nvrtcProgram, std::size_t *);
  int (*nvrtcGetProgramLog)(nvrtcProgram, char *);
  int (*nvrtcDestroyProgram)(nvrtcProgram *);
  const char *(*nvrtcGetErrorString)(int);
};

Nvrtc &nvrtc() {
  static Nvrtc n = [] {
    Nvrtc n{};
    void *lib = openFirst({"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
                           "/usr/local/cuda/lib64/libnvrtc.so.13",
                           "/usr/local/cuda/lib64/libnvrtc.so.12",
                           "/usr/local/cuda/lib64/libnvrtc.so"},
                          n.error);
    if (!lib) {
      n.error = "libnvrtc.so not found: " + n.error;
      return n;
    }
    if (!sym(lib, n.nvrtcCreateProgram, "nvrtcCreateProgram") ||
        !sym(lib, n.nvrtcCompileProgram, "nvrtcCompileProgram") ||
        !sym(lib, n.nvrtcGetPTXSize, "nvrtcGetPTXSize") ||
        !sym(lib, n.nvrtcGetPTX, "nvrtcGetPTX") ||
        !sym(lib, n.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize") ||
        !sym(lib, n.nvrtcGetProgramLog, "nvrtcGetProgramLog") ||
        !sym(lib, n.nvrtcDestroyProgram, "nvrtcDestroyProgram") ||
        !sym(lib, n.nvrtcGetErrorString, "nvrtcGetErrorString"))
      n.error = "libnvrtc.so lacks an expected entry point";
    return n;
  }();
  if (!n.error.empty())
    throw RuntimeError("NVRTC is unavailable: " + n.error);
  return n;
}

} // namespace

std::string nvrtcCompile(const std::string &source, const std::string &name,
                         const std::string &arch) {
  Nvrtc &n = nvrtc();
  auto fail = [&](const char *call, int r, const std::string &extra = "") {
    throw RuntimeError(std::string(call) + " failed for '" + name +
                       "': " + n.nvrtcGetErrorString(r) + extra);
  };
  nvrtcProgram prog = nullptr;
  if (int r = n.nvrtcCreateProgram(&prog, source.c_str(), name.c_str(), 0,
                                   nullptr, nullptr))
    fail("nvrtcCreateProgram", r);
  std::string gpu = arch.rfind("sm_", 0) == 0 ? "compute_" + arch.substr(3)
                                              : arch;
  std::string archOpt = "--gpu-architecture=" + gpu;
  const char *opts[] = {archOpt.c_str(), "-default-device", "--std=c++17"};
  int r = n.nvrtcCompileProgram(prog, 3, opts);
  std::string out;
  std::size_t size = 0;
  if (r != 0) {
    n.nvrtcGetProgramLogSize(prog, &size);
    out.resize(size);
    n.nvrtcGetProgramLog(prog, out.data());
  } else if ((r = n.nvrtcGetPTXSize(prog, &size)) == 0) {
    out.resize(size);
    r = n.nvrtcGetPTX(prog, out.data());
  }
  n.nvrtcDestroyProgram(&prog);
  if (!out.empty() && out.back() == '\0')
    out.pop_back();
  if (r != 0)
    fail("nvrtcCompileProgram", r, "\n" + out);
  return out;
}

//===----------------------------------------------------------------------===//
// cuBLAS
//===----------------------------------------------------------------------===//

namespace {

using cublasHandle = void *;

struct Cublas {
  cublasHandle handle = nullptr;
  int (*cublasGemmEx)(cublasHandle, int, int, int, int, int, const void *,
                      const void *, int, int, const void *, int, int,
                      const void *, void *, int, int, int, int);
};

constexpr int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14;
constexpr int CUBLAS_OP_N = 0, CUBLAS_COMPUTE_32F = 68,
              CUBLAS_GEMM_DEFAULT = -1;

Cublas &cublas() {
  static Cublas c = [] {
    std::string err;
    void *lib = openFirst({"libcublas.so.13", "libcublas.so.12",
                           "libcublas.so",
                           "/usr/local/cuda/lib64/libcublas.so.13",
                           "/usr/local/cuda/lib64/libcublas.so.12"},
                          err);
    if (!lib)
      throw RuntimeError("cuBLAS is unavailable: libcublas.so not found: " +
                         err);
    Cublas c;
    int (*create)(cublasHandle *) = nullptr;
    if (!sym(lib, create, "cublasCreate_v2") ||
        !sym(lib, c.cublasGemmEx, "cublasGemmEx"))
      throw RuntimeError("cuBLAS is unavailable: missing entry points");
    if (int r = create(&c.handle))
      throw RuntimeError("cublasCreate_v2 failed with status " +
                         std::to_string(r));
    return c;
  }();
  return c;
}

} // namespace

void cublasGemm(int m, int n, int k, DevicePtr a, DevicePtr b, DevicePtr c,
                int dtype, bool outF32) {
  Cuda::get();
  bindContext();
  Cublas &cb = cublas();
  int in = dtype == 0 ? CUDA_R_16BF : CUDA_R_16F;
  int out = outF32 ? CUDA_R_32F : in;
  float alpha = 1.0f, beta = 0.0f;
  // Row-major C = A B is column-major C^T = B^T A^T.
  auto ptr = [](DevicePtr p) { return reinterpret_cast<void *>(p); };
  if (int r = cb.cublasGemmEx(cb.handle, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k,
                              &alpha, ptr(b), in, n, ptr(a), in, k, &beta,
                              ptr(c), out, n, CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT))
    throw RuntimeError("cublasGemmEx failed with status " + std::to_string(r));
}

} // namespace hip::rt
