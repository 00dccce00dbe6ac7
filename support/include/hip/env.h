//===- hip/env.h - Reading the HIP_* environment variables -----*- C++ -*-===//
#pragma once

#include <cstdint>

namespace hip {

/// The integer in environment variable `name`, or `fallback` when it is
/// unset or empty. Throws InvalidArgument naming the variable otherwise.
int64_t envInt(const char *name, int64_t fallback);

} // namespace hip
