//===- Json.cpp - A small JSON reader -------------------------------------===//

#include "Runtime/Json.h"
#include "Runtime/TextCursor.h"

#include <charconv>
#include <cmath>

using namespace sqz::runtime;

// Deeper nesting than any manifest needs; the bound keeps the recursive
// descent from overflowing the stack on hostile input.
static constexpr unsigned kMaxDepth = 256;

const JsonValue *JsonValue::find(std::string_view name) const {
  for (size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == name)
      return &items[i];
  return nullptr;
}

const char *JsonValue::kindName(Kind kind) {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "boolean";
  case Kind::Int:
    return "integer";
  case Kind::Double:
    return "number";
  case Kind::String:
    return "string";
  case Kind::Array:
    return "array";
  case Kind::Object:
    return "object";
  }
  return "unknown";
}

std::string JsonError::str() const {
  return "offset " + std::to_string(offset) + " (line " +
         std::to_string(line) + ", column " + std::to_string(column) +
         "): " + message;
}

namespace sqz {
namespace runtime {
class JsonParser : TextCursor {
public:
  JsonParser(std::string_view text, JsonError &error)
      : TextCursor(text), error(error) {}

  bool parseDocument(JsonValue &value) {
    skipSpace();
    if (!parseValue(value, 0))
      return false;
    skipSpace();
    if (pos != text.size())
      return fail("unexpected text after the JSON value");
    return true;
  }

private:
  bool fail(const std::string &message) { return failAt(pos, message); }
  bool failAt(size_t offset, const std::string &message) {
    error.offset = offset;
    error.line = 1;
    error.column = 1;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++error.line;
        error.column = 1;
      } else {
        ++error.column;
      }
    }
    error.message = message;
    return false;
  }
  bool failUnexpected(const char *expected) {
    if (pos >= text.size())
      return fail(std::string("unexpected end of input, expected ") +
                  expected);
    unsigned char c = static_cast<unsigned char>(text[pos]);
    std::string shown;
    if (c >= 0x20 && c < 0x7f)
      shown = std::string("'") + static_cast<char>(c) + "'";
    else
      shown = "byte " + std::to_string(c);
    return fail("unexpected " + shown + ", expected " + expected);
  }

  bool isDigit() const {
    return pos < text.size() && text[pos] >= '0' && text[pos] <= '9';
  }

  bool parseValue(JsonValue &value, unsigned depth);
  bool parseLiteral(std::string_view word, JsonValue &value,
                    JsonValue::Kind kind, bool boolValue);
  bool parseNumber(JsonValue &value);
  bool parseString(std::string &out);
  bool parseHex4(uint32_t &out);
  bool parseArray(JsonValue &value, unsigned depth);
  bool parseObject(JsonValue &value, unsigned depth);

  JsonError &error;
};
} // namespace runtime
} // namespace sqz

bool JsonParser::parseValue(JsonValue &value, unsigned depth) {
  if (depth > kMaxDepth)
    return fail("nesting deeper than " + std::to_string(kMaxDepth) +
                " levels");
  if (pos >= text.size())
    return failUnexpected("a JSON value");
  switch (text[pos]) {
  case '{':
    return parseObject(value, depth);
  case '[':
    return parseArray(value, depth);
  case '"':
    value.valueKind = JsonValue::Kind::String;
    return parseString(value.stringValue);
  case 't':
    return parseLiteral("true", value, JsonValue::Kind::Bool, true);
  case 'f':
    return parseLiteral("false", value, JsonValue::Kind::Bool, false);
  case 'n':
    return parseLiteral("null", value, JsonValue::Kind::Null, false);
  default:
    if (text[pos] == '-' || isDigit())
      return parseNumber(value);
    return failUnexpected("a JSON value");
  }
}

bool JsonParser::parseLiteral(std::string_view word, JsonValue &value,
                              JsonValue::Kind kind, bool boolValue) {
  if (text.substr(pos, word.size()) != word)
    return fail("invalid literal (expected '" + std::string(word) + "')");
  pos += word.size();
  value.valueKind = kind;
  value.boolValue = boolValue;
  return true;
}

