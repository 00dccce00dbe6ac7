//===- tests/attention_test.cpp - hip_attention and dense_attention -------===//
//
// The public API on every backend (CPU always; the GPU when there is one),
// fresh random inputs, against the float64 references of
// kernels/hip_reference.h: dense equivalence, the mask equal to the
// reference search, the output equal to the reference attention over the
// kernel's own indices, index invariants, the worked examples of §2.7, GQA,
// causality, mask reuse, strides and position_ids, empty and bad inputs.
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/kernels/hip_reference.h"
#include "hip/mask_stage.h"
#include "hip/runtime/cuda.h"

#include "attention_inputs.h"
#include "skip_without_gpu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>

using namespace hip;

namespace {

using hip::test_support::Inputs;

kernels::HiPMaskParams paramsOf(const HiPAttentionArgs &a) {
  kernels::HiPMaskParams p;
  p.maskK = a.mask_k, p.blockSizeQ = a.block_size_q, p.blockStrideQ = a.block_stride_q;
  p.blockSizeK = a.block_size_k, p.blockStrideK = a.block_stride_k;
  p.sink = a.sink_token_size, p.window = a.sliding_window_size;
  p.alignedSplit = a.aligned_branches;
  return p;
}

/// The selected blocks of (row = b*H + h) per query block, from metadata.
std::vector<std::vector<int64_t>> blocksOf(const HiPAttentionOutputMetadata &m, int64_t row) {
  auto idx = m.indices.toInt(), ks = m.ks.toInt();
  int64_t nQB = m.indices.shape()[1], cap = m.indices.shape()[2];
  std::vector<std::vector<int64_t>> out;
  for (int64_t qb = 0; qb < nQB; ++qb) {
    std::vector<int64_t> b;
    for (int64_t i = 0; i < ks[size_t(row * nQB + qb)]; ++i)
      b.push_back(idx[size_t((row * nQB + qb) * cap + i)]);
    out.push_back(b);
  }
  return out;
}

/// Largest |out - reference attention over `blocks`| over every (b, h).
double maxErrorVsReference(Inputs &in, const Tensor &out, const kernels::HiPMaskParams &p,
                           const HiPAttentionOutputMetadata *meta, bool causal = true) {
  auto o = out.toFloat();
  double err = 0;
  for (int64_t b = 0; b < in.B; ++b)
    for (int64_t h = 0; h < in.H; ++h) {
      int64_t hk = h / (in.H / in.Hkv);
      auto q1 = in.head(in.q, in.Tq, in.H, b, h), k1 = in.head(in.k, in.Tk, in.Hkv, b, hk),
           v1 = in.head(in.v, in.Tk, in.Hkv, b, hk);
      auto pos = in.visible(causal);
      auto blocks = meta ? blocksOf(*meta, b * in.H + h) : kernels::referenceHipMask(q1, k1, pos, in.D, p);
      auto want = kernels::referenceBlockSparseAttention(q1, k1, v1, pos, in.D, p, blocks);
      for (int64_t i = 0; i < in.Tq; ++i)
        for (int64_t d = 0; d < in.D; ++d) {
          float g = o[size_t(((b * in.Tq + i) * in.H + h) * in.D + d)];
          if (!std::isfinite(g)) return INFINITY;
          err = std::max(err, std::abs(double(g) - want[size_t(i * in.D + d)]));
        }
    }
  return err;
}

class Attention : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    if (GetParam() == Backend::CUDA) HIP_SKIP_WITHOUT_GPU();
  }
  ComputeBackend backend() const {
    return GetParam() == Backend::CUDA ? ComputeBackend::CUDA : ComputeBackend::CPU;
  }
  HiPAttentionArgs args(int64_t maskK, int64_t bq, int64_t bsq, int64_t bk, int64_t bsk,
                        int64_t sink, int64_t window) const {
    HiPAttentionArgs a;
    a.mask_k = maskK, a.block_size_q = bq, a.block_stride_q = bsq, a.block_size_k = bk;
    a.block_stride_k = bsk, a.sink_token_size = sink, a.sliding_window_size = window;
    a.backend = backend();
    return a;
  }
};

TEST_P(Attention, DenseMatchesReference) {
  struct Case { int64_t B, Tq, Tk, H, Hkv, D; bool causal; };
  uint64_t seed = 1;
  for (Case c : {Case{1, 100, 100, 2, 2, 32, true}, Case{2, 37, 150, 4, 2, 32, true},
                 Case{1, 70, 70, 4, 1, 64, false}, Case{1, 130, 200, 2, 1, 64, true}}) {
    Inputs in(c.B, c.Tq, c.Tk, c.H, c.Hkv, c.D, seed++);
    DenseAttentionArgs da;
    da.is_causal = c.causal;
    da.backend = backend();
    Tensor out = dense_attention(in.qv(), in.kv(), in.vv(), da);
    kernels::HiPMaskParams all; // every key: a mask wider than T, no sink/window
    all.maskK = c.Tk + 16, all.blockSizeQ = 16, all.blockStrideQ = 1, all.blockSizeK = 1;
    all.sink = 0, all.window = 0;
    EXPECT_LT(maxErrorVsReference(in, out, all, nullptr, c.causal), 2e-2)
        << "B " << c.B << " Tq " << c.Tq << " Tk " << c.Tk << " causal " << c.causal;
  }
}

