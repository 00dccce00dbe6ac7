//===- model/llama.cpp - A Llama-architecture model on hip_attention ------===//
//
// The forward pass in f32 on the host; attention through the public API.
// One helper (`attend`) turns a layer's rotated q/k/v into the attention
// inputs (q pre-scaled, heads zero-padded, f32 or bf16) and calls dense,
// HiP or StreamingLLM attention; prefill (`forward`) and decode
// (`LlamaSession`) share it and the layer loop (`runLayers`).
//
//===----------------------------------------------------------------------===//
#include "hip/model/llama.h"

#include "hip/compiler/compiler.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/runtime/cuda.h"
#include "hip/runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

namespace hip::model {

namespace {

/// y[T][out] = x[T][in] . W[out][in]^T, parallel over blocks of output rows.
void matmul(const float *x, int64_t T, int64_t in, const float *w, int64_t out, float *y) {
  constexpr int64_t kRows = 16, kTok = 4;
  int64_t chunks = (out + kRows - 1) / kRows;
  rt::parallelFor(size_t(chunks), [&](size_t c, unsigned) {
    int64_t r0 = int64_t(c) * kRows, r1 = std::min(out, r0 + kRows);
    for (int64_t t0 = 0; t0 < T; t0 += kTok) {
      int64_t nt = std::min(kTok, T - t0);
      for (int64_t r = r0; r < r1; ++r) {
        const float *wr = w + r * in;
        float acc[kTok][8] = {};
        int64_t i = 0;
        for (; i + 8 <= in; i += 8)
          for (int64_t t = 0; t < nt; ++t) {
            const float *xr = x + (t0 + t) * in + i;
            for (int j = 0; j < 8; ++j) acc[t][j] += xr[j] * wr[i + j];
          }
        for (int64_t t = 0; t < nt; ++t) {
          float s = ((acc[t][0] + acc[t][1]) + (acc[t][2] + acc[t][3])) +
                    ((acc[t][4] + acc[t][5]) + (acc[t][6] + acc[t][7]));
          for (int64_t k = i; k < in; ++k) s += x[(t0 + t) * in + k] * wr[k];
          y[(t0 + t) * out + r] = s;
        }
      }
    }
  });
}

std::vector<float> matmul(const std::vector<float> &x, int64_t T, int64_t in,
                          const std::vector<float> &w, int64_t out) {
  std::vector<float> y(size_t(T * out));
  matmul(x.data(), T, in, w.data(), out, y.data());
  return y;
}

void rmsNorm(const float *x, const float *w, int64_t n, float eps, float *y) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  float r = float(1.0 / std::sqrt(ss / double(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r * w[i];
}

/// RMSNorm of each of the T rows of n at x, in parallel.
std::vector<float> rmsNormRows(const float *x, int64_t T, int64_t n, const std::vector<float> &w,
                               float eps) {
  std::vector<float> y(size_t(T * n));
  rt::parallelFor(size_t(T), [&](size_t t, unsigned) {
    rmsNorm(x + t * size_t(n), w.data(), n, eps, &y[t * size_t(n)]);
  });
  return y;
}

/// cos and sin of the RoPE angles (p0 + t) * theta^(-2i/rot) for t < T,
/// i < rot/2: [T][rot/2] each, computed once per forward for every layer.
struct RopeTable {
  int64_t half = 0;
  std::vector<float> cos, sin;
  RopeTable(int64_t T, int64_t rot, int64_t p0, float theta) : half(rot / 2) {
    cos.resize(size_t(T * half)), sin.resize(cos.size());
    std::vector<double> freq(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i)
      freq[size_t(i)] = std::pow(double(theta), -2.0 * double(i) / double(rot));
    rt::parallelFor(size_t(T), [&](size_t t, unsigned) {
      for (int64_t i = 0; i < half; ++i) {
        double a = double(p0 + int64_t(t)) * freq[size_t(i)];
        cos[t * size_t(half) + size_t(i)] = float(std::cos(a));
        sin[t * size_t(half) + size_t(i)] = float(std::sin(a));
      }
    });
  }
  /// Rotates adjacent pairs (2i, 2i+1), i < rot/2, of each head of x [T, heads, D].
  void apply(std::vector<float> &x, int64_t T, int64_t heads, int64_t D) const {
    rt::parallelFor(size_t(T), [&](size_t t, unsigned) {
      const float *c = &cos[t * size_t(half)], *s = &sin[t * size_t(half)];
      for (int64_t h = 0; h < heads; ++h) {
        float *p = &x[(t * size_t(heads) + size_t(h)) * size_t(D)];
        for (int64_t i = 0; i < half; ++i) {
          float x0 = p[2 * i], x1 = p[2 * i + 1];
          p[2 * i] = x0 * c[i] - x1 * s[i];
          p[2 * i + 1] = x0 * s[i] + x1 * c[i];
        }
      }
    });
  }
};

/// x += y, in parallel over rows of n.
void addRows(std::vector<float> &x, const std::vector<float> &y, int64_t n) {
  rt::parallelFor(x.size() / size_t(n), [&](size_t r, unsigned) {
    for (size_t i = r * size_t(n); i < (r + 1) * size_t(n); ++i) x[i] += y[i];
  });
}

bool onGpu(ComputeBackend b) {
  if (b == ComputeBackend::CUDA) return true;
  if (b == ComputeBackend::CPU) return false;
  return selectBackend() == Backend::CUDA;
}

/// Heads of src [T, heads*D] as [T, heads, Dp] in `dt` (zero-padded, scaled).
void packHeads(const float *src, int64_t T, int64_t heads, int64_t D, int64_t Dp, float scale,
               ScalarType dt, char *dst) {
  size_t es = elementSize(dt);
  rt::parallelFor(size_t(T), [&](size_t t, unsigned) {
    std::memset(dst + t * size_t(heads * Dp) * es, 0, size_t(heads * Dp) * es);
    for (int64_t r = int64_t(t) * heads; r < (int64_t(t) + 1) * heads; ++r)
      for (int64_t d = 0; d < D; ++d) {
        float v = src[r * D + d] * scale;
        char *p = dst + size_t(r * Dp + d) * es;
        if (dt == ScalarType::f32) std::memcpy(p, &v, 4);
        else {
          uint16_t h = kernels::floatToBf16(v);
          std::memcpy(p, &h, 2);
        }
      }
  });
}

/// A mask that selects no key block: StreamingLLM (sink + window only).
HiPAttentionOutputMetadata emptyMask(int64_t H, int64_t Tq, int64_t Tk, int64_t bq, int64_t bk) {
  int64_t nQB = (Tq + bq - 1) / bq;
  HiPAttentionOutputMetadata m;
  m.indices = Tensor::empty({H, nQB, 1}, ScalarType::i32, Device::CPU);
  m.ks = Tensor::empty({H, nQB}, ScalarType::i32, Device::CPU);
  std::fill_n(static_cast<int32_t *>(m.indices.data()), H * nQB, kIndexSentinel);
  std::fill_n(static_cast<int32_t *>(m.ks.data()), H * nQB, 0);
  m.block_size_q = bq, m.block_size_k = bk;
  m.batch = 1, m.heads = H, m.t_q = Tq, m.t_k = Tk;
  return m;
}

/// Attention of packed inputs q [Tq, H, Dp], k/v [Tk, Hkv, Dp] (the queries
/// are the last Tq keys) -> out [Tq, H*D] (padding dropped). `mask`: HiP's
/// metadata to reuse (when `reuse`) or to fill.
std::vector<float> attend(const AttentionOptions &opt, const LlamaConfig &c, int64_t Tq,
                          int64_t Tk, ScalarType dt, void *q, void *k, void *v,
                          HiPAttentionOutputMetadata *mask, bool reuse) {
  int64_t H = c.heads, Hkv = c.kvHeads, Dp = c.paddedHeadDim, D = c.headDim;
  TensorView qv(q, dt, {1, Tq, H, Dp}), kv(k, dt, {1, Tk, Hkv, Dp}), vv(v, dt, {1, Tk, Hkv, Dp});
  ComputeBackend be = onGpu(opt.backend) ? ComputeBackend::CUDA : ComputeBackend::CPU;
  Tensor out;
  if (opt.method == AttentionMethod::Dense) {
    DenseAttentionArgs a;
    a.backend = be;
    out = dense_attention(qv, kv, vv, a);
  } else {
    HiPAttentionArgs a = opt.hip;
    a.backend = be;
    a.mask_only = false;
    if (opt.method == AttentionMethod::Streaming) {
      HiPAttentionOutputMetadata none = emptyMask(H, Tq, Tk, a.block_size_q, a.block_size_k);
      out = hip_attention(qv, kv, vv, a, &none).out;
    } else {
      HiPAttentionOutput r = hip_attention(qv, kv, vv, a, reuse && mask ? mask : nullptr);
      if (mask && !reuse) *mask = r.metadata;
      out = std::move(r.out);
    }
  }
  std::vector<float> full = out.toFloat(), o(size_t(Tq * H * D));
  for (int64_t r = 0; r < Tq * H; ++r)
    std::copy_n(&full[size_t(r * Dp)], D, &o[size_t(r * D)]);
  return o;
}

int64_t padHeadDim(int64_t D) {
  for (int64_t s : kSupportedHeadDims)
    if (s >= D) return s;
  return 0;
}

/// Adds the wall time from construction to destruction to `sum`.
class PhaseTimer {
public:
  explicit PhaseTimer(double &sum) : sum_(sum), t0_(std::chrono::steady_clock::now()) {}
  ~PhaseTimer() {
    sum_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

private:
  double &sum_;
  std::chrono::steady_clock::time_point t0_;
};

int64_t roundUp8(int64_t v) { return (v + 7) / 8 * 8; }

/// Weight matrices W_i [out_i][in] fused along the output dimension and laid
/// out as the matmul kernel's B operand: B [in][ldb] = [W_0 | W_1 | ...]^T in
/// bf16, ldb the total output width rounded up to 8 (the kernel's promise;
/// the padding is zero and never read into an output).
struct DslMatrix {
  int64_t in = 0, out = 0, ldb = 0;
  std::vector<uint16_t> host; // the data on the CPU backend
  rt::DeviceBuffer dev;       // ... or on the GPU

  DslMatrix(const std::vector<const std::vector<float> *> &ws, int64_t in_, bool gpu) : in(in_) {
    for (auto *w : ws) out += int64_t(w->size()) / in;
    ldb = roundUp8(out);
    host.assign(size_t(in * ldb), 0);
    int64_t n0 = 0;
    for (auto *w : ws) {
      int64_t rows = int64_t(w->size()) / in;
      rt::parallelFor(size_t(rows), [&](size_t r, unsigned) {
        const float *src = w->data() + r * size_t(in);
        for (int64_t k = 0; k < in; ++k)
          host[size_t(k * ldb + n0 + int64_t(r))] = kernels::floatToBf16(src[k]);
      });
      n0 += rows;
    }
    if (gpu) {
      dev = rt::DeviceBuffer(host.size() * 2);
      rt::Cuda::get().copyToDevice(dev.ptr(), host.data(), host.size() * 2);
      host = {};
    }
  }
  ArgValue arg() const { return dev.ptr() ? ArgValue::pointer(dev.ptr()) : ArgValue::pointer(host.data()); }
};

} // namespace

/// Every linear layer's weights as DslMatrix (q|k|v and gate|up fused), and
/// the matmul kernel specialised for this backend.
struct LlamaModel::DslWeights {
  struct L {
    DslMatrix qkv, o, gateUp, down;
  };
  Target target;
  std::vector<L> layers;
  std::unique_ptr<DslMatrix> output;
  std::unique_ptr<SpecializedKernel> small, large; // BLOCK_M 64 (few rows) and 128
  std::unique_ptr<SpecializedKernel> nllKernel;     // token_nll
  // GPU scratch for activations and outputs, grown as needed (an allocation
  // and a free per call cost more than the matmul at small T).
  mutable std::mutex scratchMu;
  mutable rt::DeviceBuffer scratchA, scratchC, scratchT, scratchN;

  static rt::DevicePtr atLeast(rt::DeviceBuffer &b, size_t bytes) {
    if (b.size() < bytes) b = rt::DeviceBuffer(bytes);
    return b.ptr();
  }

  /// y [T][w.out] = x [T][w.in] . B, x rounded to bf16, f32 accumulation.
  std::vector<float> apply(const DslMatrix &w, const float *x, int64_t T) const {
    std::vector<float> y(size_t(T * w.out));
    run(w, x, T, y.data(), nullptr, nullptr);
    return y;
  }

  /// nll[t] = -log softmax(x[t] . B)[targets[t]]: the logits stay where the
  /// matmul wrote them (on the GPU) and only T numbers come back.
  std::vector<float> nll(const DslMatrix &w, const float *x, int64_t T,
                         const int32_t *targets) const {
    std::vector<float> out(static_cast<size_t>(T));
    run(w, x, T, nullptr, targets, out.data());
    return out;
  }

private:
  /// The matmul in chunks of rows (its offsets are 32-bit), each followed by
  /// the copy of its rows into y, or by token_nll into nll.
  void run(const DslMatrix &w, const float *x, int64_t T, float *y, const int32_t *targets,
           float *nllOut) const {
    bool gpu = target.backend == Backend::CUDA;
    rt::Cuda *cu = gpu ? &rt::Cuda::get() : nullptr;
    int64_t lda = roundUp8(w.in);
    std::lock_guard<std::mutex> g(scratchMu);
    int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 31) / 2 / std::max(lda, w.ldb));
    std::vector<float> hostC; // CPU backend with targets: the chunk's logits
    for (int64_t r0 = 0; r0 < T; r0 += chunk) {
      int64_t M = std::min(chunk, T - r0);
      std::vector<uint16_t> a(size_t(M * lda), 0);
      rt::parallelFor(size_t(M), [&](size_t r, unsigned) {
        const float *src = x + (size_t(r0) + r) * size_t(w.in);
        for (int64_t k = 0; k < w.in; ++k) a[r * size_t(lda) + size_t(k)] = kernels::floatToBf16(src[k]);
      });
      float *c = y ? y + size_t(r0 * w.out) : nullptr;
      if (!c) hostC.resize(size_t(M * w.out)), c = hostC.data();
      ArgValue aArg = ArgValue::pointer(a.data()), cArg = ArgValue::pointer(c);
      if (gpu) {
        aArg = ArgValue::pointer(atLeast(scratchA, a.size() * 2));
        cArg = ArgValue::pointer(atLeast(scratchC, size_t(M * w.out) * 4));
        cu->copyToDevice(scratchA.ptr(), a.data(), a.size() * 2);
      }
      SpecializedKernel &k = M <= 64 ? *small : *large;
      k.launch(kernels::matmulGrid(k.config(), M, w.out),
               kernels::matmulArgs(aArg, w.arg(), cArg, M, w.out, w.in, lda, w.ldb, w.out));
      if (!targets) {
        if (gpu) cu->synchronize(), cu->copyToHost(c, scratchC.ptr(), size_t(M * w.out) * 4);
        continue;
      }
      // The chunk's targets and results in buffers of their own: kernel
      // pointers must be 16-byte aligned.
      std::vector<int32_t> tg(targets + r0, targets + r0 + M);
      std::vector<float> res(static_cast<size_t>(M));
      ArgValue tArg = ArgValue::pointer(tg.data()), oArg = ArgValue::pointer(res.data());
      if (gpu) {
        tArg = ArgValue::pointer(atLeast(scratchT, size_t(M) * 4));
        oArg = ArgValue::pointer(atLeast(scratchN, size_t(M) * 4));
        cu->copyToDevice(scratchT.ptr(), tg.data(), size_t(M) * 4);
      }
      int64_t rows = nllKernel->config()["ROWS"];
      nllKernel->launch({unsigned((M + rows - 1) / rows), 1, 1},
                        {cArg, tArg, oArg, ArgValue::int32(int32_t(M)), ArgValue::int32(int32_t(w.out)),
                         ArgValue::int32(int32_t(w.out))});
      if (gpu) cu->synchronize(), cu->copyToHost(res.data(), scratchN.ptr(), size_t(M) * 4);
      std::copy(res.begin(), res.end(), nllOut + r0);
    }
  }
};

bool dslLinears(const AttentionOptions &opt) {
  using Lin = AttentionOptions::Linears;
  return opt.linears == Lin::DSL || (opt.linears == Lin::Auto && onGpu(opt.backend));
}

std::shared_ptr<LlamaModel::DslWeights> LlamaModel::dslWeights(const AttentionOptions &opt) const {
  if (!dslLinears(opt)) return nullptr;
  bool gpu = onGpu(opt.backend);
  std::lock_guard<std::mutex> g(dslMu_);
  std::shared_ptr<DslWeights> &w = dsl_[gpu ? 1 : 0];
  if (w) return w;
  auto d = std::make_shared<DslWeights>();
  d->target = currentTarget(gpu ? Backend::CUDA : Backend::CPU);
  kernels::registerExampleKernels();
  const dsl::KernelDef &def = dsl::findKernel("matmul");
  // 128-column tiles of 4 warps: the activations have few rows (one window),
  // and wider tiles than that would leave SMs idle.
  auto withRows = [&](int64_t bm) {
    dsl::Config c = def.defaults;
    c.set("BLOCK_M", bm);
    c.set("BLOCK_N", 128);
    c.set("num_warps", 4);
    return std::make_unique<SpecializedKernel>(def, c, d->target);
  };
  d->small = withRows(64), d->large = withRows(128);
  const dsl::KernelDef &nll = dsl::findKernel("token_nll");
  d->nllKernel = std::make_unique<SpecializedKernel>(nll, nll.defaults, d->target);
  const LlamaConfig &c = cfg_;
  for (const Layer &L : layers_)
    d->layers.push_back({DslMatrix({&L.wq, &L.wk, &L.wv}, c.dim, gpu), DslMatrix({&L.wo}, c.dim, gpu),
                         DslMatrix({&L.wGate, &L.wUp}, c.dim, gpu), DslMatrix({&L.wDown}, c.ffn, gpu)});
  d->output = std::make_unique<DslMatrix>(std::vector<const std::vector<float> *>{&outputWeight()},
                                          c.dim, gpu);
  w = d;
  return w;
}

// ---- Config and weights -------------------------------------------------------------------

LlamaConfig LlamaConfig::fromGGUF(const GGUFFile &f) {
  const GGUFValue *arch = f.find("general.architecture");
  if (!arch) throw InvalidArgument(f.path + ": missing metadata key general.architecture");
  const std::string &a = arch->asString(f.path + ": general.architecture");
  if (a != "llama")
    throw InvalidArgument(f.path + ": unsupported architecture '" + a +
                          "' (only 'llama' is supported)");
  auto num = [&](const std::string &key) { return f.get("llama." + key).asInt(f.path + ": llama." + key); };
  LlamaConfig c;
  c.dim = num("embedding_length");
  c.layers = num("block_count");
  c.heads = num("attention.head_count");
  c.kvHeads = f.find("llama.attention.head_count_kv") ? num("attention.head_count_kv") : c.heads;
  c.ffn = num("feed_forward_length");
  c.contextLength = f.find("llama.context_length") ? num("context_length") : 0;
  if (const GGUFValue *v = f.find("llama.rope.freq_base"))
    c.ropeTheta = float(v->asFloat(f.path + ": llama.rope.freq_base"));
  if (const GGUFValue *v = f.find("llama.attention.layer_norm_rms_epsilon"))
    c.normEps = float(v->asFloat(f.path + ": llama.attention.layer_norm_rms_epsilon"));
  auto bad = [&](const std::string &m) { return InvalidArgument(f.path + ": " + m); };
  if (c.dim <= 0 || c.layers <= 0 || c.heads <= 0 || c.kvHeads <= 0 || c.ffn <= 0)
    throw bad("llama.embedding_length, block_count, attention.head_count(_kv) and "
              "feed_forward_length must be positive");
  if (c.dim % c.heads) throw bad("embedding_length is not a multiple of attention.head_count");
  if (c.heads % c.kvHeads) throw bad("attention.head_count is not a multiple of head_count_kv");
  c.headDim = c.dim / c.heads;
  c.ropeDim = f.find("llama.rope.dimension_count") ? num("rope.dimension_count") : c.headDim;
  if (c.ropeDim <= 0 || c.ropeDim > c.headDim || c.ropeDim % 2)
    throw bad("llama.rope.dimension_count = " + std::to_string(c.ropeDim) +
              " must be even and at most the head dim " + std::to_string(c.headDim));
  c.paddedHeadDim = padHeadDim(c.headDim);
  if (!c.paddedHeadDim)
    throw bad("head dim " + std::to_string(c.headDim) + " is larger than the attention kernels' 256");
  if (const GGUFTensor *t = f.findTensor("token_embd.weight")) c.vocab = t->shape.size() == 2 ? t->shape[1] : 0;
  return c;
}

AttentionMethod parseAttentionMethod(const std::string &s) {
  if (s == "dense") return AttentionMethod::Dense;
  if (s == "hip") return AttentionMethod::HiP;
  if (s == "streaming") return AttentionMethod::Streaming;
  throw InvalidArgument("attention method must be dense, hip or streaming, got '" + s + "'");
}

const char *attentionMethodName(AttentionMethod m) {
  switch (m) {
  case AttentionMethod::Dense: return "dense";
  case AttentionMethod::HiP: return "hip";
  default: return "streaming";
  }
}

std::shared_ptr<LlamaModel> LlamaModel::load(const std::string &path) {
  GGUFFile f = GGUFFile::read(path, false);
  LlamaConfig::fromGGUF(f); // the architecture check before the weights are read
  return fromGGUF(GGUFFile::read(path));
}

std::shared_ptr<LlamaModel> LlamaModel::fromGGUF(const GGUFFile &f) {
  auto m = std::make_shared<LlamaModel>();
  m->cfg_ = LlamaConfig::fromGGUF(f);
  m->tok_ = Tokenizer::fromGGUF(f);
  m->path_ = f.path;
  LlamaConfig &c = m->cfg_;
  auto take = [&](const std::string &name, std::vector<int64_t> shape) {
    const GGUFTensor &t = f.tensor(name);
    if (t.shape != shape) {
      auto str = [](const std::vector<int64_t> &s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      throw InvalidArgument(f.path + ": tensor " + name + " has shape " + str(t.shape) +
                            " (ggml order), expected " + str(shape));
    }
    if (t.data.empty()) throw InvalidArgument(f.path + ": tensor " + name + " was not loaded");
    return t.data;
  };
  if (!c.vocab) throw InvalidArgument(f.path + ": token_embd.weight must be a matrix [dim, vocab]");
  if (c.vocab != m->tok_.vocabSize())
    throw InvalidArgument(f.path + ": token_embd.weight has " + std::to_string(c.vocab) +
                          " rows but the vocabulary " + std::to_string(m->tok_.vocabSize()) + " tokens");
  int64_t D = c.headDim, kvDim = c.kvHeads * D;
  m->embed_ = take("token_embd.weight", {c.dim, c.vocab});
  m->outNorm_ = take("output_norm.weight", {c.dim});
  if (f.findTensor("output.weight")) m->output_ = take("output.weight", {c.dim, c.vocab});
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    Layer L;
    L.attnNorm = take(p + "attn_norm.weight", {c.dim});
    L.wq = take(p + "attn_q.weight", {c.dim, c.dim});
    L.wk = take(p + "attn_k.weight", {c.dim, kvDim});
    L.wv = take(p + "attn_v.weight", {c.dim, kvDim});
    L.wo = take(p + "attn_output.weight", {c.dim, c.dim});
    L.ffnNorm = take(p + "ffn_norm.weight", {c.dim});
    L.wGate = take(p + "ffn_gate.weight", {c.dim, c.ffn});
    L.wUp = take(p + "ffn_up.weight", {c.dim, c.ffn});
    L.wDown = take(p + "ffn_down.weight", {c.ffn, c.dim});
    m->layers_.push_back(std::move(L));
  }
  return m;
}

// ---- Forward pass -------------------------------------------------------------------------

std::vector<float> LlamaModel::embed(const std::vector<int32_t> &tokens) const {
  std::vector<float> x(tokens.size() * size_t(cfg_.dim));
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (tokens[t] < 0 || tokens[t] >= cfg_.vocab)
      throw InvalidArgument("token id " + std::to_string(tokens[t]) + " is outside the vocabulary of " +
                            std::to_string(cfg_.vocab));
    std::copy_n(&embed_[size_t(tokens[t] * cfg_.dim)], cfg_.dim, &x[t * size_t(cfg_.dim)]);
  }
  return x;
}

ForwardPhases LlamaModel::phases() const {
  std::lock_guard<std::mutex> g(phasesMu_);
  return phases_;
}

void LlamaModel::addPhases(const ForwardPhases &p) const {
  std::lock_guard<std::mutex> g(phasesMu_);
  phases_.norms += p.norms, phases_.linears += p.linears, phases_.rope += p.rope;
  phases_.attention += p.attention, phases_.activation += p.activation, phases_.logits += p.logits;
}

std::vector<float> LlamaModel::outputNorm(const std::vector<float> &x, int64_t from, int64_t to) const {
  return rmsNormRows(x.data() + from * cfg_.dim, to - from, cfg_.dim, outNorm_, cfg_.normEps);
}

void LlamaModel::runLayers(std::vector<float> &x, int64_t T, int64_t p0,
                           const AttentionFn &attention, const DslWeights *dsl) const {
  const LlamaConfig &c = cfg_;
  int64_t kvDim = c.kvHeads * c.headDim;
  ForwardPhases ph;
  /// Columns [c0, c0 + n) of y [T][w] as a matrix [T][n].
  auto columns = [&](const std::vector<float> &y, int64_t w, int64_t c0, int64_t n) {
    std::vector<float> r(size_t(T * n));
    rt::parallelFor(size_t(T), [&](size_t t, unsigned) {
      std::copy_n(&y[t * size_t(w) + size_t(c0)], n, &r[t * size_t(n)]);
    });
    return r;
  };
  auto hostLinear = [&](const std::vector<float> &in, int64_t n, const std::vector<float> &w,
                        int64_t out) {
    PhaseTimer pt(ph.linears);
    return matmul(in, T, n, w, out);
  };
  auto dslLinear = [&](const DslMatrix &d, const std::vector<float> &in) {
    PhaseTimer pt(ph.linears);
    return dsl->apply(d, in.data(), T);
  };
  std::unique_ptr<RopeTable> rope;
  {
    PhaseTimer pt(ph.rope);
    rope = std::make_unique<RopeTable>(T, c.ropeDim, p0, c.ropeTheta);
  }
  for (int64_t l = 0; l < c.layers; ++l) {
    const Layer &L = layers_[size_t(l)];
    const DslWeights::L *D = dsl ? &dsl->layers[size_t(l)] : nullptr;
    std::vector<float> h, q, k, v;
    {
      PhaseTimer pt(ph.norms);
      h = rmsNormRows(x.data(), T, c.dim, L.attnNorm, c.normEps);
    }
    if (D) {
      std::vector<float> qkv = dslLinear(D->qkv, h);
      PhaseTimer pt(ph.linears);
      int64_t w = c.dim + 2 * kvDim;
      q = columns(qkv, w, 0, c.dim), k = columns(qkv, w, c.dim, kvDim),
      v = columns(qkv, w, c.dim + kvDim, kvDim);
    } else {
      q = hostLinear(h, c.dim, L.wq, c.dim), k = hostLinear(h, c.dim, L.wk, kvDim),
      v = hostLinear(h, c.dim, L.wv, kvDim);
    }
    {
      PhaseTimer pt(ph.rope);
      rope->apply(q, T, c.heads, c.headDim);
      rope->apply(k, T, c.kvHeads, c.headDim);
    }
    std::vector<float> o;
    {
      PhaseTimer pt(ph.attention);
      o = attention(l, q, k, v);
    }
    std::vector<float> y = D ? dslLinear(D->o, o) : hostLinear(o, c.dim, L.wo, c.dim);
    {
      PhaseTimer pt(ph.norms);
      addRows(x, y, c.dim);
      h = rmsNormRows(x.data(), T, c.dim, L.ffnNorm, c.normEps);
    }
    // SwiGLU: g = silu(gate) * up, from the fused [gate | up] rows of the DSL
    // path or the host's two matrices.
    std::vector<float> gu, gate, up;
    if (D) gu = dslLinear(D->gateUp, h);
    else gate = hostLinear(h, c.dim, L.wGate, c.ffn), up = hostLinear(h, c.dim, L.wUp, c.ffn);
    std::vector<float> g(size_t(T * c.ffn));
    {
      PhaseTimer pt(ph.activation);
      rt::parallelFor(size_t(T), [&](size_t t, unsigned) {
        const float *gr = D ? &gu[t * size_t(2 * c.ffn)] : &gate[t * size_t(c.ffn)];
        const float *ur = D ? gr + c.ffn : &up[t * size_t(c.ffn)];
        float *out = &g[t * size_t(c.ffn)];
        for (int64_t i = 0; i < c.ffn; ++i) out[i] = gr[i] / (1.f + std::exp(-gr[i])) * ur[i];
      });
    }
    y = D ? dslLinear(D->down, g) : hostLinear(g, c.ffn, L.wDown, c.dim);
    PhaseTimer pt(ph.norms);
    addRows(x, y, c.dim);
  }
  addPhases(ph);
}

std::vector<float> LlamaModel::logits(std::vector<float> &x, int64_t T, int64_t first,
                                      const DslWeights *dsl) const {
  ForwardPhases ph;
  std::vector<float> r;
  {
    PhaseTimer pt(ph.logits);
    first = std::clamp<int64_t>(first, 0, T);
    std::vector<float> h = outputNorm(x, first, T);
    r = dsl ? dsl->apply(*dsl->output, h.data(), T - first)
            : matmul(h, T - first, cfg_.dim, outputWeight(), cfg_.vocab);
  }
  addPhases(ph);
  return r;
}

std::vector<float> LlamaModel::prefill(const std::vector<int32_t> &tokens, const AttentionOptions &opt,
                                       const AttentionHook &hook, const DslWeights *dsl) const {
  const LlamaConfig &c = cfg_;
  int64_t T = int64_t(tokens.size());
  std::vector<float> x = embed(tokens);
  ScalarType dt = onGpu(opt.backend) ? ScalarType::bf16 : ScalarType::f32;
  size_t es = elementSize(dt);
  float scale = 1.f / std::sqrt(float(c.headDim));
  runLayers(x, T, 0, [&](int64_t l, const std::vector<float> &q, const std::vector<float> &k,
                         const std::vector<float> &v) {
    int64_t Dp = c.paddedHeadDim;
    std::vector<char> qa(size_t(T * c.heads * Dp) * es), ka(size_t(T * c.kvHeads * Dp) * es),
        va(ka.size());
    packHeads(q.data(), T, c.heads, c.headDim, Dp, scale, dt, qa.data());
    packHeads(k.data(), T, c.kvHeads, c.headDim, Dp, 1.f, dt, ka.data());
    packHeads(v.data(), T, c.kvHeads, c.headDim, Dp, 1.f, dt, va.data());
    if (hook)
      hook(l, TensorView(qa.data(), dt, {1, T, c.heads, Dp}),
           TensorView(ka.data(), dt, {1, T, c.kvHeads, Dp}),
           TensorView(va.data(), dt, {1, T, c.kvHeads, Dp}));
    return attend(opt, c, T, T, dt, qa.data(), ka.data(), va.data(), nullptr, false);
  }, dsl);
  return x;
}

std::vector<float> LlamaModel::forward(const std::vector<int32_t> &tokens,
                                       const AttentionOptions &opt, int64_t firstLogit,
                                       const AttentionHook &hook) const {
  int64_t T = int64_t(tokens.size());
  if (T == 0) return {};
  std::shared_ptr<DslWeights> dsl = dslWeights(opt);
  std::vector<float> x = prefill(tokens, opt, hook, dsl.get());
  return logits(x, T, firstLogit, dsl.get());
}

std::vector<double> LlamaModel::tokenNll(const std::vector<int32_t> &tokens,
                                         const AttentionOptions &opt, int64_t first) const {
  int64_t T = int64_t(tokens.size());
  if (first < 1 || first > T)
    throw InvalidArgument("tokenNll: the first scored position must be in [1, " +
                          std::to_string(T) + "], got " + std::to_string(first));
  std::shared_ptr<DslWeights> dsl = dslWeights(opt);
  std::vector<float> x = prefill(tokens, opt, {}, dsl.get());
  int64_t n = T - first, V = cfg_.vocab;
  std::vector<double> nll(static_cast<size_t>(n));
  ForwardPhases ph;
  {
    PhaseTimer pt(ph.logits);
    // Token j is predicted by the hidden state of position j - 1.
    std::vector<float> h = outputNorm(x, first - 1, T - 1);
    if (dsl) {
      std::vector<float> d = dsl->nll(*dsl->output, h.data(), n, tokens.data() + first);
      std::copy(d.begin(), d.end(), nll.begin());
    } else {
      std::vector<float> lg = matmul(h, n, cfg_.dim, outputWeight(), V);
      rt::parallelFor(size_t(n), [&](size_t i, unsigned) {
        const float *row = &lg[i * size_t(V)];
        float mx = *std::max_element(row, row + V);
        double e = 0;
        for (int64_t v = 0; v < V; ++v) e += std::exp(double(row[v] - mx));
        nll[i] = std::log(e) + mx - row[tokens[size_t(first) + i]];
      });
    }
  }
  addPhases(ph);
  return nll;
}

// ---- Decoding -----------------------------------------------------------------------------

LlamaSession::LlamaSession(std::shared_ptr<const LlamaModel> model, AttentionOptions opt)
    : m_(std::move(model)), opt_(std::move(opt)) {
  if (opt_.refreshInterval < 1)
    throw InvalidArgument("the mask refresh interval must be >= 1, got " +
                          std::to_string(opt_.refreshInterval));
  size_t L = size_t(m_->config().layers);
  k_.resize(L), v_.resize(L), masks_.resize(L);
}

std::vector<float> LlamaSession::feed(const std::vector<int32_t> &tokens) {
  const LlamaConfig &c = m_->config();
  int64_t T = int64_t(tokens.size());
  if (T == 0) throw InvalidArgument("LlamaSession::feed needs at least one token");
  std::vector<float> x = m_->embed(tokens);
  ScalarType dt = onGpu(opt_.backend) ? ScalarType::bf16 : ScalarType::f32;
  size_t es = elementSize(dt);
  float scale = 1.f / std::sqrt(float(c.headDim));
  int64_t Dp = c.paddedHeadDim, Tk = pos_ + T;
  // A decode step (one token after the prompt) reuses the mask between refreshes.
  bool decode = T == 1 && pos_ > 0, hip = opt_.method == AttentionMethod::HiP;
  bool reuse = hip && decode && steps_ % opt_.refreshInterval != 0;
  if (hip && decode) (reuse ? reuses_ : searches_) += 1;
  auto dsl = m_->dslWeights(opt_);
  m_->runLayers(x, T, pos_, [&](int64_t l, const std::vector<float> &q, const std::vector<float> &k,
                                const std::vector<float> &v) {
    std::vector<char> &kc = k_[size_t(l)], &vc = v_[size_t(l)];
    size_t row = size_t(c.kvHeads * Dp) * es;
    kc.resize(size_t(Tk) * row), vc.resize(size_t(Tk) * row);
    packHeads(k.data(), T, c.kvHeads, c.headDim, Dp, 1.f, dt, kc.data() + size_t(pos_) * row);
    packHeads(v.data(), T, c.kvHeads, c.headDim, Dp, 1.f, dt, vc.data() + size_t(pos_) * row);
    std::vector<char> qa(size_t(T * c.heads * Dp) * es);
    packHeads(q.data(), T, c.heads, c.headDim, Dp, scale, dt, qa.data());
    HiPAttentionOutputMetadata &mask = masks_[size_t(l)];
    bool r = reuse && mask.indices.defined() && mask.t_q == 1;
    return attend(opt_, c, T, Tk, dt, qa.data(), kc.data(), vc.data(), &mask, r);
  }, dsl.get());
  pos_ = Tk;
  if (decode) ++steps_;
  return m_->logits(x, T, T - 1, dsl.get());
}

// ---- Perplexity and sampling --------------------------------------------------------------

double PerplexityResult::ppl() const { return tokens ? std::exp(nll / double(tokens)) : NAN; }

PerplexityResult perplexity(const LlamaModel &m, const std::vector<int32_t> &tokens, int64_t ctx,
                            int64_t stride, int64_t maxWindows, const AttentionOptions &opt,
                            const std::function<void(const PerplexityResult &, int64_t)> &progress) {
  if (ctx < 2) throw InvalidArgument("the perplexity context must be at least 2 tokens, got " +
                                     std::to_string(ctx));
  if (stride < 1 || stride > ctx)
    throw InvalidArgument("the perplexity stride must be in [1, ctx], got " + std::to_string(stride));
  int64_t N = int64_t(tokens.size());
  if (N < 2) throw InvalidArgument("the text has fewer than 2 tokens");
  int64_t total = 0; // windows the loop below makes
  for (int64_t b = 0;; b += stride) {
    ++total;
    if (b + ctx >= N) break;
  }
  if (maxWindows > 0) total = std::min(total, maxWindows);
  PerplexityResult r;
  int64_t prevEnd = 0;
  for (int64_t b = 0; r.windows < total; b += stride) {
    int64_t e = std::min(b + ctx, N), len = e - b;
    // Score the tokens [max(prevEnd, b + 1), e): predicted from the logits one before.
    int64_t first = std::max(prevEnd, b + 1) - b;
    std::vector<int32_t> win(tokens.begin() + b, tokens.begin() + e);
    for (double d : m.tokenNll(win, opt, first)) r.nll += d; // in token order
    r.tokens += len - first;
    prevEnd = e;
    ++r.windows;
    if (progress) progress(r, total);
    if (e >= N) break;
  }
  return r;
}

int32_t pickToken(const std::vector<float> &logits, float temperature, double u, double topP) {
  if (logits.empty()) throw InvalidArgument("pickToken: no logits");
  if (temperature <= 0)
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  float mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += p[i] = std::exp(double(logits[i] - mx) / temperature);
  std::vector<int32_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  if (topP < 1) { // the most likely tokens whose mass reaches top_p, in that order
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[size_t(a)] > p[size_t(b)]; });
    double kept = 0;
    size_t n = 0;
    while (n < order.size() && (n == 0 || kept < topP * s)) kept += p[size_t(order[n++])];
    order.resize(n);
    s = kept;
  }
  double acc = 0, target = u * s;
  for (int32_t i : order)
    if ((acc += p[size_t(i)]) > target) return i;
  return order.back();
}

} // namespace hip::model
