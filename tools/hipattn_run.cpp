//===- tools/hipattn_run.cpp - `hipattn run`: HiP against dense attention -===//
//
// Runs hip_attention and dense_attention on one workload (random, or q/k/v
// from .npy files) and reports the latency of each (the mask and the sparse
// attention separately), the speedup, HiP's relative output error against
// dense attention, and the recall of HiP's mask against the exact top-k key
// blocks (on a sample of heads and query blocks).
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/compiler/compiler.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/kernels/hip_reference.h"
#include "hip/kernels/npy.h"
#include "hip/mask_stage.h"

#include "cli_common.h"
#include "hip/runtime/cuda.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace hip::tools {

extern const char *kRunHelp;
const char *kRunHelp = R"(usage: hipattn run [options]

Runs hip_attention and dense (flash) attention on one workload and prints the
latency of each (HiP's mask search and sparse attention separately), the
speedup, HiP's relative output error against dense attention (Frobenius
norm), and the recall of HiP's mask against the exact top-k key blocks.

workload (default: random normal q/k/v, q pre-scaled by 1/sqrt(D); on the
CPU B=1 T=2048 H=4 Hkv=2 D=64, on a GPU B=1 T=16384 H=32 Hkv=8 D=128):
  --backend B          auto (default: HIP_BACKEND, else the GPU if usable),
                       cpu or cuda
  --B N --T N --H N --Hkv N --D N
                       batch, sequence length (T_q = T_k), query heads, key/
                       value heads, head dim (16, 32, 64, 128, 256)
  --dtype T            bf16 (default), f16, f32 (CPU only)
  --input DIR          read DIR/q.npy, DIR/k.npy, DIR/v.npy instead: float32,
                       float16 or bfloat16 arrays, q [B, T_q, H, D], k and v
                       [B, T_k, H_kv, D], q already scaled by 1/sqrt(D)
                       (hipattn eval dump-qkv writes them)
  --data random|smooth random: i.i.d. normal q/k/v (no locality: the worst
                       case for HiP); smooth: q and k are AR(1) sequences along
                       T (correlation 0.99 between neighbours), so scores vary
                       smoothly with the key position, as in real models
  --seed N             random inputs' seed (default 0)
HiP parameters (defaults: HIP_K etc., else the v1.1 defaults):
  --mask-k N (512) --block-size-q N (64) --block-stride-q N (2)
  --block-size-k N (2) --block-stride-k N (1) --sink N (16) --window N (256)
  --mask-pipeline FILE  the mask pipeline as JSON, e.g.
                       {"stages": [{"type": "tree", "mask_k": 512}]}
schedules (pinned instead of the tuned or default ones; results do not change):
  --attention-schedule k=v,...  the sparse attention kernel's, e.g.
                       BLOCK_M=64,BLOCK_N=64,num_warps=4,num_stages=2,dot_a_shared=1
  --dense-schedule k=v,...      the dense kernel's (flash_attention), e.g.
                       BLOCK_M=128,BLOCK_N=128,num_warps=8,num_stages=2,dot_a_shared=1
measurement:
  --reps N             timed repetitions, median reported (default 3 on the
                       CPU, 10 on a GPU), after one warm-up call
  --recall-heads N     (batch, head) pairs sampled for recall (default 4)
  --recall-blocks N    query blocks per pair, the last ones (default 8)
  --latency-only       skip the error and recall measurements
  --json               print one JSON object instead of the table
)";

