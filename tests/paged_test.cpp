//===- tests/paged_test.cpp - Attention over a paged KV cache -------------===//
//
// paged_dense_attention and paged_hip_attention equal the contiguous calls
// on the same keys (random page tables, page sizes 1/16/64, mixed lengths:
// prefill, decode and chunked prefill in one batch, GQA), append_paged_kv
// writes exactly the new rows, and every bad table or length is refused
// before anything is written. CPU backend always, the GPU when there is one
// (then the cache lives in device memory).
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"

#include "attention_inputs.h"
#include "skip_without_gpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

using namespace hip;
using hip::test_support::Inputs;

namespace {

constexpr int64_t H = 4, Hkv = 2, D = 64;
constexpr uint16_t kPoison = 0x7f00; // bf16 ~1.7e38: any read of it shows in the output

/// A batch of sequences in a paged cache, with the same data laid out
/// contiguously per sequence for the reference calls.
struct Batch {
  std::vector<int64_t> lens, tq;
  int64_t pageSize, numPages = 0, maxPages = 0, numTokens = 0;
  std::vector<Inputs> seqs;                // per sequence: q [1, T_q, H, D], k/v [1, len, Hkv, D]
  std::vector<uint16_t> kCache, vCache, q; // bf16 bits
  std::vector<int32_t> table, seqLens, cu;
  Device dev = Device::CPU;
  std::vector<Tensor> onDevice; // device copies (GPU case)

  Batch(std::vector<int64_t> lens_, std::vector<int64_t> tq_, int64_t ps, uint64_t seed)
      : lens(lens_), tq(tq_), pageSize(ps) {
    int64_t B = int64_t(lens.size());
    for (int64_t b = 0; b < B; ++b) {
      seqs.emplace_back(1, tq[size_t(b)], lens[size_t(b)], H, Hkv, D, seed + uint64_t(b));
      maxPages = std::max(maxPages, (lens[size_t(b)] + ps - 1) / ps);
      numPages += (lens[size_t(b)] + ps - 1) / ps;
    }
    maxPages += 1; // an unused column, -1
    numPages += 3; // pages nobody owns
    std::vector<int32_t> order(static_cast<size_t>(numPages));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
    table.assign(size_t(B * maxPages), -1);
    int64_t row = Hkv * D, next = 0;
    kCache.assign(size_t(numPages * ps * row), kPoison);
    vCache = kCache;
    cu.push_back(0);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j * ps < lens[size_t(b)]; ++j)
        table[size_t(b * maxPages + j)] = order[size_t(next++)];
      for (int64_t t = 0; t < lens[size_t(b)]; ++t) {
        int64_t slot = int64_t(table[size_t(b * maxPages + t / ps)]) * ps + t % ps;
        std::memcpy(&kCache[size_t(slot * row)], &seqs[size_t(b)].k16[size_t(t * row)],
                    size_t(row) * 2);
        std::memcpy(&vCache[size_t(slot * row)], &seqs[size_t(b)].v16[size_t(t * row)],
                    size_t(row) * 2);
      }
      q.insert(q.end(), seqs[size_t(b)].q16.begin(), seqs[size_t(b)].q16.end());
      seqLens.push_back(int32_t(lens[size_t(b)]));
      cu.push_back(cu.back() + int32_t(tq[size_t(b)]));
    }
    numTokens = cu.back();
  }
  TensorView put(void *data, ScalarType t, std::vector<int64_t> shape) {
    TensorView host(data, t, shape);
    if (dev == Device::CPU) return host;
    onDevice.push_back(Tensor::copyOf(host, dev));
    return onDevice.back().view();
  }
  PagedKVCache cache() {
    return {put(kCache.data(), ScalarType::bf16, {numPages, pageSize, Hkv, D}),
            put(vCache.data(), ScalarType::bf16, {numPages, pageSize, Hkv, D}),
            put(table.data(), ScalarType::i32, {int64_t(lens.size()), maxPages}),
            put(seqLens.data(), ScalarType::i32, {int64_t(lens.size())})};
  }
  TensorView qv() { return put(q.data(), ScalarType::bf16, {numTokens, H, D}); }
  TensorView cuv() { return put(cu.data(), ScalarType::i32, {int64_t(cu.size())}); }
};

