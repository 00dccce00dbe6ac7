//===- autotune/autotune.cpp - Tuning, its JSON cache and the memo ---------===//
#include "hip/autotune/autotune.h"

#include "hip/error.h"
#include "hip/runtime/cache.h"
#include "hip/runtime/cuda.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <tuple>
#include <sstream>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace hip::autotune {

namespace {
json toJson(const std::map<std::string, int64_t> &m) {
  json j = json::object();
  for (auto &[k, v] : m) j[k] = v;
  return j;
}
std::map<std::string, int64_t> fromJson(const json &j) {
  std::map<std::string, int64_t> m;
  for (auto it = j.begin(); it != j.end(); ++it) m[it.key()] = it.value().get<int64_t>();
  return m;
}

json entryJson(const Key &k, const Entry &e) {
  json c = json::array();
  for (const Candidate &x : e.candidates)
    c.push_back({{"config", toJson(x.config.values())}, {"ms", x.ms}, {"status", x.status}});
  return {{"kernel", k.kernel},           {"kernel_version", k.version},
          {"gpu", k.gpu},                 {"exact", toJson(k.exact)},
          {"bucket", toJson(k.bucket)},   {"config", toJson(e.config.values())},
          {"candidates", c},              {"tuned_at", e.tunedAt},
          {"project_version", e.projectVersion}};
}

Entry entryFrom(const json &j) {
  Entry e;
  e.config = dsl::Config(fromJson(j.at("config")));
  for (const json &c : j.value("candidates", json::array()))
    e.candidates.push_back({dsl::Config(fromJson(c.at("config"))), c.value("ms", -1.0),
                            c.value("status", std::string())});
  e.tunedAt = j.value("tuned_at", std::string());
  e.projectVersion = j.value("project_version", std::string());
  return e;
}

/// Entry `j` is for `k`'s kernel, version, GPU and exact values (any bucket).
bool sameKernelAndGpu(const json &j, const Key &k) {
  return j.value("kernel", "") == k.kernel && j.value("kernel_version", "") == k.version &&
         j.value("gpu", "") == k.gpu && fromJson(j.value("exact", json::object())) == k.exact;
}

/// Why entry `e` is not one this build wrote ("" when it is): every field a
/// lookup reads, with its type.
std::string entryProblem(const json &e) {
  if (!e.is_object()) return "an entry is not an object";
  auto ints = [](const json &m) {
    if (!m.is_object()) return false;
    for (auto it = m.begin(); it != m.end(); ++it)
      if (!it.value().is_number_integer()) return false;
    return true;
  };
  for (const char *f : {"kernel", "kernel_version", "gpu"})
    if (!e.contains(f) || !e[f].is_string()) return std::string("an entry's \"") + f + "\" is not a string";
  for (const char *f : {"tuned_at", "project_version"})
    if (e.contains(f) && !e[f].is_string()) return std::string("an entry's \"") + f + "\" is not a string";
  for (const char *f : {"exact", "bucket", "config"})
    if (!e.contains(f) || !ints(e[f]))
      return std::string("an entry's \"") + f + "\" is not an object of integers";
  if (e.contains("candidates")) {
    if (!e["candidates"].is_array()) return "an entry's \"candidates\" is not a list";
    for (const json &c : e["candidates"])
      if (!c.is_object() || !c.contains("config") || !ints(c["config"]) ||
          (c.contains("ms") && !c["ms"].is_number()) ||
          (c.contains("status") && !c["status"].is_string()))
        return "a candidate is not {config, ms, status}";
  }
  return "";
}

/// Why `doc` is not a tuning file of this build's schema ("" when it is).
std::string schemaProblem(const json &doc) {
  if (!doc.is_object() || !doc.contains("schema") || !doc["schema"].is_number_integer())
    return "no schema version";
  if (doc["schema"].get<int>() != Cache::kSchemaVersion)
    return "schema version " + std::to_string(doc["schema"].get<int>()) + ", this build reads " +
           std::to_string(Cache::kSchemaVersion);
  if (!doc.contains("entries") || !doc["entries"].is_array()) return "no entries list";
  for (const json &e : doc["entries"])
    if (std::string why = entryProblem(e); !why.empty()) return why;
  return "";
}

/// Adds entry `e` to `entries`, replacing the one with the same key.
void upsert(json &entries, const json &e) {
  for (size_t i = 0; i < entries.size(); ++i) {
    bool same = true;
    for (const char *f : {"kernel", "kernel_version", "gpu", "exact", "bucket"})
      same = same && entries[i].value(f, json()) == e.value(f, json());
    if (same) {
      entries.erase(entries.begin() + long(i));
      break;
    }
  }
  entries.push_back(e);
}

/// The tuning cache's folder cannot be used (a file, unwritable, vanished).
class CacheUnavailable : public RuntimeError {
public:
  using RuntimeError::RuntimeError;
};

/// One warning per process: tuning goes on without the disk cache.
void warnNoCache(const std::string &why) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    std::fprintf(stderr, "hip-attention: warning: %s; tuning results are not cached on disk\n",
                 why.c_str());
}

