//===- tests/autotune_test.cpp - The tuner and its persistent cache -------===//
//
// With a controlled timing source: the fastest valid candidate wins; one
// that fails to compile or gives wrong output never does; with
// HIP_DISABLE_AUTOTUNE=1 nothing is timed. The cache: round trip, nearest
// bucket, corrupt file and schema mismatch moved aside, two processes
// writing at once, keys that differ by GPU, export/import. And the tuner
// inside hip_attention on the CPU backend.
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/autotune/autotune.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/mask_stage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace hip;
using namespace hip::autotune;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("hip-autotune-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string &name) const { return (path_ / name).string(); }
  std::string dir() const { return path_.string(); }

private:
  fs::path path_;
  static inline int counter = 0;
};

class EnvVar {
public:
  EnvVar(const char *name, const char *value) : name_(name) {
    const char *old = std::getenv(name);
    if (old) old_ = old;
    had_ = old != nullptr;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~EnvVar() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }

private:
  const char *name_;
  std::string old_;
  bool had_;
};

Key key(int64_t T, const std::string &gpu = "gpu-A") {
  return {"vector_add", "v1", gpu, {{"D", 128}}, Key::pow2Bucket({{"T", T}})};
}

/// Four candidates BLOCK=1..4 with controlled times; BLOCK=1 fails to
/// compile, BLOCK=2 is fastest but wrong, BLOCK=3 is the fastest valid.
Request request(const Key &k, std::vector<std::string> *log) {
  kernels::registerExampleKernels();
  Request r;
  r.def = &dsl::findKernel("vector_add");
  r.defaults = dsl::Config{{"BLOCK", 4}};
  for (int64_t b : {1, 2, 3, 4}) r.candidates.push_back(dsl::Config{{"BLOCK", b}});
  r.key = k;
  r.compile = [](const dsl::Config &c) {
    if (c["BLOCK"] == 1) throw CompileError("does not fit");
  };
  r.check = [](const dsl::Config &c) { return c["BLOCK"] == 2 ? std::string("differs") : ""; };
  r.time = [log](const dsl::Config &c) {
    if (log) log->push_back(c.str());
    return std::map<int64_t, double>{{1, 0.1}, {2, 0.2}, {3, 0.5}, {4, 0.9}}.at(c["BLOCK"]);
  };
  return r;
}

TEST(Autotune, PicksTheFastestValidCandidate) {
  std::vector<std::string> timed;
  Entry e = tune(request(key(1000), &timed));
  EXPECT_EQ(e.config["BLOCK"], 3);
  ASSERT_EQ(e.candidates.size(), 4u);
  EXPECT_NE(e.candidates[0].status.find("compile error: does not fit"), std::string::npos);
  EXPECT_NE(e.candidates[1].status.find("wrong output: differs"), std::string::npos);
  EXPECT_EQ(e.candidates[2].status, "ok");
  EXPECT_DOUBLE_EQ(e.candidates[3].ms, 0.9);
  EXPECT_EQ(timed, (std::vector<std::string>{"BLOCK=3", "BLOCK=4"})); // never the broken ones
}

TEST(Autotune, NoValidCandidateIsAnError) {
  Request r = request(key(1000), nullptr);
  r.check = [](const dsl::Config &) { return std::string("always wrong"); };
  EXPECT_THROW(tune(r), RuntimeError);
}

TEST(Autotune, SelectTunesOnceThenUsesTheCache) {
  TempDir d;
  Cache cache(d.file("autotune.json"));
  clearMemo();
  std::vector<std::string> timed;
  EnvVar on("HIP_DISABLE_AUTOTUNE", nullptr);
  Selection s = select(request(key(1000), &timed), cache);
  EXPECT_EQ(s.source, "tuned");
  EXPECT_EQ(s.config["BLOCK"], 3);
  size_t n = timed.size();
  clearMemo(); // as a new process would
  Selection again = select(request(key(1000), &timed), cache);
  EXPECT_EQ(again.source, "cache");
  EXPECT_EQ(again.config["BLOCK"], 3);
  EXPECT_EQ(timed.size(), n);
  auto doc = cache.read();
  ASSERT_EQ(doc["entries"].size(), 1u);
  EXPECT_EQ(doc["entries"][0]["candidates"].size(), 4u);
  EXPECT_EQ(doc["entries"][0]["bucket"]["T"], 1024);
  EXPECT_FALSE(doc["entries"][0]["tuned_at"].get<std::string>().empty());
}

TEST(Autotune, DisabledNeverTimes) {
  TempDir d;
  Cache cache(d.file("autotune.json"));
  clearMemo();
  EnvVar off("HIP_DISABLE_AUTOTUNE", "1");
  Request r = request(key(5000), nullptr);
  r.time = [](const dsl::Config &) -> double {
    ADD_FAILURE() << "timed with HIP_DISABLE_AUTOTUNE=1";
    return 0;
  };
  Selection s = select(r, cache);
  EXPECT_EQ(s.source, "default");
  EXPECT_EQ(s.config["BLOCK"], 4);
  // A cached entry of another bucket is the nearest one.
  cache.store(key(1000), Entry{dsl::Config{{"BLOCK", 3}}, {}, "t", "v"});
  cache.store(key(100000), Entry{dsl::Config{{"BLOCK", 2}}, {}, "t", "v"});
  clearMemo();
  s = select(r, cache);
  EXPECT_EQ(s.config["BLOCK"], 3);
  EXPECT_NE(s.source.find("nearest bucket"), std::string::npos) << s.source;
}

