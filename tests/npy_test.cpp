//===- tests/npy_test.cpp - The .npy reader and writer --------------------===//
//
// Round trips for every element type, files built byte by byte as numpy
// writes them, and the errors for files the reader does not accept.
//
//===----------------------------------------------------------------------===//
#include "hip/error.h"
#include "hip/kernels/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <unistd.h>

using namespace hip::kernels;
namespace fs = std::filesystem;

namespace {

class Npy : public ::testing::Test {
protected:
  fs::path dir;

  void SetUp() override {
    static int counter = 0;
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = fs::temp_directory_path() /
          ("npy_test_" + std::to_string(::getpid()) + "_" +
           std::to_string(counter++) + "_" + info->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string file(const std::string &name) const { return (dir / name).string(); }

  std::string writeBytes(const std::string &name, const std::string &bytes) const {
    std::string path = file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  static std::string readBytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
};

/// A version 1.0 file as numpy writes it: the dict padded with spaces and a
/// '\n' so that the data starts at a multiple of 64.
std::string npyV1(const std::string &dict, const std::string &data) {
  std::string header = dict;
  size_t total = 10 + header.size() + 1;
  header.append((total + 63) / 64 * 64 - total, ' ');
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  return out + header + data;
}

/// A version 2.0 or 3.0 file (u32 header length).
std::string npyV2(const std::string &dict, const std::string &data, char major = 2) {
  std::string header = dict;
  size_t total = 12 + header.size() + 1;
  header.append((total + 63) / 64 * 64 - total, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += major;
  out += '\0';
  for (int i = 0; i < 4; ++i)
    out += char(header.size() >> (8 * i) & 0xff);
  return out + header + data;
}

std::string floatBytes(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), std::data(values), s.size());
  return s;
}

/// Calls readNpy(path) expecting E, and returns its message.
/// The message of the E that `fn` throws ("<no error>" or "<wrong exception
/// type>: ..." otherwise, which no expected message contains).
template <class E, class F> std::string errorOf(F fn) {
  try {
    fn();
  } catch (const E &e) {
    return e.what();
  } catch (const std::exception &e) {
    return std::string("<wrong exception type>: ") + e.what();
  }
  return "<no error>";
}

template <class E> std::string readError(const std::string &path) {
  return errorOf<E>([&] { readNpy(path); });
}

#define EXPECT_CONTAINS(msg, part)                                             \
  EXPECT_NE(std::string(msg).find(part), std::string::npos)                    \
      << "message lacks '" << (part) << "': " << (msg)

} // namespace

TEST_F(Npy, RoundTripEveryTypeAndShape) {
  std::mt19937 rng(42);
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {0}, {1}, {7}, {3, 0, 2}, {2, 3}, {2, 3, 4}, {1, 1, 65}, {5, 4, 3, 2}};
  for (NpyType type : {NpyType::f32, NpyType::f16, NpyType::bf16, NpyType::i32,
                       NpyType::i64}) {
    for (const auto &shape : shapes) {
      SCOPED_TRACE(std::string(scalarTypeName(type)) + " rank " +
                   std::to_string(shape.size()));
      NpyArray a;
      a.type = type;
      a.shape = shape;
      a.data.resize(size_t(a.numel()) * a.elementSize());
      for (char &c : a.data)
        c = char(rng());
      std::string path = file("a.npy");
      writeNpy(path, a);

      std::string bytes = readBytes(path);
      ASSERT_GE(bytes.size(), 10u);
      EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\0", 8));
      size_t headerLen = uint8_t(bytes[8]) | uint8_t(bytes[9]) << 8;
      EXPECT_EQ((10 + headerLen) % 64, 0u);
      EXPECT_EQ(bytes[10 + headerLen - 1], '\n');
      EXPECT_EQ(bytes.size(), 10 + headerLen + a.data.size());

      NpyArray b = readNpy(path);
      EXPECT_EQ(b.type, a.type);
      EXPECT_EQ(b.shape, a.shape);
      EXPECT_EQ(b.data, a.data);
      EXPECT_EQ(b.numel(), a.numel());
    }
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1)
      << "temporary files left behind";
}

TEST_F(Npy, WriterHeaderText) {
  NpyArray a{NpyType::bf16, {3}, std::vector<char>(6)};
  std::string path = file("h.npy");
  writeNpy(path, a);
  std::string bytes = readBytes(path);
  EXPECT_EQ(bytes.substr(10, bytes.find('\n') - 10),
            "{'descr': 'bfloat16', 'fortran_order': False, 'shape': (3,), }" +
                std::string(bytes.find('\n') - 10 - 62, ' '));
}

TEST_F(Npy, ReadsNumpy1File) {
  // np.save("x.npy", np.array([[1, 2, 3], [4, 5, -6.5]], np.float32)).
  std::string bytes("\x93NUMPY\x01\x00\x76\x00", 10);
  bytes += "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  bytes += std::string(58, ' ') + "\n";
  ASSERT_EQ(bytes.size(), 128u);
  bytes += floatBytes({1, 2, 3, 4, 5, -6.5f});
  NpyArray a = readNpy(writeBytes("np1.npy", bytes));
  EXPECT_EQ(a.type, NpyType::f32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(a.data.size(), 24u);
  const float *f = reinterpret_cast<const float *>(a.data.data());
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[5], -6.5f);
}

TEST_F(Npy, ReadsHeaderVariants) {
  struct Case {
    std::string dict;
    NpyType type;
    std::vector<int64_t> shape;
  };
  const std::vector<Case> cases = {
      // numpy 2.x: no trailing comma.
      {"{'descr': '<i8', 'fortran_order': False, 'shape': (4,)}", NpyType::i64, {4}},
      {"{'shape': (), 'fortran_order': False, 'descr': '<i4'}", NpyType::i32, {}},
      {"{ \"descr\" : \"<f2\" ,\"fortran_order\":False,'shape':( 2 ,1 , ) , }",
       NpyType::f16, {2, 1}},
      {"{'descr': 'bfloat16', 'fortran_order': False, 'shape': (1, 2)}",
       NpyType::bf16, {1, 2}},
      {"{'descr': '<bf16', 'fortran_order': False, 'shape': (2L,)}", NpyType::bf16,
       {2}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", NpyType::f32,
       {0, 5}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.dict);
    NpyArray probe{c.type, c.shape, {}};
    std::string data(size_t(probe.numel()) * probe.elementSize(), '\x5a');
    NpyArray a = readNpy(writeBytes("v.npy", npyV1(c.dict, data)));
    EXPECT_EQ(a.type, c.type);
    EXPECT_EQ(a.shape, c.shape);
    EXPECT_EQ(a.numel(), probe.numel());
    EXPECT_EQ(std::string(a.data.begin(), a.data.end()), data);
  }
}

TEST_F(Npy, ReadsVersion2And3) {
  std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
  std::string data("\x01\0\0\0\x02\0\0\0\xff\xff\xff\xff", 12);
  for (char major : {'\x02', '\x03'}) {
    NpyArray a = readNpy(writeBytes("v2.npy", npyV2(dict, data, major)));
    EXPECT_EQ(a.type, NpyType::i32);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
    const int32_t *v = reinterpret_cast<const int32_t *>(a.data.data());
    EXPECT_EQ(v[0], 1);
    EXPECT_EQ(v[2], -1);
  }
}

TEST_F(Npy, WritesVersion2ForLongHeader) {
  NpyArray a{NpyType::i32, std::vector<int64_t>(30000, 1), std::vector<char>(4, '\x07')};
  std::string path = file("long.npy");
  writeNpy(path, a);
  std::string bytes = readBytes(path);
  EXPECT_EQ(bytes[6], '\x02');
  NpyArray b = readNpy(path);
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
}

TEST_F(Npy, TruncatedData) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  std::string path = writeBytes("t.npy", npyV1(dict, floatBytes({1, 2, 3, 4, 5})));
  std::string msg = readError<hip::InvalidArgument>(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "truncated: expected 24 data bytes, found 20");
}

