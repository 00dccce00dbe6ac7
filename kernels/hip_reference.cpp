//===- kernels/hip_reference.cpp - Plain C++ HiP mask search and attention ===//
#include "hip/kernels/hip_reference.h"

#include "hip/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace hip::kernels {

std::vector<Branch> initialBranches(int64_t B, int64_t K, bool aligned) {
  if (K <= 0 || B < 0) throw InvalidArgument("initialBranches: need K > 0 and B >= 0");
  int64_t A = 1;
  while (A * 2 <= B) A *= 2;
  int64_t step = aligned ? (A + K - 1) / K : 1;
  std::vector<int64_t> s(size_t(K + 1));
  for (int64_t i = 0; i <= K; ++i) {
    // floor((B / K) * i) with a real division, rounded down to the step.
    int64_t b = aligned ? static_cast<int64_t>(std::floor(double(B) / double(K) * double(i)))
                        : B * i / K;
    s[size_t(i)] = std::min(b / step * step, B);
  }
  std::vector<Branch> out;
  for (int64_t i = 0; i < K; ++i)
    out.push_back({s[size_t(i)], std::clamp<int64_t>(s[size_t(i + 1)] - s[size_t(i)], 0, B)});
  return out;
}

std::vector<int64_t> treeSearch(int64_t B, int64_t K, bool aligned,
                                const std::function<double(int64_t)> &score,
                                std::vector<std::vector<Branch>> *trace) {
  std::vector<Branch> branches = initialBranches(B, K, aligned);
  double maxSize = 0;
  for (auto &b : branches) maxSize = std::max(maxSize, double(b.size));
  const double invalid = -std::numeric_limits<double>::infinity();
  while (maxSize > 1) {
    struct Cand {
      Branch b;
      double s;
    };
    std::vector<Cand> cand;
    for (const Branch &br : branches) {
      int64_t h = br.size / 2;
      for (Branch c : {Branch{br.start, h}, Branch{br.start + h, br.size - h}})
        cand.push_back({c, c.size == 0 ? invalid : score(c.start + c.size / 2)});
    }
    // Top K by score; ties keep the earlier block (the reference leaves the
    // order of ties open): the branches stay in key order from level to
    // level, so the candidates are too, and a stable sort by score keeps the
    // earlier of equal ones. The K best go on in key order.
    std::vector<size_t> order(cand.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return cand[a].s > cand[b].s; });
    order.resize(std::min(order.size(), size_t(K)));
    std::sort(order.begin(), order.end());
    branches.clear();
    for (size_t i : order) branches.push_back(cand[i].b);
    if (trace) trace->push_back(branches);
    maxSize *= 0.5;
  }
  std::vector<int64_t> out;
  for (const Branch &b : branches)
    if (b.size > 0) out.push_back(b.start);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
double dot(const float *a, const float *b, int64_t D) {
  double s = 0;
  for (int64_t d = 0; d < D; ++d) s += double(a[d]) * double(b[d]);
  return s;
}

void checkShapes(const std::vector<float> &q, const std::vector<float> &k,
                 const std::vector<int64_t> &pos, int64_t D, const HiPMaskParams &p) {
  if (D <= 0 || q.size() % size_t(D) || k.size() % size_t(D))
    throw InvalidArgument("reference: q and k must be [T][D] with D > 0");
  if (pos.size() != q.size() / size_t(D))
    throw InvalidArgument("reference: pos must have one entry per query");
  if (p.blockSizeQ <= 0 || p.blockSizeK <= 0 || p.blockStrideQ <= 0 || p.blockStrideK <= 0 ||
      p.blockSizeQ % p.blockStrideQ || p.blockSizeK % p.blockStrideK || p.maskK < p.blockSizeK)
    throw InvalidArgument("reference: bad block sizes or strides");
  for (int64_t x : pos)
    if (x < 1 || x > int64_t(k.size() / size_t(D)))
      throw InvalidArgument("reference: pos entries must be in [1, Tk]");
}
} // namespace

std::vector<std::vector<int64_t>> referenceHipMask(const std::vector<float> &q,
                                                   const std::vector<float> &k,
                                                   const std::vector<int64_t> &pos, int64_t D,
                                                   const HiPMaskParams &p) {
  return referenceHipMaskShared({q}, k, pos, D, p);
}

