//===- tests/ptx_test.cpp - Every kernel's PTX assembles with ptxas -------===//
//
// For each registered kernel and each valid config of its space, emit PTX
// for sm_80, sm_90, sm_90a and sm_120a and assemble it with the CUDA toolkit's ptxas. CI has
// the toolkit but no GPU; without ptxas the test is skipped and says so.
//
//===----------------------------------------------------------------------===//
#include "hip/compiler/compiler.h"
#include "hip/kernels/examples.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {
std::string findPtxas() {
  for (const char *p : {"/usr/local/cuda/bin/ptxas", "/usr/bin/ptxas"})
    if (std::filesystem::exists(p)) return p;
  if (const char *home = std::getenv("CUDA_HOME")) {
    std::string p = std::string(home) + "/bin/ptxas";
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

std::string run(const std::string &cmd, int &status) {
  std::string out;
  FILE *f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) {
    status = -1;
    return "popen failed";
  }
  char buf[512];
  while (fgets(buf, sizeof buf, f)) out += buf;
  status = pclose(f);
  return out;
}
} // namespace

TEST(Ptx, EveryKernelAndConfigAssembles) {
  std::string ptxas = findPtxas();
  if (ptxas.empty()) GTEST_SKIP() << "ptxas not found (install the CUDA toolkit or set CUDA_HOME)";
  hip::kernels::registerExampleKernels();
  auto dir = std::filesystem::temp_directory_path() / ("hip-ptx-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  int assembled = 0;
  for (const auto &def : hip::dsl::registeredKernels()) {
    for (const auto &cfg : hip::dsl::enumerateConfigs(def)) {
      hip::dsl::Kernel k = hip::dsl::trace(def, cfg);
      for (const char *arch : {"sm_80", "sm_90", "sm_90a", "sm_120a"}) {
        std::string ptx = hip::emitStage(k, hip::parseTarget(arch), "ptx");
        auto file = dir / (def.name + "-" + arch + ".ptx");
        std::ofstream(file) << ptx;
        int status = 0;
        std::string log = run(ptxas + " -arch=" + arch + " " + file.string() + " -o " +
                                  (dir / "out.cubin").string(),
                              status);
        EXPECT_EQ(status, 0) << def.name << " [" << cfg.str() << "] for " << arch << ":\n"
                             << log;
        ++assembled;
      }
    }
  }
  std::filesystem::remove_all(dir);
  EXPECT_GT(assembled, 10);
}

// The GPU lowering's layouts are the tile dialect's encodings: --emit layouts
// prints each value's as #tile.blocked / #tile.mma / #tile.slice, and checks
// that the encoding names that very layout (decoding it gives it back) or
// throws. Every kernel and config, the mma.sync and the wgmma target.
TEST(Layouts, EveryChosenLayoutIsAnEncoding) {
  hip::kernels::registerExampleKernels();
  int checked = 0;
  for (const auto &def : hip::dsl::registeredKernels())
    for (const auto &cfg : hip::dsl::enumerateConfigs(def)) {
      hip::dsl::Kernel k = hip::dsl::trace(def, cfg);
      for (const char *arch : {"sm_80", "sm_90a"}) {
        std::string text;
        EXPECT_NO_THROW(text = hip::emitStage(k, hip::parseTarget(arch), "layouts"))
            << def.name << " [" << cfg.str() << "] for " << arch;
        EXPECT_NE(text.find("hip.layout = #tile."), std::string::npos)
            << def.name << " [" << cfg.str() << "] for " << arch << ": no encoding printed";
        ++checked;
      }
    }
  EXPECT_GT(checked, 10);
}
