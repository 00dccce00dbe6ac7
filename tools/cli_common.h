//===- tools/cli_common.h - Option handling shared by hipattn's commands --===//
#pragma once

#include "hip/attention.h"

#include <map>
#include <string>
#include <vector>

namespace hip::tools {

using FlagMap = std::map<std::string, std::string>;

/// Options and positional arguments of one command.
struct Options {
  FlagMap flags;
  std::vector<std::string> positional;
};

/// Parses "--option value" pairs, the valueless `switches` (stored as "1")
/// and positional arguments (in order). An option not in `known` or
/// `switches`, or one without its value, is an InvalidArgument.
Options parse(const std::vector<std::string> &args, const std::vector<std::string> &known,
              const std::vector<std::string> &switches = {});

/// The integer value of option `key`, or `fallback` when absent
/// (InvalidArgument "KEY needs an integer, got '...'" otherwise).
int64_t intFlag(const FlagMap &f, const std::string &key, int64_t fallback);

/// --backend auto|cpu|cuda (absent: `fallback`) resolved to the backend
/// that will run: auto follows HIP_BACKEND (else the GPU when usable); cuda
/// without a usable GPU is a RuntimeError.
ComputeBackend backendFlag(const FlagMap &f, const std::string &fallback);

/// --mask-k, --block-size-q, --block-stride-q, --block-size-k,
/// --block-stride-k, --sink, --window, --mask-pipeline (a JSON file) over
/// the values already in `a`.
void applyHiPFlags(const FlagMap &f, HiPAttentionArgs &a);

} // namespace hip::tools
