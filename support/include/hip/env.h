//===- hip/env.h - Reading the HIP_* environment variables -----*- C++ -*-===//
#pragma once

#include <cstdint>
#include <string>

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

/// The compilation stages that HIP_DUMP_IR and `hipattn compile --emit`
/// name, as a comma list for messages, and whether `stage` is one.
std::string irStageList();
bool isIrStage(const std::string &stage);

} // namespace hip
