//===- tests/model_test.cpp - GGUF reader, tokenizers, Llama model ---------===//
//
// The GGUF reader on small files written here (versions 1, 2, 3; every
// metadata type; f32, f16, bf16, q8_0, q4_0, q4_1 tensors with known values)
// and on bad files; both tokenizers; and the real stories260K model
// ($HIP_DATA_DIR, default ../shared/data; skipped when absent): its config,
// tokenizer round trips, its greedy sample, decode against prefill, and
// perplexity equal between dense and HiP/StreamingLLM attention when their
// masks cover the window.
//
//===----------------------------------------------------------------------===//
#include "hip/error.h"
#include "hip/model/gguf.h"
#include "hip/model/llama.h"
#include "hip/model/tokenizer.h"
#include "hip/runtime/cuda.h"
#include "skip_without_gpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace hip::model;
namespace fs = std::filesystem;

namespace {

/// Writes GGUF files byte by byte, independently of the reader.
struct GGUFBuilder {
  uint32_t version = 3;
  uint64_t alignment = 32;
  std::string kv;
  uint64_t nKV = 0;
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::string data;
  };
  std::vector<T> tensors;

  template <class V> static void put(std::string &o, V v) {
    o.append(reinterpret_cast<const char *>(&v), sizeof v);
  }
  void size(std::string &o, uint64_t n) const {
    if (version == 1) put<uint32_t>(o, uint32_t(n));
    else put<uint64_t>(o, n);
  }
  void str(std::string &o, const std::string &s) const {
    size(o, s.size());
    o += s;
  }
  template <class V> void scalar(const std::string &key, uint32_t type, V v) {
    str(kv, key), put<uint32_t>(kv, type), put<V>(kv, v), ++nKV;
  }
  void string(const std::string &key, const std::string &v) {
    str(kv, key), put<uint32_t>(kv, 8), str(kv, v), ++nKV;
  }
  void strings(const std::string &key, const std::vector<std::string> &v) {
    str(kv, key), put<uint32_t>(kv, 9), put<uint32_t>(kv, 8), size(kv, v.size());
    for (auto &s : v) str(kv, s);
    ++nKV;
  }
  template <class V> void array(const std::string &key, uint32_t type, const std::vector<V> &v) {
    str(kv, key), put<uint32_t>(kv, 9), put<uint32_t>(kv, type), size(kv, v.size());
    for (auto x : v) put<V>(kv, x);
    ++nKV;
  }
  void tensor(const std::string &name, std::vector<uint64_t> ne, uint32_t type, std::string data) {
    tensors.push_back({name, std::move(ne), type, std::move(data)});
  }
  std::string bytes() const {
    std::string o = "GGUF";
    put<uint32_t>(o, version);
    size(o, tensors.size());
    size(o, nKV);
    o += kv;
    uint64_t off = 0;
    for (auto &t : tensors) {
      str(o, t.name);
      put<uint32_t>(o, uint32_t(t.ne.size()));
      for (auto n : t.ne) size(o, n);
      put<uint32_t>(o, t.type);
      put<uint64_t>(o, off);
      off = (off + t.data.size() + alignment - 1) / alignment * alignment;
    }
    o.resize((o.size() + alignment - 1) / alignment * alignment, '\0');
    for (auto &t : tensors) {
      o += t.data;
      o.resize((o.size() + alignment - 1) / alignment * alignment, '\0');
    }
    return o;
  }
};

fs::path tempDir() { return fs::temp_directory_path() / ("hip_model_test_" + std::to_string(::getpid())); }

/// Removes the files the tests wrote after the last test.
struct TempDirCleanup : ::testing::Environment {
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tempDir(), ec);
  }
};
[[maybe_unused]] ::testing::Environment *const tempDirCleanup =
    ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::string tempPath(const std::string &name) {
  fs::create_directories(tempDir());
  return (tempDir() / name).string();
}

