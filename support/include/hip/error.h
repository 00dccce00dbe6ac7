//===- hip/error.h - Error classes of the project --------------*- C++ -*-===//
//
// Every error a user can cause is reported by throwing one of these; the
// process never aborts. CompileError carries the user's source location.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <source_location>
#include <stdexcept>
#include <string>

namespace hip {

/// Where in the user's code something was written: file, function, line and
/// column. Made from the std::source_location the DSL captures, or from the
/// file:line:column of an MLIR location read back from tile IR (the compiler
/// keeps such file names for the life of the process). Its accessors are
/// std::source_location's.
class SourceLoc {
public:
  SourceLoc() = default;
  SourceLoc(const std::source_location &l) // NOLINT: implicit, as the DSL passes them
      : file_(l.file_name()), function_(l.function_name()), line_(l.line()), column_(l.column()) {}
  SourceLoc(const char *file, std::uint_least32_t line, std::uint_least32_t column)
      : file_(file ? file : ""), line_(line), column_(column) {}
  const char *file_name() const { return file_; }
  const char *function_name() const { return function_; }
  std::uint_least32_t line() const { return line_; }
  std::uint_least32_t column() const { return column_; }

private:
  const char *file_ = "";
  const char *function_ = "";
  std::uint_least32_t line_ = 0, column_ = 0;
};

/// Base of every error the library throws.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A kernel written in the DSL is wrong (shape/type mismatch, bad config...).
/// The message starts with "file:line: ".
class CompileError : public Error {
public:
  CompileError(const std::string &msg, SourceLoc loc);
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
std::string formatLocation(SourceLoc loc);

/// Runs a tool's body and turns every exception into its exit status with one
/// line on stderr ("TOOL: error: ..."): 2 for InvalidArgument (bad input),
/// 1 for anything else (the environment, out of memory, a library bug).
int runTool(const char *tool, int (*body)(int, char **), int argc, char **argv);

} // namespace hip
