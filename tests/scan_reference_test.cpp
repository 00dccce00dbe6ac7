//===- tests/scan_reference_test.cpp - The plain C++ v1.2 scan mask -------===//
//
// Bisection on hand-built landscapes (D = 1, q = 1, k[t] = s(t)), the chunk
// score as the max of the probed keys, the dense case, index invariants on
// random data, a planted needle, head reduce, GQA and the config checks.
//
//===----------------------------------------------------------------------===//
#include "hip/kernels/scan_reference.h"

#include "hip/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <set>

using namespace hip::kernels;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<float> landscape(int64_t T, const std::function<double(int64_t)> &s) {
  std::vector<float> k(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) k[size_t(t)] = float(s(t));
  return k;
}

std::vector<float> randn(size_t n, std::mt19937 &rng, float scale = 1.f) {
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (auto &x : v) x = nd(rng) * scale;
  return v;
}

/// A small pipeline: blocks of 16 then 8 queries, chunks 32 -> 8 -> 4.
ScanPipelineParams smallParams() {
  ScanPipelineParams p;
  p.stages = {{16, 4, 32, 0}, {16, 2, 8, 256}, {8, 1, 4, 128}};
  p.secondStageK = 64;
  p.sink = 16;
  p.window = 64;
  return p;
}

std::vector<int64_t> iota(int64_t n, int64_t first) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) v[size_t(j)] = first + j;
  return v;
}

/// P (max pos + 1) of query block b of size bq.
int64_t blockP(const std::vector<int64_t> &pos, int64_t b, int64_t bq) {
  int64_t P = 0;
  for (int64_t j = b * bq; j < std::min<int64_t>(int64_t(pos.size()), (b + 1) * bq); ++j)
    P = std::max(P, pos[size_t(j)] + 1);
  return P;
}

void checkInvariants(const ScanMaskResult &r, const std::vector<int64_t> &pos,
                     const ScanPipelineParams &p, int64_t H) {
  const int64_t c = p.stages.back().chunkSize,
                nb = (int64_t(pos.size()) + r.blockSizeQ - 1) / r.blockSizeQ;
  EXPECT_EQ(r.blockSizeQ, p.stages.back().blockSizeQ);
  EXPECT_EQ(r.blockSizeK, c);
  ASSERT_EQ(int64_t(r.indices.size()), H);
  for (int64_t h = 0; h < H; ++h) {
    ASSERT_EQ(int64_t(r.indices[size_t(h)].size()), nb);
    for (int64_t b = 0; b < nb; ++b) {
      const auto &m = r.indices[size_t(h)][size_t(b)];
      int64_t P = blockP(pos, b, r.blockSizeQ), avail = std::max<int64_t>(0, P - p.sink - p.window);
      EXPECT_TRUE(std::is_sorted(m.begin(), m.end())) << "head " << h << " block " << b;
      EXPECT_EQ(std::set<int64_t>(m.begin(), m.end()).size(), m.size()) << "duplicates";
      for (int64_t t : m) {
        EXPECT_EQ((t - p.sink) % c, 0);
        EXPECT_GE(t, p.sink);
        EXPECT_LT(t, P - p.window);
      }
      if (avail > p.secondStageK) {
        EXPECT_EQ(int64_t(m.size()), p.secondStageK / c) << "head " << h << " block " << b;
      } else {
        std::vector<int64_t> all;
        for (int64_t t = p.sink; t < P - p.window; t += c) all.push_back(t);
        EXPECT_EQ(m, all) << "dense block " << b;
      }
    }
  }
}
} // namespace

