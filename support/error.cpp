//===- support/error.cpp - Error classes of the project -------------------===//
//
// Out-of-line parts of the error classes declared in hip/error.h.
//
//===----------------------------------------------------------------------===//

#include "hip/error.h"

#include <cstdio>
#include <new>

#include <string_view>

namespace hip {

std::string formatLocation(SourceLoc loc) {
  std::string_view file = loc.file_name();
  if (auto slash = file.find_last_of('/'); slash != std::string_view::npos)
    file.remove_prefix(slash + 1);
  return std::string(file) + ":" + std::to_string(loc.line());
}

CompileError::CompileError(const std::string &msg, SourceLoc loc)
    : Error(formatLocation(loc) + ": " + msg) {}

int runTool(const char *tool, int (*body)(int, char **), int argc, char **argv) {
  auto fail = [&](int status, const std::string &what) {
    std::fprintf(stderr, "%s: error: %s\n", tool, what.c_str());
    return status;
  };
  try {
    return body(argc, argv);
  } catch (const InvalidArgument &e) {
    return fail(2, e.what());
  } catch (const Error &e) {
    return fail(1, e.what());
  } catch (const std::bad_alloc &) {
    return fail(1, "out of memory");
  } catch (const std::exception &e) {
    return fail(1, std::string("unexpected: ") + e.what());
  } catch (...) {
    return fail(1, "unexpected exception");
  }
}

} // namespace hip
