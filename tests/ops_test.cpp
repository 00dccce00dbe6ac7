//===- tests/ops_test.cpp - Every DSL op on every backend -----------------===//
//
// Small kernels that exercise the ops the example kernels do not (argmax,
// reductions along either axis, sort, topk, trans, reshape, where, casts,
// math, device loops and ifs, scalar loads/stores), each run on the CPU
// backend and, when present, the GPU, on fresh random inputs with outputs
// poisoned first, and compared with a plain C++ reference.
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/dsl/dsl.h"
#include "hip/kernels/examples.h"
#include "hip/runtime/cuda.h"
#include "skip_without_gpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

using namespace hip;
using namespace hip::dsl;

namespace {
constexpr int R = 8, C = 32;

/// Runs a kernel whose arguments are pointers to the given buffers (f32 or
/// i32, 4 bytes per element), then `scalars`, on target `t` with `grid`
/// programs; copies the buffers back.
void run(const Kernel &k, const Target &t, std::vector<std::vector<float> *> bufs,
         unsigned grid = 1, const std::vector<ArgValue> &scalars = {}) {
  auto ck = compile(k, t);
  std::vector<std::unique_ptr<kernels::Mirror>> mirrors;
  std::vector<ArgValue> args;
  for (auto *b : bufs) {
    mirrors.push_back(std::make_unique<kernels::Mirror>(t, b->data(), b->size() * 4));
    mirrors.back()->upload();
    args.push_back(mirrors.back()->arg());
  }
  args.insert(args.end(), scalars.begin(), scalars.end());
  launch(*ck, {grid, 1, 1}, args);
  if (t.backend == Backend::CUDA) rt::Cuda::get().synchronize();
  for (auto &m : mirrors) m->download();
}

std::vector<float> randomInput(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(0.1f, 2.f);
  std::vector<float> v(n);
  for (auto &x : v) x = uni(rng);
  return v;
}
/// Values exact in bf16 (multiples of 1/4 in [-1, 0.75]), for dots whose
/// products the reference can then reproduce.
std::vector<float> exactBf16Input(size_t n, uint64_t seed) {
  auto v = randomInput(n, seed);
  for (auto &e : v) e = float(int(e * 4)) / 4 - 1;
  return v;
}
/// x rounded to the nearest bf16 (ties to even), as a cast to bf16 does.
float roundToBf16(double x) {
  float f = float(x);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}
std::vector<float> poison(size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}
int asInt(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}

/// Offsets of a [rows, cols] row-major tile.
Val grid2(int64_t rows, int64_t cols) {
  return expand_dims(arange(0, rows) * int(cols), 1) + expand_dims(arange(0, cols), 0);
}

void expectNear(const std::vector<float> &got, const std::vector<double> &want, double tol,
                const char *what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i])))
        << what << " element " << i;
}

/// Parameter 0 runs on the CPU backend, 1 on the GPU (skipped, saying why,
/// where there is none).
class Ops : public ::testing::TestWithParam<int> {
protected:
  void SetUp() override {
    if (GetParam() == 0) return;
    HIP_SKIP_WITHOUT_GPU();
    t = currentTarget(Backend::CUDA);
  }
  Target t; // the CPU unless SetUp picked the GPU
};
} // namespace

TEST_P(Ops, Reductions) {
  Builder b("reductions");
  Val in = b.arg("x", ptr(DType::f32)), s1 = b.arg("sum1", ptr(DType::f32));
  Val m0 = b.arg("max0", ptr(DType::f32)), a1 = b.arg("argmax1", ptr(DType::i32));
  Val a0 = b.arg("argmax0", ptr(DType::i32)), n1 = b.arg("min1", ptr(DType::f32));
  Val total = b.arg("total", ptr(DType::f32));
  Val x = load(in + grid2(R, C));
  store(s1 + arange(0, R), sum(x, 1));
  store(m0 + arange(0, C), max(x, 0));
  store(a1 + arange(0, R), argmax(x, 1));
  store(a0 + arange(0, C), argmax(x, 0));
  store(n1 + arange(0, R), min(x, 1));
  store(total, sum(sum(x, 1), 0));
  Kernel k = b.finish();
  auto x0 = randomInput(R * C, 11);
  x0[3 * C + 7] = x0[3 * C + 20] = 9.f; // a tie: argmax must pick column 7
  auto sum1 = poison(R), max0 = poison(C), am1 = poison(R), am0 = poison(C), min1 = poison(R),
       tot = poison(1);
  run(k, t, {&x0, &sum1, &max0, &am1, &am0, &min1, &tot});
  std::vector<double> wsum(R), wmax(C, -1e30), wmin(R, 1e30), wam1(R), wam0(C);
  double wt = 0;
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) {
      double v = x0[i * C + j];
      wsum[i] += v;
      wt += v;
      if (v > wmax[j]) wmax[j] = v, wam0[j] = i;
      wmin[i] = std::min(wmin[i], v);
      if (v > x0[i * C + int(wam1[i])]) wam1[i] = j;
    }
  expectNear(sum1, wsum, 1e-5, "sum axis 1");
  expectNear(max0, wmax, 0, "max axis 0");
  expectNear(min1, wmin, 0, "min axis 1");
  expectNear(tot, {wt}, 1e-5, "sum of sums");
  for (int i = 0; i < R; ++i) EXPECT_EQ(asInt(am1[i]), int(wam1[i])) << "argmax axis 1 row " << i;
  for (int j = 0; j < C; ++j) EXPECT_EQ(asInt(am0[j]), int(wam0[j])) << "argmax axis 0 col " << j;
}

