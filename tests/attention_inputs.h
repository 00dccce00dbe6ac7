//===- tests/attention_inputs.h - Random q/k/v for the attention tests ----===//
#pragma once

#include "hip/kernels/examples.h"
#include "hip/tensor.h"

#include <cmath>
#include <random>
#include <vector>

namespace hip::test_support {

/// q [B, Tq, H, D], k/v [B, Tk, Hkv, D] on the host, fresh normal values
/// (q pre-scaled by 1/sqrt(D)), with the float values the kernels see.
struct Inputs {
  int64_t B, Tq, Tk, H, Hkv, D;
  ScalarType dtype;
  std::vector<uint16_t> q16, k16, v16;
  std::vector<float> q, k, v;

  Inputs(int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Hkv, int64_t D, uint64_t seed,
         ScalarType dt = ScalarType::bf16)
      : B(B), Tq(Tq), Tk(Tk), H(H), Hkv(Hkv), D(D), dtype(dt) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    auto fill = [&](std::vector<float> &f, std::vector<uint16_t> &h, int64_t n, float s) {
      f.resize(size_t(n));
      h.resize(size_t(n));
      for (int64_t i = 0; i < n; ++i) {
        float x = nd(rng) * s;
        if (dt == ScalarType::bf16)
          h[size_t(i)] = kernels::floatToBf16(x), x = kernels::bf16ToFloat(h[size_t(i)]);
        if (dt == ScalarType::f16)
          h[size_t(i)] = kernels::floatToF16(x), x = kernels::f16ToFloat(h[size_t(i)]);
        f[size_t(i)] = x;
      }
    };
    fill(q, q16, B * Tq * H * D, 1.f / std::sqrt(float(D)));
    fill(k, k16, B * Tk * Hkv * D, 1.f);
    fill(v, v16, B * Tk * Hkv * D, 1.f);
  }
  void *ptr(std::vector<float> &f, std::vector<uint16_t> &h) {
    return dtype == ScalarType::f32 ? static_cast<void *>(f.data()) : static_cast<void *>(h.data());
  }
  TensorView qv() { return TensorView(ptr(q, q16), dtype, {B, Tq, H, D}); }
  TensorView kv() { return TensorView(ptr(k, k16), dtype, {B, Tk, Hkv, D}); }
  TensorView vv() { return TensorView(ptr(v, v16), dtype, {B, Tk, Hkv, D}); }
  /// Rows of one (batch, head) of x [B][T][heads][D] as [T][D].
  std::vector<float> head(const std::vector<float> &x, int64_t T, int64_t heads, int64_t b,
                          int64_t h) const {
    std::vector<float> out;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) out.push_back(x[size_t(((b * T + t) * heads + h) * D + d)]);
    return out;
  }
  /// Batch element b of x [B][T][heads][D] as [heads][T][D].
  std::vector<float> perHead(const std::vector<float> &x, int64_t T, int64_t heads,
                             int64_t b) const {
    std::vector<float> out;
    for (int64_t h = 0; h < heads; ++h) {
      auto one = head(x, T, heads, b, h);
      out.insert(out.end(), one.begin(), one.end());
    }
    return out;
  }
  /// 0-based positions of the queries: the last Tq keys.
  std::vector<int64_t> positions() const {
    std::vector<int64_t> pos(static_cast<size_t>(Tq));
    for (int64_t i = 0; i < Tq; ++i) pos[size_t(i)] = i + Tk - Tq;
    return pos;
  }
  /// 1-based visible-key counts (the references' `pos`), causal or not.
  std::vector<int64_t> visible(bool causal) const {
    std::vector<int64_t> pos(static_cast<size_t>(Tq));
    for (int64_t i = 0; i < Tq; ++i) pos[size_t(i)] = causal ? i + Tk - Tq + 1 : Tk;
    return pos;
  }
};

} // namespace hip::test_support
