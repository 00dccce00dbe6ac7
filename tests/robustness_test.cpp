//===- tests/robustness_test.cpp - Bad input of every kind, never a signal -===//
//
// Table-driven: each row is a command line (every hipattn subcommand,
// hipattn-opt, the bench tools) or a public API call with one bad input, the
// exit status or exception it must give, and a fragment its message must
// contain. A fuzz test then feeds mutated .npy, GGUF and JSON (mask pipeline,
// tuning cache) files to their readers for a bounded number of iterations:
// each must succeed or throw a hip::Error, never crash.
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/autotune/autotune.h"
#include "hip/error.h"
#include "hip/kernels/npy.h"
#include "hip/mask_stage.h"
#include "hip/model/gguf.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

namespace fs = std::filesystem;
using namespace hip;

namespace {
/// A fresh folder under the system's temporary directory, removed at exit.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/hip-robustness-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void writeFile(const fs::path &p, const std::string &bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

/// Runs `cmd` through the shell (bounded to 120 s); returns the exit status
/// (128 + n for a signal n) and the output.
int runCommand(const std::string &cmd, std::string &out) {
  out.clear();
  FILE *f = ::popen(("timeout -k 5 120 " + cmd + " 2>&1").c_str(), "r");
  if (!f) return -1;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  int st = ::pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/// The folder of the command-line tools: the test binary's own (they are built
/// side by side, and a build copied to another machine keeps that), else the
/// build folder CMake named.
std::string toolDir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path() / "hipattn", ec)) return self.parent_path().string();
  return HIP_BIN_DIR;
}

struct CliCase {
  std::string env, cmd; // cmd starts with the tool's name, resolved in toolDir()
  int status;
  std::string fragment;
};
} // namespace

