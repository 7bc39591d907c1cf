//===- SafetensorsTest.cpp - Weights file writer and mapped reader --------===//

#include "Runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace sqz::runtime;

namespace {

std::string tempPath(const char *name) {
  return testing::TempDir() + "/" + name + "." + std::to_string(getpid());
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// A file with `header` as its JSON header and `data` bytes after it.
std::string rawFile(const std::string &header, size_t data) {
  uint64_t n = header.size();
  return std::string(reinterpret_cast<const char *>(&n), 8) + header + std::string(data, '\0');
}

TEST(Safetensors, RoundTripsAlignedAndOrdered) {
  std::vector<int8_t> a = {1, -2, 3};
  std::vector<float> b = {1.5f, -2.25f, 3.0f, 4.0f, 5.0f, 6.0f};
  std::vector<int64_t> c = {7, -8};
  std::string path = tempPath("rt.safetensors");
  std::vector<SafetensorsEntry> layout;
  ASSERT_TRUE(writeSafetensors(path,
                               {{{"a", "I8", {3}, 0, 0}, a.data()},
                                {{"w/b \"q\"", "F32", {2, 3}, 0, 0}, b.data()},
                                {{"c", "I64", {2}, 0, 0}, c.data()}},
                               {{"format", "sqz"}}, &layout)
                  .ok());
  // Larger elements first: c (8), b (4), a (1).
  ASSERT_EQ(layout.size(), 3u);
  EXPECT_EQ(layout[0].name, "c");
  EXPECT_EQ(layout[1].begin, 16u);
  EXPECT_EQ(layout[2].begin, 40u);

  std::string bytes = readFile(path);
  uint64_t headerBytes;
  std::memcpy(&headerBytes, bytes.data(), 8);
  EXPECT_EQ((8 + headerBytes) % 64, 0u) << "data section must start 64-byte aligned";

  MappedSafetensors file;
  Status s = file.open(path);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(file.dataSize(), 43u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file.data()) % 64, 0u);
  EXPECT_EQ(file.metadata().at("format"), "sqz");
  const SafetensorsEntry *e = file.find("w/b \"q\"");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dtype, "F32");
  EXPECT_EQ(e->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(file.data() + e->begin, b.data(), 24), 0);
  EXPECT_EQ(std::memcmp(file.data() + file.find("a")->begin, a.data(), 3), 0);
  std::remove(path.c_str());
}

TEST(Safetensors, RejectsMalformedFiles) {
  std::string path = tempPath("bad.safetensors");
  auto expectError = [&](const std::string &bytes, const char *fragment) {
    writeFile(path, bytes);
    MappedSafetensors file;
    Status s = file.open(path);
    ASSERT_FALSE(s.ok()) << "accepted: " << fragment;
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
  };
  expectError("abc", "truncated");
  expectError(rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4),
              "run past the data section");
  expectError(rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
              "need 12");
  expectError(rawFile("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
              "unknown dtype");
  expectError(rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
              "hole");
  expectError(rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8),
              "cover 4");
  expectError(rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                      8),
              "overlaps");
  expectError(rawFile("{not json", 0), "not valid JSON");
  std::string big = rawFile("{}", 0);
  big[0] = '\x7f';
  expectError(big, "truncated");
  MappedSafetensors missing;
  EXPECT_FALSE(missing.open("/nonexistent/w.safetensors").ok());
  std::remove(path.c_str());
}

TEST(Safetensors, WriterRejectsDuplicates) {
  float x = 1;
  EXPECT_FALSE(writeSafetensors(tempPath("dup"),
                                {{{"a", "F32", {1}, 0, 0}, &x}, {{"a", "F32", {1}, 0, 0}, &x}},
                                {})
                   .ok());
}

} // namespace