// Every dense schedule computes the same attention: in particular PIPE=1
// (the next tile's QK^T before this tile's P V; prologue and epilogue
// outside the loop, loops of zero, one and many tiles, ragged T), three and
// four pipeline stages (on sm_90a: P V left running into the next iteration,
// the stages refilled after Q K^T's wait);
// 8 warps on 16 x 32 tiles, which the GPU compiler runs on 4; Q staged once
// in shared memory (dot_a_shared: on sm_90a wgmma reads it through a
// descriptor), with 128 x 128 tiles too; the stages tracked by mbarriers
// instead of block-wide barriers (mbarriers=1: sm_90a's refilled loops);
// K and V as boxes (tma=1: on sm_90a copied with TMA where D is 64 or 128
// and the loop has 3 or more stages, else the same boxes by cp.async), their
// copies S - 2 ahead (refill_after_wait=0); the two warpgroups taking turns
// (pingpong=1: on sm_90a's mbarrier loops of 8 warps; loops of zero, one and
// many tiles).
TEST_P(Attention, DenseSchedulesMatchReference) {
  struct Case { int64_t B, Tq, Tk, H, Hkv, D; bool causal; };
  struct Sched {
    int64_t BM, BN, warps, stages, pipe, aShared = 0, mbar = 0, tma = 0, pp = 0, raw = 1;
  };
  uint64_t seed = 50;
  for (Case c : {Case{1, 200, 200, 2, 1, 64, true}, Case{2, 37, 150, 4, 2, 32, true},
                 Case{1, 70, 70, 2, 1, 128, false}, Case{1, 20, 20, 2, 2, 64, true},
                 Case{1, 300, 300, 2, 1, 128, true}}) {
    Inputs in(c.B, c.Tq, c.Tk, c.H, c.Hkv, c.D, seed++);
    kernels::HiPMaskParams all;
    all.maskK = c.Tk + 16, all.blockSizeQ = 16, all.blockStrideQ = 1, all.blockSizeK = 1;
    all.sink = 0, all.window = 0;
    for (Sched s : {Sched{64, 64, 4, 2, 1}, Sched{64, 32, 4, 3, 1}, Sched{128, 64, 8, 3, 1},
                    Sched{128, 64, 8, 3, 0}, Sched{128, 64, 8, 4, 0}, Sched{64, 64, 4, 3, 0},
                    Sched{16, 32, 8, 2, 0},
                    Sched{128, 64, 8, 3, 0, 1}, Sched{128, 128, 8, 2, 0, 1},
                    Sched{64, 64, 4, 2, 1, 1}, Sched{128, 64, 8, 3, 0, 0, 1},
                    Sched{128, 64, 8, 4, 0, 0, 1}, Sched{64, 64, 4, 3, 0, 0, 1},
                    Sched{128, 64, 8, 3, 0, 0, 0, 1}, Sched{128, 64, 8, 4, 0, 0, 0, 1},
                    Sched{64, 64, 4, 3, 0, 0, 0, 1}, Sched{64, 64, 4, 2, 0, 0, 0, 1},
                    Sched{128, 64, 8, 3, 0, 0, 0, 1, 0, 0}, Sched{128, 64, 8, 4, 0, 0, 1, 0, 1},
                    Sched{128, 64, 8, 3, 0, 0, 1, 0, 1}, Sched{128, 64, 8, 3, 0, 0, 0, 1, 1},
                    Sched{128, 64, 8, 4, 0, 0, 0, 1, 1, 0}, Sched{64, 64, 4, 3, 0, 0, 1, 0, 1}}) {
      DenseAttentionArgs da;
      da.is_causal = c.causal;
      da.backend = backend();
      da.schedule = {{"BLOCK_M", s.BM}, {"BLOCK_N", s.BN}, {"num_warps", s.warps},
                     {"num_stages", s.stages}, {"PIPE", s.pipe}, {"dot_a_shared", s.aShared},
                     {"mbarriers", s.mbar}, {"tma", s.tma}, {"pingpong", s.pp},
                     {"refill_after_wait", s.raw}};
      Tensor out = dense_attention(in.qv(), in.kv(), in.vv(), da);
      EXPECT_LT(maxErrorVsReference(in, out, all, nullptr, c.causal), 2e-2)
          << "Tq " << c.Tq << " Tk " << c.Tk << " D " << c.D << " causal " << c.causal
          << " BM " << s.BM << " BN " << s.BN << " stages " << s.stages << " PIPE " << s.pipe
          << " dot_a_shared " << s.aShared << " mbarriers " << s.mbar << " tma " << s.tma
          << " pingpong " << s.pp << " refill_after_wait " << s.raw;
    }
  }
  Inputs in(1, 16, 16, 1, 1, 32, 99);
  DenseAttentionArgs bad;
  bad.backend = backend();
  bad.schedule = {{"TILE", 64}};
  EXPECT_THROW(dense_attention(in.qv(), in.kv(), in.vv(), bad), InvalidArgument);
  bad.schedule = {{"BLOCK_M", 48}};
  EXPECT_THROW(dense_attention(in.qv(), in.kv(), in.vv(), bad), InvalidArgument);
}