TEST(Robustness, EveryCommandRefusesBadInputClearly) {
  TempDir tmp;
  std::string t = tmp.path.string();
  writeFile(tmp.path / "bad.json", "{\"stages\": [");
  writeFile(tmp.path / "bad.gguf", "GGUF\x03\x00\x00\x00garbage");
  writeFile(tmp.path / "afile", "not a folder");
  writeFile(tmp.path / "text.txt", "hello world");
  const std::string cpu = " --backend cpu --T 64 --H 2 --Hkv 1 --D 16 --json --latency-only --reps 1";
  const std::vector<CliCase> cases = {
      // hipattn itself
      {"", "hipattn", 2, "usage: hipattn"},
      {"", "hipattn bogus", 2, "unknown command 'bogus'"},
      // run (and the workload options tune shares)
      {"", "hipattn run --T -5", 2, "must be positive"},
      {"", "hipattn run --T abc", 2, "--T needs an integer, got 'abc'"},
      {"", "hipattn run --bogus 1", 2, "unknown option '--bogus'"},
      {"", "hipattn run --T", 2, "--T"},
      {"", "hipattn run --backend cpu --T 4000000000 --H 4096 --Hkv 1 --D 128", 2, "GiB"},
      {"", "hipattn run --backend cpu --T 4000000000000 --H 4096000 --Hkv 1 --D 128", 2, "overflows"},
      {"", "hipattn run --backend cpu --T 64 --H 3 --Hkv 2 --D 16", 2, "multiple of H_kv"},
      {"", "hipattn run --backend cpu --T 64 --H 2 --Hkv 1 --D 24", 2, "head dim D = 24"},
      {"", "hipattn run --mask-k 3" + cpu, 2, "power of two"},
      {"", "hipattn run --backend cpu --json --input " + t + "/none", 1, "cannot open"},
      {"", "hipattn run --mask-pipeline " + t + "/bad.json" + cpu, 2, "not valid JSON"},
      {"", "hipattn run --dtype f8" + cpu, 2, "--dtype must be"},
      {"", "hipattn run --backend tpu", 2, "--backend must be auto, cpu or cuda"},
      // environment variables, the same on every backend
      {"HIP_LLVM_OPT=7", "hipattn run" + cpu, 2, "HIP_LLVM_OPT must be one of 0, 1, 2, 3, got '7'"},
      {"HIP_PTX_VERSION=abc", "hipattn kernels", 2, "HIP_PTX_VERSION must be an integer from 80 to 90"},
      {"HIP_NUM_THREADS=-3", "hipattn run" + cpu, 2, "HIP_NUM_THREADS must be an integer from 1"},
      {"HIP_DISABLE_AUTOTUNE=yes", "hipattn run" + cpu, 2, "HIP_DISABLE_AUTOTUNE must be one of 0, 1"},
      {"HIP_BACKEND=tpu", "hipattn run" + cpu, 2, "HIP_BACKEND must be one of auto, cpu, cuda"},
      {"HIP_DUMP_IR=asm", "hipattn kernels", 2, "HIP_DUMP_IR must be 'all' or a comma list"},
      {"HIP_K=many", "hipattn run" + cpu, 2, "HIP_K must be an integer"},
      {"HIP_REFRESH_INTERVAL=0", "hipattn kernels", 2, "HIP_REFRESH_INTERVAL must be an integer from 1"},
      // an unusable cache folder: a warning, and the work is done
      {"HIP_CACHE_DIR=" + t + "/afile", "hipattn run" + cpu, 0, "not cached on disk"},
      {"HIP_DUMP_IR=tile HIP_DUMP_DIR=" + t + "/afile/x", "hipattn run" + cpu, 1, "HIP_DUMP_DIR="},
      // eval, generate
      {"", "hipattn eval bogus", 2, "unknown eval command 'bogus'"},
      {"", "hipattn eval ppl --model " + t + "/none.gguf --text " + t + "/text.txt", 1, "cannot open"},
      {"", "hipattn eval ppl --model " + t + "/bad.gguf --text " + t + "/text.txt", 2, "bad.gguf"},
      {"", "hipattn generate", 2, "--model is required"},
      {"", "hipattn generate --model " + t + "/bad.gguf", 2, "bad.gguf"},
      // kernels, compile, demo, tune, cache
      {"", "hipattn kernels extra", 2, "kernels takes no arguments"},
      {"", "hipattn compile nosuch", 2, "unknown kernel 'nosuch'"},
      {"", "hipattn compile vector_add --target sm_12", 2, "unknown target 'sm_12'"},
      {"", "hipattn compile vector_add --config BLOCK=3", 2, "BLOCK must be a power of two"},
      {"", "hipattn compile vector_add --config NOPE=1", 2, "no config parameter 'NOPE'"},
      {"", "hipattn compile vector_add --emit nonsense", 2, "unknown stage 'nonsense'"},
      {"", "hipattn compile vector_add --target sm_90a --divisible nosuch", 2, "has no argument 'nosuch'"},
      {"", "hipattn compile vector_add --target sm_90a --divisible x", 2, "is not an integer argument"},
      {"", "hipattn compile vector_add --target cpu --emit layouts", 2, "needs a GPU target"},
      {"", "hipattn compile vector_add --target cpu --emit tile-gpu", 2, "--emit tile-gpu needs a GPU target"},
      {"", "hipattn compile vector_add --target cpu --emit hip-pipeline", 2, "--emit hip-pipeline needs a GPU target"},
      {"", "hipattn demo --backend nope", 2, "--backend must be auto, cpu or cuda"},
      {"", "hipattn tune nosuch", 2, "is not tunable here"},
      {"", "hipattn tune matmul --dims 1,2 --backend cpu", 2, "needs --dims with 3 values"},
      {"", "hipattn tune matmul --dims 1,x,3 --backend cpu", 2, "--dims must be positive integers"},
      // (a target without TMA does not try tma=1: the same schedule as tma=0 there)
      {"", "hipattn tune matmul --dims 40,48,72 --backend cpu", 0, "pruned: tma=1 needs sm_90a"},
      {"", "hipattn cache bogus", 2, "unknown cache command 'bogus'"},
      {"", "hipattn cache import " + t + "/bad.json", 2, "not valid JSON"},
      {"", "hipattn cache import " + t + "/none.json", 2, "cannot read"},
      // hipattn-opt, bench tools
      {"", "hipattn-opt " + t + "/bad.json", 2, "error"},
      // (LLVM's option parser itself exits 1 on an unknown option.)
      {"", "hipattn-opt --no-such-flag", 1, "no-such-flag"},
      {"", "bench-matmul x y z", 2, "M, N and K must be integers"},
      {"", "bench-matmul 1 2", 2, "usage: bench-matmul"},
      {"", "bench-decode --T x", 2, "--T needs an integer"},
      {"", "bench-decode --H 6 --Hkv 4 --backend cpu", 2, "H a multiple of H_kv"},
      {"", "bench-decode --bogus", 2, "unknown option --bogus"},
      {"", "bench-decode --T 200 --B 2 --D 32 --H 4 --Hkv 2 --backend cpu --reps 1", 0, "\"ms\""},
  };
  for (const CliCase &c : cases) {
    std::string out;
    std::string cmd = "env HIP_CACHE_DIR=" + t + "/cache " + c.env + " " + toolDir() + "/" + c.cmd;
    int status = runCommand(cmd, out);
    EXPECT_EQ(status, c.status) << cmd << "\n" << out;
    EXPECT_NE(out.find(c.fragment), std::string::npos)
        << cmd << "\nwanted '" << c.fragment << "' in:\n" << out;
    EXPECT_EQ(out.find("terminate called"), std::string::npos) << cmd << "\n" << out;
    EXPECT_EQ(out.find("Aborted"), std::string::npos) << cmd << "\n" << out;
  }
}

