//===- hip/mask_stage.h - Modular mask stages and the mask pipeline -*- C++ -*-===//
//
// The mask of hip_attention is computed by a pipeline of stages. A stage is
// one class: its parameters (read from JSON), the DSL kernel(s) it launches,
// and what it does with the candidate set: it receives the previous stage's
// selection (none for the first stage: every key may be chosen) and returns
// its own. Adding a stage takes its own file and one registration line:
//
//   static bool registered = hip::registerMaskStage("my_stage",
//       [](const nlohmann::json &p, const hip::HiPAttentionArgs &a) {
//         return std::make_unique<MyStage>(p, a); });
//
// and naming it in the pipeline JSON:
//   {"stages": [{"type": "tree", "mask_k": 512}, {"type": "my_stage", ...}]}
//
// No MLIR header is included.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/attention.h"
#include "hip/autotune/autotune.h"
#include "hip/compiler/compiler.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hip {

/// A selection of key blocks: per (batch*head, query block of blockSizeQ
/// queries), `ks` valid token offsets of blocks of blockSizeK keys,
/// ascending, the rest kIndexSentinel. Undefined before the first stage.
struct Candidates {
  Tensor indices; // i32 [B*H, nQB, capacity]
  Tensor ks;      // i32 [B*H, nQB]
  int64_t blockSizeQ = 0, blockSizeK = 0;
  /// Notes a stage leaves for the stages after it (e.g. the scan stage's
  /// first chunk size, which fixes every later scan's key limit).
  nlohmann::json state = nlohmann::json::object();
  bool defined() const { return indices.defined(); }
  int64_t capacity() const { return indices.defined() ? indices.shape()[2] : 0; }
};

/// What a stage works on: inputs already on the compute device.
struct MaskContext {
  Target target;
  Device device; // where kernels read and write
  TensorView q, k; // [B, T, H, D], unit stride along D
  Tensor pos;      // i32 [B, T_q] 0-based query positions
  int64_t B = 0, Tq = 0, Tk = 0, H = 0, Hkv = 0, D = 0;
  float scale = 1.f;
  int64_t sink = 0, window = 0;
  bool causal = true;
  int dtypeCode = 0; // 0 bf16, 1 f16, 2 f32 (the kernels' DTYPE)

  /// Launches registered kernel `name` with `config` on the target (compiled
  /// once per config and argument specialisation).
  void launch(const std::string &name, const dsl::Config &config, std::array<unsigned, 3> grid,
              const std::vector<ArgValue> &args) const;
  /// Launches `name` with its schedule (the keys of its config space) chosen
  /// by the autotuner and the other keys of `config` fixed. `outputs` are
  /// the tensors the kernel writes: a candidate must reproduce the default
  /// config's before it may win. `bucket` holds the sizes that are bucketed
  /// to powers of two (sequence lengths); the fixed config and `exact` must
  /// match exactly.
  void launchTuned(const std::string &name, const dsl::Config &config,
                   const std::function<std::array<unsigned, 3>(const dsl::Config &)> &grid,
                   const std::vector<ArgValue> &args, const std::vector<TensorView> &outputs,
                   const std::map<std::string, int64_t> &bucket,
                   const std::map<std::string, int64_t> &exact = {}) const;
  /// The arguments of the attention kernels, in the order declareArgs in
  /// kernels/attention.cpp declares them: q, k, [v, out,] pos,
  /// `extraPointers`, T_q, T_k, H, H_kv, the (b, t, h) strides of q, k [and
  /// v], scale, `extraScalars`. `v` and `out` go together (the attention
  /// kernels) or are both absent (the mask kernels).
  std::vector<ArgValue> kernelArgs(const std::vector<ArgValue> &extraPointers,
                                   const std::vector<ArgValue> &extraScalars,
                                   const TensorView *v = nullptr,
                                   const Tensor *out = nullptr) const;
  static ArgValue pointer(const Tensor &t) { return ArgValue::pointer(t.data()); }
};

class MaskStage {
public:
  virtual ~MaskStage() = default;
  /// The type name it is registered under.
  virtual std::string type() const = 0;
  /// Its parameters, as JSON (what fromJson would rebuild it from).
  virtual nlohmann::json params() const = 0;
  /// Checks the stage against the problem and the stage before it (whose
  /// output granularity is given; 0 = first stage). Throws InvalidArgument.
  virtual void validate(const MaskContext &ctx, int64_t prevBlockSizeQ,
                        int64_t prevBlockSizeK) const = 0;
  /// Selects key blocks; `in` is the previous stage's output or undefined.
  virtual Candidates run(const MaskContext &ctx, const Candidates &in) = 0;
};

/// Where `hipattn tune hip_attention --algorithm` stores the HiP parameters
/// it found for this problem (GPU, head dim, dtype, GQA ratio, mask_k, sink,
/// window; sequence lengths bucketed), and where `tuned` calls look.
autotune::Key algorithmKey(const TensorView &q, const TensorView &k, const HiPAttentionArgs &a);

/// Which config each tuned kernel launch used and where it came from.
struct KernelChoice {
  std::string kernel, config, source;
};
/// The choices recorded since the last call, one per kernel: its first
/// launch since then (for reports such as hipattn run).
std::vector<KernelChoice> takeKernelChoices();

using MaskStageFactory = std::function<std::unique_ptr<MaskStage>(const nlohmann::json &params,
                                                                  const HiPAttentionArgs &args)>;
/// Registers a stage type (returns true so it can initialise a static).
bool registerMaskStage(const std::string &type, MaskStageFactory factory);
std::vector<std::string> registeredMaskStages();

/// Reads an integer parameter `key` of stage `stage` (or `fallback`),
/// throwing InvalidArgument naming both when it is not an integer.
int64_t stageParam(const nlohmann::json &p, const std::string &stage, const std::string &key,
                   int64_t fallback);
/// The optional "schedule" object of a stage's parameters: kernel schedule
/// keys pinned to integers (InvalidArgument naming the stage otherwise).
std::map<std::string, int64_t> stageSchedule(const nlohmann::json &p, const std::string &stage);
/// `cfg` with the schedule values of `pinned` (keys of `kernel`'s config
/// space only); InvalidArgument naming `what` for an unknown key or a config
/// the kernel rejects.
void pinSchedule(const std::string &kernel, dsl::Config &cfg,
                 const std::map<std::string, int64_t> &pinned, const std::string &what);
/// Throws InvalidArgument naming keys of `p` not in `known`.
void checkStageKeys(const nlohmann::json &p, const std::string &stage,
                    const std::vector<std::string> &known);

class MaskPipeline {
public:
  /// `json`: {"stages": [{"type": ..., params...}, ...]} or just the list;
  /// empty: one "tree" stage from `args`. Throws InvalidArgument naming the
  /// stage and key for bad JSON, unknown stages or parameters.
  static MaskPipeline fromJson(const std::string &json, const HiPAttentionArgs &args);
  void validate(const MaskContext &ctx) const;
  Candidates run(const MaskContext &ctx) const;
  nlohmann::json toJson() const;
  const std::vector<std::unique_ptr<MaskStage>> &stages() const { return stages_; }

private:
  std::vector<std::unique_ptr<MaskStage>> stages_;
};

} // namespace hip
