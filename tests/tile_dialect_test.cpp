//===- tests/tile_dialect_test.cpp - The tile dialect round trip ----------===//
//
// compile() lowers what comes back from the tile dialect, not what was
// traced: import -> export must give back the traced kernel exactly (same
// ops, value numbering, types, attributes, config and source lines) for
// every registered kernel and every config of its space, or the compiled
// code would differ. Also: the text form parses back, verifier failures
// name the op and the user's line, HIP_DUMP_IR=tile output parses, and
// textual tile IR compiles and runs.
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/compiler/tile_dialect.h"
#include "hip/dsl/dsl.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace hip;
using namespace hip::dsl;

namespace {

/// "file:line:column" of every op of `b` (nested blocks included), in order.
void collectLocations(const Block &b, std::vector<std::string> &out) {
  for (const Op &op : b.ops) {
    out.push_back(formatLocation(op.loc) + ":" + std::to_string(op.loc.column()));
    for (const auto &r : op.regions) collectLocations(*r, out);
  }
}

/// Expects `got` to be `want` in everything the lowerings read.
void expectSameKernel(const Kernel &want, const Kernel &got, const std::string &what) {
  EXPECT_EQ(got.print(), want.print()) << what;
  EXPECT_EQ(got.numWarps, want.numWarps) << what;
  EXPECT_EQ(got.config, want.config) << what;
  EXPECT_EQ(got.valueTypes, want.valueTypes) << what;
  ASSERT_EQ(got.params.size(), want.params.size()) << what;
  for (size_t i = 0; i < want.params.size(); ++i) {
    EXPECT_EQ(got.params[i].name, want.params[i].name) << what;
    EXPECT_EQ(got.params[i].type, want.params[i].type) << what;
    EXPECT_EQ(got.params[i].multipleOf, want.params[i].multipleOf) << what;
  }
  std::vector<std::string> a, b;
  collectLocations(want.body, a);
  collectLocations(got.body, b);
  EXPECT_EQ(b, a) << what << ": source locations differ";
}

/// Every config of every registered kernel, traced.
template <class Fn> void forEveryKernelAndConfig(Fn &&fn) {
  kernels::registerExampleKernels();
  size_t kernelsSeen = 0, configs = 0;
  for (const KernelDef &def : registeredKernels()) {
    ++kernelsSeen;
    for (const Config &c : enumerateConfigs(def)) {
      ++configs;
      fn(trace(def, c), def.name + " [" + c.str() + "]");
    }
  }
  // The registry holds the examples, the attention kernels and the stages.
  EXPECT_GE(kernelsSeen, 8u);
  EXPECT_GE(configs, kernelsSeen);
}

} // namespace

TEST(TileDialect, ImportExportReproducesEveryKernelAndConfig) {
  forEveryKernelAndConfig([](const Kernel &k, const std::string &what) {
    expectSameKernel(k, tile::roundTrip(k, /*canonicalize=*/false), what);
  });
}

TEST(TileDialect, PrintedTextParsesBackToTheSameKernel) {
  forEveryKernelAndConfig([](const Kernel &k, const std::string &what) {
    std::vector<Kernel> parsed =
        tile::parseKernels(tile::toMLIR(k, /*canonicalize=*/false, /*locations=*/true));
    ASSERT_EQ(parsed.size(), 1u) << what;
    expectSameKernel(k, parsed[0], what);
  });
}

TEST(TileDialect, CanonicalizedKernelsVerifyAndShrinkOrStay) {
  forEveryKernelAndConfig([](const Kernel &k, const std::string &what) {
    Kernel c = tile::roundTrip(k, /*canonicalize=*/true);
    auto count = [](const Kernel &x) {
      std::string s = x.print();
      return std::count(s.begin(), s.end(), '\n');
    };
    EXPECT_LE(count(c), count(k)) << what;
    EXPECT_EQ(c.params.size(), k.params.size()) << what;
    // Nothing is left to fold (constants may come back in another order).
    EXPECT_EQ(count(tile::roundTrip(c, true)), count(c)) << what;
  });
}

