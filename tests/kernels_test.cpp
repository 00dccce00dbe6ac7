//===- tests/kernels_test.cpp - Example kernels on every backend ----------===//
//
// Every example kernel, several configs, shapes that are not multiples of
// the tiles (masks exercised), fresh random inputs per case, outputs
// poisoned with NaN (see runExample), checked against float64 references.
// CPU cases always run; the same cases run on the GPU when one is present
// and are skipped with the reason otherwise.
//
//===----------------------------------------------------------------------===//
#include "hip/kernels/examples.h"
#include "hip/runtime/cuda.h"
#include "skip_without_gpu.h"

#include <gtest/gtest.h>

using hip::dsl::Config;

namespace {
struct Case {
  std::string kernel;
  Config config;
  std::vector<int64_t> dims;
};

std::vector<Case> cases(bool gpu) {
  std::vector<Case> c = {
      {"vector_add", {{"BLOCK", 256}}, {1}},
      {"vector_add", {{"BLOCK", 256}}, {1000}},
      {"vector_add", {{"BLOCK", 1024}}, {5003}},
      {"row_softmax", {{"ROWS", 1}, {"BLOCK", 128}}, {7, 100}},
      {"row_softmax", {{"ROWS", 4}, {"BLOCK", 128}}, {13, 128}},
      {"row_softmax", {{"ROWS", 4}, {"BLOCK", 1024}}, {5, 1000}},
      {"token_nll", {{"ROWS", 1}, {"BLOCK", 512}}, {3, 100}},
      {"token_nll", {{"ROWS", 4}, {"BLOCK", 512}}, {13, 5000}},
      {"token_nll", {{"ROWS", 4}, {"BLOCK", 2048}}, {6, 2049}},
      {"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 64}, {"BLOCK_K", 32}}, {70, 45, 33}},
      {"matmul", {{"BLOCK_M", 128}, {"BLOCK_N", 64}, {"BLOCK_K", 64}, {"DTYPE", 1}}, {130, 66, 100}},
      {"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 128}, {"BLOCK_K", 32}, {"num_warps", 8}}, {64, 129, 64}},
      {"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 64}, {"num_stages", 1}, {"GROUP_M", 1}}, {100, 200, 48}},
      {"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 64}, {"GROUP_M", 3}, {"num_stages", 2}}, {333, 150, 40}},
      // Box loads (load_box): the same product from boxes past the edges.
      {"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 64}, {"BLOCK_K", 64}, {"tma", 1}}, {70, 45, 100}},
  };
  if (gpu) {
    c.push_back({"matmul", {}, {1000, 777, 515}});
    c.push_back({"matmul", {{"num_warps", 8}, {"DTYPE", 1}}, {513, 1024, 1024}});
    c.push_back({"matmul", {{"BLOCK_N", 256}, {"num_warps", 8}, {"BLOCK_K", 64}, {"num_stages", 3}},
                 {777, 1000, 300}});
    // The fragment prefetch across pipelined iterations: loops of one
    // iteration (fewer than the stages), two stages, and the variant for
    // sizes that are multiples of 16 (whole-group copies).
    c.push_back({"matmul", {}, {300, 520, 16}});
    c.push_back({"matmul", {}, {256, 512, 32}});
    c.push_back({"matmul", {{"num_stages", 2}}, {250, 300, 200}});
    c.push_back({"matmul", {{"BLOCK_N", 128}, {"num_warps", 4}, {"num_stages", 3}}, {384, 640, 1024}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 3}, {"DTYPE", 1}}, {512, 768, 2048}});
    // sm_90a: BLOCK_K 64 pipelines A into the swizzled layout too, and the
    // accumulating wgmma stays in flight across iterations (copies
    // num_stages - 2 ahead): one warpgroup and two, loops of one, two and
    // many iterations, a ragged K.
    c.push_back({"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 128}, {"BLOCK_K", 64}, {"num_warps", 4},
                            {"num_stages", 4}}, {200, 300, 1000}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 4}}, {130, 256, 40}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 4}}, {257, 520, 100}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 3}, {"num_warps", 8}}, {512, 512, 4096}});
    // The same with the stages tracked by mbarriers (no block-wide barrier
    // in the loop): one, two and many iterations, ragged sizes.
    c.push_back({"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 128}, {"BLOCK_K", 64}, {"num_warps", 4},
                            {"num_stages", 4}, {"mbarriers", 1}}, {200, 300, 1000}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 4}, {"mbarriers", 1}}, {130, 256, 40}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 4}, {"mbarriers", 1}}, {257, 520, 100}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 3}, {"num_warps", 8}, {"mbarriers", 1}},
                 {512, 512, 4096}});
    // The same with A and B copied by TMA (tma=1, box loads; sm_90a, other
    // GPUs take the cp.async copies of the same boxes): one, two and many
    // iterations, boxes past every edge of A and B (zeros), f16, and a
    // config whose copies cannot (BLOCK_K 32: no whole 64-column groups).
    c.push_back({"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 128}, {"BLOCK_K", 64}, {"num_warps", 4},
                            {"num_stages", 4}, {"tma", 1}}, {200, 300, 1000}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 4}, {"tma", 1}}, {130, 256, 40}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 4}, {"tma", 1}, {"DTYPE", 1}},
                 {257, 520, 100}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 3}, {"num_warps", 8}, {"tma", 1}},
                 {512, 512, 4096}});
    c.push_back({"matmul", {{"BLOCK_K", 64}, {"num_stages", 4}, {"tma", 1}}, {70, 45, 33}});
    c.push_back({"matmul", {{"BLOCK_K", 32}, {"num_stages", 3}, {"tma", 1}}, {300, 200, 150}});
    // Without pipelining, A staged at the dot in the swizzled layout and
    // read through a wgmma descriptor (hip.a), then B as well.
    c.push_back({"matmul", {{"BLOCK_M", 64}, {"BLOCK_N", 128}, {"BLOCK_K", 64}, {"num_warps", 4},
                            {"num_stages", 1}}, {200, 300, 333}});
    c.push_back({"vector_add", {}, {1 << 22}});
    c.push_back({"token_nll", {}, {1000, 49152}});
  }
  return c;
}

