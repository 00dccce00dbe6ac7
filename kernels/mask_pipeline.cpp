//===- kernels/mask_pipeline.cpp - Stage registry and the mask pipeline ---===//
#include "hip/error.h"
#include "hip/mask_stage.h"

#include "hip/runtime/cuda.h"

#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <utility>

namespace hip {

namespace {
std::map<std::string, MaskStageFactory> &registry() {
  static std::map<std::string, MaskStageFactory> r;
  return r;
}
std::mutex registryMutex;

std::mutex kernelsMutex;
std::map<std::string, std::unique_ptr<SpecializedKernel>> kernels;

SpecializedKernel &kernelFor(const std::string &name, const dsl::Config &config,
                             const Target &target) {
  std::lock_guard<std::mutex> g(kernelsMutex);
  std::string key = name + "|" + config.str() + "|" + target.str();
  auto &slot = kernels[key];
  if (!slot) slot = std::make_unique<SpecializedKernel>(dsl::findKernel(name), config, target);
  return *slot;
}

std::mutex choicesMutex;
std::vector<KernelChoice> choices;

/// "" when `got` matches `want` elementwise (|d| <= 2e-2 + 2e-2 |want|).
std::string compareOutputs(const std::vector<std::vector<float>> &want,
                           const std::vector<TensorView> &outputs) {
  for (size_t o = 0; o < outputs.size(); ++o) {
    std::vector<float> got = toFloatVector(outputs[o]);
    for (size_t i = 0; i < got.size(); ++i) {
      float w = want[o][i], g = got[i];
      if (!(std::abs(g - w) <= 2e-2f + 2e-2f * std::abs(w)))
        return "output " + std::to_string(o) + " element " + std::to_string(i) + ": " +
               std::to_string(g) + " instead of " + std::to_string(w);
    }
  }
  return "";
}
} // namespace

std::vector<KernelChoice> takeKernelChoices() {
  std::lock_guard<std::mutex> g(choicesMutex);
  return std::exchange(choices, {});
}

void MaskContext::launchTuned(
    const std::string &name, const dsl::Config &config,
    const std::function<std::array<unsigned, 3>(const dsl::Config &)> &grid,
    const std::vector<ArgValue> &args, const std::vector<TensorView> &outputs,
    const std::map<std::string, int64_t> &bucket,
    const std::map<std::string, int64_t> &exact) const {
  const dsl::KernelDef &def = dsl::findKernel(name);
  autotune::Request r;
  r.def = &def;
  r.defaults = config;
  r.candidates = autotune::spaceWith(def, config);
  if (std::none_of(r.candidates.begin(), r.candidates.end(),
                   [&](const dsl::Config &c) { return c.values() == config.values(); }))
    r.candidates.insert(r.candidates.begin(), config);
  r.key = {name, autotune::kernelVersion(def, config), autotune::deviceFingerprint(target),
           exact, autotune::Key::pow2Bucket(bucket)};
  for (auto &[k, v] : config.values())
    if (std::none_of(def.space.begin(), def.space.end(), [&](auto &s) { return s.first == k; }))
      r.key.exact[k] = v;
  size_t smemLimit = target.backend == Backend::CUDA
                         ? rt::Cuda::get().info().sharedPerBlockOptin
                         : std::numeric_limits<size_t>::max();
  r.compile = [&](const dsl::Config &c) {
    auto ck = kernelFor(name, c, target).variant(args);
    if (ck->sharedBytes > smemLimit)
      throw RuntimeError("needs " + std::to_string(ck->sharedBytes) +
                         " bytes of shared memory, the device allows " + std::to_string(smemLimit));
  };
  std::vector<std::vector<float>> want;
  auto sync = [&] {
    if (target.backend == Backend::CUDA) rt::Cuda::get().synchronize();
  };
  r.check = [&](const dsl::Config &c) {
    if (want.empty()) {
      kernelFor(name, config, target).launch(grid(config), args);
      sync();
      for (const TensorView &o : outputs) want.push_back(toFloatVector(o));
    }
    kernelFor(name, c, target).launch(grid(c), args);
    sync();
    return compareOutputs(want, outputs);
  };
  r.time = [&](const dsl::Config &c) {
    SpecializedKernel &k = kernelFor(name, c, target);
    // The output check has just run this candidate: no further warm-up.
    return autotune::timeMs(target, [&] { k.launch(grid(c), args); }, 0);
  };
  autotune::Cache cache;
  // Problems this small run in microseconds: tuning them would cost more
  // than it can save (e.g. every decode step's bucket); they use the cache
  // when it has them, else the defaults.
  int64_t size = 1;
  for (auto &[k, v] : bucket) size *= std::max<int64_t>(v, 1);
  const int64_t kMinTunedSize = int64_t(1) << 16; // T_q * T_k
  autotune::Selection s = autotune::select(r, cache, size < kMinTunedSize);
  {
    // One entry per kernel (its first launch since the last take): bounded
    // however many calls a process makes.
    std::lock_guard<std::mutex> g(choicesMutex);
    if (std::none_of(choices.begin(), choices.end(), [&](auto &c) { return c.kernel == name; }))
      choices.push_back({name, s.config.str(), s.source});
  }
  auto gr = grid(s.config);
  if (gr[0] && gr[1] && gr[2]) kernelFor(name, s.config, target).launch(gr, args);
}

bool registerMaskStage(const std::string &type, MaskStageFactory factory) {
  std::lock_guard<std::mutex> g(registryMutex);
  registry()[type] = std::move(factory);
  return true;
}

std::vector<std::string> registeredMaskStages() {
  std::lock_guard<std::mutex> g(registryMutex);
  std::vector<std::string> out;
  for (auto &[name, f] : registry()) out.push_back(name);
  return out;
}

int64_t stageParam(const nlohmann::json &p, const std::string &stage, const std::string &key,
                   int64_t fallback) {
  if (!p.contains(key)) return fallback;
  const nlohmann::json &v = p[key];
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (!v.is_number_integer())
    throw InvalidArgument("mask pipeline: stage '" + stage + "' parameter '" + key +
                          "' must be an integer, got " + v.dump());
  return v.get<int64_t>();
}

void checkStageKeys(const nlohmann::json &p, const std::string &stage,
                    const std::vector<std::string> &known) {
  for (auto it = p.begin(); it != p.end(); ++it) {
    if (it.key() == "type") continue;
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      std::string list;
      for (const auto &k : known) list += (list.empty() ? "" : ", ") + k;
      throw InvalidArgument("mask pipeline: stage '" + stage + "' has no parameter '" + it.key() +
                            "' (known: " + list + ")");
    }
  }
}