bool JsonParser::parseNumber(JsonValue &value) {
  // Validate the RFC 8259 grammar first: from_chars alone would accept
  // forms JSON forbids ("01", "1.", ".5", "+1").
  size_t start = pos;
  consume('-');
  if (consume('0')) {
    if (isDigit())
      return fail("leading zeros are not allowed in numbers");
  } else if (isDigit()) {
    while (isDigit())
      ++pos;
  } else {
    return failUnexpected("a digit");
  }
  bool integral = true;
  if (consume('.')) {
    integral = false;
    if (!isDigit())
      return failUnexpected("a digit after the decimal point");
    while (isDigit())
      ++pos;
  }
  bool negativeExponent = false;
  if (consume('e') || consume('E')) {
    integral = false;
    negativeExponent = consume('-');
    if (!negativeExponent)
      consume('+');
    if (!isDigit())
      return failUnexpected("a digit in the exponent");
    while (isDigit())
      ++pos;
  }

  // from_chars is locale-independent, unlike strtod: a host application's
  // LC_NUMERIC must not change how a manifest reads.
  const char *first = text.data() + start;
  const char *last = text.data() + pos;
  if (integral) {
    int64_t i;
    auto [ptr, ec] = std::from_chars(first, last, i);
    if (ec == std::errc() && ptr == last) {
      value.valueKind = JsonValue::Kind::Int;
      value.intValue = i;
      return true;
    }
    // Too large for int64: keep it as a double, like other JSON readers.
  }
  double d;
  auto [ptr, ec] = std::from_chars(first, last, d);
  if (ec == std::errc::result_out_of_range && negativeExponent) {
    d = *first == '-' ? -0.0 : 0.0; // underflow
  } else if (ec != std::errc() || ptr != last || std::isinf(d)) {
    return failAt(start, "number out of range");
  }
  value.valueKind = JsonValue::Kind::Double;
  value.doubleValue = d;
  return true;
}

bool JsonParser::parseHex4(uint32_t &out) {
  out = 0;
  for (int i = 0; i < 4; ++i, ++pos) {
    if (pos >= text.size())
      return failUnexpected("4 hex digits after \\u");
    char c = text[pos];
    uint32_t digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return failUnexpected("4 hex digits after \\u");
    out = out * 16 + digit;
  }
  return true;
}

static void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool JsonParser::parseString(std::string &out) {
  out.clear();
  if (!consume('"'))
    return failUnexpected("'\"'");
  while (true) {
    if (pos >= text.size())
      return fail("unterminated string");
    char c = text[pos];
    if (c == '"') {
      ++pos;
      return true;
    }
    if (static_cast<unsigned char>(c) < 0x20)
      return fail("control character in string (must be escaped)");
    if (c != '\\') {
      // Other bytes, including UTF-8 sequences, are copied as they are.
      out += c;
      ++pos;
      continue;
    }
    size_t escapeStart = pos++;
    if (pos >= text.size())
      return fail("unterminated string");
    switch (text[pos++]) {
    case '"':
      out += '"';
      break;
    case '\\':
      out += '\\';
      break;
    case '/':
      out += '/';
      break;
    case 'b':
      out += '\b';
      break;
    case 'f':
      out += '\f';
      break;
    case 'n':
      out += '\n';
      break;
    case 'r':
      out += '\r';
      break;
    case 't':
      out += '\t';
      break;
    case 'u': {
      uint32_t cp;
      if (!parseHex4(cp))
        return false;
      if (cp >= 0xdc00 && cp <= 0xdfff)
        return failAt(escapeStart, "unpaired low surrogate in \\u escape");
      if (cp >= 0xd800 && cp <= 0xdbff) {
        // Characters outside the BMP are written as a surrogate pair.
        if (text.substr(pos, 2) != "\\u")
          return failAt(escapeStart, "unpaired high surrogate in \\u escape");
        pos += 2;
        uint32_t low;
        if (!parseHex4(low))
          return false;
        if (low < 0xdc00 || low > 0xdfff)
          return failAt(escapeStart, "unpaired high surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      }
      appendUtf8(out, cp);
      break;
    }
    default:
      return failAt(escapeStart, "invalid escape sequence in string");
    }
  }
}

bool JsonParser::parseArray(JsonValue &value, unsigned depth) {
  value.valueKind = JsonValue::Kind::Array;
  consume('[');
  skipSpace();
  if (consume(']'))
    return true;
  while (true) {
    value.items.emplace_back();
    if (!parseValue(value.items.back(), depth + 1))
      return false;
    skipSpace();
    if (consume(']'))
      return true;
    if (!consume(','))
      return failUnexpected("',' or ']' in array");
    skipSpace();
  }
}

bool JsonParser::parseObject(JsonValue &value, unsigned depth) {
  value.valueKind = JsonValue::Kind::Object;
  consume('{');
  skipSpace();
  if (consume('}'))
    return true;
  while (true) {
    size_t keyStart = pos;
    std::string key;
    if (pos >= text.size() || text[pos] != '"')
      return failUnexpected("a string key in object");
    if (!parseString(key))
      return false;
    // Duplicate keys are legal JSON but ambiguous; a manifest never needs
    // them, so they are more likely a mistake than intent.
    if (value.find(key))
      return failAt(keyStart, "duplicate key \"" + key + "\"");
    skipSpace();
    if (!consume(':'))
      return failUnexpected("':' after object key");
    skipSpace();
    value.keys.push_back(std::move(key));
    value.items.emplace_back();
    if (!parseValue(value.items.back(), depth + 1))
      return false;
    skipSpace();
    if (consume('}'))
      return true;
    if (!consume(','))
      return failUnexpected("',' or '}' in object");
    skipSpace();
  }
}

bool sqz::runtime::parseJson(std::string_view text, JsonValue &value,
                             JsonError &error) {
  value = JsonValue();
  return JsonParser(text, error).parseDocument(value);
}