TEST(Autotune, CacheRoundTripNearestBucketAndGpuKeys) {
  TempDir d;
  Cache cache(d.file("autotune.json"));
  Entry e{dsl::Config{{"BLOCK", 2}}, {{dsl::Config{{"BLOCK", 2}}, 0.25, "ok"}}, "now", "0.1.0"};
  cache.store(key(4096), e);
  auto got = cache.lookup(key(4000), false);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->config["BLOCK"], 2);
  EXPECT_DOUBLE_EQ(got->candidates[0].ms, 0.25);
  EXPECT_FALSE(cache.lookup(key(9000), false));     // other bucket, exact only
  EXPECT_TRUE(cache.lookup(key(9000), true));       // nearest
  EXPECT_FALSE(cache.lookup(key(4096, "gpu-B"), true)); // another GPU never matches
  Key otherExact = key(4096);
  otherExact.exact["D"] = 64;
  EXPECT_FALSE(cache.lookup(otherExact, true));
  // Export, clear, import.
  EXPECT_EQ(cache.exportTo(d.file("team.json")), 1u);
  cache.clear();
  EXPECT_FALSE(cache.lookup(key(4096), true));
  EXPECT_EQ(cache.importFrom(d.file("team.json")), 1u);
  EXPECT_TRUE(cache.lookup(key(4096), false));
  std::ofstream(d.file("bad.json")) << "{\"schema\": 7}";
  EXPECT_THROW(cache.importFrom(d.file("bad.json")), InvalidArgument);
}

TEST(Autotune, CorruptFileAndOtherSchemaAreMovedAside) {
  for (std::string text : {"{not json", "{\"schema\": 99, \"entries\": []}"}) {
    TempDir d;
    std::ofstream(d.file("autotune.json")) << text;
    Cache cache(d.file("autotune.json"));
    testing::internal::CaptureStderr();
    EXPECT_FALSE(cache.lookup(key(10), true));
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("moved aside"), std::string::npos) << err;
    int aside = 0;
    for (auto &f : fs::directory_iterator(d.dir()))
      aside += f.path().filename().string().find("autotune.json.bad-") == 0;
    EXPECT_EQ(aside, 1);
    cache.store(key(10), Entry{dsl::Config{{"BLOCK", 1}}, {}, "t", "v"});
    EXPECT_TRUE(cache.lookup(key(10), false));
  }
}

TEST(Autotune, TwoProcessesWritingAtOnceKeepBothResults) {
  TempDir d;
  std::string path = d.file("autotune.json");
  std::vector<pid_t> kids;
  for (int p = 0; p < 2; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      Cache c(path);
      for (int i = 0; i < 25; ++i)
        c.store(key(int64_t(1) << (p * 25 + i % 25 + 1), p ? "gpu-B" : "gpu-A"),
                Entry{dsl::Config{{"BLOCK", i}}, {}, "t", "v"});
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  Cache c(path);
  auto doc = c.read(); // parses: the file is valid
  EXPECT_EQ(doc["entries"].size(), 50u);
}

// The tuner inside hip_attention (CPU backend): the first call tunes and
// records every candidate, the next reuses the result; outputs agree.
TEST(Autotune, HipAttentionTunesOnTheCpu) {
  TempDir d;
  EnvVar dir("HIP_CACHE_DIR", d.dir().c_str());
  EnvVar on("HIP_DISABLE_AUTOTUNE", "0");
  clearMemo();
  int64_t T = 256, H = 2, D = 32;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> q(size_t(T * H * D)), k(size_t(T * D)), v(size_t(T * D));
  for (auto *x : {&q, &k, &v})
    for (float &f : *x) f = nd(rng) * 0.3f;
  HiPAttentionArgs a;
  a.backend = ComputeBackend::CPU;
  a.mask_k = 32, a.block_size_q = 32, a.block_size_k = 2, a.sink_token_size = 8;
  a.sliding_window_size = 32;
  TensorView qv(q.data(), ScalarType::f32, {1, T, H, D}), kv(k.data(), ScalarType::f32, {1, T, 1, D}),
      vv(v.data(), ScalarType::f32, {1, T, 1, D});
  takeKernelChoices();
  auto first = hip_attention(qv, kv, vv, a);
  auto choices = takeKernelChoices();
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].kernel, "hip_mask_tree");
  EXPECT_EQ(choices[0].source, "tuned");
  EXPECT_EQ(choices[1].kernel, "hip_block_sparse_attention");
  Cache cache;
  auto doc = cache.read();
  ASSERT_EQ(doc["entries"].size(), 2u);
  EXPECT_GE(doc["entries"][1]["candidates"].size(), 2u);
  clearMemo();
  auto second = hip_attention(qv, kv, vv, a);
  choices = takeKernelChoices();
  EXPECT_EQ(choices[0].source, "cache");
  EXPECT_EQ(choices[1].source, "cache");
  auto x = first.out.toFloat(), y = second.out.toFloat();
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], 1e-4);
}

} // namespace