std::string writeFile(const std::string &name, const std::string &bytes) {
  std::string p = tempPath(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

template <class V> std::string raw(const std::vector<V> &v) {
  return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(V));
}

/// The quantised test tensors: 32 elements each, with values known exactly.
struct QuantCase {
  const char *name;
  uint32_t type;
  std::string data;
  std::vector<float> expect;
};
std::vector<QuantCase> quantCases() {
  std::vector<QuantCase> cs;
  { // f32
    std::vector<float> v(32);
    for (int i = 0; i < 32; ++i) v[size_t(i)] = 0.25f * float(i) - 3.f;
    cs.push_back({"t_f32", 0, raw(v), v});
  }
  { // f16: 1.5 (0x3e00), -2 (0xc000), 0.0625 (0x2c00), repeated
    std::vector<uint16_t> h;
    std::vector<float> e;
    for (int i = 0; i < 32; ++i) {
      uint16_t bits[] = {0x3e00, 0xc000, 0x2c00};
      float vals[] = {1.5f, -2.f, 0.0625f};
      h.push_back(bits[i % 3]), e.push_back(vals[i % 3]);
    }
    cs.push_back({"t_f16", 1, raw(h), e});
  }
  { // bf16: 1 (0x3f80), -0.5 (0xbf00)
    std::vector<uint16_t> h;
    std::vector<float> e;
    for (int i = 0; i < 32; ++i) h.push_back(i % 2 ? 0xbf00 : 0x3f80), e.push_back(i % 2 ? -0.5f : 1.f);
    cs.push_back({"t_bf16", 30, raw(h), e});
  }
  { // q8_0: d = 0.5 (f16 0x3800), q = i - 16
    std::string b;
    GGUFBuilder::put<uint16_t>(b, 0x3800);
    std::vector<float> e;
    for (int i = 0; i < 32; ++i) b += char(int8_t(i - 16)), e.push_back(0.5f * float(i - 16));
    cs.push_back({"t_q8_0", 8, b, e});
  }
  { // q4_0: d = 0.25 (0x3400); byte j: low nibble j (element j), high 15 - j (element 16 + j)
    std::string b;
    GGUFBuilder::put<uint16_t>(b, 0x3400);
    std::vector<float> e(32);
    for (int j = 0; j < 16; ++j) {
      b += char(uint8_t(j | ((15 - j) << 4)));
      e[size_t(j)] = 0.25f * float(j - 8), e[size_t(16 + j)] = 0.25f * float(15 - j - 8);
    }
    cs.push_back({"t_q4_0", 2, b, e});
  }
  { // q4_1: d = 0.5 (0x3800), m = -1 (0xbc00); x = q * d + m
    std::string b;
    GGUFBuilder::put<uint16_t>(b, 0x3800);
    GGUFBuilder::put<uint16_t>(b, 0xbc00);
    std::vector<float> e(32);
    for (int j = 0; j < 16; ++j) {
      int lo = (j * 7) % 16, hi = (j * 3 + 1) % 16;
      b += char(uint8_t(lo | (hi << 4)));
      e[size_t(j)] = 0.5f * float(lo) - 1.f, e[size_t(16 + j)] = 0.5f * float(hi) - 1.f;
    }
    cs.push_back({"t_q4_1", 3, b, e});
  }
  return cs;
}

GGUFBuilder fullFile(uint32_t version) {
  GGUFBuilder g;
  g.version = version;
  g.string("general.architecture", "llama");
  g.scalar<uint8_t>("k.u8", 0, 200);
  g.scalar<int8_t>("k.i8", 1, -100);
  g.scalar<uint16_t>("k.u16", 2, 60000);
  g.scalar<int16_t>("k.i16", 3, -30000);
  g.scalar<uint32_t>("k.u32", 4, 4000000000u);
  g.scalar<int32_t>("k.i32", 5, -2000000000);
  g.scalar<float>("k.f32", 6, 0.375f);
  g.scalar<uint8_t>("k.bool", 7, 1);
  g.scalar<uint64_t>("k.u64", 10, 1ull << 40);
  g.scalar<int64_t>("k.i64", 11, -(1ll << 40));
  g.scalar<double>("k.f64", 12, -2.5);
  g.strings("k.strings", {"a", "", "▁héllo"});
  g.array<int32_t>("k.i32s", 5, {3, -4, 5});
  g.array<float>("k.f32s", 6, {0.5f, -1.5f});
  for (auto &c : quantCases()) g.tensor(c.name, {32}, c.type, c.data);
  // A 2-D tensor: ne = {3, 2}, rows of 3.
  g.tensor("t_matrix", {3, 2}, 0, raw(std::vector<float>{1, 2, 3, 4, 5, 6}));
  return g;
}

std::string dataDir() {
  const char *e = std::getenv("HIP_DATA_DIR");
  return e && *e ? e : HIP_SOURCE_DIR "/../shared/data";
}

std::string storiesPath() { return dataDir() + "/models/stories260k-f32.gguf"; }

#define REQUIRE_STORIES()                                                                          \
  if (!fs::exists(storiesPath()))                                                                  \
  GTEST_SKIP() << "stories260K not found at " << storiesPath()                                     \
               << " (set HIP_DATA_DIR to the folder holding models/stories260k-f32.gguf)"

std::shared_ptr<LlamaModel> stories() {
  static std::shared_ptr<LlamaModel> m = LlamaModel::load(storiesPath());
  return m;
}

/// `fn` throws InvalidArgument whose message contains every one of `parts`.
template <class F> void expectInvalid(F fn, std::vector<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const hip::InvalidArgument &e) {
    for (auto &p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

} // namespace

// ---- GGUF reader ----------------------------------------------------------------------------

TEST(GGUF, EveryVersionTypeAndTensor) {
  for (uint32_t version : {1u, 2u, 3u}) {
    SCOPED_TRACE("GGUF version " + std::to_string(version));
    std::string p = writeFile("v" + std::to_string(version) + ".gguf", fullFile(version).bytes());
    GGUFFile f = GGUFFile::read(p);
    EXPECT_EQ(f.version, version);
    EXPECT_EQ(f.alignment, 32u);
    EXPECT_EQ(f.get("general.architecture").asString(), "llama");
    EXPECT_EQ(f.get("k.u8").asInt(), 200);
    EXPECT_EQ(f.get("k.i8").asInt(), -100);
    EXPECT_EQ(f.get("k.u16").asInt(), 60000);
    EXPECT_EQ(f.get("k.i16").asInt(), -30000);
    EXPECT_EQ(f.get("k.u32").asInt(), 4000000000ll);
    EXPECT_EQ(f.get("k.i32").asInt(), -2000000000);
    EXPECT_EQ(f.get("k.f32").asFloat(), 0.375);
    EXPECT_EQ(f.get("k.bool").type, GGUFType::boolean);
    EXPECT_EQ(f.get("k.bool").asInt(), 1);
    EXPECT_EQ(f.get("k.u64").asInt(), 1ll << 40);
    EXPECT_EQ(f.get("k.i64").asInt(), -(1ll << 40));
    EXPECT_EQ(f.get("k.f64").asFloat(), -2.5);
    EXPECT_EQ(f.get("k.strings").asStrings(), (std::vector<std::string>{"a", "", "▁héllo"}));
    EXPECT_EQ(f.get("k.i32s").asInts(), (std::vector<int64_t>{3, -4, 5}));
    EXPECT_EQ(f.get("k.f32s").asFloats(), (std::vector<double>{0.5, -1.5}));
    EXPECT_THROW(f.get("k.strings").asInt("k.strings"), hip::InvalidArgument);
    expectInvalid([&] { f.get("no.such.key"); }, {p, "no.such.key"});
    for (auto &c : quantCases()) {
      SCOPED_TRACE(c.name);
      const GGUFTensor &t = f.tensor(c.name);
      EXPECT_EQ(t.type, c.type);
      EXPECT_EQ(t.shape, std::vector<int64_t>{32});
      EXPECT_EQ(t.data, c.expect);
    }
    const GGUFTensor &m = f.tensor("t_matrix");
    EXPECT_EQ(m.shape, (std::vector<int64_t>{3, 2}));
    EXPECT_EQ(m.data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  }
}

TEST(GGUF, CustomAlignmentAndMetadataOnly) {
  GGUFBuilder g = fullFile(3);
  g.alignment = 64;
  g.scalar<uint32_t>("general.alignment", 4, 64);
  std::string p = writeFile("align64.gguf", g.bytes());
  GGUFFile f = GGUFFile::read(p);
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ(f.tensor("t_q4_1").data, quantCases()[5].expect);
  GGUFFile h = GGUFFile::read(p, false);
  EXPECT_EQ(h.tensors.size(), f.tensors.size());
  EXPECT_TRUE(h.tensor("t_f32").data.empty());
}

TEST(GGUF, BadFilesAreRejectedWithClearErrors) {
  std::string text = writeFile("not.gguf", "this is a text file, not a model\n");
  expectInvalid([&] { GGUFFile::read(text); }, {text, "not a GGUF file"});
  std::string empty = writeFile("empty.gguf", "");
  expectInvalid([&] { GGUFFile::read(empty); }, {empty, "not a GGUF file"});

  std::string full = fullFile(2).bytes();
  GGUFBuilder v9 = fullFile(3);
  v9.version = 9;
  std::string ver = writeFile("v9.gguf", v9.bytes());
  expectInvalid([&] { GGUFFile::read(ver); }, {ver, "unsupported GGUF version 9"});
  // Cut in the metadata, in the tensor infos, and in the tensor data.
  for (size_t cut : {size_t(40), full.size() / 3, full.size() - 10}) {
    std::string p = writeFile("cut" + std::to_string(cut) + ".gguf", full.substr(0, cut));
    expectInvalid([&] { GGUFFile::read(p); }, {p, "truncated"});
  }
  GGUFBuilder q6;
  q6.string("general.architecture", "llama");
  q6.tensor("blk.0.attn_q.weight", {256}, 14, std::string(210, '\0'));
  std::string qp = writeFile("q6k.gguf", q6.bytes());
  expectInvalid([&] { GGUFFile::read(qp); }, {qp, "blk.0.attn_q.weight", "unsupported type q6_K"});

  GGUFBuilder arch;
  arch.string("general.architecture", "gpt2");
  std::string ap = writeFile("gpt2.gguf", arch.bytes());
  expectInvalid([&] { LlamaModel::load(ap); }, {ap, "unsupported architecture 'gpt2'", "llama"});
  EXPECT_THROW(GGUFFile::read(tempPath("does-not-exist.gguf")), hip::RuntimeError);
}

// ---- Tokenizers -----------------------------------------------------------------------------

TEST(Tokenizer, GPT2ByteLevelBPE) {
  // The 256 byte symbols, then merges: "l l", "ll o", "Ġ w", "Ġw o".
  GGUFBuilder g;
  g.string("tokenizer.ggml.model", "gpt2");
  std::vector<std::string> toks;
  auto sym = [](int b) { // GPT-2's bytes_to_unicode
    int n = 0;
    for (int x = 0; x < 256; ++x) {
      bool pr = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
      int cp = pr ? x : 256 + n++;
      if (x == b) {
        std::string s;
        if (cp < 0x80) s += char(cp);
        else s += char(0xc0 | (cp >> 6)), s += char(0x80 | (cp & 0x3f));
        return s;
      }
    }
    return std::string();
  };
  for (int b = 0; b < 256; ++b) toks.push_back(sym(b));
  for (const char *t : {"ll", "llo", "Ġw", "Ġwo", "<|endoftext|>"}) toks.push_back(t);
  g.strings("tokenizer.ggml.tokens", toks);
  g.strings("tokenizer.ggml.merges", {"l l", "ll o", "Ġ w", "Ġw o"});
  g.scalar<uint32_t>("tokenizer.ggml.bos_token_id", 4, 260);
  g.scalar<uint32_t>("tokenizer.ggml.eos_token_id", 4, 260);
  Tokenizer t = Tokenizer::fromGGUF(GGUFFile::read(writeFile("gpt2tok.gguf", g.bytes())));
  EXPECT_EQ(t.kind(), Tokenizer::Kind::BytePairGPT2);
  EXPECT_FALSE(t.addBos());
  std::vector<int32_t> ids = t.encode("hello world", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{'h', 'e', 257, 259, 'r', 'l', 'd'}));
  EXPECT_EQ(t.encode("hi", true), (std::vector<int32_t>{260, 'h', 'i'}));
  for (const std::string &s : std::vector<std::string>{"hello world", "  two  spaces\n\nnewlines\ttabs", "it's 2024, naïve café ☕!",
                        std::string("\x01\xff bytes")})
    EXPECT_EQ(t.decode(t.encode(s, true)), s);
}

TEST(Tokenizer, Stories260KRoundTrips) {
  REQUIRE_STORIES();
  const Tokenizer &t = stories()->tokenizer();
  EXPECT_EQ(t.kind(), Tokenizer::Kind::SentencePiece);
  EXPECT_EQ(t.vocabSize(), 512);
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
  for (const std::string &s : std::vector<std::string>{"Once upon a time, there was a little girl named Lily.",
                        "She said: \"Hello!\" 123 times,\n\tthen left.", "héllo wörld ☕ 日本",
                        "  leading and trailing spaces  "}) {
    std::vector<int32_t> ids = t.encode(s, true);
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(t.decode(ids), s);
    EXPECT_EQ(t.decode(t.encode(s, false), true), s);
  }
  // Merged pieces: fewer tokens than characters; byte fallback for the rest.
  EXPECT_LT(t.encode("Once upon a time", false).size(), 10u);
  std::vector<int32_t> ja = t.encode("日", false); // "▁" and three <0xXX> byte tokens
  ASSERT_EQ(ja.size(), 4u);
  EXPECT_EQ(t.piece(ja[1]), "<0xE6>");
}

// ---- The stories260K model ------------------------------------------------------------------

TEST(Llama, Stories260KConfig) {
  REQUIRE_STORIES();
  const LlamaConfig &c = stories()->config();
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.layers, 5);
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.kvHeads, 4);
  EXPECT_EQ(c.headDim, 8);
  EXPECT_EQ(c.paddedHeadDim, 16);
  EXPECT_EQ(c.ffn, 172);
  EXPECT_EQ(c.vocab, 512);
  EXPECT_EQ(c.contextLength, 512);
  EXPECT_FLOAT_EQ(c.ropeTheta, 10000.f);
  EXPECT_FLOAT_EQ(c.normEps, 1e-5f);
}