// Every sparse-attention schedule gives the same output: PIPE=1 (the next
// gathered tile's QK^T before this tile's P V), three stages, the GQA
// group's heads adjacent in program order (GROUPED), over
// selected blocks that end inside a tile, D 64 and 128; more warps than
// the tiles split into (run on fewer); Q staged in shared memory
// (dot_a_shared).
TEST_P(Attention, SparseSchedulesMatchReference) {
  struct Sched { int64_t BM, BN, warps, stages, pipe, grouped = 0, aShared = 0; };
  uint64_t seed = 70;
  for (int64_t D : {64, 128}) {
    Inputs in(1, 400, 400, 4, 2, D, seed++);
    HiPAttentionArgs a = args(128, 64, 2, 2, 1, 16, 64);
    for (Sched s : {Sched{64, 32, 4, 2, 1}, Sched{64, 32, 4, 3, 1}, Sched{64, 64, 4, 3, 0},
                    Sched{64, 64, 4, 2, 0}, Sched{64, 32, 4, 3, 0}, Sched{32, 32, 4, 3, 1},
                    Sched{64, 64, 4, 2, 0, 1}, Sched{32, 32, 4, 3, 0, 1}, Sched{16, 32, 8, 2, 0},
                    Sched{64, 64, 4, 2, 0, 0, 1}, Sched{64, 32, 4, 3, 1, 0, 1}}) {
      a.attention_schedule = {{"BLOCK_M", s.BM}, {"BLOCK_N", s.BN}, {"num_warps", s.warps},
                              {"num_stages", s.stages}, {"PIPE", s.pipe}, {"GROUPED", s.grouped},
                              {"dot_a_shared", s.aShared}};
      auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
      EXPECT_LT(maxErrorVsReference(in, r.out, paramsOf(a), &r.metadata), 2e-2)
          << "D " << D << " BM " << s.BM << " BN " << s.BN << " stages " << s.stages << " PIPE "
          << s.pipe << " GROUPED " << s.grouped << " dot_a_shared " << s.aShared;
    }
  }
  Inputs in(1, 64, 64, 1, 1, 32, 99);
  HiPAttentionArgs bad = args(32, 16, 1, 2, 1, 4, 16);
  bad.attention_schedule = {{"HEAD_DIM", 64}};
  EXPECT_THROW(hip_attention(in.qv(), in.kv(), in.vv(), bad), InvalidArgument);
}

// The DSL mask search selects exactly the blocks of the float64 reference.
TEST_P(Attention, MaskMatchesReferenceSearch) {
  struct Case { int64_t T, D, maskK, bq, bsq, bk, bsk, sink, window; bool aligned; };
  uint64_t seed = 10;
  for (Case c : {Case{600, 32, 64, 32, 2, 4, 1, 16, 64, true},
                 Case{700, 64, 32, 16, 1, 2, 2, 8, 32, false},
                 Case{900, 32, 128, 64, 4, 8, 2, 0, 64, true}}) {
    Inputs in(1, c.T, c.T, 2, 1, c.D, seed++);
    HiPAttentionArgs a = args(c.maskK, c.bq, c.bsq, c.bk, c.bsk, c.sink, c.window);
    a.aligned_branches = c.aligned;
    a.mask_only = true;
    auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
    EXPECT_FALSE(r.out.defined());
    for (int64_t h = 0; h < 2; ++h) {
      auto want = kernels::referenceHipMask(in.head(in.q, c.T, 2, 0, h), in.head(in.k, c.T, 1, 0, 0),
                                            in.visible(true), c.D, paramsOf(a));
      auto got = blocksOf(r.metadata, h);
      ASSERT_EQ(got.size(), want.size());
      for (size_t qb = 0; qb < want.size(); ++qb)
        EXPECT_EQ(got[qb], want[qb]) << "T " << c.T << " head " << h << " query block " << qb;
    }
  }
}