class Paged : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    if (GetParam() == Backend::CUDA) HIP_SKIP_WITHOUT_GPU();
  }
  Device device() const { return GetParam() == Backend::CUDA ? Device::CUDA : Device::CPU; }
  ComputeBackend backend() const {
    return GetParam() == Backend::CUDA ? ComputeBackend::CUDA : ComputeBackend::CPU;
  }
};

/// Rows cu[b] .. of out (host floats) against ref [1, T_q, H, D].
double maxDiff(const std::vector<float> &out, const Tensor &ref, int64_t firstRow) {
  std::vector<float> r = ref.toFloat();
  double worst = 0;
  for (size_t i = 0; i < r.size(); ++i)
    worst = std::max(worst, double(std::abs(out[size_t(firstRow * H * D) + i] - r[i])));
  return worst;
}

// Prefill (T_q = len), decode (T_q = 1), chunked prefill (0 < T_q < len)
// and an idle sequence (T_q = 0) in one call, page sizes 1, 16 and 64.
TEST_P(Paged, EqualsContiguous) {
  uint64_t seed = 1;
  for (int64_t ps : {1, 16, 64}) {
    Batch bt({70, 200, 129, 40}, {70, 1, 20, 0}, ps, seed++);
    bt.dev = device();
    PagedKVCache cache = bt.cache();
    HiPAttentionArgs ha;
    ha.mask_k = 32, ha.block_size_q = 16, ha.block_size_k = 2, ha.sink_token_size = 4;
    ha.sliding_window_size = 16;
    ha.backend = backend();
    DenseAttentionArgs da;
    da.backend = backend();
    Tensor dense = paged_dense_attention(bt.qv(), cache, bt.cuv(), da);
    PagedHiPAttentionOutput hip = paged_hip_attention(bt.qv(), cache, bt.cuv(), ha);
    ASSERT_EQ(dense.shape(), (std::vector<int64_t>{bt.numTokens, H, D}));
    ASSERT_EQ(hip.metadata.size(), bt.lens.size());
    std::vector<float> d = dense.toFloat(), h = hip.out.toFloat();
    for (size_t b = 0; b < bt.lens.size(); ++b) {
      if (bt.tq[b] == 0) {
        EXPECT_FALSE(hip.metadata[b].indices.defined());
        continue;
      }
      Inputs &s = bt.seqs[b];
      EXPECT_LT(maxDiff(d, dense_attention(s.qv(), s.kv(), s.vv(), da), bt.cu[b]), 1e-2)
          << "page size " << ps << " sequence " << b;
      auto want = hip_attention(s.qv(), s.kv(), s.vv(), ha);
      EXPECT_LT(maxDiff(h, want.out, bt.cu[b]), 1e-2) << "page size " << ps << " sequence " << b;
      EXPECT_EQ(hip.metadata[b].indices.toInt(), want.metadata.indices.toInt())
          << "page size " << ps << " sequence " << b;
      EXPECT_EQ(hip.metadata[b].ks.toInt(), want.metadata.ks.toInt());
    }
    // The masks of this call, reused: the same output.
    PagedHiPAttentionOutput again =
        paged_hip_attention(bt.qv(), cache, bt.cuv(), ha, &hip.metadata);
    EXPECT_EQ(again.out.toFloat(), h) << "page size " << ps;
  }
}

// append_paged_kv writes token i of sequence b at position
// seq_lens[b] - T_q(b) + i of its pages and nothing else.
TEST_P(Paged, AppendWritesTheNewRowsOnly) {
  Batch full({50, 33, 17}, {5, 1, 17}, 16, 7);
  Batch bt = full; // the same pages, new rows not yet written
  int64_t row = Hkv * D;
  std::vector<uint16_t> kNew, vNew;
  for (size_t b = 0; b < bt.lens.size(); ++b)
    for (int64_t t = bt.lens[b] - bt.tq[b]; t < bt.lens[b]; ++t) {
      int64_t slot =
          int64_t(bt.table[b * size_t(bt.maxPages) + size_t(t / bt.pageSize)]) * bt.pageSize +
          t % bt.pageSize;
      auto &s = bt.seqs[b];
      kNew.insert(kNew.end(), s.k16.begin() + t * row, s.k16.begin() + (t + 1) * row);
      vNew.insert(vNew.end(), s.v16.begin() + t * row, s.v16.begin() + (t + 1) * row);
      std::fill_n(&bt.kCache[size_t(slot * row)], row, kPoison);
      std::fill_n(&bt.vCache[size_t(slot * row)], row, kPoison);
    }
  bt.dev = device();
  PagedKVCache cache = bt.cache();
  append_paged_kv(cache, bt.put(kNew.data(), ScalarType::bf16, {bt.numTokens, Hkv, D}),
                  bt.put(vNew.data(), ScalarType::bf16, {bt.numTokens, Hkv, D}), bt.cuv());
  auto bits = [](const TensorView &v) {
    Tensor h = Tensor::copyOf(v, Device::CPU);
    std::vector<uint16_t> out(size_t(h.numel()));
    std::memcpy(out.data(), h.data(), out.size() * 2);
    return out;
  };
  EXPECT_EQ(bits(cache.k_cache), full.kCache);
  EXPECT_EQ(bits(cache.v_cache), full.vCache);
}