TEST(Llama, Stories260KGreedySample) {
  REQUIRE_STORIES();
  auto m = stories();
  AttentionOptions opt; // dense, CPU
  LlamaSession s(m, opt);
  std::vector<int32_t> out = {m->tokenizer().bos()};
  std::vector<float> logits = s.feed(out);
  for (int i = 0; i < 32; ++i) {
    out.push_back(pickToken(logits, 0.f, 0));
    logits = s.feed({out.back()});
  }
  std::string text = m->tokenizer().decode(out);
  const std::string want =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
  EXPECT_EQ(text.substr(0, want.size()), want) << text;
}

TEST(Llama, DecodeMatchesPrefill) {
  REQUIRE_STORIES();
  auto m = stories();
  std::vector<int32_t> ids = m->tokenizer().encode("Once upon a time, there was a cat.", true);
  AttentionOptions opt;
  std::vector<float> full = m->forward(ids, opt, int64_t(ids.size()) - 1);
  LlamaSession s(m, opt);
  s.feed(std::vector<int32_t>(ids.begin(), ids.end() - 3));
  std::vector<float> last;
  for (size_t i = ids.size() - 3; i < ids.size(); ++i) last = s.feed({ids[i]});
  ASSERT_EQ(last.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(last[i], full[i], 1e-3) << i;
}

/// Logits of the DSL-matmul linear layers against the host's f32 loops on
/// the same prompt: bf16 weights and activations, so close but not equal.
void expectDslLinearsMatchHost(hip::ComputeBackend backend) {
  auto m = stories();
  std::vector<int32_t> ids =
      m->tokenizer().encode("Once upon a time, there was a little dog named Max. He liked to run.", true);
  int64_t T = int64_t(ids.size()), V = m->config().vocab;
  AttentionOptions host; // dense attention in f32 on the CPU, host linears
  host.linears = AttentionOptions::Linears::Host;
  AttentionOptions dsl;
  dsl.backend = backend;
  dsl.linears = AttentionOptions::Linears::DSL;
  std::vector<float> a = m->forward(ids, host), b = m->forward(ids, dsl);
  ASSERT_EQ(a.size(), size_t(T * V));
  ASSERT_EQ(b.size(), a.size());
  double maxAbs = 0, maxDiff = 0, sumDiff = 0;
  int64_t argmaxAgree = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float *ra = &a[size_t(t * V)], *rb = &b[size_t(t * V)];
    for (int64_t v = 0; v < V; ++v) {
      ASSERT_TRUE(std::isfinite(rb[v])) << t << "," << v;
      double d = std::fabs(double(ra[v]) - rb[v]);
      maxAbs = std::max(maxAbs, std::fabs(double(ra[v]))), maxDiff = std::max(maxDiff, d);
      sumDiff += d;
    }
    argmaxAgree += std::max_element(ra, ra + V) - ra == std::max_element(rb, rb + V) - rb;
  }
  EXPECT_GT(maxDiff, 0.0); // bf16 rounding happened: the DSL path really ran
  EXPECT_LT(maxDiff, 0.02 * maxAbs) << "max |diff| " << maxDiff << " of logits up to " << maxAbs;
  EXPECT_LT(sumDiff / double(T * V), 0.01 * maxAbs);
  EXPECT_GE(argmaxAgree, T - 2) << "of " << T;
  // Perplexity over the prompt agrees within 1 %.
  double pa = perplexity(*m, ids, T, T, 1, host).ppl(), pb = perplexity(*m, ids, T, T, 1, dsl).ppl();
  EXPECT_NEAR(pb, pa, 0.01 * pa);
}

