//===- tests/hip_reference_test.cpp - The plain C++ HiP references --------===//
//
// The worked examples of the algorithm reference (§2.3 branch table, §2.7
// smooth and spike cases) reproduced exactly, the index invariants on random
// data, and dense equivalence of the block-sparse attention reference.
//
//===----------------------------------------------------------------------===//
#include "hip/kernels/hip_reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

using namespace hip::kernels;

namespace {
double smooth(int64_t t) {
  double d = double(t);
  return double((37 * t) % 64) / 64 +
         std::max({9 * std::exp(-std::pow((d - 6) / 3, 2)), 8 * std::exp(-std::pow((d - 42) / 3, 2)),
                   6 * std::exp(-std::pow((d - 21) / 2, 2))});
}
double spikes(int64_t t) {
  switch (t) {
  case 5: return 9;
  case 6: return 8.5;
  case 40: return 8.0;
  case 41: return 7.9;
  case 42: return 7.8;
  case 43: return 7.7;
  case 60: return 7;
  case 20: return 6;
  default: return double((37 * t) % 64) / 64;
  }
}
std::vector<int64_t> exactTop(const std::function<double(int64_t)> &s, int64_t T, int64_t k) {
  std::vector<int64_t> idx(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i) idx[size_t(i)] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s(a) > s(b); });
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}
} // namespace

TEST(HipReference, InitialBranchesMatchTheReferenceTable) {
  using V = std::vector<Branch>;
  EXPECT_EQ(initialBranches(64, 8, true),
            (V{{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 8}, {40, 8}, {48, 8}, {56, 8}}));
  EXPECT_EQ(initialBranches(70, 8, true),
            (V{{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 8}, {40, 8}, {48, 8}, {56, 8}}));
  EXPECT_EQ(initialBranches(100, 8, true),
            (V{{0, 8}, {8, 16}, {24, 8}, {32, 16}, {48, 8}, {56, 16}, {72, 8}, {80, 16}}));
  EXPECT_EQ(initialBranches(20, 8, true),
            (V{{0, 2}, {2, 2}, {4, 2}, {6, 4}, {10, 2}, {12, 2}, {14, 2}, {16, 4}}));
  // Without the alignment quirk the whole range [0, B) is covered.
  auto even = initialBranches(100, 8, false);
  EXPECT_EQ(even.front().start, 0);
  EXPECT_EQ(even.back().start + even.back().size, 100);
}

TEST(HipReference, WorkedExampleSmoothScores) {
  std::vector<std::vector<Branch>> trace;
  auto got = treeSearch(64, 8, true, smooth, &trace);
  using V = std::vector<Branch>;
  auto sorted = [](V v) {
    std::sort(v.begin(), v.end(), [](const Branch &a, const Branch &b) { return a.start < b.start; });
    return v;
  };
  ASSERT_EQ(trace.size(), 3u);
  EXPECT_EQ(sorted(trace[0]),
            (V{{0, 4}, {4, 4}, {8, 4}, {16, 4}, {20, 4}, {36, 4}, {40, 4}, {44, 4}}));
  EXPECT_EQ(sorted(trace[1]),
            (V{{2, 2}, {4, 2}, {6, 2}, {8, 2}, {20, 2}, {38, 2}, {40, 2}, {42, 2}}));
  EXPECT_EQ(sorted(trace[2]),
            (V{{5, 1}, {6, 1}, {7, 1}, {8, 1}, {21, 1}, {41, 1}, {42, 1}, {43, 1}}));
  EXPECT_EQ(got, (std::vector<int64_t>{5, 6, 7, 8, 21, 41, 42, 43}));
  EXPECT_EQ(got, exactTop(smooth, 64, 8));
}

TEST(HipReference, WorkedExampleSpikesRecallFiveOfEight) {
  auto got = treeSearch(64, 8, true, spikes);
  EXPECT_EQ(got, (std::vector<int64_t>{5, 38, 40, 41, 42, 43, 50, 62}));
  auto exact = exactTop(spikes, 64, 8);
  EXPECT_EQ(exact, (std::vector<int64_t>{5, 6, 20, 40, 41, 42, 43, 60}));
  std::vector<int64_t> common;
  std::set_intersection(got.begin(), got.end(), exact.begin(), exact.end(),
                        std::back_inserter(common));
  EXPECT_EQ(common.size(), 5u);
}