TEST(TileDialect, VerifierFailureNamesTheOpAndTheUsersLine) {
  // An add of an f32 and an i32, which the DSL's operator+ would refuse:
  // emitted through the builder's internal API.
  Builder b("bad");
  Val x = b.arg("x", DType::f32), n = b.arg("n", DType::i32);
  auto here = std::source_location::current();
  b.emit(OpKind::Add, {x.id(), n.id()}, x.type(), here);
  Kernel k = b.finish();
  std::string line = formatLocation(here);
  try {
    tile::roundTrip(k, true);
    FAIL() << "a verifier failure was not reported";
  } catch (const InternalError &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'tile.add' op"), std::string::npos) << msg;
    EXPECT_NE(msg.find(line + ": "), std::string::npos) << msg;
  }
  // compile() reports it the same way, without aborting.
  EXPECT_THROW(compile(k, Target{}), InternalError);
}

TEST(TileDialect, BadTextIsACompileError) {
  try {
    tile::parseKernels("tile.kernel @k(%h: f16) num_warps(4) config {} {\n}\n");
    FAIL() << "bad tile IR was accepted";
  } catch (const CompileError &e) {
    EXPECT_NE(std::string(e.what()).find("argument 'h' must be an i32, i64 or f32 scalar"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(tile::parseKernels("tile.kernel @k( {"), CompileError);
}

TEST(TileDialect, DumpOfTileStageParses) {
  kernels::registerExampleKernels();
  Kernel k = trace(findKernel("vector_add"), Config{{"BLOCK", 256}});
  auto dir = std::filesystem::temp_directory_path() /
             ("hip-tile-dump-" + std::to_string(::getpid()));
  ::setenv("HIP_DUMP_IR", "tile", 1);
  ::setenv("HIP_DUMP_DIR", dir.c_str(), 1);
  clearInMemoryCache();
  compile(k, Target{});
  ::unsetenv("HIP_DUMP_IR");
  ::unsetenv("HIP_DUMP_DIR");
  std::ifstream in(dir / "vector_add.tile");
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove_all(dir);
  ASSERT_NE(text.str().find("tile.kernel @vector_add"), std::string::npos) << text.str();
  std::vector<Kernel> parsed = tile::parseKernels(text.str());
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].print(), tile::roundTrip(k, true).print());
}

TEST(TileDialect, TextualKernelCompilesAndRuns) {
  // out = 2 * x, written in the tile dialect rather than the C++ DSL.
  const char *text = R"(
tile.kernel @twice(%x: !tile.ptr<f32>, %out: !tile.ptr<f32>, %n: i32) num_warps(4) config {} {
  %c64 = tile.constant 64 : i32
  %pid = tile.program_id 0
  %base = tile.mul %pid, %c64 : i32
  %r = tile.arange 0, 64 : tensor<64xi32>
  %b = tile.splat %base : i32 -> tensor<64xi32>
  %offs = tile.add %b, %r : tensor<64xi32>
  %ns = tile.splat %n : i32 -> tensor<64xi32>
  %mask = tile.cmp_lt %offs, %ns : tensor<64xi32>
  %zero = tile.constant dense<0.0> : tensor<64xf32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<64x!tile.ptr<f32>>
  %xp = tile.addptr %xs, %offs : tensor<64x!tile.ptr<f32>>, tensor<64xi32>
  %v = tile.load %xp, %mask, %zero : tensor<64x!tile.ptr<f32>>
  %y = tile.add %v, %v : tensor<64xf32>
  %os = tile.splat %out : !tile.ptr<f32> -> tensor<64x!tile.ptr<f32>>
  %op = tile.addptr %os, %offs : tensor<64x!tile.ptr<f32>>, tensor<64xi32>
  tile.store %op, %y, %mask : tensor<64x!tile.ptr<f32>>
}
)";
  std::vector<Kernel> ks = tile::parseKernels(text);
  ASSERT_EQ(ks.size(), 1u);
  auto c = compile(ks[0], Target{});
  const int n = 100;
  alignas(64) float x[128], out[128] = {};
  for (int i = 0; i < n; ++i) x[i] = float(i) - 7.5f;
  launch(*c, {2, 1, 1},
         {ArgValue::pointer(x), ArgValue::pointer(out), ArgValue::int32(n)});
  for (int i = 0; i < n; ++i) EXPECT_EQ(out[i], 2 * x[i]) << i;
  EXPECT_EQ(out[n], 0.0f);
}
