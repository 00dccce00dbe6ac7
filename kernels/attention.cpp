//===- kernels/attention.cpp - Dense flash attention in the DSL -----------===//
//
// out[b, i, h, :] = softmax_j(q[b, i, h, :] . k[b, j, h', :]) v[b, j, h', :]
// with h' = h / (H / H_kv) (GQA), q pre-scaled, queries the last T_q
// positions of the keys, causal or not; online softmax in base 2
// (FlashAttention). Layouts [B, T, H, D] contiguous, bf16/f16 in, f32 out.
// The dense baseline and dense layers of the HiP pipeline build on it.
//
//===----------------------------------------------------------------------===//
#include "hip/kernels/examples.h"

#include "hip/dsl/dsl.h"

#include <limits>

namespace hip::kernels {
using namespace hip::dsl;

namespace {
void flashAttention(Builder &b, const Config &c) {
  DType t = c["DTYPE"] == 0 ? DType::bf16 : DType::f16;
  Val q = b.arg("q", ptr(t)), k = b.arg("k", ptr(t)), v = b.arg("v", ptr(t));
  Val out = b.arg("out", ptr(DType::f32));
  Val Tq = b.arg("Tq", DType::i32), Tk = b.arg("Tk", DType::i32);
  Val H = b.arg("H", DType::i32), Hkv = b.arg("Hkv", DType::i32);
  int64_t BM = c["BLOCK_M"], BN = c["BLOCK_N"], D = c["HEAD_DIM"];
  bool causal = c["CAUSAL"] != 0;
  const double inf = std::numeric_limits<double>::infinity();
  Val pidM = program_id(0), bh = program_id(1);
  Val batch = bh / H, head = bh % H, kvHead = head / (H / Hkv);
  Val offM = pidM * BM + arange(0, BM), offD = arange(0, D);
  Val rowOk = expand_dims(offM < Tq, 1);
  Val qRows = expand_dims((batch * Tq + offM) * (H * int(D)) + head * int(D), 1);
  Val qt = load(q + (qRows + expand_dims(offD, 0)), rowOk, 0.0);
  Val kvBase = batch * Tk * (Hkv * int(D)) + kvHead * int(D);
  Val kvStride = Hkv * int(D);
  // Query i sits at key position i + Tk - Tq.
  Val qPos = expand_dims(offM + (Tk - Tq), 1);
  Val hi = causal ? minimum(Tk, (pidM + 1) * BM + (Tk - Tq)) : Tk;
  const double log2e = 1.4426950408889634;
  auto res = for_range(
      0, hi, BN,
      {full({BM}, -inf, DType::f32), full({BM}, 0.0, DType::f32), full({BM, D}, 0.0, DType::f32)},
      [&](Val n, std::vector<Val> s) {
        Val offN = n + arange(0, BN);
        Val colOk = offN < Tk;
        Val kt = load(k + (kvBase + expand_dims(offD, 1) + expand_dims(offN * kvStride, 0)),
                      expand_dims(colOk, 0), 0.0);
        Val logits = dot(qt, kt) * log2e;
        Val valid = expand_dims(colOk, 0);
        if (causal) valid = valid & (expand_dims(offN, 0) <= qPos);
        logits = where(valid, logits, -inf);
        Val mNew = maximum(s[0], max(logits, 1));
        Val p = exp2(logits - expand_dims(mNew, 1));
        Val alpha = exp2(s[0] - mNew);
        Val l = s[1] * alpha + sum(p, 1);
        Val vt = load(v + (kvBase + expand_dims(offN * kvStride, 1) + expand_dims(offD, 0)),
                      expand_dims(colOk, 1), 0.0);
        Val acc = dot(cast(p, t), vt, s[2] * expand_dims(alpha, 1));
        return std::vector<Val>{mNew, l, acc};
      });
  Val o = res[2] / expand_dims(res[1], 1);
  store(out + (qRows + expand_dims(offD, 0)), o, rowOk);
}

std::string validateFlash(const Config &c) {
  for (const char *key : {"BLOCK_M", "BLOCK_N", "HEAD_DIM"}) {
    int64_t v = c[key];
    if (v < 16 || (v & (v - 1))) return std::string(key) + " must be a power of two >= 16";
  }
  if (c["DTYPE"] != 0 && c["DTYPE"] != 1) return "DTYPE must be 0 (bf16) or 1 (f16)";
  return "";
}
} // namespace

void registerAttentionKernels() {
  static bool done = registerKernel(
      {"flash_attention", "dense attention (online softmax), causal or not, GQA",
       {{"BLOCK_M", {64, 128}}, {"BLOCK_N", {32, 64}}, {"num_warps", {4}}},
       Config{{"BLOCK_M", 64}, {"BLOCK_N", 64}, {"HEAD_DIM", 64}, {"CAUSAL", 1}, {"DTYPE", 0},
              {"num_warps", 4}},
       flashAttention, validateFlash});
  (void)done;
}

} // namespace hip::kernels
