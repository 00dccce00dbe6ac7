/*===- hip/c_api.h - The C API of hip-attention ---------------------------===//
 *
 * A stable C interface over the C++ API (hip/attention.h), for bindings
 * (Python's ctypes, other languages). Tensors go in as DLPack DLTensors
 * (host or CUDA memory, read without a copy) and come out as hip_tensor
 * handles that the library owns until hip_tensor_free; hip_tensor_dlpack
 * views one as a DLTensor. Every call returns a hip_status; on failure
 * hip_last_error() gives the message (per thread) and nothing was written.
 *
 *   hip_attention_args a;
 *   hip_attention_args_init(&a);
 *   a.mask_k = 512;
 *   hip_tensor *out = NULL;
 *   hip_mask *mask = NULL;
 *   if (hip_attention(&q, &k, &v, &a, NULL, &out, &mask) != HIP_OK)
 *     fprintf(stderr, "%s\n", hip_last_error());
 *
 *===----------------------------------------------------------------------===*/
#ifndef HIP_C_API_H
#define HIP_C_API_H

#include "hip/dlpack_compat.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  HIP_OK = 0,
  HIP_ERROR_INVALID_ARGUMENT = 1, /* bad input: the message names it */
  HIP_ERROR_RUNTIME = 2,          /* the GPU or the driver failed */
  HIP_ERROR_COMPILE = 3,          /* a kernel could not be compiled */
  HIP_ERROR_INTERNAL = 4          /* a bug: please report the message */
} hip_status;

/* The message of this thread's last failed call ("" if none). */
const char *hip_last_error(void);

typedef enum { HIP_BACKEND_AUTO = 0, HIP_BACKEND_CPU = 1, HIP_BACKEND_CUDA = 2 } hip_backend;

/* HiPAttentionArgs: hip_attention_args_init sets the v1.1 defaults (with the
 * HIP_K, HIP_BQ, ... environment overrides). */
typedef struct {
  int64_t mask_k, block_size_q, block_stride_q, block_size_k, block_stride_k;
  int64_t sink_token_size, sliding_window_size;
  int32_t is_causal;
  int32_t has_softmax_scale; /* 0: q is pre-scaled by 1/sqrt(D) */
  float softmax_scale;
  const char *mask_pipeline; /* JSON, or NULL for one tree stage */
  hip_backend backend;
} hip_attention_args;
hip_status hip_attention_args_init(hip_attention_args *args);

typedef struct hip_tensor hip_tensor; /* an owned result tensor */
typedef struct hip_mask hip_mask;     /* a mask (HiPAttentionOutputMetadata) */

/* A view of `t` (valid until hip_tensor_free). */
hip_status hip_tensor_dlpack(const hip_tensor *t, DLTensor *view);
void hip_tensor_free(hip_tensor *t);
/* Views of the mask's indices (i32 [B*H, query blocks, max blocks]) and ks
 * (i32 [B*H, query blocks]); valid until hip_mask_free. */
hip_status hip_mask_dlpack(const hip_mask *m, DLTensor *indices, DLTensor *ks);
void hip_mask_free(hip_mask *m);

/* q [B, T_q, H, D], k and v [B, T_k, H_kv, D]. `previous` (may be NULL)
 * reuses a mask; *out receives [B, T_q, H, D] in q's dtype on q's device;
 * mask_out may be NULL. */
hip_status hip_attention(const DLTensor *q, const DLTensor *k, const DLTensor *v,
                         const hip_attention_args *args, const hip_mask *previous,
                         hip_tensor **out, hip_mask **mask_out);

hip_status hip_dense_attention(const DLTensor *q, const DLTensor *k, const DLTensor *v,
                               int32_t is_causal, int32_t has_softmax_scale, float softmax_scale,
                               hip_backend backend, hip_tensor **out);

/* The paged KV cache of hip/attention.h: k_cache, v_cache [num_pages,
 * page_size, H_kv, D], block_table i32 [B, max_pages], seq_lens i32 [B];
 * q [num_tokens, H, D] and cu_seqlens_q i32 [B + 1]. */
typedef struct {
  const DLTensor *k_cache, *v_cache, *block_table, *seq_lens;
} hip_paged_kv_cache;

hip_status hip_paged_attention(const DLTensor *q, const hip_paged_kv_cache *cache,
                               const DLTensor *cu_seqlens_q, const hip_attention_args *args,
                               hip_tensor **out);
hip_status hip_paged_dense_attention(const DLTensor *q, const hip_paged_kv_cache *cache,
                                     const DLTensor *cu_seqlens_q, hip_backend backend,
                                     hip_tensor **out);
hip_status hip_append_paged_kv(const hip_paged_kv_cache *cache, const DLTensor *k_new,
                               const DLTensor *v_new, const DLTensor *cu_seqlens_q);

/* Decode with masks kept per sequence (PagedHiPDecodeState): a decoding
 * sequence's mask is reused for refresh_interval steps, then searched again
 * (0: HIP_REFRESH_INTERVAL, default 8). One state per batch; free it with
 * hip_decode_state_free. */
typedef struct hip_decode_state hip_decode_state;
hip_status hip_decode_state_new(int64_t refresh_interval, hip_decode_state **state);
void hip_decode_state_free(hip_decode_state *state);
hip_status hip_paged_attention_decode(const DLTensor *q, const hip_paged_kv_cache *cache,
                                      const DLTensor *cu_seqlens_q, const hip_attention_args *args,
                                      hip_decode_state *state, hip_tensor **out);

#ifdef __cplusplus
}
#endif

#endif /* HIP_C_API_H */
