//===- kernels/examples.cpp - Example kernels written in the DSL ----------===//
#include "hip/kernels/examples.h"

#include "hip/dsl/dsl.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace hip::kernels {
using namespace hip::dsl;

namespace {

/// out[i] = x[i] + y[i], BLOCK elements per program.
void vectorAdd(Builder &b, const Config &c) {
  Val x = b.arg("x", ptr(DType::f32)), y = b.arg("y", ptr(DType::f32));
  Val out = b.arg("out", ptr(DType::f32)), n = b.arg("n", DType::i32);
  Val offs = program_id(0) * c["BLOCK"] + arange(0, c["BLOCK"]);
  Val mask = offs < n;
  store(out + offs, load(x + offs, mask) + load(y + offs, mask), mask);
}

/// Softmax over each row; ROWS rows per program, BLOCK >= cols columns.
void rowSoftmax(Builder &b, const Config &c) {
  Val in = b.arg("x", ptr(DType::f32)), out = b.arg("out", ptr(DType::f32));
  Val rows = b.arg("rows", DType::i32), cols = b.arg("cols", DType::i32);
  Val stride = b.arg("stride", DType::i32);
  int64_t R = c["ROWS"], B = c["BLOCK"];
  Val r = program_id(0) * R + arange(0, R);
  Val col = arange(0, B);
  Val offs = expand_dims(r * stride, 1) + expand_dims(col, 0);
  Val mask = expand_dims(r < rows, 1) & expand_dims(col < cols, 0);
  Val x = load(in + offs, mask, -std::numeric_limits<double>::infinity());
  Val shifted = x - expand_dims(max(x, 1), 1);
  Val e = exp(shifted);
  store(out + offs, e / expand_dims(sum(e, 1), 1), mask);
}

/// nll[r] = logsumexp(x[r, :cols]) - x[r, target[r]] for each row r < rows
/// (row stride `stride`): the negative log-likelihood of each token given its
/// logits, for perplexity without moving the logits off the device. ROWS rows
/// per program; the columns are scanned BLOCK at a time with a running max
/// and a running sum of exponentials (rescaled when the max grows).
void tokenNll(Builder &b, const Config &c) {
  Val x = b.arg("logits", ptr(DType::f32)), target = b.arg("targets", ptr(DType::i32));
  Val out = b.arg("nll", ptr(DType::f32));
  Val rows = b.arg("rows", DType::i32), cols = b.arg("cols", DType::i32);
  Val stride = b.arg("stride", DType::i32);
  int64_t R = c["ROWS"], B = c["BLOCK"];
  const double inf = std::numeric_limits<double>::infinity();
  Val r = program_id(0) * R + arange(0, R), rowOk = r < rows;
  Val rowPtr = x + expand_dims(r * stride, 1), col = arange(0, B);
  auto res = for_range(0, cols, B, {full({R}, -inf, DType::f32), full({R}, 0.0, DType::f32)},
                       [&](Val k, std::vector<Val> run) {
    Val cc = k + col;
    Val v = load(rowPtr + expand_dims(cc, 0), expand_dims(rowOk, 1) & expand_dims(cc < cols, 0), -inf);
    Val m = maximum(run[0], max(v, 1));
    // Rows past `rows` keep max -inf: their exp(-inf - -inf) is NaN, never stored.
    Val s = run[1] * exp(run[0] - m) + sum(exp(v - expand_dims(m, 1)), 1);
    return std::vector<Val>{m, s};
  });
  Val t = load(target + r, rowOk, 0);
  Val xt = load(x + (r * stride + t), rowOk, 0.0);
  store(out + r, log(res[1]) + res[0] - xt, rowOk);
}

/// C[M, N] (f32) = A[M, K] * B[K, N] (bf16 or f16, row-major, leading
/// dimensions lda/ldb/ldc; lda and ldb multiples of 8 so rows start 16-byte
/// aligned), one BLOCK_M x BLOCK_N tile per program (a 1-D grid of
/// ceil(M/BM) * ceil(N/BN) programs, grouped by GROUP_M), K loop with the
/// accumulator carried in registers. With num_stages >= 2 the compiler
/// pipelines the A and B loads (cp.async, num_stages - 1 tiles ahead).
void matmul(Builder &b, const Config &c) {
  DType t = c["DTYPE"] == 0 ? DType::bf16 : DType::f16;
  Val A = b.arg("a", ptr(t)), B = b.arg("b", ptr(t)), C = b.arg("c", ptr(DType::f32));
  Val M = b.arg("M", DType::i32), N = b.arg("N", DType::i32), K = b.arg("K", DType::i32);
  Val lda = b.arg("lda", DType::i32, 8), ldb = b.arg("ldb", DType::i32, 8);
  Val ldc = b.arg("ldc", DType::i32);
  int64_t BM = c["BLOCK_M"], BN = c["BLOCK_N"], BK = c["BLOCK_K"], G = c["GROUP_M"];
  // Programs run GROUP_M row-tiles at a time down each column of tiles, so
  // the tiles of B they share are still in L2 (the grid is 1-D).
  Val tilesM = (M + (BM - 1)) / BM, tilesN = (N + (BN - 1)) / BN;
  Val pid = program_id(0), group = pid / (tilesN * G);
  Val firstM = group * G, groupRows = minimum(tilesM - firstM, G);
  Val pidM = firstM + pid % groupRows, pidN = (pid % (tilesN * G)) / groupRows;
  Val rm = pidM * BM + arange(0, BM);
  Val rn = pidN * BN + arange(0, BN);
  Val rk = arange(0, BK);
  Val aPtrs = A + (expand_dims(rm, 1) * lda + expand_dims(rk, 0));
  Val bPtrs = B + (expand_dims(rk, 1) * ldb + expand_dims(rn, 0));
  Val mMask = expand_dims(rm < M, 1), nMask = expand_dims(rn < N, 0);
  Val acc = full({BM, BN}, 0.0, DType::f32);
  // tma = 1: the same tiles as boxes of A and B (load_box), which sm_90a
  // copies with the tensor memory accelerator.
  bool tma = c.get("tma", 0) != 0;
  auto res = for_range(0, K, BK, {acc}, [&](Val k, std::vector<Val> c) {
    Val a = tma ? load_box(A, M, K, lda, pidM * BM, k, {BM, BK})
                : load(aPtrs + k, mMask & expand_dims(k + rk < K, 0), 0.0);
    Val bt = tma ? load_box(B, K, N, ldb, k, pidN * BN, {BK, BN})
                 : load(bPtrs + k * ldb, expand_dims(k + rk < K, 1) & nMask, 0.0);
    return std::vector<Val>{dot(a, bt, c[0])};
  });
  store(C + (expand_dims(rm, 1) * ldc + expand_dims(rn, 0)), res[0], mMask & nMask);
}

bool isPow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

std::string validateMatmul(const Config &c) {
  int64_t BM = c["BLOCK_M"], BN = c["BLOCK_N"], BK = c["BLOCK_K"], nw = c["num_warps"];
  if (!isPow2(BM) || !isPow2(BN) || !isPow2(BK)) return "block sizes must be powers of two";
  if (BK < 16) return "BLOCK_K must be >= 16 (mma.sync k16)";
  if (BM * BN / (32 * nw) > 128) return "accumulator exceeds 128 registers per thread";
  if (BM < 16 * nw / 2 && BN < 8 * nw) return "tile too small for the warps";
  if (c["DTYPE"] != 0 && c["DTYPE"] != 1) return "DTYPE must be 0 (bf16) or 1 (f16)";
  if (c["GROUP_M"] < 1) return "GROUP_M must be >= 1";
  if (c["num_stages"] < 1 || c["num_stages"] > 8) return "num_stages must be in [1, 8]";
  // Shared memory of the pipeline's buffers (rows padded by 8 halfs), at
  // most the 227 KiB a block may opt in to on sm_90/sm_100; a GPU with less
  // refuses the launch with its own limit in the message.
  int64_t stage = (BM * (BK + 8) + BK * (BN + 8)) * 2;
  if (c["num_stages"] > 1 && stage * c["num_stages"] > 227 * 1024)
    return "pipeline buffers exceed 227 KiB of shared memory";
  return "";
}

std::string validatePow2(const Config &c, std::initializer_list<const char *> keys) {
  for (const char *k : keys)
    if (!isPow2(c[k])) return std::string(k) + " must be a power of two";
  return "";
}

} // namespace

