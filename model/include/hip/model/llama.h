//===- hip/model/llama.h - A Llama-architecture model on hip_attention -*- C++ -*-===//
//
// The forward pass of a Llama-architecture GGUF model (RMSNorm, RoPE, GQA,
// SwiGLU, tied or untied output) whose attention calls the project's public
// API: hip::dense_attention, hip::hip_attention, or StreamingLLM (sink +
// sliding window, no selected blocks). Norms, RoPE and SwiGLU run in plain
// multithreaded C++ on the host in f32. Attention runs on the chosen backend,
// in f32 on the CPU and bf16 on the GPU. The linear layers run on the host in
// f32 (hip::rt::parallelFor over output rows) or, by default on the GPU,
// through the DSL's matmul kernel: weights uploaded once in bf16 (q|k|v and
// gate|up fused into one matrix each), activations rounded to bf16, f32
// accumulation and output.
//
// RoPE rotates adjacent pairs (2i, 2i+1) of the first rope.dimension_count
// elements of each head by pos * theta^(-2i/n_rot) (ggml's "normal" RoPE,
// which llama.cpp uses for the llama architecture). That is right for both
// kinds of Llama GGUF: files converted from Meta's original checkpoints
// (like stories260K, llama.tensor_data_layout = "Meta AI original pth") use
// adjacent pairs natively, and llama.cpp's converter permutes the Q and K
// rows of Hugging Face checkpoints (whose rotate-half pairs are (i, i+D/2))
// so that adjacent pairing is right for them too.
//
// Head dims the kernels do not support (stories260K has 8) are zero-padded
// to the next supported one (16, 32, 64, 128, 256): the scores q.k and the
// first D output columns are unchanged; the padding is dropped afterwards.
//
// StreamingLLM is hip_attention with a mask that selects no key block:
// `previous` metadata whose `ks` are all 0, so the block-sparse attention
// kernel attends exactly to the sink and the sliding window of each query
// block, with no mask search. This runs on every backend through the public
// API and gives the exact StreamingLLM mask.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/attention.h"
#include "hip/model/gguf.h"
#include "hip/model/tokenizer.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hip::model {

struct LlamaConfig {
  int64_t dim = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0, ffn = 0, vocab = 0;
  int64_t contextLength = 0;
  int64_t ropeDim = 0; // rotated elements of each head (rope.dimension_count)
  float ropeTheta = 10000.f, normEps = 1e-5f;
  /// The head dim given to the attention kernels (headDim padded up).
  int64_t paddedHeadDim = 0;
  /// From a GGUF file's llama.* metadata (InvalidArgument naming the file
  /// and the key for missing or inconsistent values, or an architecture
  /// other than "llama").
  static LlamaConfig fromGGUF(const GGUFFile &f);
};

enum class AttentionMethod { Dense, HiP, Streaming };
/// "dense", "hip", "streaming" (InvalidArgument otherwise).
AttentionMethod parseAttentionMethod(const std::string &s);
const char *attentionMethodName(AttentionMethod m);

struct AttentionOptions {
  AttentionMethod method = AttentionMethod::Dense;
  /// HiP's parameters (mask_k, block sizes, sink, window, mask pipeline);
  /// `streaming` uses its sink, window, block_size_q and block_size_k.
  HiPAttentionArgs hip;
  /// CPU (f32) or CUDA (bf16); Auto picks as hip_attention would.
  ComputeBackend backend = ComputeBackend::CPU;
  /// Decode steps between mask searches (HIP_REFRESH_INTERVAL, default 8).
  int64_t refreshInterval = 8;
  /// Where the linear layers (and the output projection) run: Auto = the DSL
  /// matmul on the CUDA backend, the host's f32 loops on the CPU; Host; or
  /// DSL (the DSL matmul on the attention's backend, bf16 inputs).
  enum class Linears { Auto, Host, DSL } linears = Linears::Auto;
};

/// Whether `opt` runs the linear layers through the DSL matmul (Auto: on the
/// CUDA backend).
bool dslLinears(const AttentionOptions &opt);

/// What a layer's attention saw: q (pre-scaled by 1/sqrt(headDim)) [1, T,
/// H, paddedHeadDim], k and v [1, T_k, H_kv, paddedHeadDim], in the
/// attention dtype on the host.
using AttentionHook = std::function<void(int64_t layer, const TensorView &q, const TensorView &k,
                                         const TensorView &v)>;

/// Wall-clock seconds spent in each part of the forward passes so far,
/// summed over calls: where a run's time goes (`hipattn eval ppl --json`
/// prints them as "phases_s").
struct ForwardPhases {
  double norms = 0, linears = 0, rope = 0, attention = 0, activation = 0, logits = 0;
};

class LlamaModel {
public:
  /// Loads the weights (dequantised to f32) and the tokenizer.
  static std::shared_ptr<LlamaModel> load(const std::string &path);
  static std::shared_ptr<LlamaModel> fromGGUF(const GGUFFile &f);

  const LlamaConfig &config() const { return cfg_; }
  const Tokenizer &tokenizer() const { return tok_; }
  const std::string &path() const { return path_; }
  /// Time per part of every forward pass of this model so far.
  ForwardPhases phases() const;