// Every schedule of the tree stage's kernel (pinned through the stage's
// "schedule") selects the reference's blocks: the GQA group's heads adjacent
// in program order (GROUPED), other chunk sizes, warps (8 on a 16 x 32
// scores dot: the GPU compiler runs 4) and occupancy hints; B 2, GQA 2.
// Unknown keys and rejected values are refused.
TEST_P(Attention, TreeSchedulesKeepTheSelection) {
  const int64_t B = 2, T = 700, H = 4, Hkv = 2, D = 64;
  Inputs in(B, T, T, H, Hkv, D, 33);
  HiPAttentionArgs a = args(128, 32, 2, 2, 1, 16, 64);
  a.mask_only = true;
  std::vector<std::vector<std::vector<int64_t>>> want;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      want.push_back(kernels::referenceHipMask(in.head(in.q, T, H, b, h),
                                               in.head(in.k, T, Hkv, b, h / (H / Hkv)),
                                               in.visible(true), D, paramsOf(a)));
  for (const char *sched :
       {R"({"GROUPED": 1})", R"({"GROUPED": 1, "CHUNK": 32, "num_warps": 8})",
        R"({"GROUPED": 0, "CHUNK": 64, "min_blocks": 2})",
        R"({"dot_a_shared": 1, "min_blocks": 4})", R"({"dot_a_shared": 1, "CHUNK": 16})",
        R"({"num_stages": 2})", R"({"num_stages": 1, "min_blocks": 3})",
        R"({"CHUNK": 16, "num_warps": 8})"}) {
    a.mask_pipeline = std::string(R"({"stages": [{"type": "tree", "schedule": )") + sched + "}]}";
    auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
    for (int64_t row = 0; row < B * H; ++row) {
      auto got = blocksOf(r.metadata, row);
      ASSERT_EQ(got.size(), want[size_t(row)].size());
      for (size_t qb = 0; qb < got.size(); ++qb)
        EXPECT_EQ(got[qb], want[size_t(row)][qb]) << sched << " row " << row << " query block " << qb;
    }
  }
  for (const char *bad : {R"({"TILE": 1})", R"({"CHUNK": 3})", R"({"CHUNK": "x"})", R"([1])"}) {
    a.mask_pipeline = std::string(R"({"stages": [{"type": "tree", "schedule": )") + bad + "}]}";
    EXPECT_THROW(hip_attention(in.qv(), in.kv(), in.vv(), a), InvalidArgument) << bad;
  }
}

// The tree stage's head_shared option: one search per (query block, KV
// head) over the max of its query heads, equal to the float64 reference of
// that rule, and the same selection for each head of a group (B 2, GQA 4 and 2;
// 128 rows of D 128 as at the benchmark's shape), with the default schedule
// and with the next step's rows loaded a step ahead (num_stages 2).
TEST_P(Attention, HeadSharedMaskMatchesReference) {
  struct Case { int64_t T, H, Hkv, D, maskK, bq, bsq, bk, bsk, sink, window; };
  uint64_t seed = 40;
  for (Case c :
       {Case{600, 8, 2, 32, 64, 32, 2, 4, 1, 16, 64}, Case{500, 4, 2, 64, 32, 16, 1, 2, 2, 8, 32},
        Case{700, 8, 2, 128, 128, 64, 2, 2, 1, 16, 64}})
    for (const char *sched : {"", R"(, "schedule": {"num_stages": 2})"}) {
      const int64_t B = 2;
      Inputs in(B, c.T, c.T, c.H, c.Hkv, c.D, seed++);
      HiPAttentionArgs a = args(c.maskK, c.bq, c.bsq, c.bk, c.bsk, c.sink, c.window);
      a.mask_only = true;
      a.mask_pipeline =
          std::string(R"({"stages": [{"type": "tree", "head_shared": true)") + sched + "}]}";
      auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
      int64_t G = c.H / c.Hkv;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t kh = 0; kh < c.Hkv; ++kh) {
          std::vector<std::vector<float>> qs;
          for (int64_t g = 0; g < G; ++g) qs.push_back(in.head(in.q, c.T, c.H, b, kh * G + g));
          auto want = kernels::referenceHipMaskShared(qs, in.head(in.k, c.T, c.Hkv, b, kh),
                                                      in.visible(true), c.D, paramsOf(a));
          for (int64_t g = 0; g < G; ++g) {
            auto got = blocksOf(r.metadata, b * c.H + kh * G + g);
            ASSERT_EQ(got.size(), want.size());
            for (size_t qb = 0; qb < want.size(); ++qb)
              EXPECT_EQ(got[qb], want[qb]) << "T " << c.T << " batch " << b << " head "
                                           << kh * G + g << " query block " << qb << sched;
          }
        }
    }
}

