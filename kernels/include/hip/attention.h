//===- hip/attention.h - HiP attention and dense attention -------*- C++ -*-===//
//
// hip_attention(q, k, v, args) -> {out, metadata}: hierarchically pruned
// attention (arXiv 2406.09827, the "v1.1" algorithm by default). Each block
// of `block_size_q` queries attends to mask_k selected key tokens (found by a
// mask pipeline, by default the tree search) plus the first
// `sink_token_size` keys and a sliding window of `sliding_window_size` keys.
//
//   q [B, T_q, H, D], k and v [B, T_k, H_kv, D], H % H_kv == 0 (GQA); the
//   queries are the last T_q positions of the keys unless position_ids say
//   otherwise. bf16/f16 on both backends, f32 on the CPU backend; any
//   strides; host or device memory (the output lives where q lives).
//   q must be pre-scaled by 1/sqrt(D), as in the seed API, unless
//   softmax_scale is given.
//
// No MLIR or CUDA header is included.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/tensor.h"

#include <map>
#include <optional>
#include <string>

namespace hip {

/// Which engine computes: the device the tensors live on by default;
/// HIP_BACKEND=cpu|cuda|auto chooses for host tensors (auto: the GPU if one
/// is usable).
enum class ComputeBackend { Auto, CPU, CUDA };

/// Head dimensions the kernels are built for.
inline constexpr int64_t kSupportedHeadDims[] = {16, 32, 64, 128, 256};

struct HiPAttentionArgs {
  // The v1.1 defaults (hip-algorithm.md §1.2); fromEnvironment() reads the
  // seed's HIP_* overrides.
  int64_t mask_k = 512;            // key tokens selected per query block
  int64_t block_size_q = 64;       // queries sharing one mask
  int64_t block_stride_q = 2;      // every n-th query of a block scores
  int64_t block_size_k = 2;        // mask granularity in keys
  int64_t block_stride_k = 1;      // every n-th key of a block scores
  int64_t sink_token_size = 16;    // always attended, from key 0
  int64_t sliding_window_size = 256; // always attended, before each query
  bool is_causal = true;
  /// Multiplies q . k; when unset, q must already carry 1/sqrt(D).
  std::optional<float> softmax_scale;
  /// Optional [B, T_q] (or [T_q]) i32/i64 0-based positions of the queries
  /// among the keys; default: the last T_q positions.
  TensorView position_ids;
  /// The mask pipeline as JSON (see kernels/README or `hipattn run --help`);
  /// empty: one v1.1 tree-search stage built from the fields above.
  std::string mask_pipeline;
  /// The v1.1 code aligns its initial branches to a power-of-two step, which
  /// leaves up to step-1 key blocks before the window unreachable (§2.3).
  /// true reproduces that; false spreads the branches over every block.
  bool aligned_branches = true;
  bool mask_only = false; // return the metadata only
  /// Use the block sizes and strides `hipattn tune hip_attention --algorithm`
  /// found for this GPU and shape (nearest bucket), when there are any.
  /// HIP_TUNED=1 sets it for every call.
  bool tuned = false;
  ComputeBackend backend = ComputeBackend::Auto;
  /// Schedule values of the hip_block_sparse_attention kernel (the keys of
  /// its config space: BLOCK_M, BLOCK_N, num_warps, num_stages, PIPE, GROUPED) that
  /// replace the default or tuned ones; with any set, the sparse attention
  /// is not tuned. An unknown key or a value the kernel rejects throws
  /// InvalidArgument.
  std::map<std::string, int64_t> attention_schedule;