/// An exclusive advisory lock on `path`.lock for the scope.
class FileLock {
public:
  explicit FileLock(const std::string &path) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec)
      throw CacheUnavailable("cannot create the tuning cache folder " +
                             fs::path(path).parent_path().string() + " (" + ec.message() + ")");
    fd_ = ::open((path + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
    if (fd_ < 0)
      throw CacheUnavailable("cannot open the lock file " + path + ".lock (" +
                             std::strerror(errno) + ")");
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

private:
  int fd_;
};

std::string now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::mutex memoMutex;
std::map<std::string, Selection> memo;
} // namespace

std::map<std::string, int64_t> Key::pow2Bucket(const std::map<std::string, int64_t> &dims) {
  std::map<std::string, int64_t> out;
  for (auto &[k, v] : dims) {
    int64_t p = 1;
    while (p < v) p *= 2;
    out[k] = p;
  }
  return out;
}

std::string Key::str() const {
  return kernel + "|" + version + "|" + gpu + "|" + toJson(exact).dump() + "|" + toJson(bucket).dump();
}

std::string deviceFingerprint(const Target &t) {
  if (t.backend == Backend::CUDA) return rt::Cuda::get().info().fingerprint();
  static const std::string cpu = [] {
    std::string model = "unknown";
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("model name", 0) == 0) {
        model = line.substr(line.find(':') + 2);
        break;
      }
    return "cpu|" + model + "|" + std::to_string(std::thread::hardware_concurrency());
  }();
  return cpu;
}

std::string kernelVersion(const dsl::KernelDef &def, const dsl::Config &config) {
  // Tracing costs milliseconds and every tuned launch asks: once per
  // kernel and config (a kernel's IR depends on nothing else).
  static std::mutex mu;
  static std::map<std::string, std::string> known;
  std::string key = def.name + "|" + config.str();
  {
    std::lock_guard<std::mutex> g(mu);
    auto it = known.find(key);
    if (it != known.end()) return it->second;
  }
  std::string v = rt::sha256Hex(dsl::trace(def, config).print() + compilerVersion()).substr(0, 16);
  std::lock_guard<std::mutex> g(mu);
  return known.emplace(key, v).first->second;
}

// ---- Cache -----------------------------------------------------------------------------
Cache::Cache(std::string path) : path_(std::move(path)) {}

std::string Cache::defaultPath() { return rt::cacheRoot() + "/autotune.json"; }

json Cache::load() {
  json empty = {{"schema", kSchemaVersion}, {"entries", json::array()}};
  std::ifstream in(path_);
  if (!in) return empty;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string why;
  json doc;
  try {
    doc = json::parse(ss.str());
    why = schemaProblem(doc);
  } catch (const json::exception &e) {
    why = std::string("not valid JSON (") + e.what() + ")";
  }
  if (why.empty()) return doc;
  std::string aside = path_ + ".bad-" + std::to_string(std::time(nullptr));
  std::error_code ec;
  fs::rename(path_, aside, ec);
  std::fprintf(stderr, "hip-attention: warning: %s: %s; moved aside to %s, starting afresh\n",
               path_.c_str(), why.c_str(), aside.c_str());
  return empty;
}

void Cache::save(const json &doc) {
  std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(1) << "\n";
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw RuntimeError("autotune: cannot write " + tmp);
    }
  }
  std::error_code ec;
  fs::rename(tmp, path_, ec);
  if (ec) throw RuntimeError("autotune: cannot replace " + path_ + ": " + ec.message());
}