// With head_shared, the sparse attention stacks each GQA group's heads in
// its rows (HEADS = G) and still equals the reference over the selection.
TEST_P(Attention, HeadSharedOutputStacksTheGroup) {
  struct Case { int64_t T, H, Hkv, D, maskK, bq, bsq, bk; };
  uint64_t seed = 60;
  for (Case c : {Case{600, 8, 2, 64, 64, 32, 2, 2}, Case{333, 4, 2, 128, 32, 64, 2, 2},
                 Case{250, 8, 1, 32, 32, 16, 1, 2}}) {
    Inputs in(2, c.T, c.T, c.H, c.Hkv, c.D, seed++);
    HiPAttentionArgs a = args(c.maskK, c.bq, c.bsq, c.bk, 1, 16, 64);
    a.mask_pipeline = R"({"stages": [{"type": "tree", "head_shared": true}]})";
    takeKernelChoices();
    auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
    std::string config;
    for (const KernelChoice &k : takeKernelChoices())
      if (k.kernel == "hip_block_sparse_attention") config = k.config;
    EXPECT_NE(config.find("HEADS=" + std::to_string(c.H / c.Hkv)), std::string::npos) << config;
    EXPECT_LT(maxErrorVsReference(in, r.out, paramsOf(a), &r.metadata), 2e-2)
        << "T " << c.T << " H " << c.H << "/" << c.Hkv << " D " << c.D;
  }
}

// Output = reference attention over the kernel's own indices + sink + window,
// including early rows with no causal-valid selected key (no NaN).
TEST_P(Attention, OutputMatchesReferenceWithOwnIndices) {
  Inputs in(2, 300, 520, 4, 2, 64, 20);
  HiPAttentionArgs a = args(64, 32, 2, 4, 1, 16, 64);
  auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
  EXPECT_LT(maxErrorVsReference(in, r.out, paramsOf(a), &r.metadata), 2e-2);
  Inputs f16(1, 200, 200, 2, 2, 32, 21, ScalarType::f16);
  HiPAttentionArgs b = args(32, 16, 1, 2, 1, 4, 16);
  auto r16 = hip_attention(f16.qv(), f16.kv(), f16.vv(), b);
  EXPECT_EQ(r16.out.dtype(), ScalarType::f16);
  EXPECT_LT(maxErrorVsReference(f16, r16.out, paramsOf(b), &r16.metadata), 5e-3);
  // Head dim 16 with 16-query blocks: the smallest tiles (fewer warps).
  Inputs d16(1, 150, 150, 2, 1, 16, 22);
  HiPAttentionArgs c = args(32, 16, 1, 2, 1, 4, 16);
  auto r3 = hip_attention(d16.qv(), d16.kv(), d16.vv(), c);
  EXPECT_LT(maxErrorVsReference(d16, r3.out, paramsOf(c), &r3.metadata), 2e-2);
  // The selected blocks, the sink and the window share one loop: a sink of
  // several key tiles (sink 96 > BLOCK_N 64), no window, no sink, neither.
  // (0, 0) has the selected blocks only.
  for (auto [sink, window] : {std::pair<int64_t, int64_t>{96, 64}, {32, 0}, {0, 96}, {0, 0}}) {
    Inputs sw(1, 600, 600, 2, 1, 64, 23 + sink);
    HiPAttentionArgs e = args(64, 32, 2, 4, 1, sink, window);
    auto rs = hip_attention(sw.qv(), sw.kv(), sw.vv(), e);
    EXPECT_LT(maxErrorVsReference(sw, rs.out, paramsOf(e), &rs.metadata), 2e-2)
        << "sink " << sink << " window " << window;
  }
  DenseAttentionArgs da;
  da.backend = backend();
  kernels::HiPMaskParams all;
  all.maskK = 160, all.blockSizeQ = 16, all.blockStrideQ = 1, all.blockSizeK = 1, all.sink = 0,
  all.window = 0;
  EXPECT_LT(maxErrorVsReference(d16, dense_attention(d16.qv(), d16.kv(), d16.vv(), da), all, nullptr), 2e-2);
}

// mask_k covering the whole range: HiP is dense attention.
TEST_P(Attention, DenseEquivalenceWhenMaskCoversEverything) {
  Inputs in(1, 256, 256, 2, 1, 32, 30);
  HiPAttentionArgs a = args(256, 64, 2, 2, 1, 16, 32);
  auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
  DenseAttentionArgs da;
  da.backend = backend();
  Tensor d = dense_attention(in.qv(), in.kv(), in.vv(), da);
  auto x = r.out.toFloat(), y = d.toFloat();
  double err = 0;
  for (size_t i = 0; i < x.size(); ++i) err = std::max(err, double(std::abs(x[i] - y[i])));
  EXPECT_LT(err, 1e-2);
  auto ks = r.metadata.ks.toInt();
  for (int64_t qb = 0; qb < 4; ++qb) // blocks [sink, P - window) all selected
    EXPECT_EQ(ks[size_t(qb)], (std::max<int64_t>(0, (qb + 1) * 64 - 32 - 16) + 1) / 2);
}