TEST_P(Ops, SortAndTopK) {
  constexpr int N = 16, K = 4, Rows = 4;
  Builder b("sort_topk");
  Val in = b.arg("x", ptr(DType::f32)), so = b.arg("sorted", ptr(DType::f32));
  Val tv = b.arg("topv", ptr(DType::f32)), ti = b.arg("topi", ptr(DType::i32));
  Val x = load(in + grid2(Rows, N));
  store(so + grid2(Rows, N), sort(x));
  auto [v, i] = topk(x, K);
  store(tv + grid2(Rows, K), v);
  store(ti + grid2(Rows, K), i);
  Kernel k = b.finish();
  auto x0 = randomInput(Rows * N, 12);
  x0[5] = x0[9]; // a tie in row 0
  auto sorted = poison(Rows * N), topv = poison(Rows * K), topi = poison(Rows * K);
  run(k, t, {&x0, &sorted, &topv, &topi});
  for (int r = 0; r < Rows; ++r) {
    std::vector<int> idx(N);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int a, int c) { return x0[r * N + a] > x0[r * N + c]; });
    std::vector<float> asc(x0.begin() + r * N, x0.begin() + (r + 1) * N);
    std::sort(asc.begin(), asc.end());
    for (int j = 0; j < N; ++j) EXPECT_EQ(sorted[r * N + j], asc[j]) << "row " << r;
    for (int j = 0; j < K; ++j) {
      EXPECT_EQ(asInt(topi[r * K + j]), idx[j]) << "row " << r << " rank " << j;
      EXPECT_EQ(topv[r * K + j], x0[r * N + idx[j]]);
    }
  }
}

// TopKOrder::ByIndex: the same k elements as a stable descending sort
// keeps, in index order, at the shapes of the GPU's radix select (one row,
// a multiple of the threads: 1 to 8 elements per thread) and of its
// fallback (several rows, 16 per row), with many ties (a few levels, -0 and
// +0, infinities, large negatives) so that the tie rule decides.
TEST_P(Ops, TopKByIndex) {
  struct Case {
    int rows, n, k, warps;
  };
  for (Case c :
       {Case{1, 512, 256, 4}, Case{1, 1024, 128, 4}, Case{1, 512, 1, 4}, Case{1, 512, 512, 4},
        Case{1, 256, 64, 8}, Case{1, 128, 32, 4}, Case{4, 16, 4, 4}}) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + " n " + std::to_string(c.n) + " k " +
                 std::to_string(c.k) + " warps " + std::to_string(c.warps));
    Builder b("topk_by_index");
    b.setNumWarps(c.warps);
    Val in = b.arg("x", ptr(DType::f32));
    Val tv = b.arg("topv", ptr(DType::f32)), ti = b.arg("topi", ptr(DType::i32));
    Val x = c.rows == 1 ? load(in + arange(0, c.n)) : load(in + grid2(c.rows, c.n));
    auto [v, i] = topk(x, c.k, TopKOrder::ByIndex);
    Val o = c.rows == 1 ? arange(0, c.k) : grid2(c.rows, c.k);
    store(tv + o, v);
    store(ti + o, i);
    Kernel k = b.finish();
    std::mt19937 rng(uint32_t(c.n * 7 + c.k));
    const float levels[] = {
        -std::numeric_limits<float>::infinity(), -32000.f, -1.5f, -0.f, 0.f, 0.25f, 3.f,
        std::numeric_limits<float>::infinity()};
    std::vector<float> x0(size_t(c.rows * c.n));
    for (auto &e : x0) e = rng() % 3 ? levels[rng() % 8] : float(int(rng() % 2000) - 1000) / 64;
    auto topv = poison(size_t(c.rows * c.k)), topi = poison(size_t(c.rows * c.k));
    run(k, t, {&x0, &topv, &topi});
    for (int r = 0; r < c.rows; ++r) {
      std::vector<int> idx(size_t(c.n));
      std::iota(idx.begin(), idx.end(), 0);
      // (-0 and +0 compare equal: ties, kept in index order)
      std::stable_sort(idx.begin(), idx.end(), [&](int a, int d) {
        return x0[size_t(r * c.n + a)] > x0[size_t(r * c.n + d)];
      });
      idx.resize(size_t(c.k));
      std::sort(idx.begin(), idx.end());
      for (int j = 0; j < c.k; ++j) {
        ASSERT_EQ(asInt(topi[size_t(r * c.k + j)]), idx[size_t(j)]) << "row " << r << " slot " << j;
        EXPECT_EQ(topv[size_t(r * c.k + j)], x0[size_t(r * c.n + idx[size_t(j)])]);
      }
    }
  }
}

