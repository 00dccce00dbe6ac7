//===- tests/attention_test.cpp - flash_attention against the reference ---===//
//
// The DSL flash-attention kernel (causal and not, GQA, T_q < T_k) on every
// backend, fresh random bf16 inputs, output poisoned, compared with the
// float64 reference attention over all keys.
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/kernels/examples.h"
#include "hip/kernels/hip_reference.h"
#include "hip/runtime/cuda.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace hip;

namespace {
struct Case {
  int64_t B, H, Hkv, Tq, Tk;
  dsl::Config config;
};

void runCase(const Target &t, const Case &c, uint64_t seed) {
  kernels::registerExampleKernels();
  const auto &def = dsl::findKernel("flash_attention");
  dsl::Config cfg(dsl::trace(def, c.config).config);
  int64_t D = cfg["HEAD_DIM"];
  bool causal = cfg["CAUSAL"] != 0;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto make = [&](int64_t T, int64_t heads, float scale, std::vector<float> &f) {
    std::vector<uint16_t> h(size_t(c.B * T * heads * D));
    f.resize(h.size());
    for (size_t i = 0; i < h.size(); ++i) {
      h[i] = kernels::floatToBf16(nd(rng) * scale);
      f[i] = kernels::bf16ToFloat(h[i]);
    }
    return h;
  };
  std::vector<float> qf, kf, vf;
  auto qh = make(c.Tq, c.H, 1.f / std::sqrt(float(D)), qf); // pre-scaled q
  auto kh = make(c.Tk, c.Hkv, 1.f, kf), vh = make(c.Tk, c.Hkv, 1.f, vf);
  std::vector<float> out(size_t(c.B * c.Tq * c.H * D), std::numeric_limits<float>::quiet_NaN());
  std::vector<std::unique_ptr<kernels::Mirror>> mirrors;
  auto ptrArg = [&](void *host, size_t bytes) {
    mirrors.push_back(std::make_unique<kernels::Mirror>(t, host, bytes));
    mirrors.back()->upload();
    return mirrors.back()->arg();
  };
  std::vector<ArgValue> args = {
      ptrArg(qh.data(), qh.size() * 2), ptrArg(kh.data(), kh.size() * 2),
      ptrArg(vh.data(), vh.size() * 2), ptrArg(out.data(), out.size() * 4),
      ArgValue::int32(int32_t(c.Tq)), ArgValue::int32(int32_t(c.Tk)),
      ArgValue::int32(int32_t(c.H)), ArgValue::int32(int32_t(c.Hkv))};
  SpecializedKernel k(def, c.config, t);
  k.launch({unsigned((c.Tq + cfg["BLOCK_M"] - 1) / cfg["BLOCK_M"]), unsigned(c.B * c.H), 1}, args);
  if (t.backend == Backend::CUDA) rt::Cuda::get().synchronize();
  mirrors[3]->download();
  // Reference per (batch, head): every visible key (the mask covers all).
  kernels::HiPMaskParams p;
  p.maskK = c.Tk + 16, p.blockSizeQ = 16, p.blockStrideQ = 1, p.blockSizeK = 1, p.sink = 0,
  p.window = 0;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      int64_t hk = h / (c.H / c.Hkv);
      std::vector<float> q1, k1, v1;
      for (int64_t i = 0; i < c.Tq; ++i)
        for (int64_t d = 0; d < D; ++d) q1.push_back(qf[size_t(((b * c.Tq + i) * c.H + h) * D + d)]);
      for (int64_t j = 0; j < c.Tk; ++j)
        for (int64_t d = 0; d < D; ++d) {
          k1.push_back(kf[size_t(((b * c.Tk + j) * c.Hkv + hk) * D + d)]);
          v1.push_back(vf[size_t(((b * c.Tk + j) * c.Hkv + hk) * D + d)]);
        }
      std::vector<int64_t> pos(size_t(c.Tq));
      for (int64_t i = 0; i < c.Tq; ++i) pos[size_t(i)] = causal ? i + c.Tk - c.Tq + 1 : c.Tk;
      auto blocks = kernels::referenceHipMask(q1, k1, pos, D, p);
      auto want = kernels::referenceBlockSparseAttention(q1, k1, v1, pos, D, p, blocks);
      for (int64_t i = 0; i < c.Tq; ++i)
        for (int64_t d = 0; d < D; ++d) {
          float got = out[size_t(((b * c.Tq + i) * c.H + h) * D + d)];
          // p is rounded to bf16 before the second product.
          ASSERT_NEAR(got, want[size_t(i * D + d)], 2e-2)
              << t.str() << " [" << cfg.str() << "] b " << b << " h " << h << " row " << i
              << " d " << d;
        }
    }
}

std::vector<Case> cases() {
  return {
      {1, 2, 2, 100, 100, {{"HEAD_DIM", 32}, {"CAUSAL", 1}}},
      {2, 4, 2, 37, 150, {{"HEAD_DIM", 32}, {"CAUSAL", 1}, {"BLOCK_N", 32}}},
      {1, 4, 1, 70, 70, {{"HEAD_DIM", 64}, {"CAUSAL", 0}}},
      {1, 2, 1, 130, 200, {{"HEAD_DIM", 64}, {"CAUSAL", 1}, {"BLOCK_M", 128}}},
  };
}
} // namespace

TEST(FlashAttention, CpuBackend) {
  uint64_t seed = 1;
  for (const Case &c : cases()) runCase(Target{}, c, seed++);
}

TEST(FlashAttention, GpuBackend) {
  std::string why;
  if (!rt::cudaAvailable(&why)) GTEST_SKIP() << "no CUDA GPU: " << why;
  uint64_t seed = 100;
  for (const Case &c : cases()) runCase(currentTarget(Backend::CUDA), c, seed++);
}