TEST_P(Attention, IndexInvariants) {
  int64_t T = 1500, sink = 16, window = 64, bk = 4, maskK = 128, bq = 32;
  Inputs in(1, T, T, 2, 2, 32, 40);
  HiPAttentionArgs a = args(maskK, bq, 2, bk, 1, sink, window);
  a.mask_only = true;
  auto r = hip_attention(in.qv(), in.kv(), in.vv(), a);
  auto idx = r.metadata.indices.toInt(), ks = r.metadata.ks.toInt();
  int64_t nQB = r.metadata.indices.shape()[1], cap = r.metadata.indices.shape()[2];
  ASSERT_EQ(cap, maskK / bk);
  for (int64_t row = 0; row < 2; ++row)
    for (int64_t qb = 0; qb < nQB; ++qb) {
      int64_t P = std::min(T, (qb + 1) * bq); // visible keys of the block's last query
      int64_t Teff = std::max<int64_t>(0, P - window - sink);
      int64_t n = ks[size_t(row * nQB + qb)];
      EXPECT_EQ(n, Teff <= maskK ? (Teff + bk - 1) / bk : maskK / bk) << "qb " << qb;
      for (int64_t i = 0; i < cap; ++i) {
        int64_t x = idx[size_t((row * nQB + qb) * cap + i)];
        if (i >= n) {
          EXPECT_EQ(x, kIndexSentinel);
          continue;
        }
        EXPECT_EQ(x % bk, 0);
        EXPECT_GE(x, sink);
        EXPECT_LT(x, P - window) << "qb " << qb;
        if (i) EXPECT_GT(x, idx[size_t((row * nQB + qb) * cap + i - 1)]);
      }
    }
}

// §2.7: T = 64, k = 8, b_k = b_q = 1, one query seeing every key; q . k = s(t).
TEST_P(Attention, WorkedExamplesOfTheReference) {
  if (GetParam() == Backend::CUDA) GTEST_SKIP() << "f32 inputs (exact scores) run on the CPU only";
  auto run = [&](const std::function<double(int)> &s) {
    int64_t D = 16;
    std::vector<float> q(size_t(D), 0.f), k(size_t(64 * D), 0.f), v(size_t(64 * D), 1.f);
    q[0] = 1.f;
    for (int t = 0; t < 64; ++t) k[size_t(t * D)] = float(s(t));
    HiPAttentionArgs a = args(8, 1, 1, 1, 1, 0, 0);
    a.mask_only = true;
    auto r = hip_attention(TensorView(q.data(), ScalarType::f32, {1, 1, 1, D}),
                           TensorView(k.data(), ScalarType::f32, {1, 64, 1, D}),
                           TensorView(v.data(), ScalarType::f32, {1, 64, 1, D}), a);
    return blocksOf(r.metadata, 0)[0];
  };
  auto smooth = [](int t) {
    return ((37 * t) % 64) / 64.0 + std::max({9 * std::exp(-std::pow((t - 6) / 3.0, 2)),
                                              8 * std::exp(-std::pow((t - 42) / 3.0, 2)),
                                              6 * std::exp(-std::pow((t - 21) / 2.0, 2))});
  };
  EXPECT_EQ(run(smooth), (std::vector<int64_t>{5, 6, 7, 8, 21, 41, 42, 43}));
  auto spikes = [](int t) {
    switch (t) {
    case 5: return 9.0;
    case 6: return 8.5;
    case 40: return 8.0;
    case 41: return 7.9;
    case 42: return 7.8;
    case 43: return 7.7;
    case 60: return 7.0;
    case 20: return 6.0;
    default: return ((37 * t) % 64) / 64.0;
    }
  };
  auto got = run(spikes);
  EXPECT_EQ(got, (std::vector<int64_t>{5, 38, 40, 41, 42, 43, 50, 62}));
  std::set<int64_t> exact = {5, 6, 20, 40, 41, 42, 43, 60};
  int hits = 0;
  for (int64_t x : got) hits += int(exact.count(x));
  EXPECT_EQ(hits, 5); // recall 5/8
}

