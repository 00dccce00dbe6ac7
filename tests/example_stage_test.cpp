//===- tests/example_stage_test.cpp - A mask stage added by a researcher --===//
//
// How a new mask stage is added: this file alone defines it (parameters from
// JSON, its DSL kernel, what it selects) and registers it in one line; a
// pipeline then names it. The stage, "example_strided", keeps mask_k keys
// spread evenly over [sink, P - window) of each query block.
//
//===----------------------------------------------------------------------===//
#include "hip/dsl/dsl.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/kernels/hip_reference.h"
#include "hip/mask_stage.h"
#include "hip/runtime/cuda.h"
#include "skip_without_gpu.h"

#include <gtest/gtest.h>

#include <random>

using namespace hip;
using namespace hip::dsl;

namespace {

// One program per (query block, batch*head): block i of K is (B*i/K) when
// there are more than K searchable blocks, else every block.
void stridedKernel(Builder &b, const Config &c) {
  int64_t bq = c["BLOCK_SIZE_Q"], bk = c["BLOCK_SIZE_K"], K = c["KSEL"];
  int64_t S = c["SINK"], W = c["WINDOW"];
  Val pos = b.arg("pos", ptr(DType::i32)), indices = b.arg("indices", ptr(DType::i32));
  Val ks = b.arg("ks", ptr(DType::i32)), Tq = b.arg("Tq", DType::i32), H = b.arg("H", DType::i32);
  Val nQB = b.arg("nQB", DType::i32);
  Val qb = program_id(0), bh = program_id(1);
  Val rows = qb * int(bq) + arange(0, bq);
  Val P = max(load(pos + ((bh / H) * Tq + rows), rows < Tq, -1), 0) + 1;
  Val B = (maximum(P - int(W + S), 0) + int(bk - 1)) / int(bk);
  Val i = arange(0, K);
  Val blk = where(B > int(K), B * i / int(K), i);
  Val n = minimum(B, int(K));
  Val row = bh * nQB + qb;
  store(indices + (row * int(K) + i), where(i < n, (blk + int(S / bk)) * int(bk), int(kIndexSentinel)));
  store(ks + row, n);
}

class StridedStage : public MaskStage {
public:
  StridedStage(const nlohmann::json &p, const HiPAttentionArgs &a) {
    checkStageKeys(p, type(), {"mask_k", "block_size_q", "block_size_k"});
    maskK_ = stageParam(p, type(), "mask_k", a.mask_k);
    bq_ = stageParam(p, type(), "block_size_q", a.block_size_q);
    bk_ = stageParam(p, type(), "block_size_k", a.block_size_k);
    static bool kernel = registerKernel(
        {"example_strided_mask", "test stage: evenly spread blocks", {},
         Config{{"BLOCK_SIZE_Q", 32}, {"BLOCK_SIZE_K", 4}, {"KSEL", 16}, {"SINK", 0}, {"WINDOW", 0}},
         stridedKernel, nullptr});
    (void)kernel;
  }
  std::string type() const override { return "example_strided"; }
  nlohmann::json params() const override {
    return {{"mask_k", maskK_}, {"block_size_q", bq_}, {"block_size_k", bk_}};
  }
  void validate(const MaskContext &ctx, int64_t, int64_t) const override {
    if (ctx.sink % bk_ || ctx.window % bk_ || (maskK_ / bk_) & (maskK_ / bk_ - 1))
      throw InvalidArgument("example_strided: bad sizes");
  }
  Candidates run(const MaskContext &ctx, const Candidates &) override {
    int64_t K = maskK_ / bk_, nQB = (ctx.Tq + bq_ - 1) / bq_;
    Candidates c;
    c.blockSizeQ = bq_, c.blockSizeK = bk_;
    c.indices = Tensor::empty({ctx.B * ctx.H, nQB, K}, ScalarType::i32, ctx.device);
    c.ks = Tensor::empty({ctx.B * ctx.H, nQB}, ScalarType::i32, ctx.device);
    ctx.launch("example_strided_mask",
               {{"BLOCK_SIZE_Q", bq_}, {"BLOCK_SIZE_K", bk_}, {"KSEL", K}, {"SINK", ctx.sink},
                {"WINDOW", ctx.window}},
               {unsigned(nQB), unsigned(ctx.B * ctx.H), 1},
               {MaskContext::pointer(ctx.pos), MaskContext::pointer(c.indices),
                MaskContext::pointer(c.ks), ArgValue::int32(int32_t(ctx.Tq)),
                ArgValue::int32(int32_t(ctx.H)), ArgValue::int32(int32_t(nQB))});
    return c;
  }

private:
  int64_t maskK_, bq_, bk_;
};

// The one registration line.
const bool registered = registerMaskStage("example_strided", [](const nlohmann::json &p, const HiPAttentionArgs &a) { return std::make_unique<StridedStage>(p, a); });

class ExampleStage : public ::testing::TestWithParam<Backend> {};

TEST_P(ExampleStage, RunsInAPipeline) {
  HiPAttentionArgs a;
  if (GetParam() == Backend::CUDA) {
    HIP_SKIP_WITHOUT_GPU();
    a.backend = ComputeBackend::CUDA;
  } else {
    a.backend = ComputeBackend::CPU;
  }
  int64_t T = 400, H = 2, D = 32;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<uint16_t> q(size_t(T * H * D)), k(size_t(T * D)), v(size_t(T * D));
  std::vector<float> qf(q.size()), kf(k.size()), vf(v.size());
  for (auto [h, f, s] : {std::tuple{&q, &qf, 0.2f}, {&k, &kf, 1.f}, {&v, &vf, 1.f}})
    for (size_t i = 0; i < h->size(); ++i)
      (*h)[i] = kernels::floatToBf16(nd(rng) * s), (*f)[i] = kernels::bf16ToFloat((*h)[i]);
  a.sink_token_size = 8, a.sliding_window_size = 32;
  a.mask_pipeline = R"({"stages": [{"type": "example_strided", "mask_k": 64, "block_size_q": 32, "block_size_k": 4}]})";
  auto r = hip_attention(TensorView(q.data(), ScalarType::bf16, {1, T, H, D}),
                         TensorView(k.data(), ScalarType::bf16, {1, T, 1, D}),
                         TensorView(v.data(), ScalarType::bf16, {1, T, 1, D}), a);
  EXPECT_EQ(r.metadata.block_size_k, 4);
  auto idx = r.metadata.indices.toInt(), ks = r.metadata.ks.toInt();
  int64_t nQB = (T + 31) / 32;
  std::vector<std::vector<int64_t>> blocks;
  for (int64_t qb = 0; qb < nQB; ++qb) {
    int64_t P = std::min(T, (qb + 1) * 32), B = (std::max<int64_t>(0, P - 40) + 3) / 4;
    std::vector<int64_t> want;
    for (int64_t i = 0; i < std::min<int64_t>(B, 16); ++i) want.push_back((B > 16 ? B * i / 16 : i) * 4 + 8);
    ASSERT_EQ(ks[size_t(qb)], int64_t(want.size())) << "query block " << qb;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(idx[size_t(qb * 16) + i], want[i]);
    blocks.push_back(want);
  }
  // Attention over what the stage chose, head 0, against the reference.
  kernels::HiPMaskParams p;
  p.maskK = 64, p.blockSizeQ = 32, p.blockStrideQ = 1, p.blockSizeK = 4, p.blockStrideK = 1;
  p.sink = 8, p.window = 32;
  std::vector<float> q0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) q0.push_back(qf[size_t(t * H * D + d)]);
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = t + 1;
  auto want = kernels::referenceBlockSparseAttention(q0, kf, vf, pos, D, p, blocks);
  auto out = r.out.toFloat();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d)
      ASSERT_NEAR(out[size_t(t * H * D + d)], want[size_t(t * D + d)], 2e-2) << "row " << t;
}

INSTANTIATE_TEST_SUITE_P(Backends, ExampleStage, ::testing::Values(Backend::CPU, Backend::CUDA),
                         [](const auto &info) {
                           return std::string(info.param == Backend::CUDA ? "Gpu" : "Cpu");
                         });
} // namespace