  /// Defaults overridden by HIP_K, HIP_BQ, HIP_BSQ, HIP_BK, HIP_BSK, HIP_SW,
  /// HIP_NSINK (InvalidArgument for a value that is not an integer).
  static HiPAttentionArgs fromEnvironment();
};

/// The mask: which key tokens each (batch*head, query block) attends to
/// besides the sink and the window.
struct HiPAttentionOutputMetadata {
  /// i32 [B*H, n_query_blocks, max_blocks]: token offsets of the selected key
  /// blocks (each `block_size_k` keys), ascending, unique; entries at and
  /// after ks hold kIndexSentinel.
  Tensor indices;
  /// i32 [B*H, n_query_blocks]: number of valid entries.
  Tensor ks;
  int64_t block_size_q = 0, block_size_k = 0; // granularity of the mask
  int64_t batch = 0, heads = 0, t_q = 0, t_k = 0; // shape it was made for
};
inline constexpr int32_t kIndexSentinel = 0x7fffffff;

struct HiPAttentionOutput {
  Tensor out; // [B, T_q, H, D] in q's dtype, on q's device (empty if mask_only)
  HiPAttentionOutputMetadata metadata;
};

/// HiP attention. `previous` (metadata of an earlier call with the same
/// shape) skips the mask search and reuses its indices. Throws
/// InvalidArgument for bad input (naming the argument and the constraint);
/// nothing is written then.
HiPAttentionOutput hip_attention(const TensorView &q, const TensorView &k, const TensorView &v,
                                 const HiPAttentionArgs &args = HiPAttentionArgs(),
                                 const HiPAttentionOutputMetadata *previous = nullptr);

struct DenseAttentionArgs {
  bool is_causal = true;
  std::optional<float> softmax_scale;
  TensorView position_ids;
  ComputeBackend backend = ComputeBackend::Auto;
  /// Schedule values of the flash_attention kernel (the keys of its config
  /// space: BLOCK_M, BLOCK_N, num_warps, num_stages, PIPE; see `hipattn
  /// kernels`) that replace the default or tuned ones. With any set, the
  /// call is not tuned. An unknown key or a value the kernel rejects throws
  /// InvalidArgument.
  std::map<std::string, int64_t> schedule;
};

/// Dense (flash) attention with the same conventions: the baseline and the
/// dense layers.
Tensor dense_attention(const TensorView &q, const TensorView &k, const TensorView &v,
                       const DenseAttentionArgs &args = DenseAttentionArgs());


// ---- Paged KV cache (the vLLM / SGLang layout) -----------------------------------
//
// A batch of B sequences whose keys and values live in fixed-size pages:
// token t of sequence b is row t % page_size of page block_table[b][t /
// page_size]. The new queries of the batch are laid end to end in q
// [num_tokens, H, D]: sequence b owns rows cu_seqlens_q[b] to
// cu_seqlens_q[b + 1] - 1, and its T_q(b) queries are the last T_q(b) of its
// seq_lens[b] keys (prefill: T_q = seq_len; chunked prefill: 0 < T_q <
// seq_len; decode: T_q = 1), all in one call.
//
// The decoding sequences (T_q = 1) of a call run together on split-K
// kernels that read the pages directly (HIP_DECODE_SPLITS: the number of key
// ranges, 0 = chosen per call); for the other sequences (and HiP's mask
// search) each sequence's pages are gathered by a DSL kernel into contiguous
// K/V on the cache's device, then the contiguous kernels run.

struct PagedKVCache {
  TensorView k_cache, v_cache; // [num_pages, page_size, H_kv, D], contiguous, same dtype as q
  TensorView block_table;      // i32 [B, max_pages], contiguous
  TensorView seq_lens;         // i32 [B]: keys of each sequence, the new tokens included
};

/// The output rows of every sequence in q's order, and each sequence's
/// mask (metadata[b]; batch 1; empty for a sequence with no new token).
struct PagedHiPAttentionOutput {
  Tensor out; // [num_tokens, H, D] in q's dtype, on q's device
  std::vector<HiPAttentionOutputMetadata> metadata;
};

/// Paged HiP attention. `previous` (one metadata per sequence, from an
/// earlier call with the same T_q and seq_lens) reuses those masks.
/// InvalidArgument, before anything is launched, for a bad shape or dtype, a
/// block-table entry outside [0, num_pages) among a sequence's pages, a
/// seq_len beyond its row of the table, cu_seqlens_q not starting at 0 and
/// non-decreasing up to num_tokens, or T_q(b) > seq_lens[b].
PagedHiPAttentionOutput paged_hip_attention(
    const TensorView &q, const PagedKVCache &cache, const TensorView &cu_seqlens_q,
    const HiPAttentionArgs &args = HiPAttentionArgs(),
    const std::vector<HiPAttentionOutputMetadata> *previous = nullptr);

/// Masks of a batch in decode, one per sequence (by its index in the
/// batch), searched again every `refresh_interval` steps and reused between
/// (HiP's mask caching; a sequence's first decode step, or one after a
/// prefill step, searches). A call with a batch of another size starts
/// afresh. refresh_interval 1 searches at every step.
struct PagedHiPDecodeState {
  /// Steps between mask searches, >= 1 (default: HIP_REFRESH_INTERVAL, 8).
  int64_t refresh_interval = 8;
  std::vector<HiPAttentionOutputMetadata> masks; // the masks in use
  std::vector<int64_t> age;                      // steps each has been used
  /// refresh_interval from HIP_REFRESH_INTERVAL (InvalidArgument for a bad value).
  static PagedHiPDecodeState fromEnvironment();
};

/// Paged HiP attention whose decoding sequences (T_q = 1) reuse the masks of
/// `state` while they are younger than its refresh interval, and search the
/// others; `state` then holds the masks used. The output's metadata as
/// above. The other sequences as without a state.
PagedHiPAttentionOutput paged_hip_attention(const TensorView &q, const PagedKVCache &cache,
                                            const TensorView &cu_seqlens_q,
                                            const HiPAttentionArgs &args,
                                            PagedHiPDecodeState &state);

/// Paged dense attention, same conventions ([num_tokens, H, D]).
Tensor paged_dense_attention(const TensorView &q, const PagedKVCache &cache,
                             const TensorView &cu_seqlens_q,
                             const DenseAttentionArgs &args = DenseAttentionArgs());

/// Writes the new keys and values k_new, v_new [num_tokens, H_kv, D] (laid
/// out as q, by cu_seqlens_q) into the cache: token i of sequence b goes to
/// position seq_lens[b] - T_q(b) + i, so seq_lens must already count them.
/// Checked like paged_hip_attention before anything is written; k_new and
/// v_new must live on the cache's device.
void append_paged_kv(const PagedKVCache &cache, const TensorView &k_new, const TensorView &v_new,
                     const TensorView &cu_seqlens_q);

} // namespace hip