TEST(ScanReference, BisectionFollowsTheBetterHalf) {
  std::vector<std::vector<float>> one{{1.f}};
  // A single peak at 11: probes 4,12 | 10,14 | 9,11 | 10,11 -> [11, 12).
  auto k = landscape(16, [](int64_t t) { return -double((t - 11) * (t - 11)); });
  std::vector<std::vector<int64_t>> probes;
  auto r = referenceScanChunks(one, k.data(), 16, 1, {{0, 16}}, 15, &probes);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], (ScannedChunk{11, 12, 0.0}));
  EXPECT_EQ(probes[0], (std::vector<int64_t>{4, 12, 10, 14, 9, 11, 10, 11}));

  // Rising keys end at the last key; constant keys too (ties go right).
  auto rise = landscape(64, [](int64_t t) { return double(t); });
  auto flat = landscape(64, [](int64_t) { return 1.0; });
  EXPECT_EQ(referenceScanChunks(one, rise.data(), 64, 1, {{16, 32}}, 63)[0],
            (ScannedChunk{31, 32, 31.0}));
  EXPECT_EQ(referenceScanChunks(one, flat.data(), 64, 1, {{16, 32}}, 63)[0],
            (ScannedChunk{31, 32, 1.0}));

  // A clipped (non power of two) chunk still ends on one key.
  auto odd = referenceScanChunks(one, rise.data(), 64, 1, {{40, 45}}, 63);
  EXPECT_EQ(odd[0], (ScannedChunk{44, 45, 44.0}));

  // Two rows: the score of a key is the max over rows, here |k|.
  std::vector<std::vector<float>> two{{1.f}, {-1.f}};
  auto v = landscape(16, [](int64_t t) { return double(t - 10); });
  EXPECT_EQ(referenceScanChunks(two, v.data(), 16, 1, {{0, 16}}, 15)[0],
            (ScannedChunk{0, 1, 10.0}));
}

TEST(ScanReference, KeyLimitMasksProbes) {
  std::vector<std::vector<float>> one{{1.f}};
  auto rise = landscape(32, [](int64_t t) { return double(t); });
  // keyLimit 5: 4 | 12 invalid -> left; 2 | 6 invalid -> left; 1 < 3 -> right;
  // 2 < 3 -> right. The score is the best probe (4), not the final key (3).
  auto r =
      referenceScanChunks(one, rise.data(), 32, 1, {{0, 16}, {20, 24}, {7, 8}, {3, 4}, {9, 9}}, 5);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0], (ScannedChunk{3, 4, 4.0}));
  EXPECT_EQ(r[1], (ScannedChunk{20, 21, -kInf})); // no valid key: walks left
  EXPECT_EQ(r[2], (ScannedChunk{7, 8, -kInf}));   // length 1, invalid
  EXPECT_EQ(r[3], (ScannedChunk{3, 4, 3.0}));     // length 1, scored by its key
  EXPECT_EQ(r[4], (ScannedChunk{9, 9, -kInf}));   // empty
  EXPECT_THROW(referenceScanChunks(one, rise.data(), 32, 1, {{30, 34}}, 40), hip::InvalidArgument);
}

TEST(ScanReference, ChunkScoreIsTheMaxOfTheProbedKeys) {
  std::mt19937 rng(11);
  const int64_t Tk = 300, D = 8;
  auto k = randn(size_t(Tk * D), rng);
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 3; ++i) rows.push_back(randn(size_t(D), rng));
  std::vector<std::pair<int64_t, int64_t>> chunks{{0, 16},   {16, 48},   {48, 51},   {60, 61},
                                                  {64, 128}, {128, 256}, {200, 237}, {256, 300}};
  const int64_t keyLimit = 220;
  std::vector<std::vector<int64_t>> probes;
  auto r = referenceScanChunks(rows, k.data(), Tk, D, chunks, keyLimit, &probes);
  ASSERT_EQ(r.size(), chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    auto [l, rt] = chunks[c];
    double best = -kInf;
    for (int64_t t : probes[c]) {
      EXPECT_GE(t, l);
      EXPECT_LT(t, rt);
      if (t > keyLimit) continue;
      for (const auto &row : rows) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += double(row[size_t(d)]) * k[size_t(t * D + d)];
        best = std::max(best, s);
      }
    }
    EXPECT_EQ(r[c].score, best) << "chunk " << c;
    EXPECT_EQ(r[c].right - r[c].left, 1);
    EXPECT_GE(r[c].left, l);
    EXPECT_LT(r[c].left, rt);
    if (rt - l == 16) {
      EXPECT_EQ(probes[c].size(), 8u); // log2(16) rounds of 2 probes
    }
  }
  EXPECT_EQ(r.back().score, -kInf); // [256, 300) lies past keyLimit
}

TEST(ScanReference, PoolQueriesAveragesGroups) {
  // H = 2, Tq = 5, D = 1; head 1 holds 10..14. Block [0, 5), stride 2.
  std::vector<float> q{0, 1, 2, 3, 4, 10, 11, 12, 13, 14};
  auto rows = referencePoolQueries(q, 5, 1, 1, 0, 5, 2);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], 10.5f);
  EXPECT_EQ(rows[1][0], 12.5f);
  EXPECT_EQ(rows[2][0], 14.f); // short last group
}