TEST(HipReference, MaskFromQKReproducesTheWorkedExample) {
  // One query, D = 1, q = 1 and k[t] = s(t): q.k is the score of token t.
  HiPMaskParams p;
  p.maskK = 8, p.blockSizeQ = 1, p.blockStrideQ = 1, p.blockSizeK = 1, p.sink = 0, p.window = 0;
  std::vector<float> q{1.f}, k(64);
  for (int t = 0; t < 64; ++t) k[size_t(t)] = float(smooth(t));
  auto m = referenceHipMask(q, k, {64}, 1, p);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (std::vector<int64_t>{5, 6, 7, 8, 21, 41, 42, 43}));
  // b_k = 2: K = 4 blocks of 2 tokens, offsets multiples of 2.
  p.blockSizeK = 2;
  auto m2 = referenceHipMask(q, k, {64}, 1, p);
  ASSERT_EQ(m2[0].size(), 4u);
  for (int64_t t : m2[0]) EXPECT_EQ(t % 2, 0);
}

TEST(HipReference, IndexInvariantsOnRandomData) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  const int64_t T = 1024, D = 16;
  HiPMaskParams p;
  p.maskK = 64, p.blockSizeQ = 32, p.blockStrideQ = 2, p.blockSizeK = 4, p.sink = 16, p.window = 64;
  std::vector<float> q(size_t(T * D)), k(size_t(T * D));
  for (auto &x : q) x = nd(rng) * 0.25f;
  for (auto &x : k) x = nd(rng);
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t j = 0; j < T; ++j) pos[size_t(j)] = j + 1;
  auto mask = referenceHipMask(q, k, pos, D, p);
  ASSERT_EQ(mask.size(), size_t(T / p.blockSizeQ));
  for (size_t b = 0; b < mask.size(); ++b) {
    int64_t P = int64_t(b + 1) * p.blockSizeQ, Teff = std::max<int64_t>(0, P - p.window - p.sink);
    const auto &m = mask[b];
    EXPECT_TRUE(std::is_sorted(m.begin(), m.end()));
    EXPECT_EQ(std::set<int64_t>(m.begin(), m.end()).size(), m.size()) << "duplicates";
    for (int64_t t : m) {
      EXPECT_EQ(t % p.blockSizeK, 0);
      EXPECT_GE(t, p.sink);                  // never inside the sink
      EXPECT_LT(t, P - p.window);            // never inside the window / future
    }
    if (Teff > p.maskK) EXPECT_EQ(int64_t(m.size()), p.maskK / p.blockSizeK) << "block " << b;
    else EXPECT_EQ(int64_t(m.size()), (Teff + p.blockSizeK - 1) / p.blockSizeK);
  }
}

TEST(HipReference, BlockSparseEqualsDenseWhenTheMaskCoversEverything) {
  std::mt19937 rng(6);
  std::normal_distribution<float> nd;
  const int64_t T = 200, D = 8;
  HiPMaskParams p;
  p.maskK = 256, p.blockSizeQ = 16, p.blockSizeK = 2, p.sink = 4, p.window = 8;
  std::vector<float> q(size_t(T * D)), k(size_t(T * D)), v(size_t(T * D));
  for (auto *vec : {&q, &k, &v})
    for (auto &x : *vec) x = nd(rng) * 0.5f;
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t j = 0; j < T; ++j) pos[size_t(j)] = j + 1;
  auto mask = referenceHipMask(q, k, pos, D, p); // T_eff <= k everywhere: dense
  auto out = referenceBlockSparseAttention(q, k, v, pos, D, p, mask);
  for (int64_t j = 0; j < T; ++j) {
    double m = -1e300, l = 0;
    std::vector<double> acc(size_t(D), 0.0), s(size_t(j + 1));
    for (int64_t t = 0; t <= j; ++t) {
      double x = 0;
      for (int64_t d = 0; d < D; ++d) x += double(q[size_t(j * D + d)]) * k[size_t(t * D + d)];
      s[size_t(t)] = x;
      m = std::max(m, x);
    }
    for (int64_t t = 0; t <= j; ++t) {
      double w = std::exp(s[size_t(t)] - m);
      l += w;
      for (int64_t d = 0; d < D; ++d) acc[size_t(d)] += w * v[size_t(t * D + d)];
    }
    for (int64_t d = 0; d < D; ++d)
      ASSERT_NEAR(out[size_t(j * D + d)], acc[size_t(d)] / l, 1e-12) << "row " << j;
  }
}
