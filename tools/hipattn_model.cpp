//===- tools/hipattn_model.cpp - `hipattn eval` and `hipattn generate` ----===//
//
// The model-side commands: perplexity of a GGUF Llama model over a text with
// dense, HiP or StreamingLLM attention; recall and output error of HiP's
// mask on the model's own Q/K/V; a layer's Q/K/V dumped as .npy for
// `hipattn run --input`; and text generation with HiP decode steps that
// reuse the mask between refreshes.
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/compiler/compiler.h"
#include "hip/env.h"
#include "hip/error.h"
#include "hip/kernels/hip_reference.h"
#include "hip/kernels/npy.h"
#include "hip/model/llama.h"
#include "hip/runtime/cuda.h"

#include "cli_common.h"
#include "model_cli.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>


namespace hip::tools {

extern const char *kEvalHelp, *kGenerateHelp;

const char *kEvalHelp = R"(usage: hipattn eval ppl|recall|dump-qkv --model F --text F --ctx N [options]

Evaluates a Llama-architecture GGUF model (f32, f16, bf16, q8_0, q4_0, q4_1
tensors; SentencePiece or GPT-2 BPE vocabulary) whose attention runs through
hip_attention / dense_attention. The text file is tokenized whole, with BOS
once at the start (when the vocabulary asks for it).

  eval ppl       perplexity over the text: windows of --ctx tokens every
                 --stride tokens (default: --ctx), each scoring the tokens
                 the previous window did not score (the first token is never
                 scored); progress on stderr
  eval recall    on the first window: per layer and head, the recall of
                 HiP's mask against the exact top-k key blocks (by the max
                 q.k over a query block's queries, on the last
                 --recall-blocks query blocks) and HiP's relative output
                 error against dense attention (Frobenius norm)
  eval dump-qkv  writes layer --layer's q.npy, k.npy, v.npy of the first
                 window to --out: f32 [1, ctx, H, D] and [1, ctx, H_kv, D],
                 rotated, q pre-scaled by 1/sqrt(head_dim), heads zero-padded
                 to the kernels' head dim (16 for head_dim 8); read them with
                 'hipattn run --input DIR'

options:
  --model F            GGUF file (architecture llama)
  --text F             UTF-8 text file (e.g. ../shared/data/wikitext-2/test.txt)
  --ctx N              window length in tokens
  --stride N           ppl: tokens between window starts (default --ctx)
  --max-windows N      ppl: stop after N windows (default: all)
  --method M           ppl: dense (default), hip or streaming (StreamingLLM:
                       sink + sliding window, no selected blocks, at the same
                       key budget as hip with the same options: the window
                       is --window + --mask-k)
  --backend B          cpu (default), cuda or auto; attention runs there (f32
                       on the CPU, bf16 on the GPU), and on cuda the linear
                       layers too (see --linears); norms, RoPE and SwiGLU on
                       the CPU
  --linears L          auto (default: the DSL matmul on cuda, host f32 loops
                       on cpu), host, or dsl (the DSL matmul kernel on the
                       backend, bf16 weights and activations, f32 accumulation)
  --layer L            dump-qkv: the layer (default 0)
  --out DIR            dump-qkv: output folder (created)
  --recall-blocks N    recall: query blocks per head, the last ones (default 8)
  --json               print one JSON object instead of text
HiP options (defaults: HIP_K etc., else the v1.1 defaults):
  --mask-k N (512) --block-size-q N (64) --block-stride-q N (2)
  --block-size-k N (2) --block-stride-k N (1) --sink N (16) --window N (256)
  --mask-pipeline FILE  the mask pipeline as JSON (see 'hipattn run --help'),
                       e.g. bench/head_shared.json
)";

const char *kGenerateHelp = R"(usage: hipattn generate --model F [--prompt TEXT] [options]

