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
  /// its config space: BLOCK_M, BLOCK_N, num_warps, num_stages, PIPE) that
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

} // namespace hip