// A decode batch (T_q = 1; one sequence idle) runs on the split-K kernel
// straight from the pages: equal to the contiguous kernel per sequence, with
// the splits chosen by the call, one split (unsplit) and seven (splits past
// a short sequence's keys see none), for page sizes 1, 16 and 64, lengths
// from 1 to 1000 and a given softmax scale; both query heads of a KV head's
// group read each K/V tile once.
TEST_P(Paged, DecodeSplitsEqualContiguous) {
  uint64_t seed = 40;
  struct Env {
    ~Env() { unsetenv("HIP_DECODE_SPLITS"); }
  } restore;
  for (int64_t ps : {1, 16, 64}) {
    Batch bt({1, 5, 64, 300, 1000, 77, 130}, {1, 1, 1, 1, 1, 0, 1}, ps, seed++);
    bt.dev = device();
    PagedKVCache cache = bt.cache();
    DenseAttentionArgs da;
    da.backend = backend();
    da.softmax_scale = 0.7f;
    std::vector<float> bySplits[3];
    const char *splits[3] = {"", "1", "7"};
    for (int i = 0; i < 3; ++i) {
      setenv("HIP_DECODE_SPLITS", splits[i], 1);
      Tensor out = paged_dense_attention(bt.qv(), cache, bt.cuv(), da);
      ASSERT_EQ(out.shape(), (std::vector<int64_t>{bt.numTokens, H, D}));
      bySplits[i] = out.toFloat();
      for (size_t b = 0; b < bt.lens.size(); ++b) {
        if (bt.tq[b] == 0) continue;
        Inputs &s = bt.seqs[b];
        EXPECT_LT(maxDiff(bySplits[i], dense_attention(s.qv(), s.kv(), s.vv(), da), bt.cu[b]), 1e-2)
            << "page size " << ps << " sequence " << b << " (length " << bt.lens[b]
            << ") HIP_DECODE_SPLITS '" << splits[i] << "'";
      }
    }
    for (int i = 1; i < 3; ++i) {
      double worst = 0;
      for (size_t j = 0; j < bySplits[0].size(); ++j)
        worst = std::max(worst, double(std::abs(bySplits[i][j] - bySplits[0][j])));
      EXPECT_LT(worst, 1e-2) << "page size " << ps << ": split-K differs from the call's own "
                             << "choice with HIP_DECODE_SPLITS=" << splits[i];
    }
  }
  setenv("HIP_DECODE_SPLITS", "-2", 1);
  Batch bt({9}, {1}, 16, 3);
  bt.dev = device();
  EXPECT_THROW(paged_dense_attention(bt.qv(), bt.cache(), bt.cuv()), InvalidArgument);
}