namespace {

struct Workload {
  int64_t B = 1, T = 0, H = 0, Hkv = 0, D = 0;
  ScalarType dtype = ScalarType::bf16;
  std::vector<char> q, k, v; // host, contiguous
  int64_t Tq = 0, Tk = 0;
};

/// Work of each kernel, for the rates `hipattn run` prints (causal: query j
/// sits at position T_k - T_q + j): dense and sparse attention FLOPs (4 D per
/// query-key pair, q.k and p.v; the sparse kernel's keys per query are at
/// most mask_k + sink + window), and the mask search's gathered key rows
/// (bytes as if each came from memory) and scoring FLOPs (2 D per scoring
/// query and row), from the tree's iteration count per query block as the
/// kernel computes it (v1.1 aligned boundaries).
struct Work {
  double denseFlop = 0, sparseFlop = 0, maskBytes = 0, maskFlop = 0;
};

Work attentionWork(const Workload &w, const HiPAttentionArgs &a) {
  Work r;
  double bh = double(w.B) * double(w.H), d = double(w.D);
  int64_t budget = a.mask_k + a.sink_token_size + a.sliding_window_size, past = w.Tk - w.Tq;
  for (int64_t j = 0; j < w.Tq; ++j) {
    r.denseFlop += 4 * d * double(past + j + 1);
    r.sparseFlop += 4 * d * double(std::min(past + j + 1, budget));
  }
  int64_t bq = a.block_size_q, bk = a.block_size_k, K = a.mask_k / bk;
  int64_t kpb = bk / a.block_stride_k, rowsQ = bq / a.block_stride_q;
  double eb = w.dtype == ScalarType::f32 ? 4 : 2;
  for (int64_t q0 = 0; q0 < w.Tq && K > 0; q0 += bq) {
    int64_t P = past + std::min(w.Tq, q0 + bq);
    int64_t Teff = std::max<int64_t>(P - a.sliding_window_size - a.sink_token_size, 0);
    if (Teff <= a.mask_k) continue; // dense block: no search
    int64_t nb = (Teff + bk - 1) / bk, A = 1, maxSize = 0, levels = 0;
    while (A * 2 <= nb) A *= 2;
    int64_t step = (A + K - 1) / K;
    for (int64_t i = 0; i < K; ++i)
      maxSize = std::max(maxSize, std::min(nb * (i + 1) / K / step * step, nb) -
                                      std::min(nb * i / K / step * step, nb));
    for (int64_t s = 1; s < maxSize; s *= 2) ++levels;
    double rows = double(levels) * 2 * double(K * kpb);
    r.maskBytes += rows * d * eb;
    r.maskFlop += rows * 2 * d * double(rowsQ);
  }
  r.denseFlop *= bh, r.sparseFlop *= bh, r.maskBytes *= bh, r.maskFlop *= bh;
  return r;
}

void randomWorkload(Workload &w, uint64_t seed, bool smooth) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  const float rho = 0.99f, fresh = std::sqrt(1.f - rho * rho);
  // [B, T, heads, D]: with `ar`, each (b, head, d) is an AR(1) sequence in T.
  auto fill = [&](std::vector<char> &out, int64_t T, int64_t heads, float scale, bool ar) {
    int64_t row = heads * w.D, n = w.B * T * row;
    size_t es = elementSize(w.dtype);
    out.resize(size_t(n) * es);
    std::vector<float> prev(static_cast<size_t>(row));
    for (int64_t i = 0; i < n; ++i) {
      int64_t t = (i / row) % T, c = i % row;
      float z = nd(rng);
      if (ar) z = t == 0 ? z : rho * prev[size_t(c)] + fresh * z, prev[size_t(c)] = z;
      float x = z * scale;
      if (w.dtype == ScalarType::f32) std::memcpy(&out[size_t(i) * 4], &x, 4);
      else {
        uint16_t h = w.dtype == ScalarType::bf16 ? kernels::floatToBf16(x) : kernels::floatToF16(x);
        std::memcpy(&out[size_t(i) * 2], &h, 2);
      }
    }
  };
  fill(w.q, w.Tq, w.H, 1.f / std::sqrt(float(w.D)), smooth);
  fill(w.k, w.Tk, w.Hkv, 1.f, smooth);
  fill(w.v, w.Tk, w.Hkv, 1.f, false);
}

