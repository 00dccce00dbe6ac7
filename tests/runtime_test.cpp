//===- tests/runtime_test.cpp - Kernel cache and CUDA runtime tests -------===//
//
// The cache tests run in a fresh temporary directory. The CUDA tests run only
// where a GPU is present and skip (saying why) elsewhere.
//
//===----------------------------------------------------------------------===//

#include "hip/error.h"
#include "hip/runtime/cache.h"
#include "hip/runtime/cuda.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace hip::rt;

namespace {

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495"
                           "991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
                              "b410ff61f20015ad");
  // Two-block padding case (56 bytes).
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/// A KernelCache in a private temporary directory, removed afterwards.
class CacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("hip-runtime-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++));
    fs::remove_all(dir_);
    cache_ = std::make_unique<KernelCache>(dir_.string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path entry(const std::string &key) const { return dir_ / (key + ".bin"); }
  std::string readFile(const fs::path &p) const {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void writeFile(const fs::path &p, const std::string &bytes) const {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  }

  fs::path dir_;
  std::unique_ptr<KernelCache> cache_;
};

const std::string kKey = sha256Hex("kernel source");
const std::string kPayload = std::string("ptx\0binary\xff payload", 19);

TEST_F(CacheTest, MissPutHit) {
  EXPECT_FALSE(cache_->get(kKey));
  EXPECT_EQ(cache_->stats().misses, 1u);
  cache_->put(kKey, kPayload);
  EXPECT_EQ(cache_->stats().writes, 1u);
  EXPECT_TRUE(fs::exists(entry(kKey)));
  auto got = cache_->get(kKey);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, kPayload);
  EXPECT_EQ(cache_->stats().hits, 1u);
  // A second cache object on the same directory sees the entry.
  KernelCache other(dir_.string());
  EXPECT_EQ(other.get(kKey), kPayload);
  EXPECT_EQ(cache_->usage(), std::make_pair(std::size_t(1),
                                            std::uintmax_t(48 + kPayload.size())));
}

TEST_F(CacheTest, TruncatedEntryIsCorrupt) {
  cache_->put(kKey, kPayload);
  std::string bytes = readFile(entry(kKey));
  writeFile(entry(kKey), bytes.substr(0, bytes.size() - 3));
  EXPECT_FALSE(cache_->get(kKey));
  EXPECT_EQ(cache_->stats().corrupt, 1u);
  EXPECT_EQ(cache_->stats().misses, 1u);
  EXPECT_FALSE(fs::exists(entry(kKey)));
  // Shorter than the header.
  writeFile(entry(kKey), "HIPKC0");
  EXPECT_FALSE(cache_->get(kKey));
  EXPECT_EQ(cache_->stats().corrupt, 2u);
  EXPECT_FALSE(fs::exists(entry(kKey)));
}

TEST_F(CacheTest, FlippedByteIsCorrupt) {
  cache_->put(kKey, kPayload);
  std::string bytes = readFile(entry(kKey));
  bytes.back() ^= 0x01;
  writeFile(entry(kKey), bytes);
  EXPECT_FALSE(cache_->get(kKey));
  EXPECT_EQ(cache_->stats().corrupt, 1u);
  EXPECT_FALSE(fs::exists(entry(kKey)));
  // Recompiling and storing again works.
  cache_->put(kKey, kPayload);
  EXPECT_EQ(cache_->get(kKey), kPayload);
}

TEST_F(CacheTest, BadKeyThrows) {
  EXPECT_THROW(cache_->get("../../etc/passwd"), hip::InvalidArgument);
  EXPECT_THROW(cache_->get("abc"), hip::InvalidArgument);
  EXPECT_THROW(cache_->get("DEADBEEF"), hip::InvalidArgument);
  EXPECT_THROW(cache_->put(std::string(129, 'a'), "x"), hip::InvalidArgument);
  EXPECT_NO_THROW(cache_->get("deadbeef"));
}

TEST_F(CacheTest, Clear) {
  cache_->put(sha256Hex("a"), "one");
  cache_->put(sha256Hex("b"), "two");
  writeFile(dir_ / (sha256Hex("c") + ".bin.tmp.1.2"), "stale");
  EXPECT_EQ(cache_->usage().first, 2u);
  EXPECT_EQ(cache_->clear(), 2u);
  EXPECT_EQ(cache_->usage(), std::make_pair(std::size_t(0), std::uintmax_t(0)));
  EXPECT_TRUE(fs::is_empty(dir_));
  EXPECT_FALSE(cache_->get(sha256Hex("a")));
}

TEST_F(CacheTest, ConcurrentPutGet) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        cache_->put(kKey, kPayload);
        auto got = cache_->get(kKey);
        EXPECT_TRUE(got && *got == kPayload);
      }
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(cache_->stats().hits, 200u);
  EXPECT_EQ(cache_->stats().corrupt, 0u);
}

TEST(CacheRoot, Environment) {
  const char *old = std::getenv("HIP_CACHE_DIR");
  std::string saved = old ? old : "";
  ::setenv("HIP_CACHE_DIR", "/some/where", 1);
  EXPECT_EQ(cacheRoot(), "/some/where");
  ::setenv("HIP_CACHE_DIR", "", 1);
  EXPECT_NE(cacheRoot(), "");
  if (old)
    ::setenv("HIP_CACHE_DIR", saved.c_str(), 1);
  else
    ::unsetenv("HIP_CACHE_DIR");
}

