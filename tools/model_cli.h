//===- tools/model_cli.h - Options of the model commands (eval, generate, serve) -===//
#pragma once

#include "hip/model/llama.h"

#include "cli_common.h"

#include <map>
#include <string>
#include <vector>

namespace hip::tools {

/// A model command's options: "--flag value" pairs, positional arguments and
/// the --json switch.
struct Flags {
  std::map<std::string, std::string> f;
  std::vector<std::string> positional;
  bool json = false;

  bool has(const std::string &k) const { return f.count(k) > 0; }
  std::string str(const std::string &k, const std::string &d = "") const {
    auto it = f.find(k);
    return it == f.end() ? d : it->second;
  }
  std::string need(const std::string &k) const {
    if (!has(k)) throw InvalidArgument(k + " is required");
    return f.at(k);
  }
  int64_t num(const std::string &k, int64_t d) const { return intFlag(f, k, d); }
  double real(const std::string &k, double d) const {
    if (!has(k)) return d;
    const std::string &s = f.at(k);
    char *end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end) throw InvalidArgument(k + " needs a number, got '" + s + "'");
    return v;
  }
};

/// Parses `args` against `known` plus the attention options (--method,
/// --backend, --linears and the HiP options) and the --json switch.
Flags parseFlags(const std::vector<std::string> &args, std::vector<std::string> known);
/// Attention options from the flags; `streaming` widens the window by
/// mask_k so that it attends to as many keys as HiP would.
model::AttentionOptions attentionOptions(const Flags &o);
/// One line naming the attention method and its parameters.
std::string describe(const model::AttentionOptions &a);

} // namespace hip::tools