void readWorkload(Workload &w, const std::string &dir) {
  auto q = kernels::readNpy(dir + "/q.npy"), k = kernels::readNpy(dir + "/k.npy"),
       v = kernels::readNpy(dir + "/v.npy");
  if (q.shape.size() != 4 || k.shape.size() != 4 || v.shape.size() != 4)
    throw InvalidArgument("--input: q, k, v must be 4-D ([B, T, H, D])");
  if (q.type != k.type || q.type != v.type)
    throw InvalidArgument("--input: q, k, v must have the same dtype");
  if (q.type != ScalarType::f32 && q.type != ScalarType::f16 && q.type != ScalarType::bf16)
    throw InvalidArgument("--input: q/k/v must be float32, float16 or bfloat16 arrays");
  w.dtype = q.type;
  w.B = q.shape[0], w.Tq = q.shape[1], w.H = q.shape[2], w.D = q.shape[3];
  w.Tk = k.shape[1], w.Hkv = k.shape[2], w.T = w.Tk;
  w.q = std::move(q.data), w.k = std::move(k.data), w.v = std::move(v.data);
  if (v.shape != k.shape) throw InvalidArgument("--input: k and v must have the same shape");
}

/// Median wall-clock time of `reps` calls after a warm-up (which compiles);
/// the API calls are synchronous, so wall clock is what a caller sees.
double medianMs(int reps, const std::function<void()> &f) {
  return autotune::timeMs(Target{}, f, 1, reps);
}

/// Recall of the selected blocks against the exact top-K blocks by
/// max_{query in block, key in block} q.k over the searchable range of
/// each query block, on the last `nBlocks` query blocks of `nHeads`
/// (batch, head) pairs spread over B*H.
double exactRecall(const Workload &w, const HiPAttentionOutputMetadata &m,
                   const HiPAttentionArgs &a, int64_t nHeads, int64_t nBlocks) {
  TensorView qv(const_cast<char *>(w.q.data()), w.dtype, {w.B, w.Tq, w.H, w.D});
  TensorView kv(const_cast<char *>(w.k.data()), w.dtype, {w.B, w.Tk, w.Hkv, w.D});
  std::vector<float> q = toFloatVector(qv), k = toFloatVector(kv);
  auto idx = m.indices.toInt(), ks = m.ks.toInt();
  int64_t nQB = m.indices.shape()[1], cap = m.indices.shape()[2];
  int64_t bq = m.block_size_q, bk = m.block_size_k, S = a.sink_token_size, W = a.sliding_window_size;
  int64_t hits = 0, total = 0;
  nHeads = std::min(nHeads, w.B * w.H);
  for (int64_t s = 0; s < nHeads; ++s) {
    int64_t row = s * (w.B * w.H) / nHeads, b = row / w.H, h = row % w.H, hk = h / (w.H / w.Hkv);
    for (int64_t qb = std::max<int64_t>(0, nQB - nBlocks); qb < nQB; ++qb) {
      int64_t q0 = qb * bq;
      auto [h1, k1] = kernels::blockRecall(
          &q[size_t((b * w.Tq * w.H + h) * w.D)], w.H * w.D, &k[size_t((b * w.Tk * w.Hkv + hk) * w.D)],
          w.Hkv * w.D, w.D, q0, std::min(w.Tq, q0 + bq), w.Tk - w.Tq, S, W, bk,
          &idx[size_t((row * nQB + qb) * cap)], ks[size_t(row * nQB + qb)]);
      hits += h1, total += k1;
    }
  }
  return total ? double(hits) / double(total) : 1.0;
}