Generates text with a Llama-architecture GGUF model, printing tokens as they
come. The prompt (after BOS) is one prefill; every further token is a decode
step over the KV cache. With --method hip, decode steps reuse each layer's
mask and search it again every HIP_REFRESH_INTERVAL steps (default 8).

  --model F            GGUF file (architecture llama)
  --prompt TEXT        the prompt (default: empty, generation from BOS)
  --max-tokens N       tokens to generate (default 64); stops early at EOS
  --method M           dense (default), hip or streaming
  --temperature T      0 (default) = greedy; > 0 samples softmax(logits / T)
  --seed N             sampling seed (default 0)
  --refresh-interval N mask refresh period (default HIP_REFRESH_INTERVAL, 8)
  --backend B          cpu (default), cuda or auto
  --linears L          auto (default), host or dsl, as for 'hipattn eval'
  HiP options as for 'hipattn eval' (--mask-k, --block-size-q, ...)
)";

using namespace hip::model;

const std::vector<std::string> kHiPFlags = {"--mask-k", "--block-size-q", "--block-stride-q",
                                            "--block-size-k", "--block-stride-k", "--sink",
                                            "--window", "--mask-pipeline", "--backend", "--method",
                                            "--linears"};

Flags parseFlags(const std::vector<std::string> &args, std::vector<std::string> known) {
  known.insert(known.end(), kHiPFlags.begin(), kHiPFlags.end());
  Options parsed = parse(args, known, {"--json"});
  Flags o;
  o.json = parsed.flags.erase("--json") > 0;
  o.f = std::move(parsed.flags);
  o.positional = std::move(parsed.positional);
  return o;
}

AttentionOptions attentionOptions(const Flags &o) {
  AttentionOptions a;
  a.method = parseAttentionMethod(o.str("--method", "dense"));
  HiPAttentionArgs &h = a.hip;
  h = HiPAttentionArgs::fromEnvironment();
  applyHiPFlags(o.f, h);
  if (a.method == AttentionMethod::Streaming) h.sliding_window_size += h.mask_k;
  a.backend = backendFlag(o.f, "cpu");
  std::string lin = o.str("--linears", "auto");
  if (lin == "auto") a.linears = AttentionOptions::Linears::Auto;
  else if (lin == "host") a.linears = AttentionOptions::Linears::Host;
  else if (lin == "dsl") a.linears = AttentionOptions::Linears::DSL;
  else throw InvalidArgument("--linears must be auto, host or dsl, got '" + lin + "'");
  a.refreshInterval = o.num("--refresh-interval", envInt("HIP_REFRESH_INTERVAL", 8));
  if (a.refreshInterval < 1) throw InvalidArgument("--refresh-interval must be >= 1");
  return a;
}

std::string describe(const AttentionOptions &a) {
  char buf[256];
  const HiPAttentionArgs &h = a.hip;
  if (a.method == AttentionMethod::Dense) return "dense";
  if (a.method == AttentionMethod::Streaming) {
    std::snprintf(buf, sizeof buf, "streaming (sink %lld, window %lld)", (long long)h.sink_token_size,
                  (long long)h.sliding_window_size);
    return buf;
  }
  std::snprintf(buf, sizeof buf,
                "hip (mask_k %lld, block_size_q %lld, block_stride_q %lld, block_size_k %lld, "
                "block_stride_k %lld, sink %lld, window %lld)",
                (long long)h.mask_k, (long long)h.block_size_q, (long long)h.block_stride_q,
                (long long)h.block_size_k, (long long)h.block_stride_k,
                (long long)h.sink_token_size, (long long)h.sliding_window_size);
  if (!h.mask_pipeline.empty()) { // (compact: the file's JSON on one line, when it parses)
    nlohmann::json j = nlohmann::json::parse(h.mask_pipeline, nullptr, false);
    return std::string(buf) + ", mask pipeline " + (j.is_discarded() ? h.mask_pipeline : j.dump());
  }
  return buf;
}

namespace {

using namespace hip::model;


std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument("--text: cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string jsonString(const std::string &s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += c;
  }
  return o + "\"";
}