TEST(Llama, DslLinearsMatchHostLinearsOnTheCpu) {
  REQUIRE_STORIES();
  expectDslLinearsMatchHost(hip::ComputeBackend::CPU);
}

TEST(Llama, DslLinearsMatchHostLinearsOnTheGpu) {
  REQUIRE_STORIES();
  HIP_SKIP_WITHOUT_GPU();
  expectDslLinearsMatchHost(hip::ComputeBackend::CUDA);
}

TEST(Llama, PerplexityDenseEqualsHiPWhenTheMaskCoversTheWindow) {
  REQUIRE_STORIES();
  auto m = stories();
  std::string text = "Once upon a time, there was a little dog named Max. Max liked to run in the "
                     "park with his friend Tom. One day, they found a big red ball under a tree.";
  std::vector<int32_t> ids = m->tokenizer().encode(text, true);
  ASSERT_GE(ids.size(), 40u);
  int64_t ctx = 32;
  AttentionOptions dense;
  PerplexityResult d = perplexity(*m, ids, ctx, ctx, 1, dense);
  EXPECT_EQ(d.windows, 1);
  EXPECT_EQ(d.tokens, ctx - 1);
  EXPECT_GT(d.ppl(), 1.0);
  EXPECT_LT(d.ppl(), 30.0); // a model of stories predicts a story

  AttentionOptions hip;
  hip.method = AttentionMethod::HiP;
  hip.hip.mask_k = 32; // every key of the window
  hip.hip.block_size_q = 16;
  hip.hip.block_size_k = 2;
  hip.hip.sink_token_size = 0;
  hip.hip.sliding_window_size = 0;
  PerplexityResult h = perplexity(*m, ids, ctx, ctx, 1, hip);
  EXPECT_EQ(h.tokens, d.tokens);
  EXPECT_NEAR(h.ppl(), d.ppl(), 1e-4 * d.ppl());

  AttentionOptions st = hip; // sink + window covering the window: dense again
  st.method = AttentionMethod::Streaming;
  st.hip.sink_token_size = 4;
  st.hip.sliding_window_size = 32;
  EXPECT_NEAR(perplexity(*m, ids, ctx, ctx, 1, st).ppl(), d.ppl(), 1e-4 * d.ppl());
  st.hip.sliding_window_size = 4; // a real restriction costs quality
  EXPECT_GT(perplexity(*m, ids, ctx, ctx, 1, st).ppl(), d.ppl());
}

TEST(Llama, PerplexityStridedWindowsScoreEveryTokenOnce) {
  REQUIRE_STORIES();
  auto m = stories();
  std::vector<int32_t> ids =
      m->tokenizer().encode("Lily and Ben went to the beach. They made a sand castle and swam.", true);
  int64_t n = int64_t(ids.size());
  AttentionOptions opt;
  PerplexityResult a = perplexity(*m, ids, 16, 8, 0, opt);
  EXPECT_EQ(a.tokens, n - 1);
  PerplexityResult b = perplexity(*m, ids, n, n, 0, opt);
  EXPECT_EQ(b.windows, 1);
  EXPECT_EQ(b.tokens, n - 1);
  EXPECT_GT(a.ppl(), b.ppl() * 0.95); // shorter context: not much better
  expectInvalid([&] { perplexity(*m, ids, 16, 32, 0, opt); }, {"stride"});
}