/// A number for JSON (null when not measured).
std::string num(double x) {
  if (std::isnan(x)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

} // namespace

/// What `run` and `tune` share: the arguments and the workload, on the device.
struct Setup {
  HiPAttentionArgs a;
  bool gpu = false;
  Workload w;
  Tensor q, k, v;
  std::string dataName, device;
  int reps = 3;
};

Setup makeSetup(const std::map<std::string, std::string> &f) {
  Setup st;
  HiPAttentionArgs &a = st.a;
  a = HiPAttentionArgs::fromEnvironment();
  a.backend = backendFlag(f, "auto");
  bool gpu = st.gpu = a.backend == ComputeBackend::CUDA;
  applyHiPFlags(f, a);
  Workload &w = st.w;
  if (f.count("--input")) {
    for (const char *k : {"--T", "--B", "--H", "--Hkv", "--D", "--dtype", "--seed", "--data"})
      if (f.count(k)) throw InvalidArgument(std::string(k) + " and --input exclude each other");
    readWorkload(w, f.at("--input"));
  } else {
    w.B = intFlag(f, "--B", 1);
    w.T = intFlag(f, "--T", gpu ? 16384 : 2048);
    w.H = intFlag(f, "--H", gpu ? 32 : 4);
    w.Hkv = intFlag(f, "--Hkv", gpu ? 8 : 2);
    w.D = intFlag(f, "--D", gpu ? 128 : 64);
    std::string dt = f.count("--dtype") ? f.at("--dtype") : "bf16";
    if (dt == "bf16") w.dtype = ScalarType::bf16;
    else if (dt == "f16") w.dtype = ScalarType::f16;
    else if (dt == "f32") w.dtype = ScalarType::f32;
    else throw InvalidArgument("--dtype must be bf16, f16 or f32");
    if (w.B <= 0 || w.T <= 0 || w.H <= 0 || w.Hkv <= 0 || w.D <= 0)
      throw InvalidArgument("--B, --T, --H, --Hkv, --D must be positive");
    w.Tq = w.Tk = w.T;
    // q, k, v and the outputs of both methods, before anything is allocated.
    std::size_t qBytes = checkedBytes({w.B, w.T, w.H, w.D}, w.dtype, "the workload's q");
    std::size_t kvBytes = checkedBytes({w.B, w.T, w.Hkv, w.D}, w.dtype, "the workload's k");
    if (qBytes > (std::size_t(1) << 40) || kvBytes > (std::size_t(1) << 40))
      throw InvalidArgument("the workload needs " + std::to_string((qBytes + 2 * kvBytes) >> 30) +
                            " GiB for q, k and v alone: reduce --B, --T, --H, --Hkv or --D");
    std::string data = f.count("--data") ? f.at("--data") : "random";
    if (data != "random" && data != "smooth") throw InvalidArgument("--data must be random or smooth");
    randomWorkload(w, uint64_t(intFlag(f, "--seed", 0)), data == "smooth");
  }
  st.reps = int(intFlag(f, "--reps", gpu ? 10 : 3));
  if (st.reps < 1) throw InvalidArgument("--reps must be >= 1");
  Device dev = gpu ? Device::CUDA : Device::CPU;
  TensorView qh(w.q.data(), w.dtype, {w.B, w.Tq, w.H, w.D}),
      kh(w.k.data(), w.dtype, {w.B, w.Tk, w.Hkv, w.D}), vh(w.v.data(), w.dtype, {w.B, w.Tk, w.Hkv, w.D});
  st.q = Tensor::copyOf(qh, dev), st.k = Tensor::copyOf(kh, dev), st.v = Tensor::copyOf(vh, dev);
  st.device = gpu ? rt::Cuda::get().info().name : "CPU";
  st.dataName = f.count("--input") ? f.at("--input")
                : f.count("--data") ? f.at("--data") : "random";
  return st;
}

int cmdRun(const std::map<std::string, std::string> &f) {
  Setup st = makeSetup(f);
  HiPAttentionArgs &a = st.a;
  bool gpu = st.gpu;
  Workload &w = st.w;
  int reps = st.reps;
  Tensor &q = st.q, &k = st.k, &v = st.v;
  const std::string &device = st.device, &dataName = st.dataName;
  takeKernelChoices();

  if (f.count("--attention-schedule"))
    a.attention_schedule = dsl::Config::parse(f.at("--attention-schedule")).values();
  HiPAttentionOutput hip;
  HiPAttentionArgs maskOnly = a;
  maskOnly.mask_only = true;
  double totalMs = medianMs(reps, [&] { hip = hip_attention(q.view(), k.view(), v.view(), a); });
  double maskMs = medianMs(reps, [&] { hip_attention(q.view(), k.view(), v.view(), maskOnly); });
  double attnMs = medianMs(reps, [&] { hip_attention(q.view(), k.view(), v.view(), a, &hip.metadata); });
  Tensor dense;
  DenseAttentionArgs da;
  da.backend = a.backend;
  if (f.count("--dense-schedule")) da.schedule = dsl::Config::parse(f.at("--dense-schedule")).values();
  double denseMs = medianMs(reps, [&] { dense = dense_attention(q.view(), k.view(), v.view(), da); });

  double relErr = NAN, recall = NAN;
  if (!f.count("--latency-only")) {
    auto x = hip.out.toFloat(), y = dense.toFloat();
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i)
      num += double(x[i] - y[i]) * (x[i] - y[i]), den += double(y[i]) * y[i];
    relErr = den > 0 ? std::sqrt(num / den) : 0;
    recall = exactRecall(w, hip.metadata, a, intFlag(f, "--recall-heads", 4),
                         intFlag(f, "--recall-blocks", 8));
  }
  std::vector<KernelChoice> used = takeKernelChoices();
  // Rates (the mask search's only for the default tree search).
  Work work = attentionWork(w, a);
  bool treeRates = a.mask_pipeline.empty();
  auto rate = [](double amount, double ms) { return amount / (ms * 1e9); }; // T/s or GB/s
  double denseTf = rate(work.denseFlop, denseMs), sparseTf = rate(work.sparseFlop, attnMs);
  double maskTf = treeRates ? rate(work.maskFlop, maskMs) : NAN;
  double maskGBs = treeRates ? rate(work.maskBytes, maskMs) * 1e3 : NAN;
  if (f.count("--json")) {
    std::string configs;
    for (const KernelChoice &c : used)
      configs += std::string(configs.empty() ? "" : ", ") + "{\"kernel\": \"" + c.kernel +
                 "\", \"config\": \"" + c.config + "\", \"source\": \"" + c.source + "\"}";
    std::printf("{\"device\": \"%s\", \"backend\": \"%s\", \"B\": %lld, \"T_q\": %lld, \"T_k\": %lld, "
                "\"H\": %lld, \"H_kv\": %lld, \"D\": %lld, \"dtype\": \"%s\", \"data\": \"%s\", \"mask_k\": %lld, "
                "\"block_size_q\": %lld, \"block_stride_q\": %lld, \"block_size_k\": %lld, "
                "\"block_stride_k\": %lld, \"sink\": %lld, \"window\": %lld, \"reps\": %d, "
                "\"hip_ms\": %.4f, \"hip_mask_ms\": %.4f, \"hip_attention_ms\": %.4f, "
                "\"dense_ms\": %.4f, \"speedup\": %.4f, \"rel_error\": %s, \"recall\": %s, "
                "\"dense_tflops\": %s, \"sparse_tflops\": %s, \"mask_tflops\": %s, \"mask_gather_gbps\": %s, "
                "\"configs\": [%s]}\n",
                device.c_str(), gpu ? "cuda" : "cpu", (long long)w.B, (long long)w.Tq,
                (long long)w.Tk, (long long)w.H, (long long)w.Hkv, (long long)w.D,
                scalarTypeName(w.dtype), dataName.c_str(), (long long)a.mask_k, (long long)a.block_size_q,
                (long long)a.block_stride_q, (long long)a.block_size_k, (long long)a.block_stride_k,
                (long long)a.sink_token_size, (long long)a.sliding_window_size, reps, totalMs,
                maskMs, attnMs, denseMs, denseMs / totalMs, num(relErr).c_str(), num(recall).c_str(),
                num(denseTf).c_str(), num(sparseTf).c_str(), num(maskTf).c_str(), num(maskGBs).c_str(),
                configs.c_str());
    return 0;
  }
  std::printf("hipattn run on %s (%s): B=%lld T_q=%lld T_k=%lld H=%lld H_kv=%lld D=%lld %s, "
              "data %s\n",
              device.c_str(), gpu ? "cuda" : "cpu", (long long)w.B, (long long)w.Tq,
              (long long)w.Tk, (long long)w.H, (long long)w.Hkv, (long long)w.D,
              scalarTypeName(w.dtype), dataName.c_str());
  std::printf("HiP: mask_k=%lld block_size_q=%lld block_stride_q=%lld block_size_k=%lld "
              "block_stride_k=%lld sink=%lld window=%lld%s\n",
              (long long)a.mask_k, (long long)a.block_size_q, (long long)a.block_stride_q,
              (long long)a.block_size_k, (long long)a.block_stride_k,
              (long long)a.sink_token_size, (long long)a.sliding_window_size,
              a.mask_pipeline.empty() ? "" : " (custom mask pipeline)");
  std::printf("  %-28s %10.3f ms\n", "hip_attention (total)", totalMs);
  std::printf("  %-28s %10.3f ms", "  mask search", maskMs);
  if (treeRates)
    std::printf("   %.3g TFLOP/s scoring, %.3g GB/s of gathered key rows", maskTf, maskGBs);
  std::printf("\n  %-28s %10.3f ms   %.3g TFLOP/s\n", "  sparse attention", attnMs, sparseTf);
  std::printf("  %-28s %10.3f ms   %.3g TFLOP/s\n", "dense attention", denseMs, denseTf);
  std::printf("  %-28s %10.2fx\n", "speedup (dense / hip)", denseMs / totalMs);
  std::printf("  %-28s %10s\n", "relative error vs dense", num(relErr).c_str());
  std::printf("  %-28s %10s\n", "recall of exact top-k", num(recall).c_str());
  std::printf("(median of %d runs after a warm-up; times include allocation of the outputs)\n", reps);
  for (const KernelChoice &c : used)
    std::printf("config %-27s %s  [%s]\n", c.kernel.c_str(), c.source.c_str(), c.config.c_str());
  return 0;
}

