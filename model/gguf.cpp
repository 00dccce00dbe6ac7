//===- model/gguf.cpp - Reading GGUF model files --------------------------===//
//
// The whole file is read into memory, then parsed with a bounds-checked
// cursor: every read that would pass the end reports a truncated file.
// Tensor data is dequantised in parallel over tensors.
//
//===----------------------------------------------------------------------===//
#include "hip/model/gguf.h"

#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/runtime/thread_pool.h"

#include <cstring>
#include <fstream>

namespace hip::model {

namespace {

constexpr uint64_t kMaxDims = 4;

/// A bounds-checked little-endian reader over the file's bytes.
struct Cursor {
  const std::string &path;
  const std::vector<uint8_t> &buf;
  uint64_t pos = 0;
  uint32_t version = 0;

  void need(uint64_t n, const char *what) const {
    if (n > buf.size() || pos > buf.size() - n)
      throw InvalidArgument(path + ": truncated GGUF file (" + what + " at offset " +
                            std::to_string(pos) + " needs " + std::to_string(n) +
                            " bytes, the file has " + std::to_string(buf.size()) + ")");
  }
  template <class T> T get(const char *what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, buf.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  /// A count, length or dimension: u32 in version 1, u64 later.
  uint64_t size(const char *what) { return version == 1 ? get<uint32_t>(what) : get<uint64_t>(what); }
  std::string str(const char *what) {
    uint64_t n = size(what);
    need(n, what);
    std::string s(reinterpret_cast<const char *>(buf.data() + pos), size_t(n));
    pos += n;
    return s;
  }
};

GGUFValue readValue(Cursor &c, GGUFType t, int depth) {
  GGUFValue v;
  v.type = t;
  switch (t) {
  case GGUFType::u8: v.i = c.get<uint8_t>("metadata value"); break;
  case GGUFType::i8: v.i = c.get<int8_t>("metadata value"); break;
  case GGUFType::u16: v.i = c.get<uint16_t>("metadata value"); break;
  case GGUFType::i16: v.i = c.get<int16_t>("metadata value"); break;
  case GGUFType::u32: v.i = c.get<uint32_t>("metadata value"); break;
  case GGUFType::i32: v.i = c.get<int32_t>("metadata value"); break;
  case GGUFType::u64: v.i = int64_t(c.get<uint64_t>("metadata value")); break;
  case GGUFType::i64: v.i = c.get<int64_t>("metadata value"); break;
  case GGUFType::f32: v.f = c.get<float>("metadata value"); break;
  case GGUFType::f64: v.f = c.get<double>("metadata value"); break;
  case GGUFType::boolean: v.i = c.get<uint8_t>("metadata value") != 0; break;
  case GGUFType::string: v.s = c.str("metadata string"); break;
  case GGUFType::array: {
    if (depth > 8) throw InvalidArgument(c.path + ": metadata arrays nested too deeply");
    v.elemType = GGUFType(c.get<uint32_t>("array type"));
    if (uint32_t(v.elemType) > uint32_t(GGUFType::f64))
      throw InvalidArgument(c.path + ": unknown metadata array element type " +
                            std::to_string(uint32_t(v.elemType)));
    uint64_t n = c.size("array length");
    // Every element takes at least one byte: a larger count is a bad file.
    c.need(n, "array");
    v.arr.reserve(size_t(n));
    for (uint64_t i = 0; i < n; ++i) v.arr.push_back(readValue(c, v.elemType, depth + 1));
    break;
  }
  default:
    throw InvalidArgument(c.path + ": unknown metadata value type " + std::to_string(uint32_t(t)));
  }
  return v;
}

struct TypeInfo {
  uint32_t type;
  int64_t blockElems, blockBytes;
};
constexpr TypeInfo kTypes[] = {{0, 1, 4}, {1, 1, 2}, {2, 32, 18}, {3, 32, 20}, {8, 32, 34}, {30, 1, 2}};

const TypeInfo *typeInfo(uint32_t t) {
  for (auto &ti : kTypes)
    if (ti.type == t) return &ti;
  return nullptr;
}

float f16(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return kernels::f16ToFloat(h);
}

} // namespace

const char *ggufTypeName(GGUFType t) {
  static const char *names[] = {"u8",  "i8",  "u16",   "i16",   "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  return uint32_t(t) <= 12 ? names[uint32_t(t)] : "unknown";
}

std::string ggmlTypeName(uint32_t t) {
  static const char *names[] = {"f32",     "f16",    "q4_0",    "q4_1",   "q4_2", "q4_3",
                                "q5_0",    "q5_1",   "q8_0",    "q8_1",   "q2_K", "q3_K",
                                "q4_K",    "q5_K",   "q6_K",    "q8_K",   "iq2_xxs", "iq2_xs",
                                "iq3_xxs", "iq1_s",  "iq4_nl",  "iq3_s",  "iq2_s", "iq4_xs",
                                "i8",      "i16",    "i32",     "i64",    "f64",  "iq1_m",
                                "bf16",    "q4_0_4_4", "q4_0_4_8", "q4_0_8_8", "tq1_0", "tq2_0"};
  if (t < sizeof(names) / sizeof(names[0])) return names[t];
  return "type " + std::to_string(t);
}

bool GGUFValue::isInt() const {
  switch (type) {
  case GGUFType::u8: case GGUFType::i8: case GGUFType::u16: case GGUFType::i16:
  case GGUFType::u32: case GGUFType::i32: case GGUFType::u64: case GGUFType::i64:
  case GGUFType::boolean: return true;
  default: return false;
  }
}
bool GGUFValue::isFloat() const { return type == GGUFType::f32 || type == GGUFType::f64; }

int64_t GGUFValue::asInt(const std::string &what) const {
  if (!isInt())
    throw InvalidArgument(what + " must be an integer, the file has a " + ggufTypeName(type));
  return i;
}
double GGUFValue::asFloat(const std::string &what) const {
  if (isFloat()) return f;
  if (isInt()) return double(i);
  throw InvalidArgument(what + " must be a number, the file has a " + ggufTypeName(type));
}
const std::string &GGUFValue::asString(const std::string &what) const {
  if (type != GGUFType::string)
    throw InvalidArgument(what + " must be a string, the file has a " + ggufTypeName(type));
  return s;
}
std::vector<std::string> GGUFValue::asStrings(const std::string &what) const {
  if (type != GGUFType::array || elemType != GGUFType::string)
    throw InvalidArgument(what + " must be an array of strings");
  std::vector<std::string> out;
  out.reserve(arr.size());
  for (auto &e : arr) out.push_back(e.s);
  return out;
}
std::vector<double> GGUFValue::asFloats(const std::string &what) const {
  if (type != GGUFType::array) throw InvalidArgument(what + " must be an array of numbers");
  std::vector<double> out;
  out.reserve(arr.size());
  for (auto &e : arr) out.push_back(e.asFloat(what + " element"));
  return out;
}
std::vector<int64_t> GGUFValue::asInts(const std::string &what) const {
  if (type != GGUFType::array) throw InvalidArgument(what + " must be an array of integers");
  std::vector<int64_t> out;
  out.reserve(arr.size());
  for (auto &e : arr) out.push_back(e.asInt(what + " element"));
  return out;
}

int64_t GGUFTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

uint64_t ggmlRowBytes(uint32_t type, int64_t n) {
  const TypeInfo *ti = typeInfo(type);
  if (!ti) return 0;
  return uint64_t((n + ti->blockElems - 1) / ti->blockElems * ti->blockBytes);
}

void dequantize(uint32_t type, const uint8_t *src, int64_t n, float *dst) {
  switch (type) {
  case 0: std::memcpy(dst, src, size_t(n) * 4); return;
  case 1:
    for (int64_t i = 0; i < n; ++i) dst[i] = f16(src + 2 * i);
    return;
  case 30:
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = kernels::bf16ToFloat(h);
    }
    return;
  case 8: // q8_0: f16 d, 32 x i8; x = q * d
    for (int64_t b = 0; b < n / 32; ++b, src += 34) {
      float d = f16(src);
      for (int j = 0; j < 32; ++j) dst[b * 32 + j] = float(int8_t(src[2 + j])) * d;
    }
    return;
  case 2: // q4_0: f16 d, 16 bytes; low nibbles are elements 0..15, high 16..31; x = (q - 8) * d
    for (int64_t b = 0; b < n / 32; ++b, src += 18) {
      float d = f16(src);
      for (int j = 0; j < 16; ++j) {
        dst[b * 32 + j] = float(int(src[2 + j] & 15) - 8) * d;
        dst[b * 32 + j + 16] = float(int(src[2 + j] >> 4) - 8) * d;
      }
    }
    return;
  case 3: // q4_1: f16 d, f16 m, 16 bytes; x = q * d + m
    for (int64_t b = 0; b < n / 32; ++b, src += 20) {
      float d = f16(src), m = f16(src + 2);
      for (int j = 0; j < 16; ++j) {
        dst[b * 32 + j] = float(src[4 + j] & 15) * d + m;
        dst[b * 32 + j + 16] = float(src[4 + j] >> 4) * d + m;
      }
    }
    return;
  default:
    throw InvalidArgument("unsupported tensor type " + ggmlTypeName(type) +
                          " (supported: f32, f16, bf16, q8_0, q4_0, q4_1)");
  }
}

GGUFFile GGUFFile::read(const std::string &path, bool loadData) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw RuntimeError(path + ": cannot open the file");
  std::streamoff size = in.tellg();
  if (size < 0) throw RuntimeError(path + ": cannot read the file");
  std::vector<uint8_t> buf(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char *>(buf.data()), size))
    throw RuntimeError(path + ": cannot read the file");

