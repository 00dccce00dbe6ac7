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