TEST(ScanReference, DenseWhenEverythingFits) {
  std::mt19937 rng(1);
  const int64_t T = 200, D = 8, H = 2;
  auto p = smallParams();
  p.secondStageK = 256; // P - sink - SW <= 200 - 80 < 256 for every block
  auto q = randn(size_t(H * T * D), rng), k = randn(size_t(H * T * D), rng);
  auto pos = iota(T, 0);
  auto r = referenceScanMask(q, k, pos, H, H, D, p);
  ASSERT_EQ(r.indices[0].size(), size_t(T / 8));
  for (size_t b = 0; b < r.indices[0].size(); ++b) {
    int64_t P = int64_t(b + 1) * 8;
    std::vector<int64_t> all;
    for (int64_t t = p.sink; t < P - p.window; t += 4) all.push_back(t);
    for (int64_t h = 0; h < H; ++h) EXPECT_EQ(r.indices[size_t(h)][b], all) << "block " << b;
  }
  EXPECT_TRUE(r.indices[0][0].empty());
  checkInvariants(r, pos, p, H);
}

TEST(ScanReference, IndexInvariantsOnRandomData) {
  std::mt19937 rng(2);
  const int64_t Tk = 1024, D = 16, H = 4, Hkv = 2;
  auto k = randn(size_t(Hkv * Tk * D), rng);
  for (bool reduce : {true, false}) {
    auto p = smallParams();
    p.headReduce = reduce;
    // Self attention over the whole sequence (early blocks are dense).
    auto pos = iota(Tk, 0);
    auto q = randn(size_t(H * Tk * D), rng, 0.5f);
    checkInvariants(referenceScanMask(q, k, pos, H, Hkv, D, p), pos, p, H);
    // A prefill chunk at the end of a cache, with a ragged last block.
    auto pos2 = iota(203, Tk - 203);
    auto q2 = randn(size_t(H * 203 * D), rng, 0.5f);
    checkInvariants(referenceScanMask(q2, k, pos2, H, Hkv, D, p), pos2, p, H);
  }
}

TEST(ScanReference, DefaultPipelineInvariants) {
  std::mt19937 rng(3);
  const int64_t T = 4096, D = 4, H = 2;
  ScanPipelineParams p; // §5.1 defaults: 256 -> 32 -> 8, secondStageK 2048
  auto q = randn(size_t(H * 64 * D), rng), k = randn(size_t(T * D), rng);
  auto pos = iota(64, T - 64);
  auto r = referenceScanMask(q, k, pos, H, 1, D, p);
  checkInvariants(r, pos, p, H);
  EXPECT_EQ(r.indices[0][0].size(), 256u);
}

TEST(ScanReference, PlantedNeedleIsFoundByEveryBlockThatSeesIt) {
  std::mt19937 rng(4);
  const int64_t T = 1024, D = 16, H = 4, Hkv = 2, needle = 416;
  auto p = smallParams();
  std::vector<float> u(static_cast<size_t>(D));
  for (int64_t d = 0; d < D; ++d) u[size_t(d)] = (d % 3 == 0) ? -1.f : 1.f;
  auto q = randn(size_t(H * T * D), rng, 0.5f);
  for (size_t i = 0; i < q.size(); ++i) q[i] += u[i % size_t(D)];
  std::vector<double> mean(size_t(D), 0.0);
  for (size_t i = 0; i < q.size(); ++i) mean[i % size_t(D)] += q[i] / double(H * T);
  // Keys: noise, plus a smooth bump of the mean query around the needle
  // block, whose keys are exactly 8 * mean.
  auto k = randn(size_t(Hkv * T * D), rng);
  for (int64_t h = 0; h < Hkv; ++h)
    for (int64_t t = needle - 32; t < needle + 36; ++t) {
      bool in = t >= needle && t < needle + 4;
      double a = 8 * std::exp(-std::pow((double(t) - needle - 1.5) / 10, 2));
      for (int64_t d = 0; d < D; ++d) {
        float &x = k[size_t((h * T + t) * D + d)];
        x = in ? float(8 * mean[size_t(d)]) : float(x + a * mean[size_t(d)]);
      }
    }
  auto pos = iota(T, 0);
  for (bool reduce : {true, false}) {
    p.headReduce = reduce;
    auto r = referenceScanMask(q, k, pos, H, Hkv, D, p);
    int64_t seen = 0;
    for (int64_t b = 0; b < T / r.blockSizeQ; ++b) {
      if (blockP(pos, b, r.blockSizeQ) - p.window < needle + 4) continue;
      ++seen;
      for (int64_t h = 0; h < H; ++h) {
        const auto &m = r.indices[size_t(h)][size_t(b)];
        EXPECT_TRUE(std::binary_search(m.begin(), m.end(), needle))
            << "head " << h << " block " << b << " reduce " << reduce;
      }
    }
    EXPECT_GT(seen, 60);
  }
}