json Cache::read() {
  // A process reads the file once; later reads reuse the parsed document
  // while the file's size and modification time stay the same.
  static std::mutex mu;
  static std::map<std::string, std::tuple<fs::file_time_type, uintmax_t, json>> parsed;
  std::error_code ec;
  auto mtime = fs::last_write_time(path_, ec);
  auto size = ec ? 0 : fs::file_size(path_, ec);
  if (!ec) {
    std::lock_guard<std::mutex> g(mu);
    auto it = parsed.find(path_);
    if (it != parsed.end() && std::get<0>(it->second) == mtime && std::get<1>(it->second) == size)
      return std::get<2>(it->second);
  }
  json doc;
  try {
    FileLock lock(path_);
    doc = load();
  } catch (const CacheUnavailable &e) {
    warnNoCache(e.what());
    return {{"schema", kSchemaVersion}, {"entries", json::array()}};
  }
  if (!ec) {
    std::lock_guard<std::mutex> g(mu);
    parsed[path_] = {mtime, size, doc};
  }
  return doc;
}

std::optional<Entry> Cache::lookup(const Key &key, bool nearest,
                                   std::map<std::string, int64_t> *matched) {
  json doc = read();
  const json *best = nullptr;
  double bestDist = INFINITY;
  for (const json &e : doc["entries"]) {
    if (!sameKernelAndGpu(e, key)) continue;
    auto b = fromJson(e.value("bucket", json::object()));
    if (b.size() != key.bucket.size()) continue;
    double d = 0;
    for (auto &[k, v] : key.bucket) {
      auto it = b.find(k);
      if (it == b.end() || it->second <= 0 || v <= 0) {
        d = INFINITY;
        break;
      }
      d += std::abs(std::log2(double(it->second)) - std::log2(double(v)));
    }
    if (d < bestDist) bestDist = d, best = &e;
  }
  if (!best || (bestDist > 0 && !nearest)) return std::nullopt;
  if (matched) *matched = fromJson((*best)["bucket"]);
  return entryFrom(*best);
}

void Cache::store(const Key &key, const Entry &e) {
  // Best effort: a cache that cannot be written (a file in the way, no
  // space) leaves the file as it was and tuning goes on without it.
  try {
    FileLock lock(path_);
    json doc = load();
    upsert(doc["entries"], entryJson(key, e));
    save(doc);
  } catch (const RuntimeError &err) {
    warnNoCache(err.what());
  }
}

void Cache::clear() {
  FileLock lock(path_);
  std::error_code ec;
  fs::remove(path_, ec);
}

size_t Cache::exportTo(const std::string &file) {
  json doc = read();
  std::ofstream out(file, std::ios::trunc);
  out << doc.dump(1) << "\n";
  if (!out) throw RuntimeError("cannot write " + file);
  return doc["entries"].size();
}

size_t Cache::importFrom(const std::string &file) {
  std::ifstream in(file);
  if (!in) throw InvalidArgument("cannot read " + file);
  json theirs;
  try {
    theirs = json::parse(in);
  } catch (const json::exception &e) {
    throw InvalidArgument(file + ": not valid JSON (" + e.what() + ")");
  }
  std::string why = schemaProblem(theirs);
  if (!why.empty())
    throw InvalidArgument(file + ": not an autotune export of schema version " +
                          std::to_string(kSchemaVersion) + " (" + why + ")");
  FileLock lock(path_);
  json doc = load();
  for (const json &e : theirs["entries"]) upsert(doc["entries"], e);
  save(doc);
  return theirs["entries"].size();
}

// ---- Tuning ------------------------------------------------------------------------------
bool autotuneDisabled(bool cpu) {
  const char *s = std::getenv("HIP_DISABLE_AUTOTUNE");
  if (!s || !*s) return cpu;
  return std::string(s) != "0";
}

std::vector<dsl::Config> spaceWith(const dsl::KernelDef &def, const dsl::Config &fixed) {
  std::vector<dsl::Config> out;
  for (dsl::Config c : dsl::enumerateConfigs(def)) {
    for (auto &[k, v] : fixed.values())
      if (!std::any_of(def.space.begin(), def.space.end(), [&](auto &s) { return s.first == k; }))
        c.set(k, v);
    if (def.validate && !def.validate(c).empty()) continue;
    if (std::find_if(out.begin(), out.end(), [&](auto &o) { return o.values() == c.values(); }) ==
        out.end())
      out.push_back(c);
  }
  return out;
}

namespace {
/// The schedule part of `c` (the keys of the kernel's space).
std::string scheduleOf(const dsl::KernelDef &def, const dsl::Config &c) {
  std::string out;
  for (auto &[k, values] : def.space)
    if (c.has(k)) out += (out.empty() ? "" : ",") + k + "=" + std::to_string(c[k]);
  return out.empty() ? c.str() : out;
}
} // namespace