struct Loaded {
  std::shared_ptr<LlamaModel> model;
  std::vector<int32_t> tokens;
  double loadS = 0, tokenizeS = 0;
};

Loaded loadModelAndText(const Flags &o) {
  Loaded l;
  auto t0 = std::chrono::steady_clock::now();
  l.model = LlamaModel::load(o.need("--model"));
  l.loadS = seconds(t0);
  std::string text = readText(o.need("--text"));
  t0 = std::chrono::steady_clock::now();
  const Tokenizer &tok = l.model->tokenizer();
  l.tokens = tok.encode(text, tok.addBos());
  l.tokenizeS = seconds(t0);
  return l;
}

int64_t ctxFlag(const Flags &o, const Loaded &l) {
  int64_t ctx = o.num("--ctx", 0);
  if (ctx < 2) throw InvalidArgument("--ctx must be given and >= 2");
  if (ctx > int64_t(l.tokens.size()))
    throw InvalidArgument("--ctx " + std::to_string(ctx) + " is longer than the text's " +
                          std::to_string(l.tokens.size()) + " tokens");
  return ctx;
}

const char *backendName(const AttentionOptions &a) {
  return a.backend == ComputeBackend::CUDA ? "cuda" : "cpu";
}

/// Where the linear layers ran: "dsl" (the DSL matmul) or "host".
const char *linearsName(const AttentionOptions &a) { return dslLinears(a) ? "dsl" : "host"; }

int evalPpl(const Flags &o) {
  AttentionOptions a = attentionOptions(o);
  Loaded l = loadModelAndText(o);
  int64_t ctx = ctxFlag(o, l), stride = o.num("--stride", ctx), maxW = o.num("--max-windows", 0);
  const LlamaConfig &c = l.model->config();
  std::fprintf(stderr, "model %s: %lld layers, %lld heads (%lld KV), head dim %lld, vocab %lld; "
               "loaded in %.2f s; text: %zu tokens (tokenized in %.2f s)\n",
               o.str("--model").c_str(), (long long)c.layers, (long long)c.heads,
               (long long)c.kvHeads, (long long)c.headDim, (long long)c.vocab, l.loadS,
               l.tokens.size(), l.tokenizeS);
  if (c.contextLength && ctx > c.contextLength)
    std::fprintf(stderr, "warning: --ctx %lld is beyond the model's trained context %lld\n",
                 (long long)ctx, (long long)c.contextLength);
  bool tty = isatty(2);
  auto t0 = std::chrono::steady_clock::now();
  PerplexityResult r = perplexity(*l.model, l.tokens, ctx, stride, maxW, a, [&](const PerplexityResult &sofar, int64_t n) {
    int64_t i = sofar.windows;
    if (tty || i == n || i % std::max<int64_t>(1, n / 10) == 0)
      std::fprintf(stderr, "%swindow %lld/%lld (%.1f s): ppl %.4f over %lld tokens so far%s",
                   tty ? "\r" : "", (long long)i, (long long)n, seconds(t0), sofar.ppl(),
                   (long long)sofar.tokens, tty && i < n ? "" : "\n");
  });
  double s = seconds(t0);
  if (o.json) {
    const HiPAttentionArgs &h = a.hip;
    std::printf("{\"model\": %s, \"text\": %s, \"method\": \"%s\", \"backend\": \"%s\", "
                "\"linears\": \"%s\", \"ctx\": %lld, \"stride\": %lld, \"windows\": %lld, \"tokens\": %lld, "
                "\"nll\": %.6f, \"ppl\": %.6f, \"seconds\": %.3f",
                jsonString(o.str("--model")).c_str(), jsonString(o.str("--text")).c_str(),
                attentionMethodName(a.method), backendName(a), linearsName(a), (long long)ctx,
                (long long)stride, (long long)r.windows, (long long)r.tokens, r.nll, r.ppl(), s);
    if (a.method != AttentionMethod::Dense)
      std::printf(", \"mask_k\": %lld, \"block_size_q\": %lld, \"block_stride_q\": %lld, "
                  "\"block_size_k\": %lld, \"block_stride_k\": %lld, \"sink\": %lld, \"window\": %lld",
                  (long long)(a.method == AttentionMethod::HiP ? h.mask_k : 0),
                  (long long)h.block_size_q, (long long)h.block_stride_q, (long long)h.block_size_k,
                  (long long)h.block_stride_k, (long long)h.sink_token_size,
                  (long long)h.sliding_window_size);
    ForwardPhases p = l.model->phases();
    std::printf(", \"phases_s\": {\"linears\": %.3f, \"attention\": %.3f, \"norms\": %.3f, "
                "\"rope\": %.3f, \"activation\": %.3f, \"logits\": %.3f}}\n",
                p.linears, p.attention, p.norms, p.rope, p.activation, p.logits);
    return 0;
  }
  std::printf("perplexity %.4f  (%s; ctx %lld, stride %lld; %lld windows, %lld tokens scored, "
              "nll %.4f; %.2f s on %s, linear layers: %s)\n",
              r.ppl(), describe(a).c_str(), (long long)ctx, (long long)stride, (long long)r.windows,
              (long long)r.tokens, r.nll / double(std::max<int64_t>(1, r.tokens)), s, backendName(a),
              linearsName(a));
  return 0;
}