TEST(Cuda, AvailabilityHasReason) {
  std::string why;
  if (!cudaAvailable(&why)) {
    EXPECT_FALSE(why.empty());
    EXPECT_THROW(Cuda::get(), hip::RuntimeError);
  }
}

TEST(Cuda, NvrtcKernelEndToEnd) {
  std::string why;
  if (!cudaAvailable(&why))
    GTEST_SKIP() << "no CUDA GPU: " << why;
  Cuda &cuda = Cuda::get();
  const DeviceInfo &info = cuda.info();
  EXPECT_GT(info.smCount, 0);
  EXPECT_GE(info.sharedPerBlockOptin, info.sharedPerBlock);
  EXPECT_EQ(info.smTarget().rfind("sm_", 0), 0u);

  std::string ptx = nvrtcCompile(
      "extern \"C\" __global__ void twice(int *out, int n) {\n"
      "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
      "  if (i < n) out[i] = i * 2;\n"
      "}\n",
      "twice.cu", info.smTarget());
  ASSERT_NE(ptx.find(".entry twice"), std::string::npos);
  KernelHandle k = cuda.loadPTX(ptx, "twice", 0);
  EXPECT_THROW(cuda.loadPTX(ptx, "missing", 0), hip::RuntimeError);
  EXPECT_THROW(cuda.loadPTX(ptx, "twice", info.sharedPerBlockOptin + 1),
               hip::RuntimeError);
  if (info.sharedPerBlockOptin > 64 * 1024) { // opts in beyond 48 KiB
    EXPECT_NO_THROW(cuda.loadPTX(ptx, "twice", info.sharedPerBlockOptin));
  }

  int n = 1000;
  DeviceBuffer buf(n * sizeof(int));
  cuda.memsetD8(buf.ptr(), 0xff, buf.size());
  DevicePtr p = buf.ptr();
  void *args[] = {&p, &n};
  unsigned grid[3] = {unsigned(n + 127) / 128, 1, 1}, block[3] = {128, 1, 1};
  Event start = cuda.createEvent(), end = cuda.createEvent();
  cuda.record(start);
  cuda.launch(k, grid, block, 0, args);
  cuda.record(end);
  EXPECT_GE(cuda.elapsedMs(start, end), 0.0f);
  cuda.destroyEvent(start);
  cuda.destroyEvent(end);
  cuda.synchronize();
  std::vector<int> host(n);
  cuda.copyToHost(host.data(), buf.ptr(), buf.size());
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(host[i], 2 * i) << "at " << i;
}

/// bf16 of a float whose low 16 bits are zero (small integers).
std::uint16_t bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return std::uint16_t(u >> 16);
}

TEST(Cuda, CublasRowMajorGemm) {
  std::string why;
  if (!cudaAvailable(&why))
    GTEST_SKIP() << "no CUDA GPU: " << why;
  const int m = 2, n = 3, k = 4;
  std::vector<std::uint16_t> a(m * k), b(k * n);
  for (int i = 0; i < m * k; ++i)
    a[i] = bf16(float(i + 1));
  for (int i = 0; i < k * n; ++i)
    b[i] = bf16(float(i % 5) - 2);
  Cuda &cuda = Cuda::get();
  DeviceBuffer da(a.size() * 2), db(b.size() * 2), dc(m * n * 4);
  cuda.copyToDevice(da.ptr(), a.data(), da.size());
  cuda.copyToDevice(db.ptr(), b.data(), db.size());
  try {
    cublasGemm(m, n, k, da.ptr(), db.ptr(), dc.ptr(), 0, true);
  } catch (const hip::RuntimeError &e) {
    GTEST_SKIP() << e.what();
  }
  std::vector<float> c(m * n);
  cuda.copyToHost(c.data(), dc.ptr(), dc.size());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float want = 0;
      for (int l = 0; l < k; ++l)
        want += float(i * k + l + 1) * (float((l * n + j) % 5) - 2);
      EXPECT_EQ(c[i * n + j], want) << i << "," << j;
    }
}

} // namespace

// A freed buffer is handed out again for the same size (no cuMemAlloc or
// cuMemFree per call), not for another size, and keeps working as memory.
TEST(Cuda, FreedBuffersAreReusedForTheSameSize) {
  std::string why;
  if (!hip::rt::cudaAvailable(&why))
    GTEST_SKIP() << "no CUDA GPU: " << why;
  if (const char *e = std::getenv("HIP_CUDA_ALLOC_CACHE"); e && std::string(e) == "0")
    GTEST_SKIP() << "HIP_CUDA_ALLOC_CACHE=0: buffers are freed at once";
  auto &cu = hip::rt::Cuda::get();
  const std::size_t n = (std::size_t(3) << 20) + 4;
  hip::rt::DevicePtr a = cu.alloc(n);
  cu.free(a);
  hip::rt::DevicePtr b = cu.alloc(n), c = cu.alloc(n);
  EXPECT_EQ(b, a);
  EXPECT_NE(c, a);
  hip::rt::DevicePtr d = cu.alloc(n + 4);
  EXPECT_NE(d, a);
  std::vector<unsigned char> in(n), out(n, 0);
  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i * 7 + 1);
  cu.copyToDevice(b, in.data(), n);
  cu.copyToHost(out.data(), b, n);
  EXPECT_EQ(out, in);
  cu.free(b);
  cu.free(c);
  cu.free(d);
}