extern const char *kTuneHelp;
const char *kTuneHelp = R"(usage: hipattn tune hip_attention|flash_attention [workload and HiP options of
                   'hipattn run'] [--algorithm --min-recall R [--max-error E]]
       hipattn tune vector_add|row_softmax|token_nll|matmul --dims N,... [--config k=v,...]
                   [--backend cpu|cuda]

Tunes the schedule (tile sizes, warps) of the kernels hip_attention runs (the
mask search and the sparse attention) and of the dense kernel, for this GPU
and the workload's shape bucket, and stores the result in
$HIP_CACHE_DIR/autotune.json (later calls and processes reuse it; see
'hipattn cache'). Tuning happens even on the CPU backend here.

--algorithm searches HiP's own parameters instead: block_size_q {32, 64},
block_stride_q {1, 2, 4}, block_size_k {2, 4, 8}, block_stride_k {1, 2} at the
given mask_k, sink and window, and keeps the fastest setting whose recall of
the exact top-k blocks is >= R (and whose relative error against dense
attention is <= E, when given) on the workload (use --input or --data smooth
for data with locality). The result is cached per GPU and shape; hip_attention
uses it when asked (HiPAttentionArgs::tuned, or HIP_TUNED=1).

The example kernels are tuned on random inputs of --dims (vector_add: n;
row_softmax and token_nll: rows,cols; matmul: M,N,K), each candidate checked against the
float64 reference; --config fixes other keys (e.g. DTYPE=1 for f16 matmul).
)";