TEST_P(Attention, GqaEqualsRepeatedKvHeads) {
  Inputs gqa(1, 400, 400, 4, 2, 32, 50);
  Inputs mha = gqa;
  mha.Hkv = 4;
  auto repeat = [&](const std::vector<uint16_t> &x) {
    std::vector<uint16_t> out;
    for (int64_t t = 0; t < 400; ++t)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t d = 0; d < 32; ++d) out.push_back(x[size_t((t * 2 + h / 2) * 32 + d)]);
    return out;
  };
  mha.k16 = repeat(gqa.k16), mha.v16 = repeat(gqa.v16);
  HiPAttentionArgs a = args(64, 32, 2, 2, 1, 16, 32);
  auto r1 = hip_attention(gqa.qv(), gqa.kv(), gqa.vv(), a);
  auto r2 = hip_attention(mha.qv(), mha.kv(), mha.vv(), a);
  EXPECT_EQ(r1.metadata.indices.toInt(), r2.metadata.indices.toInt());
  EXPECT_EQ(r1.out.toFloat(), r2.out.toFloat());
}

// Changing keys and values at and after a query-block boundary changes no
// output of the queries before it (the mask is shared per query block).
TEST_P(Attention, Causality) {
  Inputs in(1, 512, 512, 2, 1, 32, 60);
  HiPAttentionArgs a = args(64, 32, 2, 2, 1, 16, 64);
  auto before = hip_attention(in.qv(), in.kv(), in.vv(), a).out.toFloat();
  std::mt19937 rng(61);
  for (size_t i = 320 * 32; i < in.k16.size(); ++i)
    in.k16[i] = kernels::floatToBf16(float(rng() % 1000) / 100.f),
    in.v16[i] = kernels::floatToBf16(float(rng() % 1000) / 100.f);
  auto after = hip_attention(in.qv(), in.kv(), in.vv(), a).out.toFloat();
  size_t rowsBefore = 320 * 2 * 32;
  EXPECT_TRUE(std::equal(before.begin(), before.begin() + long(rowsBefore), after.begin()));
  EXPECT_FALSE(std::equal(before.begin(), before.end(), after.begin()));
}

TEST_P(Attention, MaskReuseEqualsRecomputing) {
  Inputs in(1, 300, 300, 2, 1, 32, 70);
  HiPAttentionArgs a = args(64, 32, 2, 4, 1, 16, 32);
  auto fresh = hip_attention(in.qv(), in.kv(), in.vv(), a);
  HiPAttentionArgs m = a;
  m.mask_only = true;
  auto mask = hip_attention(in.qv(), in.kv(), in.vv(), m);
  EXPECT_EQ(mask.metadata.indices.toInt(), fresh.metadata.indices.toInt());
  auto reused = hip_attention(in.qv(), in.kv(), in.vv(), a, &mask.metadata);
  EXPECT_EQ(reused.out.toFloat(), fresh.out.toFloat());
  // A different shape is refused.
  Inputs other(1, 200, 300, 2, 1, 32, 71);
  EXPECT_THROW(hip_attention(other.qv(), other.kv(), other.vv(), a, &mask.metadata), InvalidArgument);
}

// Strided views (q stored [B, H, T, D]) and explicit position_ids equal to the
// default give the same result; device-resident inputs give it on the device.
TEST_P(Attention, StridesPositionIdsAndDeviceMemory) {
  Inputs in(1, 200, 200, 2, 1, 32, 80);
  HiPAttentionArgs a = args(32, 16, 2, 2, 1, 8, 32);
  auto base = hip_attention(in.qv(), in.kv(), in.vv(), a);
  std::vector<uint16_t> qT(in.q16.size());
  for (int64_t t = 0; t < 200; ++t)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t d = 0; d < 32; ++d) qT[size_t((h * 200 + t) * 32 + d)] = in.q16[size_t((t * 2 + h) * 32 + d)];
  TensorView qs(qT.data(), ScalarType::bf16, {1, 200, 2, 32}, Device::CPU, {200 * 2 * 32, 32, 200 * 32, 1});
  std::vector<int32_t> pos(200);
  for (int i = 0; i < 200; ++i) pos[size_t(i)] = i;
  HiPAttentionArgs p = a;
  p.position_ids = TensorView(pos.data(), ScalarType::i32, {200});
  auto strided = hip_attention(qs, in.kv(), in.vv(), p);
  EXPECT_EQ(strided.out.toFloat(), base.out.toFloat());
  if (GetParam() == Backend::CUDA) {
    Tensor qd = Tensor::copyOf(in.qv(), Device::CUDA), kd = Tensor::copyOf(in.kv(), Device::CUDA),
           vd = Tensor::copyOf(in.vv(), Device::CUDA);
    auto onDev = hip_attention(qd.view(), kd.view(), vd.view(), a);
    EXPECT_EQ(onDev.out.device(), Device::CUDA);
    EXPECT_EQ(onDev.out.toFloat(), base.out.toFloat());
  }
}

TEST_P(Attention, EmptyInputsGiveEmptyOutputs) {
  Inputs in(1, 0, 0, 2, 1, 32, 90);
  auto r = hip_attention(in.qv(), in.kv(), in.vv(), args(64, 32, 2, 2, 1, 16, 32));
  EXPECT_EQ(r.out.numel(), 0);
  EXPECT_EQ(r.out.shape(), (std::vector<int64_t>{1, 0, 2, 32}));
}

