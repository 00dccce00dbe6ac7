//===- tools/cli_common.h - Option handling shared by hipattn's commands --===//
#pragma once

#include "hip/attention.h"

#include <map>
#include <string>

namespace hip::tools {

using FlagMap = std::map<std::string, std::string>;

/// The integer value of option `key`, or `fallback` when absent
/// (InvalidArgument "KEY needs an integer, got '...'" otherwise).
int64_t intFlag(const FlagMap &f, const std::string &key, int64_t fallback);

/// --backend auto|cpu|cuda (absent: `fallback`) resolved to the backend
/// that will run: auto follows HIP_BACKEND (else the GPU when usable); cuda
/// without a usable GPU is a RuntimeError.
ComputeBackend backendFlag(const FlagMap &f, const std::string &fallback);

/// --mask-k, --block-size-q, --block-stride-q, --block-size-k,
/// --block-stride-k, --sink, --window over the values already in `a`.
void applyHiPFlags(const FlagMap &f, HiPAttentionArgs &a);

} // namespace hip::tools
