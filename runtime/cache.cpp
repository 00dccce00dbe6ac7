//===- runtime/cache.cpp - On-disk compiled-kernel cache ------------------===//
//
// Entry layout (dir/<key>.bin):
//   8 bytes  magic "HIPKC001"
//   8 bytes  payload length, little endian
//   32 bytes SHA-256 of the payload
//   payload
//
//===----------------------------------------------------------------------===//

#include "hip/runtime/cache.h"

#include "hip/error.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>

namespace fs = std::filesystem;

namespace hip::rt {
namespace {

//===----------------------------------------------------------------------===//
// SHA-256 (FIPS 180-4)
//===----------------------------------------------------------------------===//

using Digest = std::array<std::uint8_t, 32>;

constexpr std::uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

/// Processes one 64-byte block into the hash state `h`.
void compress(std::uint32_t h[8], const std::uint8_t *block) {
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i)
    w[i] = std::uint32_t(block[4 * i]) << 24 |
           std::uint32_t(block[4 * i + 1]) << 16 |
           std::uint32_t(block[4 * i + 2]) << 8 | block[4 * i + 3];
  for (int i = 16; i < 64; ++i) {
    std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ w[i - 15] >> 3;
    std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ w[i - 2] >> 10;
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5],
                g = h[6], k = h[7];
  for (int i = 0; i < 64; ++i) {
    std::uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                       ((e & f) ^ (~e & g)) + kRound[i] + w[i];
    std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
                       ((a & b) ^ (a & c) ^ (b & c));
    k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d;
  h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

Digest sha256(std::string_view data) {
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto *p = reinterpret_cast<const std::uint8_t *>(data.data());
  std::size_t n = data.size(), full = n / 64 * 64;
  for (std::size_t i = 0; i < full; i += 64)
    compress(h, p + i);
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian number.
  std::uint8_t tail[128] = {};
  std::size_t rest = n - full;
  std::memcpy(tail, p + full, rest);
  tail[rest] = 0x80;
  std::size_t tailLen = rest < 56 ? 64 : 128;
  std::uint64_t bits = std::uint64_t(n) * 8;
  for (int i = 0; i < 8; ++i)
    tail[tailLen - 1 - i] = std::uint8_t(bits >> (8 * i));
  for (std::size_t i = 0; i < tailLen; i += 64)
    compress(h, tail + i);
  Digest out;
  for (int i = 0; i < 32; ++i)
    out[i] = std::uint8_t(h[i / 4] >> (24 - 8 * (i % 4)));
  return out;
}

//===----------------------------------------------------------------------===//
// Entries
//===----------------------------------------------------------------------===//

constexpr char kMagic[8] = {'H', 'I', 'P', 'K', 'C', '0', '0', '1'};
constexpr std::size_t kHeaderSize = 8 + 8 + 32;

/// Guards the statistics of every KernelCache.
std::mutex statsMutex;

void bump(std::uint64_t &counter) {
  std::lock_guard<std::mutex> lock(statsMutex);
  ++counter;
}

/// Throws hip::InvalidArgument unless `key` is 8 to 128 lowercase hex digits.
void checkKey(const std::string &key) {
  bool ok = key.size() >= 8 && key.size() <= 128;
  for (char c : key)
    ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok)
    throw InvalidArgument("kernel cache key '" + key +
                          "' is not 8 to 128 lowercase hex digits");
}

/// Why `file` (a whole entry) is not a valid entry, or "" if it is.
std::string validate(const std::string &file) {
  if (file.size() < kHeaderSize)
    return "truncated header";
  if (std::memcmp(file.data(), kMagic, sizeof(kMagic)) != 0)
    return "bad magic";
  std::uint64_t len = 0;
  for (int i = 0; i < 8; ++i)
    len |= std::uint64_t(std::uint8_t(file[8 + i])) << (8 * i);
  if (len != file.size() - kHeaderSize)
    return "payload length " + std::to_string(file.size() - kHeaderSize) +
           ", header says " + std::to_string(len);
  Digest d = sha256(std::string_view(file).substr(kHeaderSize));
  if (std::memcmp(file.data() + 16, d.data(), d.size()) != 0)
    return "checksum mismatch";
  return "";
}

bool isEntry(const fs::path &p) { return p.extension() == ".bin"; }
bool isTemp(const fs::path &p) {
  return p.filename().string().find(".bin.tmp.") != std::string::npos;
}

} // namespace

std::string sha256Hex(std::string_view data) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : sha256(data)) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string cacheRoot() {
  if (const char *dir = std::getenv("HIP_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/hip-attention";
  return "/tmp/hip-attention-cache";
}

KernelCache &KernelCache::global() {
  static KernelCache cache(cacheRoot() + "/kernels");
  return cache;
}

KernelCache::KernelCache(std::string dir) : dir_(std::move(dir)) {}

std::optional<std::string> KernelCache::get(const std::string &key) {
  checkKey(key);
  fs::path path = fs::path(dir_) / (key + ".bin");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    bump(stats_.misses);
    return std::nullopt;
  }
  std::string file((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  in.close();
  if (std::string why = validate(file); !why.empty()) {
    std::fprintf(stderr,
                 "hip-attention: warning: corrupt kernel cache entry %s (%s); "
                 "recompiling\n",
                 path.c_str(), why.c_str());
    std::error_code ec;
    fs::remove(path, ec);
    std::lock_guard<std::mutex> lock(statsMutex);
    ++stats_.corrupt;
    ++stats_.misses;
    return std::nullopt;
  }
  bump(stats_.hits);
  return file.substr(kHeaderSize);
}

void KernelCache::put(const std::string &key, std::string_view payload) {
  checkKey(key);
  fs::path path = fs::path(dir_) / (key + ".bin");
  thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng());
  auto warn = [&](const std::string &why) {
    // One warning per process: compiling goes on without the disk cache.
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      std::fprintf(stderr,
                   "hip-attention: warning: cannot write kernel cache entry %s "
                   "(%s); compiled kernels are not cached on disk\n",
                   path.c_str(), why.c_str());
    std::error_code ec;
    fs::remove(tmp, ec);
  };
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    return warn(ec.message());
  char header[kHeaderSize];
  std::memcpy(header, kMagic, sizeof(kMagic));
  for (int i = 0; i < 8; ++i)
    header[8 + i] = char(std::uint64_t(payload.size()) >> (8 * i));
  Digest d = sha256(payload);
  std::memcpy(header + 16, d.data(), d.size());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(header, sizeof(header));
    out.write(payload.data(), std::streamsize(payload.size()));
    out.close();
    if (!out)
      return warn(std::strerror(errno));
  }
  fs::rename(tmp, path, ec);
  if (ec)
    return warn(ec.message());
  bump(stats_.writes);
}

std::pair<std::size_t, std::uintmax_t> KernelCache::usage() const {
  std::size_t entries = 0;
  std::uintmax_t bytes = 0;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(dir_, ec)) {
    if (!e.is_regular_file(ec) || !isEntry(e.path()))
      continue;
    ++entries;
    bytes += e.file_size(ec);
  }
  return {entries, bytes};
}

std::size_t KernelCache::clear() {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(dir_, ec)) {
    bool entry = isEntry(e.path());
    if (e.is_regular_file(ec) && (entry || isTemp(e.path())) &&
        fs::remove(e.path(), ec) && entry)
      ++removed;
  }
  return removed;
}

} // namespace hip::rt