std::vector<std::vector<int64_t>> referenceHipMaskShared(const std::vector<std::vector<float>> &qs,
                                                         const std::vector<float> &k,
                                                         const std::vector<int64_t> &pos, int64_t D,
                                                         const HiPMaskParams &p) {
  if (qs.empty()) throw InvalidArgument("reference: no query heads");
  for (const std::vector<float> &q : qs) checkShapes(q, k, pos, D, p);
  int64_t Tq = int64_t(pos.size()), bq = p.blockSizeQ, bk = p.blockSizeK;
  int64_t K = (p.maskK + bk - 1) / bk, off = (p.sink + bk - 1) / bk;
  std::vector<std::vector<int64_t>> out;
  for (int64_t q0 = 0; q0 < Tq; q0 += bq) {
    int64_t q1 = std::min(Tq, q0 + bq), P = 0;
    for (int64_t j = q0; j < q1; ++j) P = std::max(P, pos[size_t(j)]);
    int64_t Teff = std::max<int64_t>(0, P - p.window - p.sink);
    int64_t B = (Teff + bk - 1) / bk;
    std::vector<int64_t> blocks;
    if (Teff <= p.maskK) {
      for (int64_t i = 0; i < B; ++i) blocks.push_back(i);
    } else {
      auto score = [&](int64_t r) {
        double best = -std::numeric_limits<double>::infinity();
        for (const std::vector<float> &q : qs)
          for (int64_t j = q0 + p.blockStrideQ - 1; j < q1; j += p.blockStrideQ)
            for (int64_t t = (off + r) * bk + p.blockStrideK - 1; t < (off + r + 1) * bk;
                 t += p.blockStrideK) {
              double s = dot(&q[size_t(j * D)], &k[size_t(t * D)], D);
              if (t > pos[size_t(j)] - p.window - 1 || s == 0) s = -32000;
              best = std::max(best, s);
            }
        return best;
      };
      blocks = treeSearch(B, K, p.alignedSplit, score);
    }
    for (int64_t &b : blocks) b = (b + off) * bk;
    out.push_back(blocks);
  }
  return out;
}

std::vector<double> referenceBlockSparseAttention(const std::vector<float> &q,
                                                  const std::vector<float> &k,
                                                  const std::vector<float> &v,
                                                  const std::vector<int64_t> &pos, int64_t D,
                                                  const HiPMaskParams &p,
                                                  const std::vector<std::vector<int64_t>> &blocks) {
  checkShapes(q, k, pos, D, p);
  if (v.size() != k.size()) throw InvalidArgument("reference: v must be shaped like k");
  int64_t Tq = int64_t(pos.size()), bq = p.blockSizeQ;
  if (blocks.size() != size_t((Tq + bq - 1) / bq))
    throw InvalidArgument("reference: one block list per query block expected");
  std::vector<double> out(size_t(Tq * D), 0.0);
  for (int64_t j = 0; j < Tq; ++j) {
    int64_t pj = pos[size_t(j)] - 1; // 0-based position
    std::vector<int64_t> keys;       // each key once
    for (int64_t t : blocks[size_t(j / bq)])
      for (int64_t u = t; u < t + p.blockSizeK; ++u)
        if (u >= p.sink && u <= pj - p.window) keys.push_back(u);
    for (int64_t u = 0; u < p.sink; ++u)
      if (u <= pj - p.window && u <= pj) keys.push_back(u);
    for (int64_t u = std::max<int64_t>(0, pj - p.window + 1); u <= pj; ++u) keys.push_back(u);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    double m = -std::numeric_limits<double>::infinity();
    std::vector<double> s(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      s[i] = dot(&q[size_t(j * D)], &k[size_t(keys[i] * D)], D);
      m = std::max(m, s[i]);
    }
    double l = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      double w = std::exp(s[i] - m);
      l += w;
      for (int64_t d = 0; d < D; ++d) out[size_t(j * D + d)] += w * v[size_t(keys[i] * D + d)];
    }
    for (int64_t d = 0; d < D; ++d) out[size_t(j * D + d)] /= l;
  }
  return out;
}

std::pair<int64_t, int64_t> blockRecall(const float *q, int64_t qStride, const float *k,
                                        int64_t kStride, int64_t D, int64_t q0, int64_t q1,
                                        int64_t offset, int64_t sink, int64_t window, int64_t bk,
                                        const int64_t *selected, int64_t K) {
  int64_t P = q1 - 1 + offset + 1;
  int64_t nb = (std::max<int64_t>(0, P - window - sink) + bk - 1) / bk;
  if (nb <= K || K == 0) return {0, 0};
  std::vector<std::pair<double, int64_t>> score;
  for (int64_t blk = 0; blk < nb; ++blk) {
    double best = -std::numeric_limits<double>::infinity();
    for (int64_t t = sink + blk * bk; t < sink + (blk + 1) * bk; ++t)
      for (int64_t j = q0; j < q1; ++j)
        if (t <= j + offset - window) best = std::max(best, dot(q + j * qStride, k + t * kStride, D));
    score.push_back({best, sink + blk * bk});
  }
  std::partial_sort(score.begin(), score.begin() + K, score.end(),
                    [](auto &x, auto &y) { return x.first > y.first; });
  std::vector<int64_t> exact;
  for (int64_t i = 0; i < K; ++i) exact.push_back(score[size_t(i)].second);
  std::sort(exact.begin(), exact.end());
  int64_t hits = 0;
  for (int64_t i = 0; i < K; ++i) hits += std::binary_search(exact.begin(), exact.end(), selected[i]);
  return {hits, K};
}

} // namespace hip::kernels