TEST_P(Ops, Gather) {
  constexpr int N = 64;
  Builder b("gather");
  Val in = b.arg("x", ptr(DType::f32)), ix = b.arg("idx", ptr(DType::i32));
  Val o1 = b.arg("out1", ptr(DType::f32)), o2 = b.arg("out2", ptr(DType::f32));
  Val x = load(in + arange(0, N)) * 2.0;
  Val idx = load(ix + grid2(R, C));
  store(o1 + grid2(R, C), gather(x, idx));
  store(o2 + arange(0, 16), gather(x, arange(0, 16) * 3 + 1));
  Kernel k = b.finish();
  auto x0 = randomInput(N, 21);
  std::vector<float> idx0(R * C);
  std::mt19937 rng(5);
  for (auto &v : idx0) {
    int32_t i = int32_t(rng() % (N + 8)) - 4; // some out of range: clamped
    std::memcpy(&v, &i, 4);
  }
  auto out1 = poison(R * C), out2 = poison(16);
  run(k, t, {&x0, &idx0, &out1, &out2});
  for (int e = 0; e < R * C; ++e) {
    int i = std::clamp(asInt(idx0[e]), 0, N - 1);
    EXPECT_EQ(out1[e], x0[i] * 2.0f) << "element " << e << " index " << asInt(idx0[e]);
  }
  for (int e = 0; e < 16; ++e) EXPECT_EQ(out2[e], x0[e * 3 + 1] * 2.0f) << "element " << e;
}

// load_box: boxes of a strided [P, rows, cols] tensor (and of one plane as
// a matrix), past its rows, columns and planes (zeros there), against the
// reference. (f32: plain masked loads on every backend; the GPU's TMA copies
// of 16-bit boxes run in the matmul's and attention's tests.)
TEST_P(Ops, BoxLoads) {
  constexpr int P = 3, ROWS = 13, COLS = 20, LD = 24, PS = 400, BR = 8, BC = 16, PROGS = 4;
  Builder b("boxes");
  Val x = b.arg("x", ptr(DType::f32)), o3 = b.arg("out3", ptr(DType::f32));
  Val o2 = b.arg("out2", ptr(DType::f32));
  Val planes = b.arg("planes", DType::i32), rows = b.arg("rows", DType::i32);
  Val cols = b.arg("cols", DType::i32), ld = b.arg("ld", DType::i32);
  Val ps = b.arg("ps", DType::i32);
  Val pid = program_id(0);
  Val r0 = pid * 5, c0 = pid * 7; // program 3: plane 3, past the last one
  Val box3 = load_box(x, {planes, rows, cols}, {ps, ld}, {pid, r0, c0}, {BR, BC});
  store(o3 + (pid * (BR * BC) + grid2(BR, BC)), box3);
  Val box2 = load_box(x, rows, cols, ld, r0, c0, {BR, BC});
  store(o2 + (pid * (BR * BC) + grid2(BR, BC)), box2);
  Kernel k = b.finish();
  auto x0 = randomInput(P * PS, 31);
  auto out3 = poison(PROGS * BR * BC), out2 = poison(PROGS * BR * BC);
  auto i32 = [](int v) { return ArgValue::int32(v); };
  run(k, t, {&x0, &out3, &out2}, PROGS, {i32(P), i32(ROWS), i32(COLS), i32(LD), i32(PS)});
  for (int p = 0; p < PROGS; ++p)
    for (int i = 0; i < BR; ++i)
      for (int j = 0; j < BC; ++j) {
        int r = p * 5 + i, c = p * 7 + j, e = (p * BR + i) * BC + j;
        bool in = r < ROWS && c < COLS;
        EXPECT_EQ(out3[e], p < P && in ? x0[p * PS + r * LD + c] : 0.f)
            << "plane " << p << " row " << r << " column " << c;
        EXPECT_EQ(out2[e], in ? x0[r * LD + c] : 0.f) << "matrix row " << r << " column " << c;
      }
}

