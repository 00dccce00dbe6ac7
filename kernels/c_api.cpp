//===- kernels/c_api.cpp - The C API over hip/attention.h -----------------===//
//
// Every entry point catches every exception: the status says which kind,
// hip_last_error() the message (thread-local). Results are owned by handles
// that keep the C++ Tensor and a view of it, whose shape a DLTensor view
// points into (TensorView::toDLPack).
//
//===----------------------------------------------------------------------===//
#include "hip/c_api.h"

#include "hip/attention.h"
#include "hip/error.h"

#include <memory>
#include <string>

struct hip_tensor {
  hip::Tensor t;
  hip::TensorView view; // (of t: the DLPack views point into its shape)
};

struct hip_decode_state {
  hip::PagedHiPDecodeState state;
};

struct hip_mask {
  hip::HiPAttentionOutputMetadata m;
  hip_tensor indices, ks;
};

namespace {
thread_local std::string lastError;

template <typename F> hip_status guarded(F f) {
  try {
    lastError.clear();
    f();
    return HIP_OK;
  } catch (const hip::InvalidArgument &e) {
    lastError = e.what();
    return HIP_ERROR_INVALID_ARGUMENT;
  } catch (const hip::CompileError &e) {
    lastError = e.what();
    return HIP_ERROR_COMPILE;
  } catch (const hip::RuntimeError &e) {
    lastError = e.what();
    return HIP_ERROR_RUNTIME;
  } catch (const std::bad_alloc &) {
    lastError = "out of host memory";
    return HIP_ERROR_RUNTIME;
  } catch (const std::exception &e) {
    lastError = e.what();
    return HIP_ERROR_INTERNAL;
  } catch (...) {
    lastError = "unknown exception";
    return HIP_ERROR_INTERNAL;
  }
}

const DLTensor &need(const DLTensor *t, const char *name) {
  if (!t)
    throw hip::InvalidArgument(std::string(name) + " is NULL");
  return *t;
}

hip::TensorView view(const DLTensor *t, const char *name) {
  try {
    return hip::TensorView::fromDLPack(need(t, name));
  } catch (const hip::InvalidArgument &e) {
    throw hip::InvalidArgument(std::string(name) + ": " + e.what());
  }
}

template <typename T> T *needOut(T *p, const char *name) {
  if (!p)
    throw hip::InvalidArgument(std::string(name) + " is NULL");
  return p;
}

void fill(hip_tensor &h, hip::Tensor t) {
  h.t = std::move(t);
  h.view = h.t.view();
}

hip::ComputeBackend backendOf(hip_backend b) {
  switch (b) {
  case HIP_BACKEND_AUTO:
    return hip::ComputeBackend::Auto;
  case HIP_BACKEND_CPU:
    return hip::ComputeBackend::CPU;
  case HIP_BACKEND_CUDA:
    return hip::ComputeBackend::CUDA;
  }
  throw hip::InvalidArgument("backend must be HIP_BACKEND_AUTO, _CPU or _CUDA, got " +
                             std::to_string(int(b)));
}

hip::HiPAttentionArgs argsOf(const hip_attention_args *a) {
  hip::HiPAttentionArgs h = hip::HiPAttentionArgs::fromEnvironment();
  if (!a)
    return h;
  h.mask_k = a->mask_k, h.block_size_q = a->block_size_q, h.block_stride_q = a->block_stride_q;
  h.block_size_k = a->block_size_k, h.block_stride_k = a->block_stride_k;
  h.sink_token_size = a->sink_token_size, h.sliding_window_size = a->sliding_window_size;
  h.is_causal = a->is_causal != 0;
  if (a->has_softmax_scale)
    h.softmax_scale = a->softmax_scale;
  if (a->mask_pipeline)
    h.mask_pipeline = a->mask_pipeline;
  h.backend = backendOf(a->backend);
  return h;
}

hip::PagedKVCache cacheOf(const hip_paged_kv_cache *c) {
  needOut(c, "cache");
  return {view(c->k_cache, "k_cache"), view(c->v_cache, "v_cache"),
          view(c->block_table, "block_table"), view(c->seq_lens, "seq_lens")};
}

hip_tensor *newTensor(hip::Tensor t) {
  auto *h = new hip_tensor;
  fill(*h, std::move(t));
  return h;
}
} // namespace

