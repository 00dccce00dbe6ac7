//===- support/glibc_compat.cpp - Keep the library on glibc 2.34 ----------===//
//
// Debian's static LLVMSupport calls arc4random (glibc 2.36). Defining it here
// (hidden, from getrandom) binds LLVM's calls to this copy, so the shared
// library runs on glibc 2.34 (Ubuntu 22.04) and newer.
//
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <sys/random.h>

extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v = 0;
  while (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
  }
  return v;
}