TEST_F(Npy, TrailingData) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
  std::string path = writeBytes("t.npy", npyV1(dict, floatBytes({1, 2})));
  std::string msg = readError<hip::InvalidArgument>(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "expected 4 data bytes, found 8");
}

TEST_F(Npy, TruncatedHeader) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  std::string path = writeBytes("t.npy", npyV1(dict, "").substr(0, 40));
  std::string msg = readError<hip::InvalidArgument>(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "truncated");

  path = writeBytes("t2.npy", std::string("\x93NUMPY\x01\0\x40", 9));
  EXPECT_CONTAINS(readError<hip::InvalidArgument>(path), "truncated");
}

TEST_F(Npy, BadMagic) {
  std::string path = writeBytes("bad.npy", "PK\x03\x04 this is a zip, not an npy file");
  std::string msg = readError<hip::InvalidArgument>(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "not a .npy file");

  path = writeBytes("empty.npy", "");
  EXPECT_CONTAINS(readError<hip::InvalidArgument>(path), "not a .npy file");
}

TEST_F(Npy, UnsupportedVersion) {
  std::string bytes = npyV1("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                            floatBytes({1}));
  bytes[6] = '\x04';
  std::string msg = readError<hip::InvalidArgument>(writeBytes("v4.npy", bytes));
  EXPECT_CONTAINS(msg, "unsupported .npy format version 4.0");
}

TEST_F(Npy, FortranOrder) {
  std::string dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
  std::string path = writeBytes("f.npy", npyV1(dict, std::string(24, '\0')));
  std::string msg = readError<hip::InvalidArgument>(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "fortran_order arrays are not supported: save with "
                       "np.ascontiguousarray");
}

TEST_F(Npy, BigEndian) {
  std::string dict = "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }";
  std::string path = writeBytes("be.npy", npyV1(dict, std::string(8, '\0')));
  std::string msg = readError<hip::InvalidArgument>(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "big-endian dtype '>f4' is not supported");
}

TEST_F(Npy, UnsupportedDescrs) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"'<u2'", "unsupported dtype '<u2'"},
      {"'<f8'", "unsupported dtype '<f8'"},
      {"'|O'", "object arrays (dtype '|O') are not supported"},
      {"'<V2'", "dtype '<V2' (untyped 2 bytes"},
      {"'|V2'", "dtype '|V2' (untyped 2 bytes"},
      {"[('a', '<f4'), ('b', '<i4')]", "structured dtypes are not supported"},
  };
  for (const auto &[descr, expected] : cases) {
    SCOPED_TRACE(descr);
    std::string dict = "{'descr': " + descr + ", 'fortran_order': False, 'shape': (1,), }";
    std::string path = writeBytes("d.npy", npyV1(dict, std::string(8, '\0')));
    std::string msg = readError<hip::InvalidArgument>(path);
    EXPECT_CONTAINS(msg, path);
    EXPECT_CONTAINS(msg, expected);
  }
}