void registerExampleKernels() {
  registerAttentionKernels();
  registerPagedKernels();
  static bool done = [] {
    registerKernel({"vector_add", "out = x + y (f32)", {{"BLOCK", {256, 1024}}, {"num_warps", {4}}},
                    Config{{"BLOCK", 1024}, {"num_warps", 4}}, vectorAdd,
                    [](const Config &c) { return validatePow2(c, {"BLOCK"}); }});
    registerKernel({"row_softmax", "softmax of each row (f32)",
                    {{"ROWS", {1, 4}}, {"BLOCK", {128, 1024}}, {"num_warps", {4}}},
                    Config{{"ROWS", 4}, {"BLOCK", 128}, {"num_warps", 4}}, rowSoftmax,
                    [](const Config &c) { return validatePow2(c, {"ROWS", "BLOCK"}); }});
    registerKernel({"token_nll", "-log softmax(logits)[target] of each row (f32)",
                    {{"ROWS", {1, 4}}, {"BLOCK", {512, 2048}}, {"num_warps", {4}}},
                    Config{{"ROWS", 4}, {"BLOCK", 512}, {"num_warps", 4}}, tokenNll,
                    [](const Config &c) { return validatePow2(c, {"ROWS", "BLOCK"}); }});
    registerKernel({"matmul", "C (f32) = A x B (bf16/f16), tensor cores",
                    {{"BLOCK_M", {64, 128}}, {"BLOCK_N", {128, 256}}, {"BLOCK_K", {32, 64}},
                     {"num_warps", {4, 8}}, {"num_stages", {3, 4}}, {"tma", {0, 1}}},
                    Config{{"BLOCK_M", 128}, {"BLOCK_N", 256}, {"BLOCK_K", 32}, {"num_warps", 8},
                           {"num_stages", 4}, {"GROUP_M", 8}, {"min_blocks", 1}, {"DTYPE", 0},
                           {"mbarriers", 0}, {"tma", 0}},
                    matmul, validateMatmul});
    return true;
  }();
  (void)done;
}