void pinSchedule(const std::string &kernel, dsl::Config &cfg,
                 const std::map<std::string, int64_t> &pinned, const std::string &what) {
  const dsl::KernelDef &def = dsl::findKernel(kernel);
  for (auto &[key, value] : pinned) {
    if (std::none_of(def.space.begin(), def.space.end(), [&](auto &s) { return s.first == key; })) {
      std::string keys;
      for (auto &s : def.space) keys += (keys.empty() ? "" : ", ") + s.first;
      throw InvalidArgument(what + ": '" + key + "' is not a schedule key of " + kernel + " (" +
                            keys + ")");
    }
    cfg.set(key, value);
  }
  dsl::Config full = def.defaults; // (the keys cfg leaves to the kernel's defaults)
  for (auto &[key, value] : cfg.values()) full.set(key, value);
  if (std::string why = def.validate(full); !why.empty())
    throw InvalidArgument(what + ": " + kernel + " rejects " + cfg.str() + ": " + why);
}

std::map<std::string, int64_t> stageSchedule(const nlohmann::json &p, const std::string &stage) {
  std::map<std::string, int64_t> out;
  if (!p.contains("schedule")) return out;
  const nlohmann::json &s = p["schedule"];
  if (!s.is_object())
    throw InvalidArgument("mask pipeline: stage '" + stage +
                          "' parameter 'schedule' must be an object of integers, got " + s.dump());
  for (auto it = s.begin(); it != s.end(); ++it) {
    if (!it.value().is_number_integer())
      throw InvalidArgument("mask pipeline: stage '" + stage + "' schedule key '" + it.key() +
                            "' must be an integer, got " + it.value().dump());
    out[it.key()] = it.value().get<int64_t>();
  }
  return out;
}