namespace {
/// Tunes an example kernel (vector_add, row_softmax, token_nll, matmul) on random inputs
/// of `dims` with the run-and-check harness: every candidate's output is
/// compared with the float64 reference before it may win.
int tuneExample(const std::string &name, const std::map<std::string, std::string> &flags) {
  std::vector<int64_t> dims;
  std::stringstream ss(flags.count("--dims") ? flags.at("--dims") : "");
  for (std::string x; std::getline(ss, x, ',');) {
    char *end = nullptr;
    long long v = std::strtoll(x.c_str(), &end, 10);
    if (x.empty() || *end || v <= 0 || v > (int64_t(1) << 31))
      throw InvalidArgument("--dims must be positive integers separated by commas, got '" +
                            flags.at("--dims") + "'");
    dims.push_back(v);
  }
  size_t want = name == "vector_add" ? 1 : name == "matmul" ? 3 : 2;
  if (dims.size() != want)
    throw InvalidArgument("tune " + name + " needs --dims with " + std::to_string(want) +
                          " values (" + (want == 1 ? "n" : want == 2 ? "rows,cols" : "M,N,K") +
                          "), got " + std::to_string(dims.size()));
  bool gpu = backendFlag(flags, "auto") == ComputeBackend::CUDA;
  Target t = currentTarget(gpu ? Backend::CUDA : Backend::CPU);
  const dsl::KernelDef &def = dsl::findKernel(name);
  dsl::Config fixed = flags.count("--config") ? dsl::Config::parse(flags.at("--config")) : dsl::Config();
  dsl::Config defaults = def.defaults;
  for (auto &[k, v] : fixed.values()) defaults.set(k, v);
  autotune::Request r;
  r.def = &def;
  r.defaults = defaults;
  r.candidates = autotune::spaceWith(def, defaults);
  std::map<std::string, int64_t> bucket;
  for (size_t i = 0; i < dims.size(); ++i) bucket["d" + std::to_string(i)] = dims[i];
  r.key = {name, autotune::kernelVersion(def, defaults), autotune::deviceFingerprint(t), {},
           autotune::Key::pow2Bucket(bucket)};
  for (auto &[k, v] : defaults.values())
    if (std::none_of(def.space.begin(), def.space.end(), [&](auto &s) { return s.first == k; }))
      r.key.exact[k] = v;
  std::map<std::string, kernels::ExampleRun> runs;
  auto run = [&](const dsl::Config &c) -> kernels::ExampleRun & {
    auto it = runs.find(c.str());
    if (it == runs.end()) it = runs.emplace(c.str(), kernels::runExample(name, c, t, dims, 7, 10)).first;
    return it->second;
  };
  // tma=1 copies with TMA only where the dots run on wgmma (sm_90a);
  // elsewhere it is tma=0's schedule with box masks, not worth a second try.
  r.prune = [&](const dsl::Config &c) {
    return c.get("tma", 0) == 1 && !t.hasWgmma() ? std::string("tma=1 needs sm_90a")
                                                   : std::string();
  };
  r.compile = [&](const dsl::Config &c) { compile(dsl::trace(def, c), t); };
  r.check = [&](const dsl::Config &c) { return run(c).passed ? std::string() : run(c).detail; };
  r.time = [&](const dsl::Config &c) { return run(c).runMs; };
  autotune::Cache cache;
  autotune::Entry e = autotune::tune(r);
  cache.store(r.key, e);
  for (const auto &c : e.candidates)
    std::printf("%-60s %10.4f ms  %s\n", c.config.str().c_str(), c.ms, c.status.c_str());
  std::printf("chosen: %s; stored in %s\n", e.config.str().c_str(), cache.path().c_str());
  return 0;
}
} // namespace

