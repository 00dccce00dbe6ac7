//===- tests/cache_test.cpp - The on-disk compiled-kernel cache -----------===//
//
// Uses the process-wide cache under HIP_CACHE_DIR (ctest points it at
// build/test-cache). PTX compilation needs no GPU, so these run in CI.
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/kernels/examples.h"
#include "hip/runtime/cache.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace hip;

namespace {
dsl::Kernel matmulKernel(const dsl::Config &c = {}) {
  kernels::registerExampleKernels();
  return dsl::trace(dsl::findKernel("matmul"), c);
}

class KernelCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    rt::KernelCache::global().clear();
    clearInMemoryCache();
  }
};
} // namespace

TEST_F(KernelCacheTest, ColdCompileThenWarmHit) {
  auto &cache = rt::KernelCache::global();
  Target t = parseTarget("sm_90a");
  auto before = cache.stats();
  auto cold = compile(matmulKernel(), t);
  EXPECT_FALSE(cold->fromCache);
  EXPECT_EQ(cache.stats().misses, before.misses + 1);
  EXPECT_EQ(cache.stats().writes, before.writes + 1);
  EXPECT_TRUE(std::filesystem::exists(cache.dir() + "/" + cold->cacheKey + ".bin"));

  clearInMemoryCache();
  auto warm = compile(matmulKernel(), t);
  EXPECT_TRUE(warm->fromCache);
  EXPECT_EQ(cache.stats().hits, before.hits + 1);
  EXPECT_EQ(warm->ptx, cold->ptx);
  EXPECT_EQ(warm->sharedBytes, cold->sharedBytes);
  EXPECT_EQ(warm->numThreads, cold->numThreads);
}

// A kernel whose box loads sm_90a copies with TMA takes its descriptors'
// recipes from the cache with its PTX (what each launch builds them from).
TEST_F(KernelCacheTest, TmaDescriptorsComeBackFromTheCache) {
  Target t = parseTarget("sm_90a");
  dsl::Config c{{"BLOCK_K", 64}, {"num_stages", 4}, {"tma", 1}};
  auto cold = compile(matmulKernel(c), t);
  // A [M, K] and B [K, N]: arguments a (0), b (1), M (3), N (4), K (5),
  // lda (6), ldb (7); boxes of 128 x 64 and 64 x 64 (one 64-column group).
  ASSERT_EQ(cold->tensorMaps.size(), 2u);
  EXPECT_EQ(cold->tensorMaps[0].base, 0);
  EXPECT_EQ(cold->tensorMaps[0].sizes, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(cold->tensorMaps[0].strides, (std::vector<int64_t>{6}));
  EXPECT_EQ(cold->tensorMaps[0].boxRows, 128);
  EXPECT_EQ(cold->tensorMaps[1].base, 1);
  EXPECT_EQ(cold->tensorMaps[1].sizes, (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(cold->tensorMaps[1].boxRows, 64);
  EXPECT_NE(cold->ptx.find("cp.async.bulk.tensor.2d"), std::string::npos);
  clearInMemoryCache();
  auto warm = compile(matmulKernel(c), t);
  ASSERT_TRUE(warm->fromCache);
  ASSERT_EQ(warm->tensorMaps.size(), cold->tensorMaps.size());
  for (size_t i = 0; i < warm->tensorMaps.size(); ++i) {
    const TensorMapSpec &w = warm->tensorMaps[i], &k = cold->tensorMaps[i];
    EXPECT_EQ(w.base, k.base);
    EXPECT_EQ(w.sizes, k.sizes);
    EXPECT_EQ(w.strides, k.strides);
    EXPECT_EQ(w.bf16, k.bf16);
    EXPECT_EQ(w.boxRows, k.boxRows);
    EXPECT_EQ(w.boxCols, k.boxCols);
  }
  // sm_80 has no TMA: the same boxes by cp.async, no descriptors.
  EXPECT_TRUE(compile(matmulKernel(c), parseTarget("sm_80"))->tensorMaps.empty());
}

TEST_F(KernelCacheTest, CorruptEntryIsRecompiled) {
  auto &cache = rt::KernelCache::global();
  Target t = parseTarget("sm_90a");
  auto cold = compile(matmulKernel(), t);
  std::string path = cache.dir() + "/" + cold->cacheKey + ".bin";
  // Truncate the entry in the middle of its payload.
  auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  clearInMemoryCache();
  auto before = cache.stats();
  auto again = compile(matmulKernel(), t);
  EXPECT_FALSE(again->fromCache);
  EXPECT_EQ(cache.stats().corrupt, before.corrupt + 1);
  EXPECT_EQ(again->ptx, cold->ptx);
  // The rewritten entry is whole again.
  EXPECT_EQ(std::filesystem::file_size(path), size);
}

TEST_F(KernelCacheTest, KeyChangesWithConfigTargetAndCodegenEnvironment) {
  Target t = parseTarget("sm_90a");
  std::string base = compile(matmulKernel(), t)->cacheKey;
  EXPECT_NE(base, compile(matmulKernel({{"num_stages", 3}}), t)->cacheKey);
  EXPECT_NE(base, compile(matmulKernel(), parseTarget("sm_80"))->cacheKey);
  ::setenv("HIP_PTX_VERSION", "85", 1);
  Target t85 = parseTarget("sm_90a");
  EXPECT_EQ(t85.ptxVersion, 85);
  auto k85 = compile(matmulKernel(), t85);
  ::unsetenv("HIP_PTX_VERSION");
  EXPECT_NE(base, k85->cacheKey);
  EXPECT_NE(k85->ptx.find(".version 8.5"), std::string::npos);
  EXPECT_EQ(base, compile(matmulKernel(), t)->cacheKey); // stable
}

TEST(Targets, ParseAndReject) {
  EXPECT_EQ(parseTarget("sm_90a").arch, "sm_90a");
  EXPECT_EQ(parseTarget("sm_90a").ptxVersion, 80);
  EXPECT_EQ(parseTarget("cpu").backend, Backend::CPU);
  EXPECT_THROW(parseTarget("sm_75"), InvalidArgument);
  ::setenv("HIP_PTX_VERSION", "70", 1);
  EXPECT_THROW(parseTarget("sm_90a"), InvalidArgument);
  ::unsetenv("HIP_PTX_VERSION");
}
