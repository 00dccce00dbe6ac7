//===- tests/dsl_test.cpp - Tracing, printing, configs, registry ----------===//
#include "hip/dsl/dsl.h"
#include "hip/kernels/examples.h"

#include <gtest/gtest.h>

using namespace hip::dsl;

TEST(Dsl, TracesVectorAddIntoTileIR) {
  hip::kernels::registerExampleKernels();
  Kernel k = trace(findKernel("vector_add"), Config{{"BLOCK", 256}});
  std::string ir = k.print();
  EXPECT_NE(ir.find("tile.kernel @vector_add("), std::string::npos) << ir;
  EXPECT_NE(ir.find("tile.arange"), std::string::npos) << ir;
  EXPECT_NE(ir.find("tile.load"), std::string::npos) << ir;
  EXPECT_NE(ir.find("tile<256x!ptr<f32>>"), std::string::npos) << ir;
  EXPECT_NE(ir.find("BLOCK = 256"), std::string::npos) << ir;
  ASSERT_EQ(k.params.size(), 4u);
  EXPECT_EQ(k.params[3].name, "n");
  EXPECT_EQ(k.numWarps, 4);
}

TEST(Dsl, BroadcastFollowsNumpyRules) {
  Builder b("bcast");
  Val col = expand_dims(arange(0, 8), 1); // [8, 1]
  Val row = expand_dims(arange(0, 4), 0); // [1, 4]
  Val s = col + row;
  EXPECT_EQ(s.shape(), (std::vector<int64_t>{8, 4}));
  Val t = s * 2; // literal adopts i32
  EXPECT_EQ(t.dtype(), DType::i32);
  Val f = cast(t, DType::f32) + 0.5;
  EXPECT_EQ(f.dtype(), DType::f32);
  EXPECT_EQ(sum(f, 1).shape(), (std::vector<int64_t>{8}));
  EXPECT_EQ(sum(sum(f, 1), 0).shape(), (std::vector<int64_t>{}));
  EXPECT_EQ(trans(f).shape(), (std::vector<int64_t>{4, 8}));
  auto [v, i] = topk(f, 2);
  EXPECT_EQ(v.shape(), (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(i.dtype(), DType::i32);
}

TEST(Dsl, LoopsCarryValuesAndIfsYieldThem) {
  Builder b("loops");
  Val p = b.arg("p", ptr(DType::f32));
  Val n = b.arg("n", DType::i32);
  auto r = for_range(0, n, 1, {full({16}, 0.0, DType::f32)}, [&](Val i, std::vector<Val> c) {
    return std::vector<Val>{c[0] + cast(i, DType::f32)};
  });
  auto y = if_else(n > 3, [&] { return std::vector<Val>{r[0] * 2.0}; },
                   [&] { return std::vector<Val>{r[0]}; });
  store(p + arange(0, 16), y[0]);
  Kernel k = b.finish();
  std::string ir = k.print();
  EXPECT_NE(ir.find("tile.for"), std::string::npos) << ir;
  EXPECT_NE(ir.find("tile.if"), std::string::npos) << ir;
  EXPECT_NE(ir.find("tile.yield"), std::string::npos) << ir;
}

TEST(Dsl, ConfigParsingAndErrors) {
  Config c = Config::parse("BLOCK=128,num_warps=8");
  EXPECT_EQ(c["BLOCK"], 128);
  EXPECT_EQ(c["num_warps"], 8);
  EXPECT_EQ(c.str(), "BLOCK=128,num_warps=8");
  EXPECT_THROW(Config::parse("BLOCK"), hip::InvalidArgument);
  EXPECT_THROW(Config::parse("BLOCK=abc"), hip::InvalidArgument);
  EXPECT_THROW(c["missing"], hip::CompileError);
}

TEST(Dsl, RegisteringKernelsKeepsEarlierReferencesValid) {
  // Callers keep findKernel's reference (SpecializedKernel, tuned launches);
  // registering more kernels later (a library loaded after them, a stage
  // used for the first time) must not move it.
  hip::kernels::registerExampleKernels();
  const KernelDef &mm = findKernel("matmul");
  // More kernels than are registered: a growing array would have to move.
  size_t n = registeredKernels().size() + 1;
  for (size_t i = 0; i < n; ++i) {
    KernelDef copy = findKernel("vector_add");
    copy.name = "vector_add_copy_" + std::to_string(i);
    registerKernel(std::move(copy));
  }
  EXPECT_EQ(&findKernel("matmul"), &mm);
  EXPECT_EQ(mm.name, "matmul");
}

TEST(Dsl, RegistryEnumeratesValidConfigsOnly) {
  hip::kernels::registerExampleKernels();
  const KernelDef &mm = findKernel("matmul");
  auto all = enumerateConfigs(mm);
  ASSERT_FALSE(all.empty());
  for (auto &c : all) EXPECT_EQ(mm.validate(c), "") << c.str();
  EXPECT_THROW(findKernel("nope"), hip::InvalidArgument);
  try {
    findKernel("nope");
  } catch (const hip::InvalidArgument &e) {
    EXPECT_NE(std::string(e.what()).find("matmul"), std::string::npos) << e.what();
  }
  EXPECT_THROW(trace(mm, Config{{"BLOCK_K", 8}}), hip::InvalidArgument);
  EXPECT_THROW(trace(mm, Config{{"UNKNOWN", 1}}), hip::InvalidArgument);
  EXPECT_THROW(trace(mm, Config{{"num_warps", 3}}), hip::InvalidArgument);
}
