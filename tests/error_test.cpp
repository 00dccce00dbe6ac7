//===- tests/error_test.cpp - Kernels that must fail, and where -----------===//
//
// Each case traces a wrong kernel and checks that hip::CompileError names
// this file and the line of the offending DSL call, and says what is wrong.
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/dsl/dsl.h"

#include <gtest/gtest.h>

using namespace hip::dsl;

namespace {
/// Runs `body` in a fresh builder and returns the CompileError's message.
template <class F> std::string compileError(F body) {
  try {
    Builder b("bad");
    body(b);
    Kernel k = b.finish();
    hip::compile(k, hip::Target{});
  } catch (const hip::CompileError &e) {
    return e.what();
  }
  return "<no error>";
}

void expectAt(const std::string &msg, int line, const std::string &what) {
  EXPECT_NE(msg.find("error_test.cpp:" + std::to_string(line) + ":"), std::string::npos)
      << "message does not name line " << line << ": " << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "message lacks '" << what << "': " << msg;
}
} // namespace

TEST(Errors, ShapeMismatch) {
  int line = 0;
  auto msg = compileError([&](Builder &) {
    Val a = arange(0, 8), c = arange(0, 16);
    line = __LINE__ + 1;
    (void)(a + c);
  });
  expectAt(msg, line, "cannot be broadcast together");
}

TEST(Errors, BadBoxLoads) {
  int line = 0;
  auto box3 = compileError([&](Builder &b) {
    Val x = b.arg("x", ptr(DType::bf16)), n = b.arg("n", DType::i32);
    line = __LINE__ + 1;
    (void)load_box(x, {n, n}, {n}, {0, 0}, {16, 64, 2});
  });
  expectAt(box3, line, "load_box() takes a 2-D box of positive sizes");
  auto strides = compileError([&](Builder &b) {
    Val x = b.arg("x", ptr(DType::bf16)), n = b.arg("n", DType::i32);
    line = __LINE__ + 1;
    (void)load_box(x, {n, n, n}, {n}, {0, 0, 0}, {16, 64});
  });
  expectAt(strides, line, "one stride fewer");
  auto base = compileError([&](Builder &b) {
    Val n = b.arg("n", DType::i32);
    line = __LINE__ + 1;
    (void)load_box(n, n, n, n, 0, 0, {16, 64});
  });
  expectAt(base, line, "load_box() 'base' must be a pointer (scalar), got i32");
  auto size = compileError([&](Builder &b) {
    Val x = b.arg("x", ptr(DType::bf16)), f = b.arg("f", DType::f32);
    line = __LINE__ + 1;
    (void)load_box(x, f, 64, 64, 0, 0, {16, 64});
  });
  expectAt(size, line, "load_box() size 0 must be an i32 scalar, got f32");
}

TEST(Errors, TypeMismatch) {
  int line = 0;
  auto msg = compileError([&](Builder &) {
    Val a = arange(0, 8);
    Val f = full({8}, 1.0, DType::f32);
    line = __LINE__ + 1;
    (void)(a * f);
  });
  expectAt(msg, line, "operand types differ");
}

TEST(Errors, LoadOfNonPointer) {
  int line = 0;
  auto msg = compileError([&](Builder &) {
    Val a = arange(0, 8);
    line = __LINE__ + 1;
    (void)load(a);
  });
  expectAt(msg, line, "load() needs a pointer operand");
}

TEST(Errors, StoreOfWrongType) {
  int line = 0;
  auto msg = compileError([&](Builder &b) {
    Val p = b.arg("p", ptr(DType::bf16));
    line = __LINE__ + 1;
    store(p + arange(0, 8), full({8}, 0.0, DType::f32));
  });
  expectAt(msg, line, "store() of tile<8xf32> through a pointer to bf16");
}

TEST(Errors, DotInnerDimensions) {
  int line = 0;
  auto msg = compileError([&](Builder &) {
    Val a = full({16, 32}, 0.0, DType::bf16), c = full({16, 16}, 0.0, DType::bf16);
    line = __LINE__ + 1;
    (void)dot(a, c);
  });
  expectAt(msg, line, "dot() inner dimensions differ");
}

TEST(Errors, NonPowerOfTwoTile) {
  int line = 0;
  auto msg = compileError([&](Builder &) {
    line = __LINE__ + 1;
    (void)full({3, 5}, 0.0, DType::f32);
  });
  expectAt(msg, line, "powers of two");
}

TEST(Errors, BadConfigRejectedByKernel) {
  int line = 0;
  auto msg = compileError([&](Builder &b) {
    line = __LINE__ + 1;
    b.require(false, "BLOCK must be >= 64");
  });
  expectAt(msg, line, "config rejected by kernel 'bad': BLOCK must be >= 64");
}

TEST(Errors, LoopBodyReturnsWrongType) {
  int line = 0;
  auto msg = compileError([&](Builder &) {
    line = __LINE__ + 1;
    for_range(0, 4, 1, {full({8}, 0.0, DType::f32)}, [&](Val, std::vector<Val>) {
      return std::vector<Val>{full({8}, 0.0, DType::bf16)};
    });
  });
  expectAt(msg, line, "for_range body returned tile<8xbf16>");
}

TEST(Errors, GpuDotShapeTheWarpsCannotTile) {
  // A 16x16 dot over 8 warps does not split into m16n8 tiles per warp: the
  // GPU backend runs the kernel on 2 warps instead (the launch takes the
  // compiled kernel's block size). An 8-row dot does not tile over even one
  // warp: the GPU backend says so at the dot's line (the CPU backend accepts
  // both).
  auto kernel = [](int64_t M, int &line) {
    Builder b("small_dot");
    b.setNumWarps(8);
    Val out = b.arg("out", ptr(DType::f32));
    line = __LINE__ + 1;
    Val d = dot(full({M, 16}, 0.0, DType::bf16), full({16, 16}, 0.0, DType::bf16));
    store(out + arange(0, M), sum(d, 1));
    return b.finish();
  };
  int line = 0;
  Kernel fits = kernel(16, line);
  for (const char *t : {"sm_80", "sm_90a"})
    EXPECT_EQ(hip::compile(fits, hip::parseTarget(t))->numThreads, 64) << t;
  Kernel k = kernel(8, line);
  try {
    hip::compile(k, hip::parseTarget("sm_90a"));
    ADD_FAILURE() << "no error";
  } catch (const hip::CompileError &e) {
    expectAt(e.what(), line, "cannot be tiled by mma.sync");
  }
  EXPECT_NO_THROW(hip::compile(k, hip::Target{}));
}

TEST(Errors, ArgumentsAfterOps) {
  int line = 0;
  auto msg = compileError([&](Builder &b) {
    (void)arange(0, 8);
    line = __LINE__ + 1;
    (void)b.arg("late", DType::i32);
  });
  expectAt(msg, line, "kernel arguments must be declared before any op");
}
