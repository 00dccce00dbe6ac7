//===- kernels/npy.cpp - Reading and writing .npy files -------------------===//
//
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// Magic "\x93NUMPY", major and minor version bytes, the header length
// (little-endian u16 for 1.0, u32 for 2.0 and 3.0), then the header: a Python
// dict literal padded with spaces and a '\n', then the raw data.
//
//===----------------------------------------------------------------------===//
#include "hip/kernels/npy.h"

#include "hip/error.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include <unistd.h>

namespace hip::kernels {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader/writer copies little-endian data as is");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kAlign = 64;

struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

[[noreturn]] void invalid(const std::string &path, const std::string &what) {
  throw InvalidArgument(path + ": " + what);
}

[[noreturn]] void sysError(const std::string &path, const std::string &what,
                           int err) {
  throw RuntimeError(path + ": " + what + ": " + std::strerror(err));
}

std::optional<NpyType> typeOfDescr(std::string_view d) {
  if (d == "bfloat16" || d == "<bf16")
    return NpyType::bf16;
  if (d.size() != 3 || (d[0] != '<' && d[0] != '='))
    return std::nullopt;
  d.remove_prefix(1);
  if (d == "f4")
    return NpyType::f32;
  if (d == "f2")
    return NpyType::f16;
  if (d == "i4")
    return NpyType::i32;
  if (d == "i8")
    return NpyType::i64;
  return std::nullopt;
}

const char *descrOf(NpyType t) {
  switch (t) {
  case NpyType::f32:
    return "<f4";
  case NpyType::f16:
    return "<f2";
  case NpyType::bf16:
    return "bfloat16";
  case NpyType::i32:
    return "<i4";
  case NpyType::i64:
    return "<i8";
  }
  throw InvalidArgument("invalid NpyType " + std::to_string(int(t)));
}

/// Byte size of an array of `shape`, or nullopt on a negative dimension or
/// an overflow of int64.
std::optional<int64_t> byteSize(const std::vector<int64_t> &shape,
                                size_t elemSize) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t n = int64_t(elemSize);
  bool zero = false;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (d == 0)
      zero = true;
    else if (!zero && n > kMax / d)
      return std::nullopt;
    else if (!zero)
      n *= d;
  }
  return zero ? 0 : n;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

struct Header {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// Parses the header dict: keys 'descr', 'fortran_order' and 'shape', each
/// exactly once, in any order.
class HeaderParser {
public:
  HeaderParser(std::string_view text, const std::string &path)
      : s(text), path(path) {}

  Header parse() {
    Header h;
    bool seenDescr = false, seenOrder = false, seenShape = false;
    skipSpace();
    expect('{');
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key = parseString();
      skipSpace();
      expect(':');
      skipSpace();
      if (key == "descr" && !seenDescr) {
        if (peek() == '[')
          invalid(path, "structured dtypes are not supported");
        h.descr = parseString();
        seenDescr = true;
      } else if (key == "fortran_order" && !seenOrder) {
        h.fortranOrder = parseBool();
        seenOrder = true;
      } else if (key == "shape" && !seenShape) {
        h.shape = parseShape();
        seenShape = true;
      } else {
        fail("unexpected or repeated key '" + key + "'");
      }
      skipSpace();
      if (consume('}'))
        break;
      expect(',');
    }
    skipSpace();
    if (pos != s.size())
      fail("text after the closing '}'");
    if (!seenDescr || !seenOrder || !seenShape)
      fail(std::string("missing key '") +
           (!seenDescr ? "descr" : !seenOrder ? "fortran_order" : "shape") +
           "'");
    return h;
  }

private:
  std::string_view s;
  size_t pos = 0;
  const std::string &path;

  [[noreturn]] void fail(const std::string &what) {
    constexpr size_t kShown = 200;
    std::string shown(s.substr(0, kShown));
    if (s.size() > kShown)
      shown += "...";
    invalid(path, "malformed .npy header (" + what + " at offset " +
                      std::to_string(pos) + "): " + shown);
  }

