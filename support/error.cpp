//===- support/error.cpp - Error classes of the project -------------------===//
//
// Out-of-line parts of the error classes declared in hip/error.h.
//
//===----------------------------------------------------------------------===//

#include "hip/error.h"

#include <string_view>

namespace hip {

std::string formatLocation(std::source_location loc) {
  std::string_view file = loc.file_name();
  if (auto slash = file.find_last_of('/'); slash != std::string_view::npos)
    file.remove_prefix(slash + 1);
  return std::string(file) + ":" + std::to_string(loc.line());
}

CompileError::CompileError(const std::string &msg, std::source_location loc)
    : Error(formatLocation(loc) + ": " + msg) {}

} // namespace hip