  GGUFFile f;
  f.path = path;
  Cursor c{path, buf};
  if (buf.size() < 4 || std::memcmp(buf.data(), "GGUF", 4) != 0)
    throw InvalidArgument(path + ": not a GGUF file (it does not start with the magic 'GGUF')");
  c.pos = 4;
  f.version = c.get<uint32_t>("version");
  if (f.version < 1 || f.version > 3)
    throw InvalidArgument(path + ": unsupported GGUF version " + std::to_string(f.version) +
                          " (supported: 1, 2, 3)");
  c.version = f.version;
  uint64_t nTensors = c.size("tensor count"), nKV = c.size("metadata count");
  // Each key-value pair and tensor info takes at least 8 bytes.
  c.need(nTensors + nKV, "tensor infos and metadata");

  for (uint64_t i = 0; i < nKV; ++i) {
    std::string key = c.str("metadata key");
    GGUFType t = GGUFType(c.get<uint32_t>("metadata type"));
    GGUFValue v = readValue(c, t, 0);
    f.keyIndex_[key] = f.metadata.size();
    f.metadata.emplace_back(std::move(key), std::move(v));
  }
  if (const GGUFValue *a = f.find("general.alignment")) {
    int64_t al = a->asInt(path + ": general.alignment");
    if (al <= 0 || (al & (al - 1)))
      throw InvalidArgument(path + ": general.alignment must be a power of two, got " +
                            std::to_string(al));
    f.alignment = uint64_t(al);
  }

