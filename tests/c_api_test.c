/*===- tests/c_api_test.c - The C API, from C -----------------------------===//
 *
 * Compiled as C (so hip/c_api.h must be C), on the CPU backend with f32 host
 * tensors: dense attention against a float64 causal-softmax reference, HiP
 * attention equal to dense when the mask covers every key, the mask's
 * views, paged dense attention equal to contiguous, and errors as codes with
 * a message naming the argument. Exit status 0 when every check passes.
 *
 *===----------------------------------------------------------------------===*/
#include "hip/c_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T = 48, H = 2, HKV = 1, D = 16, PS = 4 };

static int failures = 0;
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      ++failures;                                                                                  \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                    \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
    }                                                                                              \
  } while (0)

static DLTensor host(void *data, DLDataTypeCode code, int bits, int ndim, int64_t *shape) {
  DLTensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = ndim;
  t.dtype.code = (uint8_t)code;
  t.dtype.bits = (uint8_t)bits;
  t.dtype.lanes = 1;
  t.shape = shape;
  return t;
}

static float rnd(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *out_data(const hip_tensor *t, int64_t want) {
  DLTensor v;
  if (hip_tensor_dlpack(t, &v) != HIP_OK) return NULL;
  int64_t n = 1;
  for (int i = 0; i < v.ndim; ++i) n *= v.shape[i];
  return n == want && v.dtype.code == kDLFloat && v.dtype.bits == 32 ? (float *)v.data : NULL;
}

int main(void) {
  static float q[T * H * D], k[T * HKV * D], v[T * HKV * D];
  unsigned seed = 12345u;
  for (int i = 0; i < T * H * D; ++i) q[i] = rnd(&seed) * 0.25f; /* pre-scaled */
  for (int i = 0; i < T * HKV * D; ++i) k[i] = rnd(&seed), v[i] = rnd(&seed);
  int64_t qs[4] = {1, T, H, D}, ks[4] = {1, T, HKV, D};
  DLTensor tq = host(q, kDLFloat, 32, 4, qs), tk = host(k, kDLFloat, 32, 4, ks),
           tv = host(v, kDLFloat, 32, 4, ks);

  /* Dense against the float64 reference. */
  hip_tensor *dense = NULL;
  CHECK(hip_dense_attention(&tq, &tk, &tv, 1, 0, 0.f, HIP_BACKEND_CPU, &dense) == HIP_OK, "%s",
        hip_last_error());
  const float *d = dense ? out_data(dense, T * H * D) : NULL;
  CHECK(d != NULL, "dense output is not f32 [1, T, H, D]");
  double worst = 0;
  for (int t = 0; d && t < T; ++t)
    for (int h = 0; h < H; ++h) {
      double s[T], m = -1e300, z = 0;
      for (int j = 0; j <= t; ++j) {
        s[j] = 0;
        for (int e = 0; e < D; ++e) s[j] += (double)q[(t * H + h) * D + e] * k[j * D + e];
        if (s[j] > m) m = s[j];
      }
      for (int j = 0; j <= t; ++j) z += exp(s[j] - m);
      for (int e = 0; e < D; ++e) {
        double o = 0;
        for (int j = 0; j <= t; ++j) o += exp(s[j] - m) / z * v[j * D + e];
        double diff = fabs(o - d[(t * H + h) * D + e]);
        if (diff > worst) worst = diff;
      }
    }
  CHECK(worst < 1e-4, "dense differs from the reference by %g", worst);

  /* HiP with a mask that covers every key equals dense. */
  hip_attention_args a;
  CHECK(hip_attention_args_init(&a) == HIP_OK, "%s", hip_last_error());
  CHECK(a.mask_k == 512 && a.block_size_q == 64 && a.is_causal == 1, "defaults %lld %lld",
        (long long)a.mask_k, (long long)a.block_size_q);
  a.mask_k = 64, a.block_size_q = 16, a.block_size_k = 2, a.sink_token_size = 0;
  a.sliding_window_size = 0, a.backend = HIP_BACKEND_CPU;
  hip_tensor *hipOut = NULL;
  hip_mask *mask = NULL;
  CHECK(hip_attention(&tq, &tk, &tv, &a, NULL, &hipOut, &mask) == HIP_OK, "%s", hip_last_error());
  const float *h = hipOut ? out_data(hipOut, T * H * D) : NULL;
  CHECK(h != NULL, "hip output is not f32 [1, T, H, D]");
  worst = 0;
  for (int i = 0; h && d && i < T * H * D; ++i)
    if (fabs(h[i] - d[i]) > worst) worst = fabs(h[i] - d[i]);
  CHECK(worst < 1e-4, "hip differs from dense by %g", worst);
  DLTensor mi, mk;
  CHECK(mask && hip_mask_dlpack(mask, &mi, &mk) == HIP_OK, "%s", hip_last_error());
  if (mask) {
    CHECK(mi.ndim == 3 && mi.shape[0] == H && mi.shape[1] == T / 16, "indices ndim %d", mi.ndim);
    CHECK(mk.ndim == 2 && mk.dtype.code == kDLInt && mk.dtype.bits == 32, "ks ndim %d", mk.ndim);
    /* Reusing the mask gives the same output. */
    hip_tensor *again = NULL;
    CHECK(hip_attention(&tq, &tk, &tv, &a, mask, &again, NULL) == HIP_OK, "%s", hip_last_error());
    const float *g = again ? out_data(again, T * H * D) : NULL;
    CHECK(g && h && memcmp(g, h, sizeof(float) * T * H * D) == 0, "reused mask, other output");
    hip_tensor_free(again);
  }

  /* Paged dense attention over pages in reverse order equals contiguous. */
  {
    enum { NP = T / PS };
    static float kc[T * HKV * D], vc[T * HKV * D];
    int32_t table[NP], lens[1] = {T}, cu[2] = {0, T};
    for (int p = 0; p < NP; ++p) {
      table[p] = NP - 1 - p;
      memcpy(&kc[table[p] * PS * D], &k[p * PS * D], sizeof(float) * PS * D);
      memcpy(&vc[table[p] * PS * D], &v[p * PS * D], sizeof(float) * PS * D);
    }
    int64_t cs[4] = {NP, PS, HKV, D}, tbs[2] = {1, NP}, ls[1] = {1}, cus[1] = {2},
            q3[3] = {T, H, D};
    DLTensor tkc = host(kc, kDLFloat, 32, 4, cs), tvc = host(vc, kDLFloat, 32, 4, cs),
             ttb = host(table, kDLInt, 32, 2, tbs), tl = host(lens, kDLInt, 32, 1, ls),
             tcu = host(cu, kDLInt, 32, 1, cus), tq3 = host(q, kDLFloat, 32, 3, q3);
    hip_paged_kv_cache cache = {&tkc, &tvc, &ttb, &tl};
    hip_tensor *paged = NULL;
    CHECK(hip_paged_dense_attention(&tq3, &cache, &tcu, HIP_BACKEND_CPU, &paged) == HIP_OK, "%s",
          hip_last_error());
    const float *pd = paged ? out_data(paged, T * H * D) : NULL;
    CHECK(pd && d && memcmp(pd, d, sizeof(float) * T * H * D) == 0, "paged differs");
    hip_tensor_free(paged);
    /* A page index out of range: refused, with the entry named. */
    table[1] = NP;
    paged = NULL;
    CHECK(hip_paged_dense_attention(&tq3, &cache, &tcu, HIP_BACKEND_CPU, &paged) ==
              HIP_ERROR_INVALID_ARGUMENT,
          "bad table accepted");
    CHECK(strstr(hip_last_error(), "block_table[0][1]") != NULL, "message: %s", hip_last_error());
    CHECK(paged == NULL, "output written on error");
    /* HiP decode of the last query with a decode state (interval 2): the
     * second step reuses the first step's mask; with the same keys both
     * equal a call that searches. */
    table[1] = NP - 2;
    int32_t cu1[2] = {0, 1};
    int64_t q1s[3] = {1, H, D}, cu1s[1] = {2};
    DLTensor tq1 = host(&q[(T - 1) * H * D], kDLFloat, 32, 3, q1s),
             tcu1 = host(cu1, kDLInt, 32, 1, cu1s);
    hip_decode_state *state = NULL;
    CHECK(hip_decode_state_new(2, &state) == HIP_OK, "%s", hip_last_error());
    hip_tensor *step[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 2; ++i)
      CHECK(hip_paged_attention_decode(&tq1, &cache, &tcu1, &a, state, &step[i]) == HIP_OK, "%s",
            hip_last_error());
    CHECK(hip_paged_attention(&tq1, &cache, &tcu1, &a, &step[2]) == HIP_OK, "%s",
          hip_last_error());
    const float *s0 = step[0] ? out_data(step[0], H * D) : NULL;
    for (int i = 1; i < 3; ++i) {
      const float *si = step[i] ? out_data(step[i], H * D) : NULL;
      CHECK(s0 && si && memcmp(s0, si, sizeof(float) * H * D) == 0, "decode step %d differs", i);
    }
    for (int i = 0; i < 3; ++i) hip_tensor_free(step[i]);
    hip_tensor *none1 = NULL;
    CHECK(hip_paged_attention_decode(&tq1, &cache, &tcu1, &a, NULL, &none1) ==
              HIP_ERROR_INVALID_ARGUMENT,
          "NULL state accepted");
    CHECK(strstr(hip_last_error(), "state") != NULL, "message: %s", hip_last_error());
    CHECK(hip_decode_state_new(-1, &state) == HIP_ERROR_INVALID_ARGUMENT, "interval -1");
    hip_decode_state_free(state);
  }

  /* Errors: codes and messages that name the argument; nothing written. */
  hip_tensor *none = NULL;
  CHECK(hip_attention(NULL, &tk, &tv, &a, NULL, &none, NULL) == HIP_ERROR_INVALID_ARGUMENT, "NULL q");
  CHECK(strstr(hip_last_error(), "q is NULL") != NULL, "message: %s", hip_last_error());
  int64_t bad[3] = {1, T, H * D};
  DLTensor tq3 = host(q, kDLFloat, 32, 3, bad);
  CHECK(hip_attention(&tq3, &tk, &tv, &a, NULL, &none, NULL) == HIP_ERROR_INVALID_ARGUMENT, "3-D q");
  CHECK(strstr(hip_last_error(), "q must be 4-D") != NULL, "message: %s", hip_last_error());
  CHECK(none == NULL, "output written on error");
  a.backend = (hip_backend)7;
  CHECK(hip_attention(&tq, &tk, &tv, &a, NULL, &none, NULL) == HIP_ERROR_INVALID_ARGUMENT, "backend 7");
  CHECK(hip_attention(&tq, &tk, &tv, &a, NULL, NULL, NULL) == HIP_ERROR_INVALID_ARGUMENT, "NULL out");
  CHECK(hip_attention_args_init(NULL) == HIP_ERROR_INVALID_ARGUMENT, "NULL args");

  hip_tensor_free(dense);
  hip_tensor_free(hipOut);
  hip_mask_free(mask);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("c_api_test: all checks passed\n");
  return failures ? 1 : 0;
}