void expectInvalid(const std::function<void()> &f, const std::string &needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const InvalidArgument &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST_P(Attention, BadInputsRaiseInvalidArgument) {
  Inputs in(1, 64, 64, 4, 2, 32, 100);
  HiPAttentionArgs a = args(32, 16, 2, 2, 1, 4, 16);
  auto call = [&](HiPAttentionArgs x, TensorView q, TensorView k, TensorView v) {
    return [=] { hip_attention(q, k, v, x); };
  };
  TensorView q = in.qv(), k = in.kv(), v = in.vv();
  TensorView q3 = q;
  q3.shape = {64, 4, 32};
  expectInvalid(call(a, q3, k, v), "q must be 4-D");
  TensorView vBad = v;
  vBad.shape = {1, 63, 2, 32};
  expectInvalid(call(a, q, k, vBad), "k and v must have the same shape");
  TensorView kF16 = k;
  kF16.dtype = ScalarType::f16;
  expectInvalid(call(a, q, kF16, v), "same dtype");
  TensorView q3h = q;
  q3h.shape = {1, 64, 3, 32};
  expectInvalid(call(a, q3h, k, v), "multiple of H_kv");
  HiPAttentionArgs x = a;
  x.block_size_q = 24;
  expectInvalid(call(x, q, k, v), "block_size_q = 24 must be a power of two");
  x = a, x.block_stride_q = 32;
  expectInvalid(call(x, q, k, v), "block_stride_q must not exceed block_size_q");
  x = a, x.mask_k = 1, x.block_size_k = 2;
  expectInvalid(call(x, q, k, v), "mask_k = 1 must be >= block_size_k");
  x = a, x.sink_token_size = 3;
  expectInvalid(call(x, q, k, v), "multiples of block_size_k");
  x = a, x.sliding_window_size = 5;
  expectInvalid(call(x, q, k, v), "multiples of block_size_k");
  TensorView qLong = q;
  qLong.shape = {1, 65, 4, 32};
  std::vector<uint16_t> big(65 * 4 * 32);
  qLong.data = big.data();
  expectInvalid(call(a, qLong, k, v), "T_q (65) must not exceed T_k (64)");
  x = a, x.is_causal = false;
  expectInvalid(call(x, q, k, v), "is_causal = false needs sink_token_size = 0");
  for (float s : {0.f, -0.5f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
    x = a, x.softmax_scale = s;
    expectInvalid(call(x, q, k, v), "softmax_scale must be a positive finite number");
  }
  std::vector<uint16_t> q48(64 * 4 * 48), k48(64 * 2 * 48);
  expectInvalid(call(a, TensorView(q48.data(), ScalarType::bf16, {1, 64, 4, 48}),
                     TensorView(k48.data(), ScalarType::bf16, {1, 64, 2, 48}),
                     TensorView(k48.data(), ScalarType::bf16, {1, 64, 2, 48})),
                "head dim D = 48 is not supported (supported: 16, 32, 64, 128, 256)");
  std::vector<int32_t> pos(64, 64);
  x = a, x.position_ids = TensorView(pos.data(), ScalarType::i32, {64});
  expectInvalid(call(x, q, k, v), "position_ids[0, 0] = 64 is outside [0, T_k = 64)");
  x = a, x.mask_pipeline = "{\"stages\": [{\"type\": \"nope\"}]}";
  expectInvalid(call(x, q, k, v), "unknown type 'nope'");
  x = a, x.mask_pipeline = "{\"stages\": [{\"type\": \"tree\", \"mask_kk\": 4}]}";
  expectInvalid(call(x, q, k, v), "has no parameter 'mask_kk'");
  x = a, x.mask_pipeline = "[{\"type\": \"tree\", \"mask_k\": \"many\"}]";
  expectInvalid(call(x, q, k, v), "'mask_k' must be an integer");
  x = a, x.mask_pipeline = "{\"stages\": [";
  expectInvalid(call(x, q, k, v), "not valid JSON");
  if (GetParam() == Backend::CUDA) {
    std::vector<float> f(64 * 4 * 32), g(64 * 2 * 32);
    expectInvalid(call(a, TensorView(f.data(), ScalarType::f32, {1, 64, 4, 32}),
                       TensorView(g.data(), ScalarType::f32, {1, 64, 2, 32}),
                       TensorView(g.data(), ScalarType::f32, {1, 64, 2, 32})),
                  "f32 inputs run on the CPU backend only");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Attention, ::testing::Values(Backend::CPU, Backend::CUDA),
                         [](const auto &info) {
                           return std::string(info.param == Backend::CUDA ? "Gpu" : "Cpu");
                         });

} // namespace