TEST_P(Ops, ShapesWhereCastsMath) {
  Builder b("shapes");
  Val in = b.arg("x", ptr(DType::f32)), tr = b.arg("trans", ptr(DType::f32));
  Val rs = b.arg("reshaped", ptr(DType::f32)), mo = b.arg("math", ptr(DType::f32));
  Val io = b.arg("ints", ptr(DType::i32));
  Val x = load(in + grid2(R, C));
  store(tr + grid2(C, R), trans(x));
  store(rs + grid2(16, 16), reshape(x, {16, 16}) * 2.0);
  Val bf = cast(cast(x, DType::bf16), DType::f32);
  Val m = where(x > 1.0, exp2(x) + log2(x), sqrt(x) - exp(x) + log(x)) + abs(-x) + bf +
          minimum(x, 0.5) * maximum(x, 1.5) / (x + 1.0);
  store(mo + grid2(R, C), m);
  Val ii = cast(x * 100.0, DType::i32);
  store(io + grid2(R, C), (ii % 7) * 3 - ii / 5 + (ii & 12) + cast(ii > 100, DType::i32));
  Kernel k = b.finish();
  auto x0 = randomInput(R * C, 13);
  auto trn = poison(R * C), rsh = poison(R * C), math = poison(R * C), ints = poison(R * C);
  run(k, t, {&x0, &trn, &rsh, &math, &ints});
  std::vector<double> wt(R * C), wr(R * C), wm(R * C);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) wt[j * R + i] = x0[i * C + j];
  for (int i = 0; i < R * C; ++i) {
    double v = x0[i];
    wr[i] = 2 * v;
    uint32_t u;
    float f = x0[i];
    std::memcpy(&u, &f, 4);
    u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
    float bfv;
    std::memcpy(&bfv, &u, 4);
    wm[i] = (v > 1 ? std::exp2(v) + std::log2(v) : std::sqrt(v) - std::exp(v) + std::log(v)) +
            v + bfv + std::min(v, 0.5) * std::max(v, 1.5) / (v + 1);
    int iv = int(float(v * 100.0f));
    int want = (iv % 7) * 3 - iv / 5 + (iv & 12) + (iv > 100);
    EXPECT_EQ(asInt(ints[i]), want) << "integer ops element " << i;
  }
  expectNear(trn, wt, 0, "trans");
  expectNear(rsh, wr, 0, "reshape");
  expectNear(math, wm, 2e-5, "math");
}

TEST_P(Ops, LoopsIfsAndScalars) {
  // Program p: acc = sum over rows r of x[r, :] * (r + 1), computed in a
  // device loop; odd programs negate it (device if); the scalar x[p] is
  // added; a scalar store writes the row count seen.
  Builder b("control");
  Val in = b.arg("x", ptr(DType::f32)), out = b.arg("out", ptr(DType::f32));
  Val cnt = b.arg("count", ptr(DType::i32)), rows = b.arg("rows", DType::i32);
  Val p = program_id(0);
  auto res = for_range(0, rows, 1, {full({C}, 0.0, DType::f32), constant(0, DType::i32)},
                       [&](Val r, std::vector<Val> c) {
                         Val row = load(in + (r * C + arange(0, C)));
                         return std::vector<Val>{c[0] + row * cast(r + 1, DType::f32), c[1] + 1};
                       });
  Val signedAcc = if_else((p % 2) == 1, [&] { return std::vector<Val>{-res[0]}; },
                          [&] { return std::vector<Val>{res[0]}; })[0];
  store(out + (p * C + arange(0, C)), signedAcc + load(in + p));
  if_then(p == 0, [&] { store(cnt, res[1]); });
  Kernel k = b.finish();
  auto x0 = randomInput(R * C, 14);
  auto o = poison(2 * C);
  std::vector<float> count(1, -1.f);
  run(k, t, {&x0, &o, &count}, 2, {ArgValue::int32(R)});
  std::vector<double> want(2 * C);
  for (int p = 0; p < 2; ++p)
    for (int j = 0; j < C; ++j) {
      double acc = 0;
      for (int r = 0; r < R; ++r) acc += double(x0[r * C + j]) * (r + 1);
      want[p * C + j] = (p % 2 ? -acc : acc) + x0[p];
    }
  expectNear(o, want, 1e-5, "loop/if result");
  EXPECT_EQ(asInt(count[0]), R);
}