Entry tune(const Request &r) {
  std::vector<Candidate> cands;
  for (const dsl::Config &c : r.candidates) cands.push_back({c, -1, ""});
  // Prune, then compile the survivors in parallel.
  for (Candidate &c : cands)
    if (r.prune) {
      std::string why = r.prune(c.config);
      if (!why.empty()) c.status = "pruned: " + why;
    }
  std::atomic<size_t> next{0};
  unsigned workers = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(),
                                                     unsigned(cands.size())));
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < cands.size();) {
        if (!cands[i].status.empty()) continue;
        try {
          if (r.compile) r.compile(cands[i].config);
        } catch (const std::exception &e) {
          cands[i].status = std::string("compile error: ") + e.what();
        }
      }
    });
  for (auto &t : pool) t.join();
  // Check, then time, one at a time.
  size_t done = 0, best = cands.size();
  for (size_t i = 0; i < cands.size(); ++i) {
    Candidate &c = cands[i];
    if (c.status.empty()) {
      try {
        std::string why = r.check ? r.check(c.config) : "";
        if (!why.empty()) {
          c.status = "wrong output: " + why;
        } else {
          c.ms = r.time(c.config);
          c.status = "ok";
          if (best == cands.size() || c.ms < cands[best].ms) best = i;
        }
      } catch (const std::exception &e) {
        c.status = std::string("run error: ") + e.what();
      }
    }
    ++done;
    std::fprintf(stderr, "\rautotune %s: %zu/%zu candidates, best %s", r.def->name.c_str(), done,
                 cands.size(),
                 best < cands.size()
                     ? (std::to_string(cands[best].ms) + " ms [" + scheduleOf(*r.def, cands[best].config) + "]").c_str()
                     : "none yet");
  }
  std::fprintf(stderr, "\n");
  if (best == cands.size()) {
    std::string why;
    for (auto &c : cands) why += "\n  [" + c.config.str() + "] " + c.status;
    throw RuntimeError("autotune " + r.def->name + ": no valid candidate:" + why);
  }
  return {cands[best].config, cands, now(), HIP_VERSION_STRING};
}

Selection select(const Request &r, Cache &cache, bool neverTune) {
  bool disabled = neverTune || autotuneDisabled(r.key.gpu.rfind("cpu|", 0) == 0);
  std::string memoKey = r.key.str() + (disabled ? "|off" : "|on");
  {
    std::lock_guard<std::mutex> g(memoMutex);
    auto it = memo.find(memoKey);
    if (it != memo.end()) return it->second;
  }
  Selection s;
  std::map<std::string, int64_t> matched;
  if (auto e = cache.lookup(r.key, disabled, &matched)) {
    s = {e->config, matched == r.key.bucket ? "cache" : "cache (nearest bucket " + toJson(matched).dump() + ")"};
  } else if (disabled) {
    s = {r.defaults, "default"};
  } else {
    std::fprintf(stderr, "hip-attention: tuning %s for %s (first use; the result is cached in %s)\n",
                 r.def->name.c_str(), toJson(r.key.bucket).dump().c_str(), cache.path().c_str());
    Entry e = tune(r);
    cache.store(r.key, e);
    s = {e.config, "tuned"};
  }
  std::lock_guard<std::mutex> g(memoMutex);
  memo[memoKey] = s;
  return s;
}

void clearMemo() {
  std::lock_guard<std::mutex> g(memoMutex);
  memo.clear();
}

double timeMs(const Target &t, const std::function<void()> &run, int warmup, int reps,
              double longMs) {
  for (int i = 0; i < warmup; ++i) run();
  std::vector<double> ms;
  if (t.backend == Backend::CUDA) {
    rt::Cuda &cu = rt::Cuda::get();
    static rt::DeviceBuffer flush(size_t(64) << 20);
    rt::Event a = cu.createEvent(), b = cu.createEvent();
    for (int i = 0; i < reps; ++i) {
      cu.memsetD8(flush.ptr(), uint8_t(i), flush.size());
      cu.record(a);
      run();
      cu.record(b);
      ms.push_back(cu.elapsedMs(a, b));
      if (i == 0 && ms[0] > longMs) reps = std::min(reps, 3);
    }
    cu.destroyEvent(a);
    cu.destroyEvent(b);
  } else {
    for (int i = 0; i < reps; ++i) {
      auto s = std::chrono::steady_clock::now();
      run();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
      if (i == 0 && ms[0] > longMs) reps = std::min(reps, 3);
    }
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

} // namespace hip::autotune
