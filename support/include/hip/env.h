//===- hip/env.h - Reading the HIP_* environment variables -----*- C++ -*-===//
#pragma once

#include <cstdint>

namespace hip {

/// The integer in environment variable `name`, or `fallback` when it is
/// unset or empty. Throws InvalidArgument naming the variable otherwise.
int64_t envInt(const char *name, int64_t fallback);

/// Checks every HIP_* variable whose value has a fixed form (the choices,
/// numbers and ranges the README documents), the same way on every backend.
/// Throws InvalidArgument naming the first bad one; unset or empty is fine.
void checkEnvironment();

/// Whether HIP_LOG asks for log lines on stderr (set, non-empty, not "0").
bool logEnabled();

} // namespace hip
