//===- NpyTest.cpp - Tests for the .npy reader and writer -----------------===//
//
// The "numpy" byte strings below are what NumPy 1.24's np.save (or
// numpy.lib.format.write_array for versions 2.0/3.0) writes for the arrays
// named in each case, transcribed by hand: magic and version, header length,
// the dict, then spaces and '\n' up to a multiple of 64, then the data.
//
//===----------------------------------------------------------------------===//

#include "Runtime/Npy.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>

using namespace sqz::runtime;
using namespace sqz::test;

namespace {

/// An .npy file as np.save lays it out.
std::string npyBytes(const std::string &prefix, const std::string &dict,
                     size_t spaces, const std::string &data = "") {
  return prefix + dict + std::string(spaces, ' ') + "\n" + data;
}

const std::string kV1Prefix("\x93NUMPY\x01\x00v\x00", 10);

std::string floatBytes(const std::vector<float> &values) {
  return std::string(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(float));
}

Status parse(const std::string &bytes, NpyArray &array) {
  return parseNpy(bytes.data(), bytes.size(), array);
}

/// Parses `bytes`, expecting failure with a message containing `needle`.
void expectParseError(const std::string &bytes, const std::string &needle) {
  NpyArray array;
  Status s = parse(bytes, array);
  ASSERT_FALSE(s.ok()) << "expected an error containing: " << needle;
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

std::string v1Header(const std::string &dict) {
  // Pads like np.save, for error cases that are not np.save output.
  size_t total = 10 + dict.size() + 1;
  size_t spaces = (64 - total % 64) % 64;
  std::string len(2, '\0');
  len[0] = static_cast<char>((dict.size() + 1 + spaces) & 0xff);
  len[1] = static_cast<char>((dict.size() + 1 + spaces) >> 8);
  return std::string("\x93NUMPY\x01\x00", 8) + len + dict +
         std::string(spaces, ' ') + "\n";
}

//===----------------------------------------------------------------------===//
// Files NumPy wrote
//===----------------------------------------------------------------------===//

struct NumpyCase {
  const char *what;
  DType dtype;
  std::vector<int64_t> shape;
  const char *dict;
  size_t spaces;
  /// The file's whole header: preamble, dict, padding.
  size_t headerSize = 128;

  std::string bytes() const {
    // Version 1.0: the length after the 10-byte preamble, little-endian.
    size_t len = headerSize - 10;
    std::string prefix("\x93NUMPY\x01\x00", 8);
    prefix += static_cast<char>(len & 0xff);
    prefix += static_cast<char>(len >> 8);
    return npyBytes(prefix, dict, spaces);
  }
};

// np.save(f, np.zeros(shape, dtype)) with NumPy 1.24.
const NumpyCase kNumpyCases[] = {
    {"float32 (2, 3)", DType::Float32, {2, 3},
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 58},
    {"int8 scalar", DType::Int8, {},
     "{'descr': '|i1', 'fortran_order': False, 'shape': (), }", 62},
    {"bool (5,)", DType::Bool, {5},
     "{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }", 60},
    {"float16 (2,)", DType::Float16, {2},
     "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 60},
    {"float64 (0, 4)", DType::Float64, {0, 4},
     "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }", 58},
    {"uint32 (3, 1, 2)", DType::UInt32, {3, 1, 2},
     "{'descr': '<u4', 'fortran_order': False, 'shape': (3, 1, 2), }", 55},
    // np.save always pads by 1 to 64 bytes (never 0), so here the growth
    // padding (20 spaces) pushes the header from 128 to 192 bytes.
    {"int16 (2, 1 x 7, 10 x 5)", DType::Int16,
     {2, 1, 1, 1, 1, 1, 1, 1, 10, 10, 10, 10, 10},
     "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 1, 1, 1, 1, 1, 1, "
     "1, 10, 10, 10, 10, 10), }",
     84, 192},
};

TEST(NpyTest, EncodesHeadersExactlyLikeNumpy) {
  for (const NumpyCase &c : kNumpyCases) {
    SCOPED_TRACE(c.what);
    std::string numpy = c.bytes();
    EXPECT_EQ(numpy.size(), c.headerSize);
    EXPECT_EQ(encodeNpyHeader(c.dtype, c.shape), numpy);
  }
}

TEST(NpyTest, ParsesNumpyHeaders) {
  for (const NumpyCase &c : kNumpyCases) {
    SCOPED_TRACE(c.what);
    std::string numpy = c.bytes();
    NpyHeader header;
    ASSERT_TRUE(parseNpyHeader(numpy.data(), numpy.size(), header).ok());
    EXPECT_EQ(header.majorVersion, 1);
    EXPECT_EQ(header.dtype, c.dtype);
    EXPECT_EQ(header.shape, c.shape);
    EXPECT_EQ(header.dataOffset, c.headerSize);
    size_t elements = 1;
    for (int64_t d : c.shape)
      elements *= d;
    EXPECT_EQ(header.numElements, elements);
    EXPECT_EQ(header.dataBytes, elements * dtypeSize(c.dtype));
  }
}

TEST(NpyTest, ReadsNumpyFloat32Data) {
  // np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3))
  std::string numpy = npyBytes(
      kV1Prefix, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      58, floatBytes({0, 1, 2, 3, 4, 5}));
  NpyArray array;
  Status s = parse(numpy, array);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(array.dtype, DType::Float32);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(array.data.size(), 24u);
  const float *values = reinterpret_cast<const float *>(array.data.data());
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(values[i], static_cast<float>(i));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(array.data.data()) % 64, 0u);
}

TEST(NpyTest, ReadsNumpyScalar) {
  // np.save(f, np.array(-5, dtype=np.int8))
  std::string numpy = npyBytes(
      kV1Prefix, "{'descr': '|i1', 'fortran_order': False, 'shape': (), }", 62,
      "\xfb");
  NpyArray array;
  ASSERT_TRUE(parse(numpy, array).ok());
  EXPECT_EQ(array.dtype, DType::Int8);
  EXPECT_TRUE(array.shape.empty());
  ASSERT_EQ(array.data.size(), 1u);
  EXPECT_EQ(static_cast<int8_t>(array.data.data()[0]), -5);
}

TEST(NpyTest, ReadsVersion2And3) {
  // numpy.lib.format.write_array(f, np.arange(3, dtype=np.int64), (2, 0))
  std::string v2 = npyBytes(
      std::string("\x93NUMPY\x02\x00t\x00\x00\x00", 12),
      "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 58,
      std::string("\0\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0", 24));
  NpyArray array;
  Status s = parse(v2, array);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(array.dtype, DType::Int64);
  EXPECT_EQ(array.shape, std::vector<int64_t>{3});
  const int64_t *i64 = reinterpret_cast<const int64_t *>(array.data.data());
  EXPECT_EQ(i64[0], 0);
  EXPECT_EQ(i64[2], 2);

  // numpy.lib.format.write_array(f, np.arange(3, dtype=np.uint16), (3, 0))
  std::string v3 =
      npyBytes(std::string("\x93NUMPY\x03\x00t\x00\x00\x00", 12),
               "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", 58,
               std::string("\0\0\1\0\2\0", 6));
  NpyHeader header;
  ASSERT_TRUE(parseNpyHeader(v3.data(), v3.size(), header).ok());
  EXPECT_EQ(header.majorVersion, 3);
  EXPECT_EQ(header.dataOffset, 128u);
  ASSERT_TRUE(parse(v3, array).ok());
  EXPECT_EQ(array.dtype, DType::UInt16);
  EXPECT_EQ(reinterpret_cast<const uint16_t *>(array.data.data())[2], 2);
}

TEST(NpyTest, AcceptsEquivalentSpellings) {
  struct {
    const char *descr;
    DType type;
  } cases[] = {
      {"<f4", DType::Float32}, {"=f4", DType::Float32}, {"|f4", DType::Float32},
      {"f8", DType::Float64},  {"<i1", DType::Int8},    {">i1", DType::Int8},
      {">u1", DType::UInt8},   {"|b1", DType::Bool},    {"?", DType::Bool},
      {"<u8", DType::UInt64},  {"<e", DType::Float16},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.descr);
    DType type;
    Status s = parseNpyDescr(c.descr, type);
    if (std::string(c.descr) == "<e") {
      // Single-letter codes other than '?' are not written by np.save.
      EXPECT_FALSE(s.ok());
      continue;
    }
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(type, c.type);
  }
}

TEST(NpyTest, HeaderDictSyntax) {
  NpyHeader header;
  // Key order, double quotes, no trailing comma, Python 2 'L' suffixes.
  ASSERT_TRUE(parseNpyHeaderDict(
                  "{\"shape\": (2L, 3L), \"fortran_order\": False, "
                  "\"descr\": \"<i2\"}\n",
                  header)
                  .ok());
  EXPECT_EQ(header.dtype, DType::Int16);
  EXPECT_EQ(header.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_TRUE(parseNpyHeaderDict("{'descr':'<f4','fortran_order':False,"
                                 "'shape':(4,5,)}",
                                 header)
                  .ok());
  EXPECT_EQ(header.shape, (std::vector<int64_t>{4, 5}));
}

//===----------------------------------------------------------------------===//
// Round trips through files
//===----------------------------------------------------------------------===//

TEST(NpyTest, RoundTripsEveryDType) {
  TempDir dir;
  for (DType type : kAllDTypes) {
    SCOPED_TRACE(dtypeName(type));
    std::vector<int64_t> shape = {3, 5};
    size_t bytes = 15 * dtypeSize(type);
    std::string data(bytes, '\0');
    for (size_t i = 0; i < bytes; ++i)
      data[i] = static_cast<char>(type == DType::Bool ? i % 2 : i * 7 + 1);
    std::string path = dir.file(std::string(dtypeName(type)) + ".npy");
    Status s = writeNpyFile(path, type, shape, data.data());
    ASSERT_TRUE(s.ok()) << s.message();

    std::string file = readFile(path);
    EXPECT_EQ(file.size(), 128 + bytes);
    EXPECT_EQ(file.substr(0, 128), encodeNpyHeader(type, shape));
    EXPECT_EQ(file.substr(128), data);

    NpyArray array;
    s = readNpyFile(path, array);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(array.dtype, type);
    EXPECT_EQ(array.shape, shape);
    ASSERT_EQ(array.data.size(), bytes);
    EXPECT_EQ(std::memcmp(array.data.data(), data.data(), bytes), 0);
  }
  // Only the written files remain: temporaries were renamed away.
  EXPECT_EQ(listDir(dir.path()).size(), 12u);
}

TEST(NpyTest, RoundTripsScalarAndEmpty) {
  TempDir dir;
  double pi = 3.14159;
  ASSERT_TRUE(writeNpyFile(dir.file("s.npy"), DType::Float64, {}, &pi).ok());
  NpyArray array;
  ASSERT_TRUE(readNpyFile(dir.file("s.npy"), array).ok());
  EXPECT_TRUE(array.shape.empty());
  ASSERT_EQ(array.data.size(), 8u);
  double got;
  std::memcpy(&got, array.data.data(), 8);
  EXPECT_EQ(got, pi);

  ASSERT_TRUE(
      writeNpyFile(dir.file("e.npy"), DType::Int32, {4, 0}, nullptr).ok());
  ASSERT_TRUE(readNpyFile(dir.file("e.npy"), array).ok());
  EXPECT_EQ(array.shape, (std::vector<int64_t>{4, 0}));
  EXPECT_EQ(array.data.size(), 0u);
  EXPECT_NE(array.data.data(), nullptr);
}

TEST(NpyTest, HugeRankUsesVersion2) {
  // A header over 65535 bytes does not fit version 1.0; np.save then
  // writes version 2.0.
  std::vector<int64_t> shape(30000, 1);
  std::string header = encodeNpyHeader(DType::UInt8, shape);
  EXPECT_EQ(header[6], 2);
  EXPECT_EQ(header.size() % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
  std::string file = header + "\x2a";
  NpyArray array;
  Status s = parse(file, array);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(array.shape, shape);
  EXPECT_EQ(array.data.data()[0], 0x2a);
}

TEST(NpyTest, WriteFailsInMissingDirectory) {
  TempDir dir;
  float x = 1;
  Status s = writeNpyFile(dir.file("no/such/dir/x.npy"), DType::Float32, {},
                          &x);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir/x.npy"), std::string::npos);
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos)
      << s.message();
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

const char kGood2x3[] =
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

TEST(NpyTest, RejectsBadMagic) {
  std::string bytes = v1Header(kGood2x3) + std::string(24, '\0');
  bytes[1] = 'X';
  expectParseError(bytes, "not an .npy file (bad magic");
  expectParseError("PK\x03\x04", "bad magic");
  expectParseError("", "bad magic");
}

TEST(NpyTest, RejectsUnknownVersion) {
  std::string bytes = v1Header(kGood2x3) + std::string(24, '\0');
  bytes[6] = 4;
  expectParseError(bytes, "unsupported .npy format version 4.0");
  bytes[6] = 1;
  bytes[7] = 1;
  expectParseError(bytes, "unsupported .npy format version 1.1");
}

TEST(NpyTest, RejectsFortranOrder) {
  // np.save(f, np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
  std::string numpy = npyBytes(
      kV1Prefix, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
      59, floatBytes({0, 3, 1, 4, 2, 5}));
  expectParseError(numpy, "Fortran-order arrays are not supported; save with "
                          "np.ascontiguousarray");
  // With one non-unit dimension both orders are the same bytes.
  std::string vector =
      v1Header("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3), }") +
      floatBytes({1, 2, 3});
  NpyArray array;
  EXPECT_TRUE(parse(vector, array).ok());
}

TEST(NpyTest, RejectsBigEndian) {
  std::string bytes =
      v1Header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }") +
      std::string(8, '\0');
  expectParseError(bytes, "big-endian arrays ('>f4') are not supported; "
                          "convert with arr.astype('<f4')");
}

TEST(NpyTest, RejectsUnsupportedDTypes) {
  expectParseError(
      v1Header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }") +
          std::string(8, '\0'),
      "unsupported .npy dtype '<c8'");
  expectParseError(
      v1Header("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }") +
          std::string(12, '\0'),
      "unsupported .npy dtype '<U3'");
  expectParseError(v1Header("{'descr': [('a', '<f4')], 'fortran_order': "
                            "False, 'shape': (1,), }") +
                       std::string(4, '\0'),
                   "structured dtypes are not supported");
}

TEST(NpyTest, RejectsTruncatedAndTrailingData) {
  std::string header = v1Header(kGood2x3);
  expectParseError(header + std::string(23, '\0'),
                   "truncated .npy data: float32[2,3] needs 24 bytes, file "
                   "has 23");
  expectParseError(header, "needs 24 bytes, file has 0");
  expectParseError(header + std::string(25, '\0'),
                   "trailing bytes after .npy data");
  // The header itself cut short.
  expectParseError(header.substr(0, 50), "truncated .npy header");
  expectParseError(header.substr(0, 9), "truncated .npy header");
}

TEST(NpyTest, RejectsBadShapes) {
  expectParseError(
      v1Header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), "
               "}"),
      "negative dimension");
  expectParseError(
      v1Header("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }"),
      "shape is not a tuple");
  expectParseError(
      v1Header("{'descr': '<f4', 'fortran_order': False, 'shape': 'x', }"),
      "expected the shape tuple");
  expectParseError(
      v1Header("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }"),
      "expected ',' or ')' in shape");
  expectParseError(v1Header("{'descr': '<f8', 'fortran_order': False, "
                            "'shape': (4294967296, 4294967296), }"),
                   "is too large");
  expectParseError(v1Header("{'descr': '<f8', 'fortran_order': False, "
                            "'shape': (99999999999999999999,), }"),
                   "integer out of range");
}