void runAll(const hip::Target &t, bool gpu) {
  uint64_t seed = 1;
  for (const Case &c : cases(gpu)) {
    auto r = hip::kernels::runExample(c.kernel, c.config, t, c.dims, seed++);
    std::string shape;
    for (auto d : c.dims) shape += std::to_string(d) + " ";
    EXPECT_TRUE(r.passed) << c.kernel << " [" << r.config << "] dims " << shape << "on "
                          << r.target << ": " << r.detail << " (max err " << r.maxError
                          << ", tol " << r.tolerance << ")";
  }
}
} // namespace

TEST(ExampleKernels, CpuBackend) { runAll(hip::Target{}, false); }

TEST(ExampleKernels, GpuBackend) {
  HIP_SKIP_WITHOUT_GPU();
  runAll(hip::currentTarget(hip::Backend::CUDA), true);
}

TEST(SpecializedKernel, MultiplesOf16GetTheirOwnVariant) {
  hip::kernels::registerExampleKernels();
  const auto &def = hip::dsl::findKernel("vector_add");
  hip::SpecializedKernel k(def, {{"BLOCK", 256}}, hip::Target{});
  std::vector<float> x(1024, 1.f), y(1024, 2.f), out(1024, -1.f);
  auto args = [&](int n) {
    return std::vector<hip::ArgValue>{hip::ArgValue::pointer(x.data()),
                                      hip::ArgValue::pointer(y.data()),
                                      hip::ArgValue::pointer(out.data()), hip::ArgValue::int32(n)};
  };
  auto v1024 = k.variant(args(1024)), v1000 = k.variant(args(1000)), v992 = k.variant(args(992));
  EXPECT_NE(v1024->cacheKey, v1000->cacheKey);
  EXPECT_EQ(v1024, v992); // 992 is a multiple of 16 too
  k.launch({4, 1, 1}, args(1000));
  for (int i = 0; i < 1024; ++i) EXPECT_EQ(out[i], i < 1000 ? 3.f : -1.f) << i;
}