TEST(ScanReference, HeadReduceSharesTheSelection) {
  std::mt19937 rng(5);
  const int64_t T = 512, D = 8, H = 4, Hkv = 2;
  auto q = randn(size_t(H * T * D), rng), k = randn(size_t(Hkv * T * D), rng);
  auto pos = iota(T, 0);
  auto p = smallParams();
  p.window = 32;
  auto on = referenceScanMask(q, k, pos, H, Hkv, D, p);
  for (int64_t h = 1; h < H; ++h) EXPECT_EQ(on.indices[size_t(h)], on.indices[0]) << "head " << h;
  p.headReduce = false;
  auto off = referenceScanMask(q, k, pos, H, Hkv, D, p);
  int64_t differ = 0;
  for (size_t b = 0; b < off.indices[0].size(); ++b)
    differ += off.indices[0][b] != off.indices[1][b];
  EXPECT_GT(differ, 0);
}

TEST(ScanReference, GqaEqualsRepeatedKvHeads) {
  std::mt19937 rng(6);
  const int64_t T = 384, D = 8, H = 4, Hkv = 2;
  auto q = randn(size_t(H * T * D), rng), k = randn(size_t(Hkv * T * D), rng);
  std::vector<float> kRep;
  for (int64_t h = 0; h < H; ++h)
    kRep.insert(kRep.end(), k.begin() + (h / 2) * T * D, k.begin() + (h / 2 + 1) * T * D);
  auto pos = iota(T, 0);
  auto p = smallParams();
  for (bool reduce : {true, false}) {
    p.headReduce = reduce;
    EXPECT_EQ(referenceScanMask(q, k, pos, H, Hkv, D, p).indices,
              referenceScanMask(q, kRep, pos, H, H, D, p).indices);
  }
}

TEST(ScanReference, ValidateRejectsBadConfigs) {
  EXPECT_NO_THROW(ScanPipelineParams{}.validate());
  EXPECT_NO_THROW(smallParams().validate());
  struct Case {
    std::function<void(ScanPipelineParams &)> edit;
    const char *field;
  };
  std::vector<Case> cases{
      {[](auto &p) { p.stages.clear(); }, "stages"},
      {[](auto &p) { p.stages[0].stageK = 256; }, "stages[0].stageK"},
      {[](auto &p) { p.stages[1].stageK = 0; }, "stages[1].stageK"},
      {[](auto &p) { p.stages[1].stageK = 1000; }, "stages[1].stageK"},
      {[](auto &p) { p.stages[1].chunkSize = 48; }, "stages[1].chunkSize"},
      {[](auto &p) { p.stages[1].chunkSize = 512; }, "stages[1].chunkSize"},
      {[](auto &p) { p.stages[1].blockSizeQ = 128; }, "stages[1].blockSizeQ"},
      {[](auto &p) { p.stages[0].blockSizeQ = 48; }, "stages[0].blockSizeQ"},
      {[](auto &p) { p.stages[2].strideQ = 3; }, "stages[2].strideQ"},
      {[](auto &p) { p.stages[2].strideQ = 128; }, "stages[2].strideQ"},
      {[](auto &p) { p.stages[0].chunkSize = 0; }, "stages[0].chunkSize"},
      {[](auto &p) { p.secondStageK = 2052; }, "secondStageK"},
      {[](auto &p) { p.secondStageK = 0; }, "secondStageK"},
      {[](auto &p) { p.sink = -1; }, "sink"},
      {[](auto &p) { p.window = -1; }, "window"},
  };
  for (const auto &c : cases) {
    ScanPipelineParams p;
    c.edit(p);
    try {
      p.validate();
      ADD_FAILURE() << "accepted a bad " << c.field;
    } catch (const hip::InvalidArgument &e) {
      EXPECT_NE(std::string(e.what()).find(c.field), std::string::npos) << e.what();
    }
  }
  ScanPipelineParams bad;
  bad.secondStageK = 100;
  std::vector<float> q(8), k(8);
  EXPECT_THROW(referenceScanMask(q, k, {0}, 1, 1, 8, bad), hip::InvalidArgument);
}