// ---- References ------------------------------------------------------------------
void referenceTokenNll(const float *x, const int32_t *target, float *nll, int64_t rows,
                       int64_t cols, int64_t stride) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * stride;
    double mx = *std::max_element(row, row + cols), s = 0;
    for (int64_t i = 0; i < cols; ++i) s += std::exp(double(row[i]) - mx);
    nll[r] = float(std::log(s) + mx - double(row[target[r]]));
  }
}

void referenceVectorAdd(const float *x, const float *y, float *out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(double(x[i]) + double(y[i]));
}

void referenceRowSoftmax(const float *x, float *out, int64_t rows, int64_t cols,
                         int64_t stride) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * stride;
    double mx = -INFINITY, s = 0;
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, double(row[c]));
    for (int64_t c = 0; c < cols; ++c) s += std::exp(double(row[c]) - mx);
    for (int64_t c = 0; c < cols; ++c) out[r * stride + c] = float(std::exp(double(row[c]) - mx) / s);
  }
}

void referenceMatmul(const float *a, const float *b, float *c, int64_t M, int64_t N,
                     int64_t K) {
  std::vector<double> acc(static_cast<size_t>(N));
  for (int64_t i = 0; i < M; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      double av = a[i * K + k];
      for (int64_t j = 0; j < N; ++j) acc[size_t(j)] += av * b[k * N + j];
    }
    for (int64_t j = 0; j < N; ++j) c[i * N + j] = float(acc[size_t(j)]);
  }
}

uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
float bf16ToFloat(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t floatToF16(float f) {
  _Float16 h = static_cast<_Float16>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}
float f16ToFloat(uint16_t u) {
  _Float16 h;
  std::memcpy(&h, &u, 2);
  return static_cast<float>(h);
}

std::vector<ArgValue> matmulArgs(ArgValue a, ArgValue b, ArgValue c, int64_t M, int64_t N,
                                 int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  auto i32 = [](int64_t v) { return ArgValue::int32(int32_t(v)); };
  return {a, b, c, i32(M), i32(N), i32(K), i32(lda), i32(ldb), i32(ldc)};
}

std::array<unsigned, 3> matmulGrid(const Config &config, int64_t M, int64_t N) {
  int64_t bm = config["BLOCK_M"], bn = config["BLOCK_N"];
  return {unsigned((M + bm - 1) / bm * ((N + bn - 1) / bn)), 1, 1};
}

} // namespace hip::kernels