// The same for HiP: decoding sequences attend on the split-K kernel over
// their sink, selected blocks and window straight from the pages, equal to
// the contiguous hip_attention with the same mask (lengths from 1, inside
// the window, to 1000; block_size_k 2 and 4; one split, the call's choice,
// seven); the masks come back and, passed again, give the same output; a
// mask of the wrong shape is refused.
TEST_P(Paged, HipDecodeSplitsEqualContiguous) {
  uint64_t seed = 60;
  struct Env {
    ~Env() { unsetenv("HIP_DECODE_SPLITS"); }
  } restore;
  for (int64_t bk : {2, 4}) {
    int64_t ps = bk == 2 ? 16 : 1;
    Batch bt({1, 5, 64, 300, 1000, 77, 130}, {1, 1, 1, 1, 1, 0, 1}, ps, seed++);
    bt.dev = device();
    PagedKVCache cache = bt.cache();
    HiPAttentionArgs ha;
    ha.mask_k = 64, ha.block_size_q = 16, ha.block_size_k = bk, ha.sink_token_size = 4;
    ha.sliding_window_size = 32;
    ha.backend = backend();
    for (const char *splits : {"", "1", "7"}) {
      setenv("HIP_DECODE_SPLITS", splits, 1);
      PagedHiPAttentionOutput hip = paged_hip_attention(bt.qv(), cache, bt.cuv(), ha);
      std::vector<float> h = hip.out.toFloat();
      for (size_t b = 0; b < bt.lens.size(); ++b) {
        if (bt.tq[b] == 0) continue;
        Inputs &s = bt.seqs[b];
        auto want = hip_attention(s.qv(), s.kv(), s.vv(), ha);
        EXPECT_LT(maxDiff(h, want.out, bt.cu[b]), 1e-2)
            << "block_size_k " << bk << " sequence " << b << " (length " << bt.lens[b]
            << ") HIP_DECODE_SPLITS '" << splits << "'";
        EXPECT_EQ(hip.metadata[b].indices.toInt(), want.metadata.indices.toInt());
        EXPECT_EQ(hip.metadata[b].ks.toInt(), want.metadata.ks.toInt());
      }
      PagedHiPAttentionOutput again =
          paged_hip_attention(bt.qv(), cache, bt.cuv(), ha, &hip.metadata);
      EXPECT_EQ(again.out.toFloat(), h) << "block_size_k " << bk << ": the masks passed again";
      std::vector<HiPAttentionOutputMetadata> wrong = hip.metadata;
      wrong[1] = wrong[3];
      wrong[1].heads = 1;
      EXPECT_THROW(paged_hip_attention(bt.qv(), cache, bt.cuv(), ha, &wrong), InvalidArgument);
    }
  }
}

// A decode state reuses each sequence's mask for refresh_interval steps,
// then searches again: over four steps (50 keys more each, so that a fresh
// search picks other blocks) with interval 3,
// steps 1 and 2 equal passing step 0's masks back, step 3 equals a fresh
// search; with interval 1 every step equals a fresh search. A prefill step
// drops the sequence's mask; a bad interval is refused.
TEST_P(Paged, DecodeStateRefreshesMasks) {
  std::vector<int64_t> full{403, 1003, 233};
  Batch bt(full, {1, 1, 1}, 16, 70);
  bt.dev = device();
  HiPAttentionArgs ha;
  ha.mask_k = 64, ha.block_size_q = 16, ha.block_size_k = 2, ha.sink_token_size = 4;
  ha.sliding_window_size = 32;
  ha.backend = backend();
  auto at = [&](int step) { // the cache with all but the last 50 * (3 - step) keys visible
    for (size_t b = 0; b < full.size(); ++b) bt.seqLens[b] = int32_t(full[b] - 50 * (3 - step));
    return bt.cache();
  };
  for (int64_t interval : {3, 1}) {
    PagedHiPDecodeState state;
    state.refresh_interval = interval;
    std::vector<HiPAttentionOutputMetadata> first;
    for (int step = 0; step < 4; ++step) {
      PagedKVCache cache = at(step);
      PagedHiPAttentionOutput got = paged_hip_attention(bt.qv(), cache, bt.cuv(), ha, state);
      if (step == 0) first = got.metadata;
      bool reused = interval == 3 && (step == 1 || step == 2);
      if (reused) { // (a search would pick other blocks: reuse shows)
        PagedHiPAttentionOutput fresh = paged_hip_attention(bt.qv(), cache, bt.cuv(), ha);
        bool differs = false;
        for (size_t b = 0; b < full.size(); ++b)
          differs = differs || fresh.metadata[b].indices.toInt() != first[b].indices.toInt();
        ASSERT_TRUE(differs) << "step " << step << ": the test needs masks that change";
      }
      PagedHiPAttentionOutput want = reused
                                         ? paged_hip_attention(bt.qv(), cache, bt.cuv(), ha, &first)
                                         : paged_hip_attention(bt.qv(), cache, bt.cuv(), ha);
      EXPECT_EQ(got.out.toFloat(), want.out.toFloat())
          << "interval " << interval << " step " << step << (reused ? " (reused)" : " (search)");
      for (size_t b = 0; b < full.size(); ++b)
        EXPECT_EQ(state.masks[b].indices.toInt(), want.metadata[b].indices.toInt())
            << "interval " << interval << " step " << step << " sequence " << b;
    }
  }
  // A prefill step (T_q > 1) leaves no mask to reuse.
  Batch pre({40, 9}, {3, 1}, 16, 71);
  pre.dev = device();
  PagedHiPDecodeState state;
  paged_hip_attention(pre.qv(), pre.cache(), pre.cuv(), ha, state);
  ASSERT_EQ(state.masks.size(), 2u);
  EXPECT_FALSE(state.masks[0].indices.defined());
  EXPECT_TRUE(state.masks[1].indices.defined());
  state.refresh_interval = 0;
  EXPECT_THROW(paged_hip_attention(pre.qv(), pre.cache(), pre.cuv(), ha, state), InvalidArgument);
}

