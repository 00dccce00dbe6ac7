//===- hip/autotune/autotune.h - Config tuning with a persistent cache -*- C++ -*-===//
//
// A kernel's schedule parameters (tile sizes, warps, stages) change its speed,
// never its results. The tuner compiles every candidate config of a kernel's
// space in parallel, checks each candidate's output against the default
// config's, times the valid ones one at a time (warm-up, median, L2 flushed
// between runs) and keeps the fastest. Results are stored in
// $HIP_CACHE_DIR/autotune.json, keyed by
//   kernel + kernel version (hash of its tile IR) + GPU fingerprint (name,
//   compute capability, SM count, driver; "cpu|..." on the CPU backend)
//   + shape bucket (powers of two for sequence lengths; exact values for
//   head dim, dtype, GQA ratio and algorithm parameters),
// with every candidate's time, when and with which project version it was
// tuned. Tuning happens on GPUs unless HIP_DISABLE_AUTOTUNE=1 (on the CPU
// backend only with HIP_DISABLE_AUTOTUNE=0). When disabled nothing is timed: a cached entry
// (the exact bucket, else the nearest one of the same kernel and GPU) or the
// kernel's default config. No MLIR header is included.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/compiler/compiler.h"
#include "hip/dsl/dsl.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hip::autotune {

/// Where a tuning result applies.
struct Key {
  std::string kernel;
  std::string version; // hash of the kernel's tile IR (default schedule)
  std::string gpu;     // fingerprint of the device (or the CPU)
  std::map<std::string, int64_t> exact;  // must match exactly
  std::map<std::string, int64_t> bucket; // powers of two; nearest is a fallback
  /// Rounds each bucket value up to a power of two.
  static std::map<std::string, int64_t> pow2Bucket(const std::map<std::string, int64_t> &dims);
  std::string str() const;
};

struct Candidate {
  dsl::Config config;
  double ms = -1; // < 0: not timed
  std::string status; // "ok", or why it was skipped
};

struct Entry {
  dsl::Config config; // the winner
  std::vector<Candidate> candidates;
  std::string tunedAt, projectVersion;
};

/// Fingerprint of the target's device: DeviceInfo::fingerprint() on CUDA,
/// "cpu|<model>|<threads>" on the CPU.
std::string deviceFingerprint(const Target &t);
/// Hash of the tile IR of `def` traced with `config`.
std::string kernelVersion(const dsl::KernelDef &def, const dsl::Config &config);

/// The JSON file of tuning results. Every write re-reads the file under an
/// advisory lock and replaces it atomically, so concurrent processes keep
/// each other's entries. A corrupt file, or one of another schema version,
/// is moved aside with a warning on stderr.
class Cache {
public:
  static constexpr int kSchemaVersion = 1;
  /// Default: $HIP_CACHE_DIR/autotune.json.
  explicit Cache(std::string path = defaultPath());
  static std::string defaultPath();
  const std::string &path() const { return path_; }

  /// The entry for `key`, else (with `nearest`) the one of the same kernel,
  /// version, GPU and exact values whose bucket is closest (sum of |log2|
  /// differences). `matchedBucket` receives the bucket found.
  std::optional<Entry> lookup(const Key &key, bool nearest,
                              std::map<std::string, int64_t> *matchedBucket = nullptr);
  void store(const Key &key, const Entry &e);
  /// The whole file (schema, entries).
  nlohmann::json read();
  void clear();
  /// Writes every entry to `file`; merges the entries of `file` (same schema)
  /// into the cache, theirs winning for equal keys. Returns the count.
  size_t exportTo(const std::string &file);
  size_t importFrom(const std::string &file);

private:
  std::string path_;
  nlohmann::json load(); // under the lock
  void save(const nlohmann::json &doc);
};

/// What tuning one kernel at one shape needs. The callbacks run the
/// candidate on the real problem; `time` returns milliseconds.
struct Request {
  const dsl::KernelDef *def = nullptr;
  dsl::Config defaults; // the config used when not tuning (complete)
  std::vector<dsl::Config> candidates; // complete configs (defaults first is not required)
  Key key;
  std::function<void(const dsl::Config &)> compile;      // throws to reject
  std::function<std::string(const dsl::Config &)> prune; // reason, or "" to keep
  std::function<std::string(const dsl::Config &)> check; // "" when the output matches
  std::function<double(const dsl::Config &)> time;       // ms
};

/// The config to use and where it came from ("tuned", "cache", "cache
/// (nearest bucket ...)", "default").
struct Selection {
  dsl::Config config;
  std::string source;
};

/// HIP_DISABLE_AUTOTUNE: "1" (anything but "0") never tunes, "0" tunes on
/// every backend; unset: tune on GPUs, use defaults on the CPU backend.
bool autotuneDisabled(bool cpu);
/// Tunes: compiles the candidates in parallel (failures are skipped, with
/// the reason), checks and times them one by one; prints a progress line on
/// stderr. Throws RuntimeError if no candidate is valid.
Entry tune(const Request &r);
/// A config for `r`: the in-process memo, else the cache, else (tuning
/// enabled and not `neverTune`) tune and store, else the defaults.
Selection select(const Request &r, Cache &cache, bool neverTune = false);
/// Forgets the in-process memo of select().
void clearMemo();

/// Candidates of `def`'s space (valid ones) with `fixed` values imposed.
std::vector<dsl::Config> spaceWith(const dsl::KernelDef &def, const dsl::Config &fixed);

/// Median time of `run` in ms over `reps` runs after `warmup` runs; on CUDA
/// with events and a 64 MiB write between runs (flushes L2). Runs longer
/// than `longMs` are timed 3 times at most (their noise is small).
double timeMs(const Target &t, const std::function<void()> &run, int warmup = 1, int reps = 5,
              double longMs = 20);

} // namespace hip::autotune