TEST(NpyTest, RejectsBadDicts) {
  expectParseError(v1Header("{'descr': '<f4', 'shape': (2, 3), }"),
                   "missing key 'fortran_order'");
  expectParseError(v1Header("{'descr': '<f4', 'fortran_order': False, "
                            "'shape': (2, 3), 'extra': 1, }"),
                   "unexpected key 'extra'");
  expectParseError(v1Header("{'descr': '<f4', 'descr': '<f4', "
                            "'fortran_order': False, 'shape': (2, 3), }"),
                   "duplicate key 'descr'");
  expectParseError(v1Header("{'descr': '<f4', 'fortran_order': no, "
                            "'shape': (2, 3), }"),
                   "expected True or False");
  expectParseError(v1Header(std::string(kGood2x3) + " junk"),
                   "unexpected text after the dictionary");
  expectParseError(v1Header("'descr'"), "expected '{'");
}

TEST(NpyTest, ReadFileErrorsNameTheFile) {
  TempDir dir;
  NpyArray array;
  std::string missing = dir.file("missing.npy");
  Status s = readNpyFile(missing, array);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), missing + ": No such file or directory");

  // The file reader has its own code path for short and long data.
  std::string header = v1Header(kGood2x3);
  writeFile(dir.file("short.npy"), header + std::string(20, '\0'));
  s = readNpyFile(dir.file("short.npy"), array);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), dir.file("short.npy") +
                             ": truncated .npy data: float32[2,3] needs 24 "
                             "bytes, file has 20");
  writeFile(dir.file("long.npy"), header + std::string(30, '\0'));
  s = readNpyFile(dir.file("long.npy"), array);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("trailing bytes after .npy data: float32[2,3] "
                             "needs 24 bytes, file has 30"),
            std::string::npos)
      << s.message();
  writeFile(dir.file("tiny.npy"), "\x93NUM");
  s = readNpyFile(dir.file("tiny.npy"), array);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad magic"), std::string::npos);
  writeFile(dir.file("cut.npy"), header.substr(0, 40));
  s = readNpyFile(dir.file("cut.npy"), array);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("truncated .npy header"), std::string::npos)
      << s.message();
}

TEST(NpyTest, ReadsUnpaddedHeader) {
  // Not something np.save writes, but np.load reads it: alignment padding is
  // a convention, not a requirement.
  std::string dict = "{'descr':'|u1','fortran_order':False,'shape':(3,)}";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) +
                      static_cast<char>(dict.size()) + '\0' + dict + "abc";
  TempDir dir;
  writeFile(dir.file("a.npy"), bytes);
  NpyArray array;
  Status s = readNpyFile(dir.file("a.npy"), array);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(std::string(reinterpret_cast<char *>(array.data.data()), 3),
            "abc");
}

} // namespace