/// Per head of one layer: recall of HiP's mask against the exact top-K key
/// blocks (as `hipattn run` measures it) and relative output error.
struct HeadStat {
  double recall = NAN, relErr = 0;
};

std::vector<HeadStat> recallOfLayer(const TensorView &qv, const TensorView &kv, const TensorView &vv,
                                    const AttentionOptions &a, int64_t nBlocks) {
  HiPAttentionArgs h = a.hip;
  h.backend = a.backend;
  HiPAttentionOutput hip = hip_attention(qv, kv, vv, h);
  DenseAttentionArgs da;
  da.backend = a.backend;
  Tensor dense = dense_attention(qv, kv, vv, da);
  std::vector<float> q = toFloatVector(qv), k = toFloatVector(kv), x = hip.out.toFloat(),
                     y = dense.toFloat();
  int64_t T = qv.shape[1], H = qv.shape[2], D = qv.shape[3], Hkv = kv.shape[2];
  auto idx = hip.metadata.indices.toInt(), ks = hip.metadata.ks.toInt();
  int64_t nQB = hip.metadata.indices.shape()[1], cap = hip.metadata.indices.shape()[2];
  int64_t bq = hip.metadata.block_size_q, bk = hip.metadata.block_size_k, S = h.sink_token_size,
          W = h.sliding_window_size;
  std::vector<HeadStat> out(static_cast<size_t>(H));
  for (int64_t hd = 0; hd < H; ++hd) {
    double num = 0, den = 0;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) {
        size_t i = size_t((t * H + hd) * D + d);
        num += double(x[i] - y[i]) * (x[i] - y[i]), den += double(y[i]) * y[i];
      }
    out[size_t(hd)].relErr = den > 0 ? std::sqrt(num / den) : 0;
    int64_t hk = hd / (H / Hkv), hits = 0, total = 0;
    for (int64_t qb = std::max<int64_t>(0, nQB - nBlocks); qb < nQB; ++qb) {
      int64_t q0 = qb * bq;
      auto [h1, k1] = kernels::blockRecall(&q[size_t(hd * D)], H * D, &k[size_t(hk * D)], Hkv * D, D,
                                           q0, std::min(T, q0 + bq), 0, S, W, bk,
                                           &idx[size_t((hd * nQB + qb) * cap)],
                                           ks[size_t(hd * nQB + qb)]);
      hits += h1, total += k1;
    }
    if (total) out[size_t(hd)].recall = double(hits) / double(total);
  }
  return out;
}