  for (uint64_t i = 0; i < nTensors; ++i) {
    GGUFTensor t;
    t.name = c.str("tensor name");
    uint32_t nd = c.get<uint32_t>("tensor rank");
    if (nd == 0 || nd > kMaxDims)
      throw InvalidArgument(path + ": tensor '" + t.name + "' has " + std::to_string(nd) +
                            " dimensions (1 to 4 are valid)");
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t ne = c.size("tensor dimension");
      if (ne == 0 || ne > (uint64_t(1) << 40))
        throw InvalidArgument(path + ": tensor '" + t.name + "' has a bad dimension " +
                              std::to_string(ne));
      t.shape.push_back(int64_t(ne));
    }
    t.type = c.get<uint32_t>("tensor type");
    t.offset = c.get<uint64_t>("tensor offset");
    f.tensorIndex_[t.name] = f.tensors.size();
    f.tensors.push_back(std::move(t));
  }
  uint64_t dataStart = (c.pos + f.alignment - 1) / f.alignment * f.alignment;

  // Check every tensor before dequantising any.
  for (auto &t : f.tensors) {
    const TypeInfo *ti = typeInfo(t.type);
    if (!ti)
      throw InvalidArgument(path + ": tensor '" + t.name + "' has the unsupported type " +
                            ggmlTypeName(t.type) +
                            " (supported: f32, f16, bf16, q8_0, q4_0, q4_1)");
    if (t.shape[0] % ti->blockElems)
      throw InvalidArgument(path + ": tensor '" + t.name + "' of type " + ggmlTypeName(t.type) +
                            " has a row of " + std::to_string(t.shape[0]) +
                            " elements, not a multiple of its block size " +
                            std::to_string(ti->blockElems));
    if (!loadData) continue;
    uint64_t bytes = ggmlRowBytes(t.type, t.shape[0]) * uint64_t(t.numel() / t.shape[0]);
    if (dataStart > buf.size() || t.offset > buf.size() - dataStart ||
        bytes > buf.size() - dataStart - t.offset)
      throw InvalidArgument(path + ": truncated GGUF file (tensor '" + t.name + "' needs bytes " +
                            std::to_string(dataStart + t.offset) + " to " +
                            std::to_string(dataStart + t.offset + bytes) + ", the file has " +
                            std::to_string(buf.size()) + ")");
  }
  if (loadData)
    rt::parallelFor(f.tensors.size(), [&](size_t i, unsigned) {
      GGUFTensor &t = f.tensors[i];
      t.data.resize(size_t(t.numel()));
      dequantize(t.type, buf.data() + dataStart + t.offset, t.numel(), t.data.data());
    });
  return f;
}

const GGUFValue *GGUFFile::find(const std::string &key) const {
  auto it = keyIndex_.find(key);
  return it == keyIndex_.end() ? nullptr : &metadata[it->second].second;
}

const GGUFValue &GGUFFile::get(const std::string &key) const {
  const GGUFValue *v = find(key);
  if (!v) throw InvalidArgument(path + ": missing metadata key " + key);
  return *v;
}

const GGUFTensor *GGUFFile::findTensor(const std::string &name) const {
  auto it = tensorIndex_.find(name);
  return it == tensorIndex_.end() ? nullptr : &tensors[it->second];
}

const GGUFTensor &GGUFFile::tensor(const std::string &name) const {
  const GGUFTensor *t = findTensor(name);
  if (!t) throw InvalidArgument(path + ": missing tensor " + name);
  return *t;
}

} // namespace hip::model
