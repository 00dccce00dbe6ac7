//===- hip/kernels/npy.h - Reading and writing .npy files -------*- C++ -*-===//
//
// A small reader/writer for NumPy's .npy format (versions 1.0, 2.0 and 3.0),
// limited to little-endian, C-order arrays of the element types the kernels
// use. bf16 has no standard descr (np.save writes ml_dtypes.bfloat16 as the
// untyped '<V2'); it is read from descr 'bfloat16' or '<bf16' and written as
// 'bfloat16'. Every problem with a file throws hip::InvalidArgument or
// hip::RuntimeError with the file's path in the message.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/tensor.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hip::kernels {

/// The element types a .npy file may hold: the library's own.
using NpyType = ScalarType;

struct NpyArray {
  NpyType type = NpyType::f32;
  /// Empty for a scalar (one element).
  std::vector<int64_t> shape;
  /// The elements in C order, little-endian.
  std::vector<char> data;

  int64_t numel() const;
  size_t elementSize() const;
};

/// Throws hip::RuntimeError if the file cannot be opened or read and
/// hip::InvalidArgument if it is not a supported .npy file.
NpyArray readNpy(const std::string &path);

/// Writes `a` atomically (temporary file, then rename). Throws
/// hip::InvalidArgument, writing nothing, if a.data does not hold exactly
/// numel() * elementSize() bytes, and hip::RuntimeError if writing fails.
void writeNpy(const std::string &path, const NpyArray &a);

} // namespace hip::kernels
