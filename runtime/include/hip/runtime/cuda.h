//===- hip/runtime/cuda.h - CUDA driver, loaded at run time ----*- C++ -*-===//
//
// The CUDA driver (libcuda.so.1), NVRTC and cuBLAS are loaded with dlopen on
// first use, so the library loads and works (CPU backend) where there is no
// GPU. Every failure throws hip::RuntimeError naming what is missing.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hip::rt {

/// What the library needs to know about the GPU it runs on.
struct DeviceInfo {
  std::string name;
  int ccMajor = 0, ccMinor = 0;
  int smCount = 0;
  int driverVersion = 0;           // e.g. 13000
  std::size_t totalMemory = 0;
  std::size_t sharedPerBlock = 0;      // default limit (48 KiB)
  std::size_t sharedPerBlockOptin = 0; // opt-in limit (227 KiB on H100)
  std::size_t sharedPerSM = 0;
  int regsPerBlock = 0;
  int maxThreadsPerBlock = 0;
  /// "sm_90a" on Hopper (9.0), else "sm_XY".
  std::string smTarget() const;
  /// A string identifying the GPU for caches: name, cc, SM count, driver.
  std::string fingerprint() const;
};

using DevicePtr = std::uint64_t;
using Stream = void *;
using Event = void *;

/// True when libcuda loads and a device exists; `why` says what is missing.
bool cudaAvailable(std::string *why = nullptr);

/// A loaded module + function, ready to launch.
struct KernelHandle {
  void *module = nullptr;
  void *function = nullptr;
};

/// The process-wide CUDA context on device 0 (primary context).
class Cuda {
public:
  /// Throws hip::RuntimeError if CUDA is unavailable.
  static Cuda &get();

  const DeviceInfo &info() const { return info_; }

  /// Loads PTX through the driver JIT; the JIT's error log is in the
  /// exception. `sharedBytes` > 48 KiB opts the function in to that much
  /// dynamic shared memory.
  KernelHandle loadPTX(const std::string &ptx, const std::string &entry,
                       std::size_t sharedBytes);
  void launch(const KernelHandle &k, const unsigned grid[3],
              const unsigned block[3], std::size_t sharedBytes, void **args,
              Stream stream = nullptr);
  /// Writes into `out` (128 bytes) the TMA descriptor of a tensor of
  /// 16-bit elements (`bf16`: bfloat16, else float16) at `base` of `sizes`
  /// (2 to 5 dimensions, outermost first) whose dimensions but the last lie
  /// `strideBytes` apart, copied in boxes of `boxRows` x `boxCols` of the
  /// last two dimensions (one index of the others) into shared memory in
  /// the 128-byte swizzle, zeros outside the tensor. Throws InvalidArgument
  /// where the driver refuses it (e.g. a stride that is not a multiple of
  /// 16 bytes), RuntimeError where the driver has no cuTensorMapEncodeTiled.
  void encodeTensorMap(void *out, bool bf16, std::uint64_t base,
                       const std::vector<std::uint64_t> &sizes,
                       const std::vector<std::uint64_t> &strideBytes, unsigned boxRows,
                       unsigned boxCols);

  DevicePtr alloc(std::size_t bytes);
  void free(DevicePtr p);
  void copyToDevice(DevicePtr dst, const void *src, std::size_t bytes);
  void copyToHost(void *dst, DevicePtr src, std::size_t bytes);
  void memsetD8(DevicePtr dst, unsigned char value, std::size_t bytes);
  void synchronize();

  Event createEvent();
  void destroyEvent(Event e);
  void record(Event e, Stream s = nullptr);
  /// Milliseconds between two recorded events (synchronizes on `end`).
  float elapsedMs(Event start, Event end);

private:
  Cuda();
  DeviceInfo info_;
};

/// A device buffer that frees itself.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer &&o) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&o) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  DevicePtr ptr() const { return ptr_; }
  std::size_t size() const { return size_; }

private:
  DevicePtr ptr_ = 0;
  std::size_t size_ = 0;
};

/// NVRTC: compile CUDA C++ source to PTX for the current device (used for
/// independent GPU reference kernels). Throws with NVRTC's log on failure.
std::string nvrtcCompile(const std::string &source, const std::string &name,
                         const std::string &arch);

/// cuBLAS, for benchmarks: C[m,n] (row-major, f32 or bf16 output) =
/// A[m,k] (row-major bf16/f16) * B[k,n] (row-major). dtype: 0 = bf16, 1 = f16.
/// outF32 selects f32 output. Throws if cuBLAS cannot be loaded.
void cublasGemm(int m, int n, int k, DevicePtr a, DevicePtr b, DevicePtr c,
                int dtype, bool outF32);

} // namespace hip::rt
