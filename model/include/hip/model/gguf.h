//===- hip/model/gguf.h - Reading GGUF model files -------------*- C++ -*-===//
//
// A reader for GGUF files (the llama.cpp / ggml model format), versions 1,
// 2 and 3: the metadata (every value type, arrays included), the tensor
// infos and the tensor data, which is dequantised to float on load (f32,
// f16, bf16, q8_0, q4_0, q4_1; block layouts as in ggml). Version 1 stores
// counts, string lengths and dimensions as u32, later versions as u64.
// Tensor data starts at the first multiple of `general.alignment` (default
// 32) after the tensor infos; each tensor's offset is relative to it.
//
// Every problem with a file throws hip::InvalidArgument whose message starts
// with the file's path: not a GGUF file, an unsupported version, a truncated
// file, an unsupported tensor type (named). Only hip::RuntimeError is thrown
// when the file cannot be opened or read.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hip::model {

/// GGUF metadata value types (the numbers are the file's).
enum class GGUFType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12
};
const char *ggufTypeName(GGUFType t);

/// One metadata value. Integers (and bools) are kept in `i` (u64 values
/// above INT64_MAX wrap), floats in `f`, strings in `s`, arrays in `arr`
/// with their element type in `elemType`.
struct GGUFValue {
  GGUFType type = GGUFType::u32;
  GGUFType elemType = GGUFType::u32; // arrays only
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<GGUFValue> arr;

  bool isInt() const;   // any integer type or bool
  bool isFloat() const; // f32 or f64
  /// Conversions; throw InvalidArgument naming `what` for the wrong type.
  int64_t asInt(const std::string &what = "value") const;
  double asFloat(const std::string &what = "value") const; // ints convert too
  const std::string &asString(const std::string &what = "value") const;
  std::vector<std::string> asStrings(const std::string &what = "value") const;
  std::vector<double> asFloats(const std::string &what = "value") const;
  std::vector<int64_t> asInts(const std::string &what = "value") const;
};

/// ggml tensor types (the numbers are ggml's).
enum class GGMLType : uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, bf16 = 30 };
/// ggml's name of a tensor type number ("q6_K", ...), or "type N".
std::string ggmlTypeName(uint32_t t);

struct GGUFTensor {
  std::string name;
  /// ggml order: ne[0] is the contiguous dimension (a matrix W[out][in] has
  /// shape {in, out}).
  std::vector<int64_t> shape;
  uint32_t type = 0;   // GGMLType as stored in the file
  uint64_t offset = 0; // from the start of the data section
  std::vector<float> data; // dequantised, ne[0] fastest

  int64_t numel() const;
};

class GGUFFile {
public:
  /// Reads `path`; with loadData = false the tensor data is neither checked
  /// nor dequantised (metadata and infos only).
  static GGUFFile read(const std::string &path, bool loadData = true);

  std::string path;
  uint32_t version = 0;
  uint64_t alignment = 32;
  /// Metadata in file order, and an index by key.
  std::vector<std::pair<std::string, GGUFValue>> metadata;
  std::vector<GGUFTensor> tensors;

  const GGUFValue *find(const std::string &key) const;
  /// The value of `key`; InvalidArgument "PATH: missing metadata key KEY".
  const GGUFValue &get(const std::string &key) const;
  const GGUFTensor *findTensor(const std::string &name) const;
  /// InvalidArgument "PATH: missing tensor NAME".
  const GGUFTensor &tensor(const std::string &name) const;

private:
  std::map<std::string, size_t> keyIndex_, tensorIndex_;
};

/// Dequantises `n` elements of ggml type `type` from `src` (n must be a
/// multiple of the type's block size). Throws InvalidArgument for types
/// other than those of GGMLType.
void dequantize(uint32_t type, const uint8_t *src, int64_t n, float *dst);
/// Bytes taken by `n` elements of `type` (0 if the type is not supported).
uint64_t ggmlRowBytes(uint32_t type, int64_t n);

} // namespace hip::model
