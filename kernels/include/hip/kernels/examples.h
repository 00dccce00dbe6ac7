//===- hip/kernels/examples.h - Example kernels and their references -*- C++ -*-===//
//
// vector_add, row_softmax, token_nll and matmul: the DSL's example kernels (registered in
// the kernel registry), with plain C++ float64 references used by tests, the
// demo and benchmarks.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <vector>

namespace hip::kernels {

/// Forces the example kernels' registration (call once before lookups);
/// also registers the attention kernels.
void registerExampleKernels();
/// Registers flash_attention (kernels/attention.cpp).
void registerAttentionKernels();
/// paged_rows: rows between a paged KV cache and contiguous memory.
void registerPagedKernels();

void referenceVectorAdd(const float *x, const float *y, float *out, int64_t n);
/// Softmax of each row of x[rows][cols] (row stride `stride`).
void referenceRowSoftmax(const float *x, float *out, int64_t rows, int64_t cols,
                         int64_t stride);
/// nll[r] = log(sum_i exp(x[r][i])) - x[r][target[r]] over cols columns
/// (row stride `stride`), in float64.
void referenceTokenNll(const float *x, const int32_t *target, float *nll, int64_t rows,
                       int64_t cols, int64_t stride);
/// C[M][N] = A[M][K] * B[K][N], inputs as float (already rounded to the
/// kernel's input type), accumulated in double.
void referenceMatmul(const float *a, const float *b, float *c, int64_t M, int64_t N,
                     int64_t K);

/// bf16/f16 <-> float conversions for host buffers (round to nearest even).
uint16_t floatToBf16(float f);
float bf16ToFloat(uint16_t h);
uint16_t floatToF16(float f);
float f16ToFloat(uint16_t h);

} // namespace hip::kernels

#include "hip/compiler/compiler.h"
#include "hip/dsl/dsl.h"

#include <array>
#include <string>

namespace hip::kernels {

/// Host memory seen by a kernel on target `t`: on the CPU the memory itself,
/// on CUDA a device buffer of the same size. Used by the run-and-check
/// harness and the tests.
class Mirror {
public:
  Mirror(const Target &t, void *host, std::size_t bytes);
  /// The launch argument pointing at the data on the target.
  ArgValue arg() const;
  /// Copies the host memory to the target (no-op on the CPU).
  void upload();
  /// Copies the target's data back into the host memory (no-op on the CPU).
  void download();

private:
  void *host_;
  std::size_t bytes_;
  rt::DeviceBuffer dev_;
};

/// The matmul kernel's launch arguments, in the order it declares them:
/// C[M][N] (f32, row pitch ldc) = A[M][K] (row pitch lda) * B[K][N] (ldb).
std::vector<ArgValue> matmulArgs(ArgValue a, ArgValue b, ArgValue c, int64_t M, int64_t N,
                                 int64_t K, int64_t lda, int64_t ldb, int64_t ldc);
/// Its 1-D grid for an M x N output under a full `config` (one that names
/// BLOCK_M and BLOCK_N, e.g. a traced kernel's).
std::array<unsigned, 3> matmulGrid(const dsl::Config &config, int64_t M, int64_t N);

/// What one checked run of an example kernel gave.
struct ExampleRun {
  std::string kernel, config, target;
  double compileMs = 0; // tile IR -> code (cache lookups included)
  bool fromCache = false;
  double runMs = 0;     // median over `reps` timed launches (0 if reps == 0)
  double maxError = 0, tolerance = 0;
  bool passed = false;
  std::string detail; // why it failed
};

/// Runs example `kernel` (vector_add: dims {n}; row_softmax: {rows, cols};
/// token_nll: {rows, cols}; matmul: {M, N, K}) with `config` on target `t` over fresh random inputs
/// (seeded), outputs poisoned with NaN first, and compares with the float64
/// reference. `reps` > 0 also times that many launches after one warm-up.
ExampleRun runExample(const std::string &kernel, const dsl::Config &config, const Target &t,
                      const std::vector<int64_t> &dims, uint64_t seed, int reps = 0);

} // namespace hip::kernels
