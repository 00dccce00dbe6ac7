//===- kernels/example_runner.cpp - Run an example kernel and check it ----===//
//
// One harness for every example kernel on every backend (the model is ggml's
// test-backend-ops): inputs from a seeded generator, outputs poisoned with
// NaN, the grid launched, results compared with the float64 reference.
//
//===----------------------------------------------------------------------===//
#include "hip/kernels/examples.h"

#include "hip/runtime/cuda.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

namespace hip::kernels {

Mirror::Mirror(const Target &t, void *host, std::size_t bytes) : host_(host), bytes_(bytes) {
  if (t.backend == Backend::CUDA) dev_ = rt::DeviceBuffer(bytes);
}

void Mirror::upload() {
  if (dev_.ptr()) rt::Cuda::get().copyToDevice(dev_.ptr(), host_, bytes_);
}

ArgValue Mirror::arg() const {
  return dev_.ptr() ? ArgValue::pointer(dev_.ptr()) : ArgValue::pointer(host_);
}

void Mirror::download() {
  if (dev_.ptr()) rt::Cuda::get().copyToHost(host_, dev_.ptr(), bytes_);
}

namespace {

/// A buffer on the host, mirrored on the target when uploaded.
class Buffer {
public:
  Buffer(const Target &t, size_t bytes) : host_(bytes), mirror_(t, host_.data(), bytes) {}
  template <class T> T *host() { return reinterpret_cast<T *>(host_.data()); }
  void upload() { mirror_.upload(); }
  void download() { mirror_.download(); }
  ArgValue arg() const { return mirror_.arg(); }

private:
  std::vector<char> host_;
  Mirror mirror_;
};

unsigned cdiv(int64_t a, int64_t b) { return unsigned((a + b - 1) / b); }

double medianMs(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
} // namespace

ExampleRun runExample(const std::string &name, const dsl::Config &config, const Target &t,
                      const std::vector<int64_t> &dims, uint64_t seed, int reps) {
  registerExampleKernels();
  const dsl::KernelDef &def = dsl::findKernel(name);
  dsl::Kernel k = dsl::trace(def, config);
  ExampleRun res;
  res.kernel = name;
  res.target = t.str();
  res.config = dsl::Config(k.config).str();
  SpecializedKernel kernel(def, config, t);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto cfg = dsl::Config(k.config);

  std::vector<ArgValue> args;
  std::array<unsigned, 3> grid{1, 1, 1};
  std::vector<float> expect, got;
  std::vector<std::unique_ptr<Buffer>> bufs;
  auto buffer = [&](size_t bytes) {
    bufs.push_back(std::make_unique<Buffer>(t, bytes));
    return bufs.back().get();
  };
  Buffer *out = nullptr;
  size_t outCount = 0;
  std::function<void()> readOut;

  if (name == "vector_add") {
    if (dims.size() != 1) throw InvalidArgument("vector_add needs dims {n}");
    int64_t n = dims[0];
    Buffer *x = buffer(n * 4), *y = buffer(n * 4);
    out = buffer(n * 4);
    for (int64_t i = 0; i < n; ++i) x->host<float>()[i] = uni(rng), y->host<float>()[i] = uni(rng);
    std::fill(out->host<float>(), out->host<float>() + n, nan);
    expect.resize(n);
    referenceVectorAdd(x->host<float>(), y->host<float>(), expect.data(), n);
    args = {x->arg(), y->arg(), out->arg(), ArgValue::int32(int32_t(n))};
    grid[0] = cdiv(n, cfg["BLOCK"]);
    outCount = n;
    res.tolerance = 1e-6;
  } else if (name == "row_softmax") {
    if (dims.size() != 2) throw InvalidArgument("row_softmax needs dims {rows, cols}");
    int64_t rows = dims[0], cols = dims[1];
    if (cols > cfg["BLOCK"])
      throw InvalidArgument("row_softmax: cols " + std::to_string(cols) + " > BLOCK " +
                            std::to_string(cfg["BLOCK"]));
    Buffer *x = buffer(rows * cols * 4);
    out = buffer(rows * cols * 4);
    for (int64_t i = 0; i < rows * cols; ++i) x->host<float>()[i] = 4 * uni(rng);
    std::fill(out->host<float>(), out->host<float>() + rows * cols, nan);
    expect.resize(rows * cols);
    referenceRowSoftmax(x->host<float>(), expect.data(), rows, cols, cols);
    args = {x->arg(), out->arg(), ArgValue::int32(int32_t(rows)), ArgValue::int32(int32_t(cols)),
            ArgValue::int32(int32_t(cols))};
    grid[0] = cdiv(rows, cfg["ROWS"]);
    outCount = rows * cols;
    res.tolerance = 1e-5;
  } else if (name == "token_nll") {
    if (dims.size() != 2) throw InvalidArgument("token_nll needs dims {rows, cols}");
    int64_t rows = dims[0], cols = dims[1], stride = cols + 3; // padded rows
    Buffer *x = buffer(rows * stride * 4), *tg = buffer(rows * 4);
    out = buffer(rows * 4);
    // Logits spread like a language model's (a few large, most small); the
    // row padding holds NaN, which must never be read.
    for (int64_t i = 0; i < rows * stride; ++i)
      x->host<float>()[i] = i % stride < cols ? 8 * uni(rng) * uni(rng) * uni(rng) : nan;
    std::uniform_int_distribution<int32_t> pick(0, int32_t(cols - 1));
    for (int64_t r = 0; r < rows; ++r) tg->host<int32_t>()[r] = pick(rng);
    std::fill(out->host<float>(), out->host<float>() + rows, nan);
    expect.resize(rows);
    referenceTokenNll(x->host<float>(), tg->host<int32_t>(), expect.data(), rows, cols, stride);
    args = {x->arg(), tg->arg(), out->arg(), ArgValue::int32(int32_t(rows)),
            ArgValue::int32(int32_t(cols)), ArgValue::int32(int32_t(stride))};
    grid[0] = cdiv(rows, cfg["ROWS"]);
    outCount = rows;
    res.tolerance = 1e-4;
  } else if (name == "matmul") {
    if (dims.size() != 3) throw InvalidArgument("matmul needs dims {M, N, K}");
    int64_t M = dims[0], N = dims[1], K = dims[2];
    // Leading dimensions padded to multiples of 8 (the kernel's promise);
    // the padding holds NaN, which must never reach the output.
    int64_t lda = (K + 7) / 8 * 8, ldb = (N + 7) / 8 * 8;
    bool bf = cfg["DTYPE"] == 0;
    Buffer *a = buffer(M * lda * 2), *b = buffer(K * ldb * 2);
    out = buffer(M * N * 4);
    std::vector<float> af(M * K), bfv(K * N);
    auto fill = [&](Buffer *buf, std::vector<float> &f, int64_t rows, int64_t cols, int64_t ld) {
      uint16_t nanBits = bf ? floatToBf16(nan) : floatToF16(nan);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < ld; ++c) {
          uint16_t h = c < cols ? (bf ? floatToBf16(uni(rng)) : floatToF16(uni(rng))) : nanBits;
          buf->host<uint16_t>()[r * ld + c] = h;
          if (c < cols) f[size_t(r * cols + c)] = bf ? bf16ToFloat(h) : f16ToFloat(h);
        }
    };
    fill(a, af, M, K, lda);
    fill(b, bfv, K, N, ldb);
    std::fill(out->host<float>(), out->host<float>() + M * N, nan);
    expect.resize(M * N);
    referenceMatmul(af.data(), bfv.data(), expect.data(), M, N, K);
    args = matmulArgs(a->arg(), b->arg(), out->arg(), M, N, K, lda, ldb, N);
    grid = matmulGrid(cfg, M, N);
    outCount = M * N;
    // f32 accumulation of K products of values in [-1, 1].
    res.tolerance = 1e-5 * double(K) + 1e-4;
  } else {
    throw InvalidArgument("runExample: no harness for kernel '" + name + "'");
  }
  for (auto &b : bufs) b->upload();
  // The variant for these arguments (integers that are multiples of 16 are
  // known to be so).
  auto compiled = kernel.variant(args);
  res.compileMs = compiled->compileMs;
  res.fromCache = compiled->fromCache;
  launch(*compiled, grid, args);
  if (t.backend == Backend::CUDA) rt::Cuda::get().synchronize();
  out->download();
  const float *o = out->host<float>();
  res.passed = true;
  for (size_t i = 0; i < outCount; ++i) {
    double e = std::fabs(double(o[i]) - expect[i]);
    if (!(e <= res.tolerance)) { // NaN (unwritten) fails too
      if (res.passed)
        res.detail = "element " + std::to_string(i) + ": got " + std::to_string(o[i]) +
                     ", expected " + std::to_string(expect[i]);
      res.passed = false;
    }
    if (std::isnan(e)) e = INFINITY;
    res.maxError = std::max(res.maxError, e);
  }
  if (reps > 0) {
    std::vector<double> times;
    launch(*compiled, grid, args); // warm-up
    if (t.backend == Backend::CUDA) {
      auto &cu = rt::Cuda::get();
      cu.synchronize();
      rt::Event e0 = cu.createEvent(), e1 = cu.createEvent();
      for (int r = 0; r < reps; ++r) {
        cu.record(e0);
        launch(*compiled, grid, args);
        cu.record(e1);
        times.push_back(cu.elapsedMs(e0, e1));
      }
      cu.destroyEvent(e0);
      cu.destroyEvent(e1);
    } else {
      for (int r = 0; r < reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        launch(*compiled, grid, args);
        times.push_back(std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - t0).count());
      }
    }
    res.runMs = medianMs(times);
  }
  return res;
}

} // namespace hip::kernels
