//===- support/env.cpp - Reading the HIP_* environment variables ----------===//
#include "hip/env.h"

#include "hip/error.h"

#include <cstdlib>
#include <string>

namespace hip {

int64_t envInt(const char *name, int64_t fallback) {
  const char *s = std::getenv(name);
  if (!s || !*s) return fallback;
  char *end = nullptr;
  long long v = std::strtoll(s, &end, 10);
  if (*end) throw InvalidArgument(std::string(name) + "='" + s + "' is not an integer");
  return v;
}

} // namespace hip