// Every bad table, length or shape is refused with InvalidArgument, and a
// refused append leaves the cache as it was.
TEST_P(Paged, BadInputsAreRefused) {
  Batch good({40, 9}, {3, 1}, 16, 11);
  auto refused = [&](const char *what, auto edit) {
    Batch bt = good;
    edit(bt);
    bt.dev = device();
    PagedKVCache cache = bt.cache();
    HiPAttentionArgs ha;
    ha.mask_k = 32, ha.block_size_q = 16, ha.sink_token_size = 4, ha.sliding_window_size = 16;
    ha.backend = backend();
    EXPECT_THROW(paged_hip_attention(bt.qv(), cache, bt.cuv(), ha), InvalidArgument) << what;
    EXPECT_THROW(paged_dense_attention(bt.qv(), cache, bt.cuv()), InvalidArgument) << what;
    std::vector<uint16_t> kNew(size_t(bt.numTokens * Hkv * D), 0x3f80); // 1.0
    std::vector<uint16_t> before = bt.kCache;
    EXPECT_THROW(
        append_paged_kv(cache, bt.put(kNew.data(), ScalarType::bf16, {bt.numTokens, Hkv, D}),
                        bt.put(kNew.data(), ScalarType::bf16, {bt.numTokens, Hkv, D}), bt.cuv()),
        InvalidArgument)
        << what;
    Tensor after = Tensor::copyOf(cache.k_cache, Device::CPU);
    EXPECT_EQ(std::memcmp(after.data(), before.data(), before.size() * 2), 0) << what;
  };
  refused("page index past num_pages", [](Batch &b) { b.table[1] = int32_t(b.numPages); });
  refused("negative page index", [](Batch &b) { b.table[0] = -1; });
  refused("seq_len beyond the table",
          [](Batch &b) { b.seqLens[1] = int32_t(b.maxPages * 16 + 1); });
  refused("T_q over seq_len", [](Batch &b) { b.seqLens[1] = 0; });
  refused("cu_seqlens_q not from 0", [](Batch &b) { b.cu[0] = 1; });
  refused("cu_seqlens_q decreasing", [](Batch &b) {
    b.cu[1] = 5;
    b.cu[2] = 4;
  });
  // Shapes and dtypes.
  Batch bt = good;
  bt.dev = device();
  PagedKVCache cache = bt.cache();
  TensorView q = bt.qv();
  TensorView qBad = q;
  qBad.shape = {bt.numTokens, H, 32};
  EXPECT_THROW(paged_dense_attention(qBad, cache, bt.cuv()), InvalidArgument);
  PagedKVCache wrongTable = cache;
  wrongTable.block_table.dtype = ScalarType::i64;
  wrongTable.block_table.shape = {2, bt.maxPages / 2};
  EXPECT_THROW(paged_dense_attention(q, wrongTable, bt.cuv()), InvalidArgument);
  HiPAttentionArgs withPositions;
  withPositions.position_ids = bt.cuv();
  EXPECT_THROW(paged_hip_attention(q, cache, bt.cuv(), withPositions), InvalidArgument);
  std::vector<HiPAttentionOutputMetadata> oneMask(1);
  EXPECT_THROW(paged_hip_attention(q, cache, bt.cuv(), HiPAttentionArgs(), &oneMask),
               InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, Paged, ::testing::Values(Backend::CPU, Backend::CUDA),
                         [](const auto &info) {
                           return info.param == Backend::CPU ? "Cpu" : "Gpu";
                         });

} // namespace