  char peek() const { return pos < s.size() ? s[pos] : '\0'; }

  void skipSpace() {
    while (pos < s.size() &&
           (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
      ++pos;
  }

  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }

  void expect(char c) {
    if (!consume(c))
      fail(std::string("expected '") + c + "'");
  }

  std::string parseString() {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      fail("expected a quoted string");
    size_t end = s.find(quote, pos + 1);
    if (end == std::string_view::npos)
      fail("unterminated string");
    std::string str(s.substr(pos + 1, end - pos - 1));
    pos = end + 1;
    return str;
  }

  bool parseBool() {
    if (s.substr(pos, 4) == "True") {
      pos += 4;
      return true;
    }
    if (s.substr(pos, 5) == "False") {
      pos += 5;
      return false;
    }
    fail("expected True or False");
  }

  int64_t parseDim() {
    if (peek() == '-')
      fail("negative dimension");
    if (peek() < '0' || peek() > '9')
      fail("expected a dimension");
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      int digit = s[pos++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - digit) / 10)
        fail("dimension too large");
      v = v * 10 + digit;
    }
    consume('L'); // Python 2 long literal.
    return v;
  }

  std::vector<int64_t> parseShape() {
    std::vector<int64_t> shape;
    expect('(');
    skipSpace();
    while (!consume(')')) {
      shape.push_back(parseDim());
      skipSpace();
      if (consume(')'))
        break;
      expect(',');
      skipSpace();
    }
    return shape;
  }
};

NpyType checkedType(const Header &h, const std::string &path) {
  if (auto t = typeOfDescr(h.descr))
    return *t;
  const std::string &d = h.descr;
  if (!d.empty() && d[0] == '>')
    invalid(path, "big-endian dtype '" + d +
                      "' is not supported: save with "
                      "a.astype(a.dtype.newbyteorder('<'))");
  std::string_view kind = d;
  if (!kind.empty() && std::strchr("<>|=", kind[0]))
    kind.remove_prefix(1);
  if (!kind.empty() && kind[0] == 'O')
    invalid(path, "object arrays (dtype '" + d + "') are not supported");
  if (d == "<V2" || d == "|V2")
    invalid(path, "dtype '" + d +
                      "' (untyped 2 bytes, as np.save writes "
                      "ml_dtypes.bfloat16) is not supported: write bf16 with "
                      "descr 'bfloat16'");
  invalid(path, "unsupported dtype '" + d +
                    "' (supported: '<f4', '<f2', 'bfloat16', '<i4', '<i8')");
}

uint64_t readLE(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = v << 8 | p[i];
  return v;
}

/// Reads exactly n bytes that the file size says are there.
void readExactly(std::FILE *f, void *dst, size_t n, const std::string &path) {
  if (n == 0)
    return;
  errno = 0;
  if (std::fread(dst, 1, n, f) == n)
    return;
  if (std::ferror(f))
    sysError(path, "read failed", errno ? errno : EIO);
  throw RuntimeError(path + ": file shrank while being read");
}

} // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

size_t NpyArray::elementSize() const { return hip::elementSize(type); }