void MaskContext::launch(const std::string &name, const dsl::Config &config,
                         std::array<unsigned, 3> grid, const std::vector<ArgValue> &args) const {
  if (grid[0] && grid[1] && grid[2]) kernelFor(name, config, target).launch(grid, args);
}

std::vector<ArgValue> MaskContext::kernelArgs(const std::vector<ArgValue> &extraPointers,
                                              const std::vector<ArgValue> &extraScalars,
                                              const TensorView *v, const Tensor *out) const {
  std::vector<ArgValue> a = {ArgValue::pointer(q.data), ArgValue::pointer(k.data)};
  if (v) a.push_back(ArgValue::pointer(v->data));
  if (out) a.push_back(pointer(*out));
  a.push_back(pointer(pos));
  a.insert(a.end(), extraPointers.begin(), extraPointers.end());
  std::vector<int64_t> dims = {Tq, Tk, H, Hkv, q.stride(0), q.stride(1), q.stride(2),
                               k.stride(0), k.stride(1), k.stride(2)};
  if (v) dims.insert(dims.end(), {v->stride(0), v->stride(1), v->stride(2)});
  for (int64_t x : dims) a.push_back(ArgValue::int32(int32_t(x)));
  a.push_back(ArgValue::float32(scale));
  a.insert(a.end(), extraScalars.begin(), extraScalars.end());
  return a;
}

MaskPipeline MaskPipeline::fromJson(const std::string &json, const HiPAttentionArgs &args) {
  nlohmann::json doc;
  if (json.find_first_not_of(" \t\r\n") == std::string::npos) {
    doc = nlohmann::json::array({{{"type", "tree"}}});
  } else {
    try {
      doc = nlohmann::json::parse(json);
    } catch (const nlohmann::json::exception &e) {
      throw InvalidArgument(std::string("mask pipeline: not valid JSON: ") + e.what());
    }
  }
  if (doc.is_object()) {
    for (auto it = doc.begin(); it != doc.end(); ++it)
      if (it.key() != "stages")
        throw InvalidArgument("mask pipeline: unknown key '" + it.key() + "' (expected \"stages\")");
    if (!doc.contains("stages"))
      throw InvalidArgument("mask pipeline: missing \"stages\"");
    doc = doc["stages"];
  }
  if (!doc.is_array() || doc.empty())
    throw InvalidArgument("mask pipeline: \"stages\" must be a non-empty list of stages");
  MaskPipeline p;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json &s = doc[i];
    std::string where = "mask pipeline: stage " + std::to_string(i);
    if (!s.is_object() || !s.contains("type") || !s["type"].is_string())
      throw InvalidArgument(where + " must be an object with a string \"type\"");
    std::string type = s["type"].get<std::string>();
    MaskStageFactory f;
    {
      std::lock_guard<std::mutex> g(registryMutex);
      auto it = registry().find(type);
      if (it != registry().end()) f = it->second;
    }
    if (!f) {
      std::string known;
      for (const auto &n : registeredMaskStages()) known += (known.empty() ? "" : ", ") + n;
      throw InvalidArgument(where + ": unknown type '" + type + "' (registered: " + known + ")");
    }
    p.stages_.push_back(f(s, args));
  }
  return p;
}

void MaskPipeline::validate(const MaskContext &ctx) const {
  int64_t bq = 0, bk = 0;
  for (const auto &s : stages_) {
    s->validate(ctx, bq, bk);
    nlohmann::json pr = s->params();
    bq = pr.value("block_size_q", bq);
    bk = pr.value("block_size_k", bk);
  }
}

Candidates MaskPipeline::run(const MaskContext &ctx) const {
  Candidates c;
  for (const auto &s : stages_) c = s->run(ctx, c);
  return c;
}

nlohmann::json MaskPipeline::toJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto &s : stages_) {
    nlohmann::json j = s->params();
    j["type"] = s->type();
    list.push_back(j);
  }
  return {{"stages", list}};
}

} // namespace hip
