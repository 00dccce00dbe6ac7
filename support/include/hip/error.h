//===- hip/error.h - Error classes of the project --------------*- C++ -*-===//
//
// Every error a user can cause is reported by throwing one of these; the
// process never aborts. CompileError carries the user's source location.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <source_location>
#include <stdexcept>
#include <string>

namespace hip {

/// Base of every error the library throws.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A kernel written in the DSL is wrong (shape/type mismatch, bad config...).
/// The message starts with "file:line: ".
class CompileError : public Error {
public:
  CompileError(const std::string &msg, std::source_location loc);
  explicit CompileError(const std::string &msg) : Error(msg) {}
};

/// A caller passed a bad argument to a public API function.
class InvalidArgument : public Error {
public:
  using Error::Error;
};

/// Something outside the library failed (CUDA driver, file system...).
class RuntimeError : public Error {
public:
  using Error::Error;
};

/// A bug in the library itself.
class InternalError : public Error {
public:
  using Error::Error;
};

/// "file:line" of a source location, with the directory stripped.
std::string formatLocation(std::source_location loc);

/// Runs a tool's body and turns every exception into its exit status with one
/// line on stderr ("TOOL: error: ..."): 2 for InvalidArgument (bad input),
/// 1 for anything else (the environment, out of memory, a library bug).
int runTool(const char *tool, int (*body)(int, char **), int argc, char **argv);

} // namespace hip