TEST_F(Npy, MalformedHeaders) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{'descr': '<f4', 'shape': (1,), }", "missing key 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
       "unexpected or repeated key 'x'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
       "unexpected or repeated key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}",
       "expected True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "expected '('"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
       "dimension too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "after the closing"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", "expected ':'"},
      {"'descr': '<f4'", "expected '{'"},
  };
  for (const auto &[dict, expected] : cases) {
    SCOPED_TRACE(dict);
    std::string path = writeBytes("m.npy", npyV1(dict, std::string(4, '\0')));
    std::string msg = readError<hip::InvalidArgument>(path);
    EXPECT_CONTAINS(msg, path);
    EXPECT_CONTAINS(msg, "malformed .npy header");
    EXPECT_CONTAINS(msg, expected);
  }
}

TEST_F(Npy, HugeShapeIsRejectedWithoutAllocating) {
  std::string dict = "{'descr': '<i8', 'fortran_order': False, "
                     "'shape': (4294967296, 4294967296), }";
  std::string path = writeBytes("huge.npy", npyV1(dict, std::string(8, '\0')));
  EXPECT_CONTAINS(readError<hip::InvalidArgument>(path), "is too large");

  dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }";
  path = writeBytes("huge2.npy", npyV1(dict, std::string(8, '\0')));
  EXPECT_CONTAINS(readError<hip::InvalidArgument>(path),
                  "truncated: expected 8000000000000 data bytes, found 8");
}

TEST_F(Npy, MissingFile) {
  std::string path = file("does_not_exist.npy");
  std::string msg = readError<hip::RuntimeError>(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "No such file or directory");
}

TEST_F(Npy, DirectoryIsNotAFile) {
  std::string msg = readError<hip::RuntimeError>(dir.string());
  EXPECT_CONTAINS(msg, dir.string());
}

TEST_F(Npy, WriteRejectsWrongDataSize) {
  std::string path = file("w.npy");
  NpyArray a{NpyType::f32, {2, 3}, std::vector<char>(20)};
  std::string msg = errorOf<hip::InvalidArgument>([&] { writeNpy(path, a); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "data has 20 bytes, expected 24");
  a.shape = {-1, 3};
  EXPECT_THROW(writeNpy(path, a), hip::InvalidArgument);
  EXPECT_TRUE(fs::is_empty(dir)) << "something was written";
}

TEST_F(Npy, WriteFailureLeavesNoTemporary) {
  NpyArray a{NpyType::i32, {1}, std::vector<char>(4)};
  std::string path = file("no_such_dir/w.npy");
  std::string msg = errorOf<hip::RuntimeError>([&] { writeNpy(path, a); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "No such file or directory");

  // rename onto a non-empty directory fails after the data was written.
  fs::create_directories(dir / "target.npy" / "x");
  path = file("target.npy");
  EXPECT_THROW(writeNpy(path, a), hip::RuntimeError);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1)
      << "temporary file left behind";
}

TEST_F(Npy, OverwritesExistingFile) {
  std::string path = writeBytes("o.npy", "old contents");
  NpyArray a{NpyType::i64, {2}, std::vector<char>(16, '\x11')};
  writeNpy(path, a);
  EXPECT_EQ(readNpy(path).data, a.data);
}