int cmdTune(const std::string &what, const std::map<std::string, std::string> &flags) {
  if (what == "vector_add" || what == "row_softmax" || what == "token_nll" || what == "matmul")
    return tuneExample(what, flags);
  if (what != "hip_attention" && what != "flash_attention")
    throw InvalidArgument("tune: '" + what + "' is not tunable here; tune hip_attention (its mask "
                          "and sparse-attention kernels), flash_attention, or an example kernel "
                          "(vector_add, row_softmax, token_nll, matmul) with --dims");
  // Schedules are tuned here; the algorithm search compares HiP settings at
  // the default (or cached) schedules.
  ::setenv("HIP_DISABLE_AUTOTUNE", flags.count("--algorithm") ? "1" : "0", 1);
  autotune::clearMemo();
  Setup st = makeSetup(flags);
  HiPAttentionArgs &a = st.a;
  takeKernelChoices();
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  if (!flags.count("--algorithm")) {
    if (flags.count("--min-recall") || flags.count("--max-error"))
      throw InvalidArgument("--min-recall and --max-error go with --algorithm");
    if (what == "hip_attention") hip_attention(st.q.view(), st.k.view(), st.v.view(), a);
    DenseAttentionArgs da;
    da.backend = a.backend;
    if (what == "flash_attention") dense_attention(st.q.view(), st.k.view(), st.v.view(), da);
    for (const KernelChoice &c : takeKernelChoices())
      std::printf("%-27s %-8s [%s]\n", c.kernel.c_str(), c.source.c_str(), c.config.c_str());
    std::printf("tuned in %.1f s on %s\n", elapsed(), st.device.c_str());
    return 0;
  }
  if (what != "hip_attention") throw InvalidArgument("--algorithm applies to hip_attention only");
  if (!flags.count("--min-recall")) throw InvalidArgument("--algorithm needs --min-recall R");
  double minRecall = std::stod(flags.at("--min-recall"));
  double maxError = flags.count("--max-error") ? std::stod(flags.at("--max-error")) : INFINITY;
  DenseAttentionArgs da;
  da.backend = a.backend;
  std::vector<float> dense = dense_attention(st.q.view(), st.k.view(), st.v.view(), da).toFloat();
  autotune::Entry best;
  double bestMs = INFINITY;
  std::printf("%4s %4s %4s %4s %10s %8s %10s  %s\n", "bq", "bsq", "bk", "bsk", "ms", "recall",
              "rel.err", "status");
  for (int64_t bq : {32, 64})
    for (int64_t bsq : {1, 2, 4})
      for (int64_t bk : {2, 4, 8})
        for (int64_t bsk : {1, 2}) {
          if (bsk > bk) continue;
          HiPAttentionArgs c = a;
          c.block_size_q = bq, c.block_stride_q = bsq, c.block_size_k = bk, c.block_stride_k = bsk;
          dsl::Config cfg{{"block_size_q", bq}, {"block_stride_q", bsq}, {"block_size_k", bk},
                          {"block_stride_k", bsk}};
          autotune::Candidate cand{cfg, -1, ""};
          double recall = NAN, err = NAN;
          try {
            HiPAttentionOutput r;
            cand.ms = medianMs(st.reps, [&] { r = hip_attention(st.q.view(), st.k.view(), st.v.view(), c); });
            recall = exactRecall(st.w, r.metadata, c, intFlag(flags, "--recall-heads", 4),
                                 intFlag(flags, "--recall-blocks", 8));
            std::vector<float> x = r.out.toFloat();
            double num = 0, den = 0;
            for (size_t i = 0; i < x.size(); ++i)
              num += double(x[i] - dense[i]) * (x[i] - dense[i]), den += double(dense[i]) * dense[i];
            err = den > 0 ? std::sqrt(num / den) : 0;
            char buf[96];
            std::snprintf(buf, sizeof buf, "recall %.4f, rel.err %.4g", recall, err);
            cand.status = recall >= minRecall && err <= maxError ? std::string("ok: ") + buf
                                                                  : std::string("below bound: ") + buf;
            if (cand.status.rfind("ok", 0) == 0 && cand.ms < bestMs) bestMs = cand.ms, best.config = cfg;
          } catch (const InvalidArgument &e) {
            cand.status = std::string("invalid: ") + e.what();
          }
          std::printf("%4lld %4lld %4lld %4lld %10.3f %8.4f %10.4g  %s\n", (long long)bq,
                      (long long)bsq, (long long)bk, (long long)bsk, cand.ms, recall, err,
                      cand.status.c_str());
          best.candidates.push_back(cand);
        }
  if (!std::isfinite(bestMs))
    throw RuntimeError("no setting reaches recall " + flags.at("--min-recall") +
                       (flags.count("--max-error") ? " and error " + flags.at("--max-error") : ""));
  autotune::Cache cache;
  best.projectVersion = compilerVersion();
  time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  best.tunedAt = when;
  cache.store(algorithmKey(st.q.view(), st.k.view(), a), best);
  std::printf("chosen: %s (%.3f ms), tuned in %.1f s on %s; stored in %s\n", best.config.str().c_str(),
              bestMs, elapsed(), st.device.c_str(), cache.path().c_str());
  return 0;
}

} // namespace hip::tools