extern "C" {

const char *hip_last_error(void) { return lastError.c_str(); }

hip_status hip_attention_args_init(hip_attention_args *args) {
  return guarded([&] {
    needOut(args, "args");
    hip::HiPAttentionArgs h = hip::HiPAttentionArgs::fromEnvironment();
    *args = hip_attention_args{};
    args->mask_k = h.mask_k, args->block_size_q = h.block_size_q;
    args->block_stride_q = h.block_stride_q, args->block_size_k = h.block_size_k;
    args->block_stride_k = h.block_stride_k, args->sink_token_size = h.sink_token_size;
    args->sliding_window_size = h.sliding_window_size;
    args->is_causal = h.is_causal ? 1 : 0;
    args->backend = HIP_BACKEND_AUTO;
  });
}

hip_status hip_tensor_dlpack(const hip_tensor *t, DLTensor *v) {
  return guarded([&] { *needOut(v, "view") = needOut(t, "tensor")->view.toDLPack(); });
}

void hip_tensor_free(hip_tensor *t) { delete t; }

hip_status hip_mask_dlpack(const hip_mask *m, DLTensor *indices, DLTensor *ks) {
  return guarded([&] {
    needOut(m, "mask");
    *needOut(indices, "indices") = m->indices.view.toDLPack();
    *needOut(ks, "ks") = m->ks.view.toDLPack();
  });
}

void hip_mask_free(hip_mask *m) { delete m; }

hip_status hip_attention(const DLTensor *q, const DLTensor *k, const DLTensor *v,
                         const hip_attention_args *args, const hip_mask *previous, hip_tensor **out,
                         hip_mask **mask_out) {
  return guarded([&] {
    needOut(out, "out");
    hip::HiPAttentionArgs h = argsOf(args);
    auto r = hip::hip_attention(view(q, "q"), view(k, "k"), view(v, "v"), h,
                                previous ? &previous->m : nullptr);
    hip_tensor *o = r.out.defined() ? newTensor(std::move(r.out)) : nullptr;
    if (mask_out) {
      auto *m = new hip_mask;
      m->m = r.metadata;
      fill(m->indices, r.metadata.indices);
      fill(m->ks, r.metadata.ks);
      *mask_out = m;
    }
    *out = o;
  });
}

hip_status hip_dense_attention(const DLTensor *q, const DLTensor *k, const DLTensor *v,
                               int32_t is_causal, int32_t has_softmax_scale, float softmax_scale,
                               hip_backend backend, hip_tensor **out) {
  return guarded([&] {
    needOut(out, "out");
    hip::DenseAttentionArgs d;
    d.is_causal = is_causal != 0;
    if (has_softmax_scale)
      d.softmax_scale = softmax_scale;
    d.backend = backendOf(backend);
    *out = newTensor(hip::dense_attention(view(q, "q"), view(k, "k"), view(v, "v"), d));
  });
}

hip_status hip_paged_attention(const DLTensor *q, const hip_paged_kv_cache *cache,
                               const DLTensor *cu_seqlens_q, const hip_attention_args *args,
                               hip_tensor **out) {
  return guarded([&] {
    needOut(out, "out");
    auto r = hip::paged_hip_attention(view(q, "q"), cacheOf(cache),
                                      view(cu_seqlens_q, "cu_seqlens_q"), argsOf(args));
    *out = r.out.defined() ? newTensor(std::move(r.out)) : nullptr;
  });
}

hip_status hip_paged_dense_attention(const DLTensor *q, const hip_paged_kv_cache *cache,
                                     const DLTensor *cu_seqlens_q, hip_backend backend,
                                     hip_tensor **out) {
  return guarded([&] {
    needOut(out, "out");
    hip::DenseAttentionArgs d;
    d.backend = backendOf(backend);
    *out = newTensor(hip::paged_dense_attention(view(q, "q"), cacheOf(cache),
                                                view(cu_seqlens_q, "cu_seqlens_q"), d));
  });
}

hip_status hip_append_paged_kv(const hip_paged_kv_cache *cache, const DLTensor *k_new,
                               const DLTensor *v_new, const DLTensor *cu_seqlens_q) {
  return guarded([&] {
    hip::append_paged_kv(cacheOf(cache), view(k_new, "k_new"), view(v_new, "v_new"),
                         view(cu_seqlens_q, "cu_seqlens_q"));
  });
}

hip_status hip_decode_state_new(int64_t refresh_interval, hip_decode_state **state) {
  return guarded([&] {
    needOut(state, "state");
    if (refresh_interval < 0)
      throw hip::InvalidArgument("refresh_interval must be >= 0 (0: HIP_REFRESH_INTERVAL), got " +
                                 std::to_string(refresh_interval));
    auto s = std::make_unique<hip_decode_state>();
    s->state = hip::PagedHiPDecodeState::fromEnvironment();
    if (refresh_interval > 0) s->state.refresh_interval = refresh_interval;
    *state = s.release();
  });
}

void hip_decode_state_free(hip_decode_state *state) { delete state; }

hip_status hip_paged_attention_decode(const DLTensor *q, const hip_paged_kv_cache *cache,
                                      const DLTensor *cu_seqlens_q, const hip_attention_args *args,
                                      hip_decode_state *state, hip_tensor **out) {
  return guarded([&] {
    needOut(out, "out");
    needOut(state, "state");
    auto r = hip::paged_hip_attention(view(q, "q"), cacheOf(cache),
                                      view(cu_seqlens_q, "cu_seqlens_q"), argsOf(args),
                                      state->state);
    *out = r.out.defined() ? newTensor(std::move(r.out)) : nullptr;
  });
}

} // extern "C"