TEST_P(Ops, TwoDotsFromTheSameSharedMemory) {
  // Two dots whose operands sit at the same shared-memory addresses: their
  // fragment loads must not be merged (a bug found by flash_attention).
  constexpr int M = 64, Kd = 32;
  Builder b("two_dots");
  Val a = b.arg("a", ptr(DType::f32)), bb = b.arg("b", ptr(DType::f32));
  Val c = b.arg("c", ptr(DType::f32)), out = b.arg("out", ptr(DType::f32));
  Val x = cast(load(a + grid2(M, Kd)), DType::bf16), y = cast(load(bb + grid2(Kd, Kd)), DType::bf16);
  Val z = cast(load(c + grid2(Kd, Kd)), DType::bf16);
  Val s = dot(x, y);
  store(out + grid2(M, Kd), dot(cast(s, DType::bf16), z));
  Kernel k = b.finish();
  auto av = exactBf16Input(M * Kd, 21), bv = exactBf16Input(Kd * Kd, 22),
       cv = exactBf16Input(Kd * Kd, 23), o = poison(M * Kd);
  run(k, t, {&av, &bv, &cv, &o});
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < Kd; ++j) {
      double acc = 0;
      for (int n = 0; n < Kd; ++n) {
        double sv = 0;
        for (int e = 0; e < Kd; ++e) sv += double(av[i * Kd + e]) * bv[e * Kd + n];
        acc += double(roundToBf16(sv)) * cv[n * Kd + j];
      }
      ASSERT_NEAR(o[i * Kd + j], acc, 1e-3 * std::max(1.0, std::fabs(acc))) << i << "," << j;
    }
}

TEST_P(Ops, ChainedDotsOutsideLoops) {
  // Attention's shape without a loop: S = Q K^T, then S (bf16) V + 0.5 C,
  // 64 rows on 4 warps: on sm_90a both dots are wgmma with B staged in
  // swizzled shared memory (the path of PIPE=1's first and last tiles).
  constexpr int M = 64, N = 64, D = 128;
  Builder b("chained_dots");
  Val q = b.arg("q", ptr(DType::f32)), kk = b.arg("k", ptr(DType::f32));
  Val v = b.arg("v", ptr(DType::f32)), c = b.arg("c", ptr(DType::f32));
  Val out = b.arg("out", ptr(DType::f32));
  Val qt = cast(load(q + grid2(M, D)), DType::bf16), kt = cast(load(kk + grid2(N, D)), DType::bf16);
  Val vt = cast(load(v + grid2(N, D)), DType::bf16);
  Val s = dot(qt, trans(kt));
  store(out + grid2(M, D), dot(cast(s, DType::bf16), vt, load(c + grid2(M, D)) * 0.5));
  Kernel k = b.finish();
  auto qv = exactBf16Input(M * D, 31), kv = exactBf16Input(N * D, 32),
       vv = exactBf16Input(N * D, 33), cv = exactBf16Input(M * D, 34);
  auto o = poison(M * D);
  run(k, t, {&qv, &kv, &vv, &cv, &o});
  for (int i = 0; i < M; ++i) {
    std::vector<double> sr(N);
    for (int n = 0; n < N; ++n) {
      double sv = 0;
      for (int e = 0; e < D; ++e) sv += double(qv[i * D + e]) * kv[n * D + e];
      sr[n] = roundToBf16(sv);
    }
    for (int j = 0; j < D; ++j) {
      double acc = 0.5 * cv[i * D + j];
      for (int n = 0; n < N; ++n) acc += sr[n] * vv[n * D + j];
      ASSERT_NEAR(o[i * D + j], acc, 1e-3 * std::max(1.0, std::fabs(acc))) << i << "," << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Ops, ::testing::Values(0, 1),
                         [](const auto &info) { return info.param == 0 ? "Cpu" : "Gpu"; });