NpyArray readNpy(const std::string &path) {
  errno = 0;
  File f(std::fopen(path.c_str(), "rb"));
  if (!f)
    sysError(path, "cannot open", errno ? errno : ENOENT);
  std::error_code ec;
  uint64_t fileSize = std::filesystem::file_size(path, ec);
  if (ec)
    throw RuntimeError(path + ": cannot get the file size: " + ec.message());

  unsigned char prefix[12];
  if (fileSize < kMagicSize + 2) {
    readExactly(f.get(), prefix, fileSize, path);
    invalid(path, "not a .npy file (too short for the magic string)");
  }
  readExactly(f.get(), prefix, kMagicSize + 2, path);
  if (std::memcmp(prefix, kMagic, kMagicSize) != 0)
    invalid(path, "not a .npy file (bad magic string)");
  int major = prefix[kMagicSize], minor = prefix[kMagicSize + 1];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    invalid(path, "unsupported .npy format version " + std::to_string(major) +
                      "." + std::to_string(minor));
  int lenBytes = major == 1 ? 2 : 4;
  uint64_t prefixSize = kMagicSize + 2 + lenBytes;
  if (fileSize < prefixSize)
    invalid(path, "truncated: the header length field is incomplete");
  readExactly(f.get(), prefix + kMagicSize + 2, lenBytes, path);
  uint64_t headerLen = readLE(prefix + kMagicSize + 2, lenBytes);
  if (fileSize - prefixSize < headerLen)
    invalid(path, "truncated: expected " + std::to_string(headerLen) +
                      " header bytes, found " +
                      std::to_string(fileSize - prefixSize));

  std::string text(headerLen, '\0');
  readExactly(f.get(), text.data(), headerLen, path);
  Header h = HeaderParser(text, path).parse();

  NpyArray a;
  a.type = checkedType(h, path);
  if (h.fortranOrder)
    invalid(path, "fortran_order arrays are not supported: save with "
                  "np.ascontiguousarray");
  a.shape = std::move(h.shape);
  std::optional<int64_t> bytes = byteSize(a.shape, a.elementSize());
  if (!bytes)
    invalid(path, "shape " + shapeString(a.shape) + " is too large");
  uint64_t found = fileSize - prefixSize - headerLen;
  if (found < uint64_t(*bytes))
    invalid(path, "truncated: expected " + std::to_string(*bytes) +
                      " data bytes, found " + std::to_string(found));
  if (found > uint64_t(*bytes))
    invalid(path, "unexpected trailing data: expected " +
                      std::to_string(*bytes) + " data bytes, found " +
                      std::to_string(found));
  a.data.resize(size_t(*bytes));
  readExactly(f.get(), a.data.data(), a.data.size(), path);
  return a;
}

void writeNpy(const std::string &path, const NpyArray &a) {
  std::string descr = descrOf(a.type);
  std::optional<int64_t> bytes = byteSize(a.shape, a.elementSize());
  if (!bytes)
    invalid(path, "cannot write shape " + shapeString(a.shape) +
                      ": negative dimension or too many elements");
  if (a.data.size() != uint64_t(*bytes))
    invalid(path, "cannot write " + std::string(scalarTypeName(a.type)) +
                      " array of shape " + shapeString(a.shape) + ": data has " +
                      std::to_string(a.data.size()) + " bytes, expected " +
                      std::to_string(*bytes));

  std::string dict = "{'descr': '" + descr +
                     "', 'fortran_order': False, 'shape': " +
                     shapeString(a.shape) + ", }";
  auto paddedLen = [&](size_t prefixSize) {
    size_t total = prefixSize + dict.size() + 1;
    return (total + kAlign - 1) / kAlign * kAlign - prefixSize;
  };
  int major = 1;
  size_t headerLen = paddedLen(kMagicSize + 4);
  if (headerLen > std::numeric_limits<uint16_t>::max()) {
    major = 2;
    headerLen = paddedLen(kMagicSize + 6);
    if (headerLen > std::numeric_limits<uint32_t>::max())
      invalid(path, "cannot write: header too long");
  }
  std::string head(kMagic, kMagicSize);
  head += char(major);
  head += '\0';
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i)
    head += char(headerLen >> (8 * i) & 0xff);
  head += dict;
  head.append(headerLen - dict.size() - 1, ' ');
  head += '\n';

  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  errno = 0;
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    sysError(path, "cannot create temporary file '" + tmp + "'",
             errno ? errno : EIO);
  errno = 0;
  bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size() &&
            (a.data.empty() || std::fwrite(a.data.data(), 1, a.data.size(),
                                           f) == a.data.size()) &&
            std::fflush(f) == 0;
  int err = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    sysError(path, "writing '" + tmp + "' failed", err ? err : EIO);
  }
  errno = 0;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno ? errno : EIO;
    std::remove(tmp.c_str());
    sysError(path, "cannot rename '" + tmp + "' to it", err);
  }
}

} // namespace hip::kernels