std::string num(double x) {
  if (std::isnan(x)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", x);
  return b;
}

int evalRecall(const Flags &o) {
  AttentionOptions a = attentionOptions(o);
  a.method = AttentionMethod::HiP;
  Loaded l = loadModelAndText(o);
  int64_t ctx = ctxFlag(o, l), nBlocks = o.num("--recall-blocks", 8);
  std::vector<int32_t> win(l.tokens.begin(), l.tokens.begin() + ctx);
  std::vector<std::vector<HeadStat>> stats;
  AttentionOptions dense = a;
  dense.method = AttentionMethod::Dense;
  auto t0 = std::chrono::steady_clock::now();
  // The model runs densely; each layer's inputs are also given to HiP.
  l.model->forward(win, dense, ctx - 1, [&](int64_t layer, const TensorView &q, const TensorView &k,
                                            const TensorView &v) {
    stats.push_back(recallOfLayer(q, k, v, a, nBlocks));
    std::fprintf(stderr, "layer %lld done (%.1f s)\n", (long long)layer, seconds(t0));
  });
  if (o.json) {
    std::printf("{\"model\": %s, \"ctx\": %lld, \"hip\": %s, \"layers\": [",
                jsonString(o.str("--model")).c_str(), (long long)ctx, jsonString(describe(a)).c_str());
    for (size_t L = 0; L < stats.size(); ++L) {
      std::printf("%s{\"layer\": %zu, \"heads\": [", L ? ", " : "", L);
      for (size_t h = 0; h < stats[L].size(); ++h)
        std::printf("%s{\"head\": %zu, \"recall\": %s, \"rel_error\": %s}", h ? ", " : "", h,
                    num(stats[L][h].recall).c_str(), num(stats[L][h].relErr).c_str());
      std::printf("]}");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("%s, ctx %lld, first window; recall on the last %lld query blocks per head\n",
              describe(a).c_str(), (long long)ctx, (long long)nBlocks);
  std::printf("%-6s %-5s %8s %10s\n", "layer", "head", "recall", "rel_error");
  double rs = 0, es = 0;
  int64_t rn = 0, en = 0;
  for (size_t L = 0; L < stats.size(); ++L)
    for (size_t h = 0; h < stats[L].size(); ++h) {
      const HeadStat &s = stats[L][h];
      std::printf("%-6zu %-5zu %8s %10.2e\n", L, h,
                  std::isnan(s.recall) ? "-" : num(s.recall).c_str(), s.relErr);
      if (!std::isnan(s.recall)) rs += s.recall, ++rn;
      es += s.relErr, ++en;
    }
  std::printf("mean recall %s, mean relative error %.3e (- = every block fits the budget)\n",
              rn ? num(rs / double(rn)).c_str() : "-", en ? es / double(en) : 0.0);
  return 0;
}

int evalDump(const Flags &o) {
  AttentionOptions a = attentionOptions(o);
  a.method = AttentionMethod::Dense;
  Loaded l = loadModelAndText(o);
  int64_t ctx = ctxFlag(o, l), layer = o.num("--layer", 0);
  std::string dir = o.need("--out");
  if (layer < 0 || layer >= l.model->config().layers)
    throw InvalidArgument("--layer must be in [0, " + std::to_string(l.model->config().layers) + ")");
  std::filesystem::create_directories(dir);
  std::vector<int32_t> win(l.tokens.begin(), l.tokens.begin() + ctx);
  l.model->forward(win, a, ctx - 1, [&](int64_t L, const TensorView &q, const TensorView &k,
                                        const TensorView &v) {
    if (L != layer) return;
    for (auto [name, view] : {std::pair{"q", &q}, {"k", &k}, {"v", &v}}) {
      std::vector<float> data = toFloatVector(*view);
      kernels::NpyArray arr;
      arr.type = kernels::NpyType::f32;
      arr.shape = view->shape;
      arr.data.assign(reinterpret_cast<const char *>(data.data()),
                      reinterpret_cast<const char *>(data.data() + data.size()));
      kernels::writeNpy(dir + "/" + name + ".npy", arr);
    }
  });
  const LlamaConfig &c = l.model->config();
  std::printf("wrote %s/{q,k,v}.npy: layer %lld, q [1, %lld, %lld, %lld], k/v [1, %lld, %lld, %lld] "
              "f32 (q pre-scaled; head dim %lld padded to %lld)\n",
              dir.c_str(), (long long)layer, (long long)ctx, (long long)c.heads,
              (long long)c.paddedHeadDim, (long long)ctx, (long long)c.kvHeads,
              (long long)c.paddedHeadDim, (long long)c.headDim, (long long)c.paddedHeadDim);
  return 0;
}

} // namespace

int cmdEval(const std::vector<std::string> &args) {
  if (args.empty()) throw InvalidArgument("eval needs one of: ppl, recall, dump-qkv");
  std::string sub = args[0];
  Flags o = parseFlags({args.begin() + 1, args.end()},
                       {"--model", "--text", "--ctx", "--stride", "--max-windows", "--layer",
                        "--out", "--recall-blocks"});
  if (!o.positional.empty()) throw InvalidArgument("eval takes no positional arguments");
  if (sub == "ppl") return evalPpl(o);
  if (sub == "recall") return evalRecall(o);
  if (sub == "dump-qkv") return evalDump(o);
  throw InvalidArgument("unknown eval command '" + sub + "' (ppl, recall, dump-qkv)");
}

int cmdGenerate(const std::vector<std::string> &args) {
  Flags o = parseFlags(args, {"--model", "--prompt", "--max-tokens", "--temperature", "--seed",
                              "--refresh-interval"});
  if (!o.positional.empty()) throw InvalidArgument("generate takes no positional arguments");
  AttentionOptions a = attentionOptions(o);
  int64_t maxTokens = o.num("--max-tokens", 64);
  double temperature = o.real("--temperature", 0);
  if (maxTokens < 0 || temperature < 0)
    throw InvalidArgument("--max-tokens and --temperature must be >= 0");
  std::mt19937_64 rng(uint64_t(o.num("--seed", 0)));
  std::uniform_real_distribution<double> uni(0, 1);
  auto model = LlamaModel::load(o.need("--model"));
  const Tokenizer &tok = model->tokenizer();
  std::string prompt = o.str("--prompt");
  // BOS as the vocabulary asks (always for an empty prompt: something to start from).
  std::vector<int32_t> ids = tok.encode(prompt, tok.addBos() || prompt.empty());
  if (ids.empty()) throw InvalidArgument("the prompt is empty and the vocabulary has no BOS token");
  LlamaSession s(model, a);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits = s.feed(ids);
  double prefillS = seconds(t0);
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  int32_t prev = ids.back();
  int64_t n = 0;
  t0 = std::chrono::steady_clock::now();
  for (; n < maxTokens; ++n) {
    int32_t id = pickToken(logits, float(temperature), uni(rng));
    if (id == tok.eos()) break;
    std::string piece = tok.decodeToken(id, prev);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    prev = id;
    if (n + 1 < maxTokens) logits = s.feed({id});
  }
  double decodeS = seconds(t0);
  std::printf("\n");
  std::fflush(stdout);
  std::fprintf(stderr, "[%s on %s: prompt %zu tokens in %.3f s; %lld tokens in %.3f s (%.1f tok/s)",
               describe(a).c_str(), backendName(a), ids.size(), prefillS, (long long)n, decodeS,
               decodeS > 0 ? double(n) / decodeS : 0.0);
  if (a.method == AttentionMethod::HiP)
    std::fprintf(stderr, "; decode mask searches %lld, reuses %lld (refresh every %lld)",
                 (long long)s.maskSearches(), (long long)s.maskReuses(), (long long)a.refreshInterval);
  std::fprintf(stderr, "]\n");
  return 0;
}

} // namespace hip::tools
