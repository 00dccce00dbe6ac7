//===- hip/kernels/scan_reference.h - Plain C++ v1.2 scan mask --*- C++ -*-===//
//
// The InfiniteHiP (v1.2) "chunk scan" mask pipeline
// (../shared/reference/hip-algorithm.md §5.1-§5.2) written as plain
// single-threaded C++ with float64 dot products. It is the reference the DSL
// scan kernels are tested against (§9 item 12); it is not fast. RoPE and the
// extend backends are out of scope: q and k are used as given.
//
// Semantics, for one batch element. Choices where §5 leaves room, or where
// this reference departs from upstream, are marked [chosen].
//
// * Positions. pos[j] is the 0-based position of query j, which sees keys
//   t <= pos[j]. A query block of size bq holds queries
//   [b*bq, min(Tq, (b+1)*bq)); P is its max pos + 1 (visible count), pmin its
//   min pos. SW is `window`; SW_scan = max(0, SW - stages[0].chunkSize) is
//   used by every stage (upstream sets it once, from the first chunk size).
//
// * Stage 0 input, per query block: the chunks
//   [sink + i*c0, min(sink + (i+1)*c0, P - SW)) for i < ceil((P-sink-SW)/c0),
//   none when P - sink - SW <= 0. [chosen] Clipping at the block's own P keeps
//   every chunk causal and before the window (upstream clips every block at
//   Tk - SW_scan and relies on the scan's activity test).
//
// * Scan of one chunk [left, right) (referenceScanChunks). q_rep has one row
//   per group of strideQ consecutive queries of the block (groups start at
//   the block start; the last may be short): the mean of the group, summed in
//   float64 and rounded once to float. keyLimit = pmin - SW_scan. A probe of
//   key t is valid iff t <= keyLimit and then scores max over rows of
//   q_rep.k[t] (float64); an invalid probe scores -inf. [chosen] Validity is
//   per probe; upstream instead freezes a chunk once left > keyLimit, which
//   can probe keys past keyLimit inside a still-active chunk.
//   score = -inf; while right - left > 1:
//     mid = (left + right) / 2; pL = (left + mid) / 2; pR = (mid + right) / 2
//     if sL > sR or pR is invalid: right = mid  else: left = mid
//     score = max(score, sL, sR)
//   Ties go right, as upstream. [chosen] When pR is invalid the search goes
//   left even if pL is invalid too: only the left half can hold valid keys.
//   Thus a chunk ends with right - left == 1 and its score is the max over
//   every key it probed, which need not be its final key. A chunk of length 1
//   is scored by its one key (if valid); an empty chunk keeps -inf.
//
// * Head reduce (headReduce, default on, HIP_HEAD_REDUCE upstream): after
//   each stage's scan the score of each chunk becomes the max of that chunk's
//   score over all H query heads. The chunk lists only depend on the block,
//   so every head then selects the same chunks. Off: per-head selection.
//
// * Between stage i-1 and stage i, per (query block, head): stable-sort the
//   chunks by score, descending; the lists are kept in position order, so
//   ties keep the smaller start first [chosen; upstream's topk leaves ties
//   open]. Keep the first stageK_i / c_{i-1}; realign
//   left = (left - sink) / c_{i-1} * c_{i-1} + sink, right = left + c_{i-1};
//   sort by left and dedupe. When blockSizeQ shrinks, each sub-block inherits
//   its parent block's chunks. Split every chunk into c_{i-1}/c_i sub-chunks
//   of c_i tokens, then [chosen] clip them to the (sub-)block's
//   [sink, P - SW) and drop the empty ones, so every candidate stays causal.
//   Scores restart at -inf.
//
// * Final, per (head, query block of the last stage): keep the first
//   secondStageK / c_last chunks by score (same tie rule), index =
//   (left - sink) / c_last * c_last + sink, sort ascending, dedupe. The
//   block size of the result is c_last. If P - sink - SW <= secondStageK for
//   that block, its indices are instead every sink + j*c_last < P - SW
//   (dense, exact). A chunk scored -inf (no valid probe) can still be kept
//   when better ones run out.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace hip::kernels {

/// One scan stage (§5.1 ScanStage). Sizes are powers of two.
struct ScanStageParams {
  int64_t blockSizeQ = 64; // queries per block
  int64_t strideQ = 4;     // queries averaged in groups of this size
  int64_t chunkSize = 256; // key chunk size scanned by this stage
  int64_t stageK = 0;      // tokens kept entering this stage; 0 = all (first stage only)
};

/// The whole pipeline; the defaults are those of §5.1.
struct ScanPipelineParams {
  std::vector<ScanStageParams> stages{{64, 4, 256, 0}, {64, 4, 32, 32768}, {64, 1, 8, 8192}};
  int64_t secondStageK = 2048; // tokens selected per query block at the end
  int64_t sink = 256;
  int64_t window = 512;
  bool headReduce = true;

  /// Throws hip::InvalidArgument naming the offending field when a
  /// constraint of §5.2 does not hold: a non-empty stage list; first stage
  /// stageK == 0 and later ones > 0; stageK_i % chunk_{i-1} == 0;
  /// chunk_{i-1} % chunk_i == 0; blockSizeQ_i divides blockSizeQ_{i-1};
  /// secondStageK > 0 and % chunk_last == 0; blockSizeQ, strideQ and
  /// chunkSize powers of two; strideQ divides blockSizeQ; sink, window >= 0.
  /// stageK and secondStageK need only be multiples of the chunk, as upstream.
  void validate() const;
};

/// The result of one chunk scan: the final bisection interval and the score.
struct ScannedChunk {
  int64_t left, right;
  double score;
  bool operator==(const ScannedChunk &o) const {
    return left == o.left && right == o.right && score == o.score;
  }
};

/// The q_rep rows of one block and head: q is [H][Tq][D] row-major, the block
/// holds queries [q0, q1). One row per group of strideQ queries from q0.
std::vector<std::vector<float>> referencePoolQueries(const std::vector<float> &q, int64_t Tq,
                                                     int64_t D, int64_t head, int64_t q0,
                                                     int64_t q1, int64_t strideQ);

/// Scans each chunk [first, second) by bisection (see the file comment) with
/// keys kHead [Tk][D]; keys t > keyLimit are invalid probes. Returns, per
/// chunk, the final [left, right) and the score. `probes`, if given,
/// receives the keys probed in each chunk, in order (invalid ones included).
std::vector<ScannedChunk> referenceScanChunks(const std::vector<std::vector<float>> &qRep,
                                              const float *kHead, int64_t Tk, int64_t D,
                                              std::vector<std::pair<int64_t, int64_t>> chunks,
                                              int64_t keyLimit,
                                              std::vector<std::vector<int64_t>> *probes = nullptr);

/// The mask: blockSizeQ of the last stage, blockSizeK = c_last and, per head
/// and query block, the selected key-block starts in tokens (ascending).
struct ScanMaskResult {
  int64_t blockSizeQ, blockSizeK;
  std::vector<std::vector<std::vector<int64_t>>> indices; // [H][nQueryBlocks][...]
};

/// The full pipeline for one batch element: q [H][Tq][D] (pre-scaled),
/// k [Hkv][Tk][D], pos [Tq] (0-based, < Tk); head h reads kv head
/// h / (H / Hkv).
ScanMaskResult referenceScanMask(const std::vector<float> &q, const std::vector<float> &k,
                                 const std::vector<int64_t> &pos, int64_t H, int64_t Hkv, int64_t D,
                                 const ScanPipelineParams &p);

} // namespace hip::kernels
