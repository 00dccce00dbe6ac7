//===- hip/runtime/cache.h - On-disk compiled-kernel cache ------*- C++ -*-===//
//
// Compiled kernels are stored under $HIP_CACHE_DIR/kernels (default
// ~/.cache/hip-attention) by content hash. Writes are atomic (temp file +
// rename). Each entry carries a header with a magic, the payload length and
// a checksum: a corrupt or truncated entry is reported (warning on stderr),
// removed and treated as a miss.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hip::rt {

/// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256Hex(std::string_view data);

/// $HIP_CACHE_DIR, or $HOME/.cache/hip-attention.
std::string cacheRoot();

struct CacheStats {
  std::uint64_t hits = 0, misses = 0, writes = 0, corrupt = 0;
};

class KernelCache {
public:
  /// The process-wide cache rooted at cacheRoot()/kernels.
  static KernelCache &global();
  explicit KernelCache(std::string dir);

  /// The payload stored under `key` (a hex hash), or nullopt (miss/corrupt).
  std::optional<std::string> get(const std::string &key);
  /// Stores atomically; failures to write only warn (the cache is optional).
  void put(const std::string &key, std::string_view payload);

  const CacheStats &stats() const { return stats_; }
  const std::string &dir() const { return dir_; }
  /// Number of entries and their total size in bytes.
  std::pair<std::size_t, std::uintmax_t> usage() const;
  /// Removes every entry; returns how many.
  std::size_t clear();

private:
  std::string dir_;
  CacheStats stats_;
};

} // namespace hip::rt
