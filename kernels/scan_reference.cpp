//===- kernels/scan_reference.cpp - Plain C++ v1.2 chunk-scan mask --------===//
#include "hip/kernels/scan_reference.h"

#include "hip/error.h"

#include <algorithm>
#include <limits>
#include <string>

namespace hip::kernels {

namespace {
constexpr double kInvalid = -std::numeric_limits<double>::infinity();

bool isPow2(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

[[noreturn]] void fail(const std::string &msg) {
  throw InvalidArgument("ScanPipelineParams: " + msg);
}

std::string field(size_t i, const char *name) {
  return "stages[" + std::to_string(i) + "]." + name;
}

/// A chunk of a (query block, head) list, in position order.
struct Cand {
  int64_t left, right;
  double score;
};
using Lists = std::vector<std::vector<std::vector<Cand>>>; // [block][head][chunk]

/// Keeps the `keep` best chunks (stable: ties keep the earlier chunk), each
/// realigned to its c-block start; sorted and deduplicated.
std::vector<int64_t> selectStarts(const std::vector<Cand> &list, int64_t keep, int64_t c,
                                  int64_t sink) {
  std::vector<size_t> order(list.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return list[a].score > list[b].score; });
  std::vector<int64_t> out;
  for (size_t i = 0; i < order.size() && int64_t(i) < keep; ++i)
    out.push_back((list[order[i]].left - sink) / c * c + sink);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}
} // namespace

void ScanPipelineParams::validate() const {
  if (stages.empty()) fail("stages must not be empty");
  for (size_t i = 0; i < stages.size(); ++i) {
    const ScanStageParams &s = stages[i];
    if (!isPow2(s.blockSizeQ))
      fail(field(i, "blockSizeQ") + " (" + std::to_string(s.blockSizeQ) +
           ") must be a positive power of two");
    if (!isPow2(s.strideQ))
      fail(field(i, "strideQ") + " (" + std::to_string(s.strideQ) +
           ") must be a positive power of two");
    if (s.blockSizeQ % s.strideQ)
      fail(field(i, "strideQ") + " (" + std::to_string(s.strideQ) + ") must divide " +
           field(i, "blockSizeQ") + " (" + std::to_string(s.blockSizeQ) + ")");
    if (!isPow2(s.chunkSize))
      fail(field(i, "chunkSize") + " (" + std::to_string(s.chunkSize) +
           ") must be a positive power of two");
    if (i == 0) {
      if (s.stageK != 0) fail(field(0, "stageK") + " must be 0: the first stage scans every chunk");
      continue;
    }
    const ScanStageParams &prev = stages[i - 1];
    if (s.stageK <= 0 || s.stageK % prev.chunkSize)
      fail(field(i, "stageK") + " (" + std::to_string(s.stageK) +
           ") must be a positive multiple of " + field(i - 1, "chunkSize") + " (" +
           std::to_string(prev.chunkSize) + ")");
    if (prev.chunkSize % s.chunkSize)
      fail(field(i, "chunkSize") + " (" + std::to_string(s.chunkSize) + ") must divide " +
           field(i - 1, "chunkSize") + " (" + std::to_string(prev.chunkSize) + ")");
    if (prev.blockSizeQ % s.blockSizeQ)
      fail(field(i, "blockSizeQ") + " (" + std::to_string(s.blockSizeQ) + ") must divide " +
           field(i - 1, "blockSizeQ") + " (" + std::to_string(prev.blockSizeQ) +
           "): the query block never grows");
  }
  int64_t cLast = stages.back().chunkSize;
  if (secondStageK <= 0 || secondStageK % cLast)
    fail("secondStageK (" + std::to_string(secondStageK) +
         ") must be a positive multiple of the last stage's chunkSize (" + std::to_string(cLast) +
         ")");
  if (sink < 0) fail("sink must be >= 0");
  if (window < 0) fail("window must be >= 0");
}

std::vector<std::vector<float>> referencePoolQueries(const std::vector<float> &q, int64_t Tq,
                                                     int64_t D, int64_t head, int64_t q0,
                                                     int64_t q1, int64_t strideQ) {
  if (D <= 0 || Tq < 0 || strideQ <= 0 || head < 0 || q0 < 0 || q1 > Tq ||
      q.size() < size_t((head + 1) * Tq * D))
    throw InvalidArgument("referencePoolQueries: bad shape, head or query range");
  std::vector<std::vector<float>> rows;
  for (int64_t g = q0; g < q1; g += strideQ) {
    int64_t end = std::min(q1, g + strideQ);
    std::vector<double> sum(size_t(D), 0.0);
    for (int64_t j = g; j < end; ++j)
      for (int64_t d = 0; d < D; ++d) sum[size_t(d)] += q[size_t((head * Tq + j) * D + d)];
    std::vector<float> row(static_cast<size_t>(D));
    for (int64_t d = 0; d < D; ++d) row[size_t(d)] = float(sum[size_t(d)] / double(end - g));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<ScannedChunk> referenceScanChunks(const std::vector<std::vector<float>> &qRep,
                                              const float *kHead, int64_t Tk, int64_t D,
                                              std::vector<std::pair<int64_t, int64_t>> chunks,
                                              int64_t keyLimit,
                                              std::vector<std::vector<int64_t>> *probes) {
  if (D <= 0 || qRep.empty())
    throw InvalidArgument("referenceScanChunks: need D > 0 and at least one query row");
  for (const auto &r : qRep)
    if (int64_t(r.size()) != D)
      throw InvalidArgument("referenceScanChunks: every query row must have D entries");
  for (auto [l, r] : chunks)
    if (l < r && (l < 0 || r > Tk))
      throw InvalidArgument("referenceScanChunks: chunk [" + std::to_string(l) + ", " +
                            std::to_string(r) + ") is outside the keys [0, " + std::to_string(Tk) +
                            ")");
  auto score = [&](int64_t t) {
    if (t > keyLimit) return kInvalid;
    double best = kInvalid;
    for (const auto &row : qRep) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += double(row[size_t(d)]) * double(kHead[t * D + d]);
      best = std::max(best, s);
    }
    return best;
  };
  std::vector<ScannedChunk> out;
  if (probes) probes->assign(chunks.size(), {});
  for (size_t c = 0; c < chunks.size(); ++c) {
    auto [left, right] = chunks[c];
    double best = kInvalid;
    if (right - left == 1) {
      best = score(left);
      if (probes) (*probes)[c].push_back(left);
    }
    while (right - left > 1) {
      int64_t mid = (left + right) / 2, pL = (left + mid) / 2, pR = (mid + right) / 2;
      double sL = score(pL), sR = score(pR);
      if (probes) (*probes)[c].insert((*probes)[c].end(), {pL, pR});
      if (sL > sR || pR > keyLimit)
        right = mid;
      else
        left = mid;
      best = std::max({best, sL, sR});
    }
    out.push_back({left, right, best});
  }
  return out;
}

ScanMaskResult referenceScanMask(const std::vector<float> &q, const std::vector<float> &k,
                                 const std::vector<int64_t> &pos, int64_t H, int64_t Hkv, int64_t D,
                                 const ScanPipelineParams &p) {
  p.validate();
  if (D <= 0 || H <= 0 || Hkv <= 0 || H % Hkv)
    throw InvalidArgument("referenceScanMask: need D, H, Hkv > 0 and H % Hkv == 0");
  const int64_t Tq = int64_t(pos.size());
  if (q.size() != size_t(H * Tq * D))
    throw InvalidArgument("referenceScanMask: q must be [H][Tq][D] with Tq = pos.size()");
  if (k.size() % size_t(Hkv * D))
    throw InvalidArgument("referenceScanMask: k must be [Hkv][Tk][D]");
  const int64_t Tk = int64_t(k.size() / size_t(Hkv * D));
  for (int64_t x : pos)
    if (x < 0 || x >= Tk)
      throw InvalidArgument("referenceScanMask: pos entries must be in [0, Tk)");

  const auto &st = p.stages;
  const int64_t SW = p.window, sink = p.sink, groupSize = H / Hkv;
  const int64_t swScan = std::max<int64_t>(0, SW - st[0].chunkSize);
  auto blockCount = [&](int64_t bq) { return (Tq + bq - 1) / bq; };
  // P (max pos + 1) and pmin of query block b of size bq.
  auto blockPos = [&](int64_t b, int64_t bq) {
    int64_t P = 0, pmin = std::numeric_limits<int64_t>::max();
    for (int64_t j = b * bq; j < std::min(Tq, (b + 1) * bq); ++j) {
      P = std::max(P, pos[size_t(j)] + 1);
      pmin = std::min(pmin, pos[size_t(j)]);
    }
    return std::pair{P, pmin};
  };

  // Stage 0 input: every chunk before the block's window, the same for every head.
  int64_t bq = st[0].blockSizeQ;
  Lists lists(size_t(blockCount(bq)));
  for (int64_t b = 0; b < blockCount(bq); ++b) {
    auto [P, pmin] = blockPos(b, bq);
    int64_t c0 = st[0].chunkSize, avail = P - sink - SW;
    std::vector<Cand> chunks;
    for (int64_t i = 0; avail > 0 && i < (avail + c0 - 1) / c0; ++i)
      chunks.push_back({sink + i * c0, std::min(sink + (i + 1) * c0, P - SW), kInvalid});
    lists[size_t(b)].assign(size_t(H), chunks);
  }

  for (size_t i = 0; i < st.size(); ++i) {
    if (i > 0) {
      int64_t cPrev = st[i - 1].chunkSize, c = st[i].chunkSize;
      int64_t keep = st[i].stageK / cPrev, split = bq / st[i].blockSizeQ;
      bq = st[i].blockSizeQ;
      Lists next(size_t(blockCount(bq)), std::vector<std::vector<Cand>>(size_t(H)));
      for (int64_t b = 0; b < blockCount(bq); ++b) {
        int64_t end = blockPos(b, bq).first - SW;
        for (int64_t h = 0; h < H; ++h)
          for (int64_t s : selectStarts(lists[size_t(b / split)][size_t(h)], keep, cPrev, sink))
            for (int64_t l = s; l < s + cPrev && l < end; l += c)
              next[size_t(b)][size_t(h)].push_back({l, std::min(l + c, end), kInvalid});
      }
      lists = std::move(next);
    }

    for (int64_t b = 0; b < blockCount(bq); ++b) {
      int64_t keyLimit = blockPos(b, bq).second - swScan;
      for (int64_t h = 0; h < H; ++h) {
        auto &list = lists[size_t(b)][size_t(h)];
        if (list.empty()) continue;
        auto qRep =
            referencePoolQueries(q, Tq, D, h, b * bq, std::min(Tq, (b + 1) * bq), st[i].strideQ);
        std::vector<std::pair<int64_t, int64_t>> chunks;
        for (const Cand &c : list) chunks.emplace_back(c.left, c.right);
        auto res =
            referenceScanChunks(qRep, &k[size_t(h / groupSize * Tk * D)], Tk, D, chunks, keyLimit);
        for (size_t c = 0; c < list.size(); ++c)
          list[c] = {res[c].left, res[c].right, res[c].score};
      }
      if (p.headReduce) {
        auto &heads = lists[size_t(b)];
        for (const auto &l : heads)
          if (l.size() != heads[0].size())
            throw InternalError("referenceScanMask: head reduce needs equal chunk lists");
        for (size_t c = 0; c < heads[0].size(); ++c) {
          double m = kInvalid;
          for (const auto &l : heads) m = std::max(m, l[c].score);
          for (auto &l : heads) l[c].score = m;
        }
      }
    }
  }

  const int64_t cLast = st.back().chunkSize, nb = blockCount(bq);
  ScanMaskResult out{bq, cLast, {}};
  out.indices.assign(size_t(H), std::vector<std::vector<int64_t>>(size_t(nb)));
  for (int64_t b = 0; b < nb; ++b) {
    int64_t P = blockPos(b, bq).first;
    std::vector<int64_t> dense;
    bool isDense = P - sink - SW <= p.secondStageK;
    for (int64_t t = sink; isDense && t < P - SW; t += cLast) dense.push_back(t);
    for (int64_t h = 0; h < H; ++h)
      out.indices[size_t(h)][size_t(b)] =
          isDense ? dense
                  : selectStarts(lists[size_t(b)][size_t(h)], p.secondStageK / cLast, cLast, sink);
  }
  return out;
}

} // namespace hip::kernels
