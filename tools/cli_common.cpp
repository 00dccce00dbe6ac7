//===- tools/cli_common.cpp - Option handling shared by hipattn's commands ===//
#include "cli_common.h"

#include "hip/compiler/compiler.h"
#include "hip/error.h"
#include "hip/runtime/cuda.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hip::tools {

Options parse(const std::vector<std::string> &args, const std::vector<std::string> &known,
              const std::vector<std::string> &switches) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
      o.flags[a] = "1";
    } else if (a.rfind("-", 0) == 0) {
      if (std::find(known.begin(), known.end(), a) == known.end())
        throw InvalidArgument("unknown option '" + a + "'");
      if (i + 1 >= args.size()) throw InvalidArgument("option '" + a + "' needs a value");
      o.flags[a] = args[++i];
    } else {
      o.positional.push_back(a);
    }
  }
  return o;
}

int64_t intFlag(const FlagMap &f, const std::string &key, int64_t fallback) {
  auto it = f.find(key);
  if (it == f.end()) return fallback;
  char *end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end)
    throw InvalidArgument(key + " needs an integer, got '" + it->second + "'");
  return v;
}

ComputeBackend backendFlag(const FlagMap &f, const std::string &fallback) {
  auto it = f.find("--backend");
  std::string be = it == f.end() ? fallback : it->second;
  if (be == "cpu") return ComputeBackend::CPU;
  if (be != "cuda" && be != "auto") throw InvalidArgument("--backend must be auto, cpu or cuda");
  if (be == "auto") return selectBackend() == Backend::CUDA ? ComputeBackend::CUDA : ComputeBackend::CPU;
  std::string why;
  if (!rt::cudaAvailable(&why)) throw RuntimeError("--backend cuda: no usable GPU: " + why);
  return ComputeBackend::CUDA;
}

void applyHiPFlags(const FlagMap &f, HiPAttentionArgs &a) {
  a.mask_k = intFlag(f, "--mask-k", a.mask_k);
  a.block_size_q = intFlag(f, "--block-size-q", a.block_size_q);
  a.block_stride_q = intFlag(f, "--block-stride-q", a.block_stride_q);
  a.block_size_k = intFlag(f, "--block-size-k", a.block_size_k);
  a.block_stride_k = intFlag(f, "--block-stride-k", a.block_stride_k);
  a.sink_token_size = intFlag(f, "--sink", a.sink_token_size);
  a.sliding_window_size = intFlag(f, "--window", a.sliding_window_size);
  if (f.count("--mask-pipeline")) {
    std::ifstream in(f.at("--mask-pipeline"));
    if (!in) throw InvalidArgument("--mask-pipeline: cannot read '" + f.at("--mask-pipeline") + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    a.mask_pipeline = ss.str();
  }
}

} // namespace hip::tools
