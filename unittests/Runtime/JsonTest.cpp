//===- JsonTest.cpp - Tests for the JSON reader ---------------------------===//

#include "Runtime/Json.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace sqz::runtime;

namespace {

JsonValue parseOk(std::string_view text) {
  JsonValue value;
  JsonError error;
  EXPECT_TRUE(parseJson(text, value, error))
      << "input: " << text << "\nerror: " << error.str();
  return value;
}

JsonError parseFail(std::string_view text) {
  JsonValue value;
  JsonError error;
  EXPECT_FALSE(parseJson(text, value, error)) << "input: " << text;
  return error;
}

TEST(JsonTest, Literals) {
  EXPECT_TRUE(parseOk("null").isNull());
  JsonValue t = parseOk(" true ");
  ASSERT_TRUE(t.isBool());
  EXPECT_TRUE(t.getBool());
  JsonValue f = parseOk("\n\tfalse\r\n");
  ASSERT_TRUE(f.isBool());
  EXPECT_FALSE(f.getBool());
}

TEST(JsonTest, IntegersAreExact) {
  JsonValue v = parseOk("9223372036854775807");
  ASSERT_TRUE(v.isInt());
  EXPECT_EQ(v.getInt(), INT64_MAX);
  v = parseOk("-9223372036854775808");
  ASSERT_TRUE(v.isInt());
  EXPECT_EQ(v.getInt(), INT64_MIN);
  // 2^53 + 1 is not a double; it must not pass through one.
  v = parseOk("9007199254740993");
  ASSERT_TRUE(v.isInt());
  EXPECT_EQ(v.getInt(), 9007199254740993ll);
  v = parseOk("-0");
  ASSERT_TRUE(v.isInt());
  EXPECT_EQ(v.getInt(), 0);
  // Past int64: a double.
  v = parseOk("9223372036854775808");
  ASSERT_EQ(v.kind(), JsonValue::Kind::Double);
  EXPECT_EQ(v.getDouble(), 9223372036854775808.0);
}

TEST(JsonTest, Doubles) {
  JsonValue v = parseOk("1.5");
  ASSERT_EQ(v.kind(), JsonValue::Kind::Double);
  EXPECT_EQ(v.getDouble(), 1.5);
  v = parseOk("1e3");
  EXPECT_FALSE(v.isInt()); // an exponent makes it a double
  EXPECT_TRUE(v.isNumber());
  EXPECT_EQ(v.getDouble(), 1000.0);
  EXPECT_EQ(parseOk("-2.5E-3").getDouble(), -0.0025);
  EXPECT_EQ(parseOk("0.1").getDouble(), 0.1);
  EXPECT_EQ(parseOk("1E+2").getDouble(), 100.0);
  EXPECT_EQ(parseOk("1e-400").getDouble(), 0.0); // underflow
  EXPECT_TRUE(std::signbit(parseOk("-1e-400").getDouble()));
  EXPECT_EQ(parseOk("7").getDouble(), 7.0);
  JsonError e = parseFail("[1e400]");
  EXPECT_EQ(e.message, "number out of range");
  EXPECT_EQ(e.offset, 1u);
}

TEST(JsonTest, RejectsNonJsonNumbers) {
  EXPECT_EQ(parseFail("01").message,
            "leading zeros are not allowed in numbers");
  EXPECT_EQ(parseFail("1.").message, "unexpected end of input, expected a "
                                     "digit after the decimal point");
  EXPECT_EQ(parseFail(".5").message, "unexpected '.', expected a JSON value");
  EXPECT_EQ(parseFail("+1").message, "unexpected '+', expected a JSON value");
  EXPECT_EQ(parseFail("-").message,
            "unexpected end of input, expected a digit");
  EXPECT_EQ(parseFail("1e").message,
            "unexpected end of input, expected a digit in the exponent");
  EXPECT_EQ(parseFail("NaN").message, "unexpected 'N', expected a JSON value");
  EXPECT_EQ(parseFail("0x10").offset, 1u);
}

TEST(JsonTest, StringEscapes) {
  EXPECT_EQ(parseOk(R"("a\"b\\c\/d")").getString(), "a\"b\\c/d");
  EXPECT_EQ(parseOk(R"("\b\f\n\r\t")").getString(), "\b\f\n\r\t");
  EXPECT_EQ(parseOk(R"("\u0041\u00e9\u20AC")").getString(),
            "A\xc3\xa9\xe2\x82\xac");
  // U+1F600 as a surrogate pair, and the largest code point.
  EXPECT_EQ(parseOk(R"("\ud83d\ude00")").getString(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(parseOk(R"("\uDBFF\uDFFF")").getString(), "\xf4\x8f\xbf\xbf");
  std::string nul = parseOk(R"("a\u0000b")").getString();
  EXPECT_EQ(nul, std::string("a\0b", 3));
  // Raw UTF-8 passes through.
  EXPECT_EQ(parseOk("\"h\xc3\xa9llo\"").getString(), "h\xc3\xa9llo");
  EXPECT_EQ(parseOk(R"("")").getString(), "");
}

TEST(JsonTest, StringErrors) {
  JsonError e = parseFail(R"("ab)");
  EXPECT_EQ(e.message, "unterminated string");
  EXPECT_EQ(e.offset, 3u);
  e = parseFail("\"a\tb\"");
  EXPECT_EQ(e.message, "control character in string (must be escaped)");
  EXPECT_EQ(e.offset, 2u);
  e = parseFail(R"(["ok", "\x"])");
  EXPECT_EQ(e.message, "invalid escape sequence in string");
  EXPECT_EQ(e.offset, 8u);
  e = parseFail(R"("\u12G4")");
  EXPECT_EQ(e.message, "unexpected 'G', expected 4 hex digits after \\u");
  EXPECT_EQ(e.offset, 5u);
  e = parseFail(R"("x\ud83d")");
  EXPECT_EQ(e.message, "unpaired high surrogate in \\u escape");
  EXPECT_EQ(e.offset, 2u);
  EXPECT_EQ(parseFail(R"("\ud83d\u0041")").message,
            "unpaired high surrogate in \\u escape");
  EXPECT_EQ(parseFail(R"("\ude00")").message,
            "unpaired low surrogate in \\u escape");
}

TEST(JsonTest, ArraysAndObjects) {
  JsonValue v = parseOk(R"( {"b": [1, 2.5, "x", [], {}], "a": {"c": null}} )");
  ASSERT_TRUE(v.isObject());
  ASSERT_EQ(v.size(), 2u);
  // Members keep their source order.
  EXPECT_EQ(v.key(0), "b");
  EXPECT_EQ(v.key(1), "a");
  const JsonValue *b = v.find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->isArray());
  ASSERT_EQ(b->size(), 5u);
  EXPECT_EQ((*b)[0].getInt(), 1);
  EXPECT_EQ((*b)[1].getDouble(), 2.5);
  EXPECT_EQ((*b)[2].getString(), "x");
  EXPECT_TRUE((*b)[3].isArray());
  EXPECT_EQ((*b)[3].size(), 0u);
  EXPECT_TRUE((*b)[4].isObject());
  const JsonValue *a = v.find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(a->find("c"), nullptr);
  EXPECT_TRUE(a->find("c")->isNull());
  EXPECT_EQ(v.find("c"), nullptr);
  EXPECT_EQ(v.find("B"), nullptr);
}

TEST(JsonTest, StructureErrors) {
  JsonError e = parseFail("");
  EXPECT_EQ(e.message, "unexpected end of input, expected a JSON value");
  EXPECT_EQ(e.offset, 0u);
  e = parseFail("[1,]");
  EXPECT_EQ(e.message, "unexpected ']', expected a JSON value");
  EXPECT_EQ(e.offset, 3u);
  e = parseFail("[1 2]");
  EXPECT_EQ(e.message, "unexpected '2', expected ',' or ']' in array");
  EXPECT_EQ(e.offset, 3u);
  e = parseFail(R"({"a" 1})");
  EXPECT_EQ(e.message, "unexpected '1', expected ':' after object key");
  EXPECT_EQ(e.offset, 5u);
  e = parseFail(R"({"a": 1,})");
  EXPECT_EQ(e.message, "unexpected '}', expected a string key in object");
  e = parseFail("{a: 1}");
  EXPECT_EQ(e.offset, 1u);
  e = parseFail(R"({"a": 1, "a": 2})");
  EXPECT_EQ(e.message, "duplicate key \"a\"");
  EXPECT_EQ(e.offset, 9u);
  e = parseFail("[1] x");
  EXPECT_EQ(e.message, "unexpected text after the JSON value");
  EXPECT_EQ(e.offset, 4u);
  e = parseFail("tru");
  EXPECT_EQ(e.message, "invalid literal (expected 'true')");
  e = parseFail("[1");
  EXPECT_EQ(e.message, "unexpected end of input, expected ',' or ']' in array");
  e = parseFail("{\"a\": \x01}");
  EXPECT_EQ(e.message, "unexpected byte 1, expected a JSON value");
}

TEST(JsonTest, ErrorLineAndColumn) {
  JsonError e = parseFail("{\n  \"a\": 1,\n  \"b\": ]\n}");
  EXPECT_EQ(e.offset, 19u);
  EXPECT_EQ(e.line, 3u);
  EXPECT_EQ(e.column, 8u);
  EXPECT_EQ(e.str(), "offset 19 (line 3, column 8): unexpected ']', expected "
                     "a JSON value");
}

TEST(JsonTest, BoundsNesting) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_TRUE(parseOk(deep).isArray());
  std::string tooDeep(100000, '[');
  JsonError e = parseFail(tooDeep);
  EXPECT_NE(e.message.find("nesting deeper than"), std::string::npos);
}

TEST(JsonTest, ReusesValue) {
  // A failed or repeated parse must not leave old members behind.
  JsonValue value;
  JsonError error;
  ASSERT_TRUE(parseJson(R"({"a": 1})", value, error));
  ASSERT_TRUE(parseJson(R"({"b": 2})", value, error));
  EXPECT_EQ(value.size(), 1u);
  EXPECT_EQ(value.find("a"), nullptr);
}

} // namespace