namespace {
/// The message of the InvalidArgument `f` throws ("<none>" if it returns).
std::string invalidArgument(const std::function<void()> &f) {
  try {
    f();
  } catch (const InvalidArgument &e) {
    return e.what();
  }
  return "<none>";
}
} // namespace

TEST(Robustness, ApiRefusesBadViewsBeforeAnyLaunch) {
  std::vector<float> buf(size_t(2 * 8 * 2 * 16), 0.5f);
  auto view = [&](std::vector<int64_t> shape, std::vector<int64_t> strides = {}) {
    return TensorView(buf.data(), ScalarType::f32, std::move(shape), Device::CPU, std::move(strides));
  };
  TensorView ok = view({1, 8, 2, 16});
  HiPAttentionArgs hip;
  hip.backend = ComputeBackend::CPU;
  DenseAttentionArgs dense;
  dense.backend = ComputeBackend::CPU;
  struct ApiCase {
    std::string what;
    TensorView q, k, v;
    std::string fragment;
  };
  TensorView null(nullptr, ScalarType::f32, {1, 8, 2, 16});
  TensorView onGpu(buf.data(), ScalarType::f32, {1, 8, 2, 16}, Device::CUDA);
  const std::vector<ApiCase> cases = {
      {"null q", null, ok, ok, "null data pointer"},
      {"null v", ok, ok, null, "null data pointer"},
      {"negative dim", view({1, -8, 2, 16}), ok, ok, "negative dimension"},
      {"element count overflow", view({1, int64_t(1) << 40, int64_t(1) << 30, 16}), ok, ok, "overflows"},
      {"negative stride", ok, view({1, 8, 2, 16}, {256, -32, 16, 1}), ok, "negative stride"},
      {"strides past int64", view({1, 8, 2, 16}, {1, int64_t(1) << 62, 16, 1}), ok, ok,
       "strides reach past int64"},
      {"host q, device k", ok, onGpu, onGpu, "same device"},
      {"3-D q", view({8, 2, 16}), ok, ok, "q must be 4-D"},
  };
  for (const ApiCase &c : cases) {
    std::string m = invalidArgument([&] { hip_attention(c.q, c.k, c.v, hip); });
    EXPECT_NE(m.find(c.fragment), std::string::npos) << "hip_attention, " << c.what << ": " << m;
    m = invalidArgument([&] { dense_attention(c.q, c.k, c.v, dense); });
    EXPECT_NE(m.find(c.fragment), std::string::npos) << "dense_attention, " << c.what << ": " << m;
  }
  // An empty tensor may have no data.
  TensorView empty(nullptr, ScalarType::f32, {1, 0, 2, 16});
  EXPECT_NO_THROW(dense_attention(empty, empty, empty, dense));
}

