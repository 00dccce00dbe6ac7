//===- hip/kernels/hip_reference.h - Plain C++ HiP references ---*- C++ -*-===//
//
// The canonical HiP (v1.1) mask search and the block-sparse attention it
// feeds, written as plain single-threaded C++ with float64 accumulation
// (../shared/reference/hip-algorithm.md §2-§3). They are the references the
// DSL kernels are tested against; they are not fast.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace hip::kernels {

/// The parameters of the v1.1 mask search (defaults as in the reference).
struct HiPMaskParams {
  int64_t maskK = 512;       // k: key tokens selected per query block
  int64_t blockSizeQ = 64;   // b_q
  int64_t blockStrideQ = 2;  // b_sq
  int64_t blockSizeK = 2;    // b_k
  int64_t blockStrideK = 1;  // b_sk
  int64_t sink = 16;         // sink tokens, always attended
  int64_t window = 256;      // sliding window, always attended
  /// The reference aligns branch boundaries to a power-of-two step, which
  /// leaves up to step-1 blocks before the window unreachable (§2.3). Off:
  /// boundaries floor(B*i/K), every block reachable.
  bool alignedSplit = true;
};

/// A branch of the tree search: `size` key blocks from block `start`.
struct Branch {
  int64_t start, size;
  bool operator==(const Branch &o) const { return start == o.start && size == o.size; }
};

/// The K initial branches over B searchable blocks (§2.3).
std::vector<Branch> initialBranches(int64_t B, int64_t K, bool aligned);

/// The tree search over B blocks keeping K (§2.4-2.5), given the score of a
/// representative block. Returns the selected block indices, ascending.
/// `trace`, if given, receives each iteration's kept branches.
std::vector<int64_t> treeSearch(int64_t B, int64_t K, bool aligned,
                                const std::function<double(int64_t block)> &score,
                                std::vector<std::vector<Branch>> *trace = nullptr);

/// The mask of one head: q [Tq][D], k [Tk][D] row-major (q pre-scaled),
/// pos[j] = 1-based count of keys query j sees. Returns, per query block,
/// the selected key-block starts in tokens (ascending, multiples of b_k).
std::vector<std::vector<int64_t>> referenceHipMask(const std::vector<float> &q,
                                                   const std::vector<float> &k,
                                                   const std::vector<int64_t> &pos, int64_t D,
                                                   const HiPMaskParams &p);
/// The tree stage's head_shared search of one KV head: qs holds the query
/// heads of its group (each [Tq][D]); a block's score is the max over all of
/// them, and the one mask serves each head.
std::vector<std::vector<int64_t>> referenceHipMaskShared(const std::vector<std::vector<float>> &qs,
                                                         const std::vector<float> &k,
                                                         const std::vector<int64_t> &pos, int64_t D,
                                                         const HiPMaskParams &p);

/// Attention of one head over, for each query block, the selected blocks
/// plus the sink and the sliding window, with the validity rules of §3 (a
/// key counts once); softmax in float64. Returns out [Tq][D].
std::vector<double> referenceBlockSparseAttention(const std::vector<float> &q,
                                                  const std::vector<float> &k,
                                                  const std::vector<float> &v,
                                                  const std::vector<int64_t> &pos, int64_t D,
                                                  const HiPMaskParams &p,
                                                  const std::vector<std::vector<int64_t>> &blocks);

/// Recall of one query block's selection against the exact top-K key blocks:
/// the blocks of `bk` keys in [sink, P - window) ranked by the largest q.k
/// over the block's queries [q0, q1), where query j sees keys
/// t <= j + offset - window (offset = T_k - T_q). Query j's row is at
/// q + j * qStride, key t's at k + t * kStride. `selected` holds the K
/// selected block starts. Returns {hits, K}; {0, 0} when every block fits
/// (the block is dense, trivially exact) or K is 0.
std::pair<int64_t, int64_t> blockRecall(const float *q, int64_t qStride, const float *k,
                                        int64_t kStride, int64_t D, int64_t q0, int64_t q1,
                                        int64_t offset, int64_t sink, int64_t window, int64_t bk,
                                        const int64_t *selected, int64_t K);

} // namespace hip::kernels