  /// Logits [T - firstLogit, vocab] of the tokens at positions 0..T-1 (one
  /// prefill; rows before firstLogit are not projected to the vocabulary).
  std::vector<float> forward(const std::vector<int32_t> &tokens, const AttentionOptions &opt,
                             int64_t firstLogit = 0, const AttentionHook &hook = {}) const;

  /// Negative log-likelihood (nats) of tokens[j], j in [first, T), given
  /// tokens[0..j) (one prefill). With the DSL linears the logits never leave
  /// the device: the token_nll kernel reduces each row there.
  std::vector<double> tokenNll(const std::vector<int32_t> &tokens, const AttentionOptions &opt,
                               int64_t first) const;

private:
  friend class LlamaSession;
  struct Layer {
    std::vector<float> attnNorm, wq, wk, wv, wo, ffnNorm, wGate, wUp, wDown;
  };
  LlamaConfig cfg_;
  Tokenizer tok_;
  std::string path_;
  std::vector<float> embed_, outNorm_, output_; // output_ empty: tied to embed_
  std::vector<Layer> layers_;
  /// The weights as the DSL matmul reads them, per backend, made on first use.
  struct DslWeights;
  mutable std::mutex dslMu_;
  mutable std::shared_ptr<DslWeights> dsl_[2]; // [CPU, CUDA]
  mutable std::mutex phasesMu_;
  mutable ForwardPhases phases_;
  /// The DSL weights for `opt` (nullptr: host linears).
  std::shared_ptr<DslWeights> dslWeights(const AttentionOptions &opt) const;
  void addPhases(const ForwardPhases &p) const;
  /// RMSNorm with the output norm's weights of rows [from, to) of x [T, dim].
  std::vector<float> outputNorm(const std::vector<float> &x, int64_t from, int64_t to) const;

  const std::vector<float> &outputWeight() const { return output_.empty() ? embed_ : output_; }
  /// Attention of one layer: (layer, q [T, H*D], k, v [T, H_kv*D], all
  /// rotated, unpadded) -> o [T, H*D].
  using AttentionFn = std::function<std::vector<float>(int64_t, const std::vector<float> &,
                                                       const std::vector<float> &,
                                                       const std::vector<float> &)>;
  /// Runs x [T, dim] (positions p0..p0+T-1) through every layer.
  void runLayers(std::vector<float> &x, int64_t T, int64_t p0, const AttentionFn &attention,
                 const DslWeights *dsl) const;
  /// x [T, dim] after every layer for `tokens` at positions 0..T-1.
  std::vector<float> prefill(const std::vector<int32_t> &tokens, const AttentionOptions &opt,
                             const AttentionHook &hook, const DslWeights *dsl) const;
  /// Logits of rows [first, T) of x.
  std::vector<float> logits(std::vector<float> &x, int64_t T, int64_t first,
                            const DslWeights *dsl) const;
  std::vector<float> embed(const std::vector<int32_t> &tokens) const;
};

/// Incremental decoding with a KV cache (the cache holds the attention
/// inputs: rotated, padded keys and values in the attention dtype). HiP
/// decode steps reuse each layer's mask and search it again every
/// `refreshInterval` steps.
class LlamaSession {
public:
  LlamaSession(std::shared_ptr<const LlamaModel> model, AttentionOptions opt);
  /// Feeds tokens (a prompt: one prefill; one token: a decode step) and
  /// returns the logits [vocab] after the last one.
  std::vector<float> feed(const std::vector<int32_t> &tokens);
  int64_t position() const { return pos_; }
  /// Mask searches and reuses so far (HiP decode steps).
  int64_t maskSearches() const { return searches_; }
  int64_t maskReuses() const { return reuses_; }

private:
  std::shared_ptr<const LlamaModel> m_;
  AttentionOptions opt_;
  int64_t pos_ = 0, steps_ = 0, searches_ = 0, reuses_ = 0;
  std::vector<std::vector<char>> k_, v_; // per layer [pos, H_kv, Dp]
  std::vector<HiPAttentionOutputMetadata> masks_;
};

/// Perplexity over `tokens` with windows of `ctx` tokens every `stride`
/// tokens, each scoring the tokens the previous window did not (the
/// strided-perplexity rule of Hugging Face's guide; the first token is never
/// scored). `maxWindows` > 0 stops early. `progress` is called after each
/// window with the result so far and the number of windows in all.
struct PerplexityResult {
  double nll = 0; // summed negative log-likelihood (nats)
  int64_t tokens = 0, windows = 0;
  double ppl() const;
};
PerplexityResult perplexity(const LlamaModel &m, const std::vector<int32_t> &tokens, int64_t ctx,
                            int64_t stride, int64_t maxWindows, const AttentionOptions &opt,
                            const std::function<void(const PerplexityResult &, int64_t)> &progress = {});

/// The index of the largest logit (ties: the first), or a sample from
/// softmax(logits / temperature) drawn with `u` uniform in [0, 1); with
/// `topP` < 1 from the smallest set of most likely tokens whose probability
/// reaches topP (nucleus sampling).
int32_t pickToken(const std::vector<float> &logits, float temperature, double u, double topP = 1);

} // namespace hip::model