namespace {
/// Feeds `iterations` mutations of `seed` (byte flips, truncations,
/// insertions, runs of 0xff) to `read`, which must return or throw a
/// hip::Error; anything else fails the test (a signal ends it).
void fuzz(const std::string &name, const std::string &seed, int iterations,
          const std::function<void(const std::string &)> &read, bool mostlyErrors = true) {
  std::mt19937 rng(1234);
  int errors = 0;
  for (int it = 0; it < iterations; ++it) {
    std::string s = seed;
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 4) {
      case 0: s[at] = char(rng()); break;
      case 1: s.resize(at); break;
      case 2: s.insert(at, std::string(1 + rng() % 8, char(rng()))); break;
      default: s.replace(at, std::min<size_t>(8, s.size() - at), std::string(8, '\xff'));
      }
    }
    try {
      read(s);
    } catch (const Error &) {
      ++errors;
    } catch (const std::exception &e) {
      ADD_FAILURE() << name << " iteration " << it << ": not a hip::Error: " << e.what();
    }
  }
  // The mutations must reach the readers' checks, not only pass through.
  if (mostlyErrors) EXPECT_GT(errors, iterations / 10) << name;
}
} // namespace

TEST(Robustness, FuzzedFilesGiveAClearErrorOrSucceed) {
  TempDir tmp;
  fs::path file = tmp.path / "input";
  auto through = [&](const std::function<void(const std::string &)> &parse) {
    return [&, parse](const std::string &bytes) {
      writeFile(file, bytes);
      parse(file.string());
    };
  };
  // .npy: a small f32 array written by the writer itself.
  kernels::NpyArray a;
  a.type = ScalarType::f32;
  a.shape = {3, 4};
  a.data.resize(48, 1);
  kernels::writeNpy((tmp.path / "seed.npy").string(), a);
  std::ifstream in(tmp.path / "seed.npy", std::ios::binary);
  std::string npy((std::istreambuf_iterator<char>(in)), {});
  fuzz("npy", npy, 400, through([](const std::string &p) { kernels::readNpy(p); }));
  // GGUF: the stories260K model's header part when the data folder is
  // there, else a minimal file with one metadata key and no tensors.
  std::string gguf = std::string("GGUF") + std::string("\x03\x00\x00\x00", 4) +
                     std::string(8, '\0') + std::string("\x01\0\0\0\0\0\0\0", 8) +
                     std::string("\x04\0\0\0\0\0\0\0", 8) + "name" +
                     std::string("\x04\0\0\0", 4) + std::string("\x07\0\0\0", 4);
  fs::path model = fs::path(HIP_SOURCE_DIR) / ".." / "shared" / "data" / "models" / "stories260k-f32.gguf";
  if (const char *d = std::getenv("HIP_DATA_DIR")) model = fs::path(d) / "models" / "stories260k-f32.gguf";
  if (fs::exists(model)) {
    std::ifstream m(model, std::ios::binary);
    gguf.assign(8192, '\0');
    m.read(gguf.data(), 8192);
    gguf.resize(size_t(m.gcount()));
  }
  fuzz("gguf", gguf, 400, through([](const std::string &p) { model::GGUFFile::read(p, false); }));
  // A mask pipeline (JSON).
  HiPAttentionArgs args;
  std::string pipeline = R"({"stages": [{"type": "tree", "mask_k": 512, "block_size_q": 64,
    "block_stride_q": 2, "block_size_k": 2, "block_stride_k": 1, "aligned_branches": true}]})";
  fuzz("pipeline", pipeline, 400,
       [&](const std::string &json) { MaskPipeline::fromJson(json, args); });
  // The tuning cache: a real entry, stored and read back through lookup.
  autotune::Cache seedCache((tmp.path / "seed-autotune.json").string());
  autotune::Entry e{dsl::Config{{"BLOCK_M", 64}}, {}, "now", "test"};
  e.candidates.push_back({dsl::Config{{"BLOCK_M", 32}}, 1.5, "ok"});
  autotune::Key key{"k", "v", "GPU", {{"D", 128}}, {{"T", 1024}}};
  seedCache.store(key, e);
  std::ifstream cj(seedCache.path());
  std::string cacheJson((std::istreambuf_iterator<char>(cj)), {});
  ASSERT_FALSE(cacheJson.empty());
  int n = 0;
  fuzz("tuning cache", cacheJson, 200, [&](const std::string &json) {
    fs::path p = tmp.path / ("autotune-" + std::to_string(n++) + ".json");
    writeFile(p, json);
    autotune::Cache c(p.string());
    c.lookup(key, true); // a bad file is moved aside with a warning: no error
  }, false);
}
