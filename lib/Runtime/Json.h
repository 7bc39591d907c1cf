//===- Json.h - A small JSON reader -----------------------------*- C++ -*-===//
//
// Reads the artifact manifest. The runtime may not depend on LLVM (so no
// llvm::json) and must build without exceptions, so this is a small strict
// RFC 8259 parser: integers that fit int64 are kept exactly (shapes must not
// round-trip through double), other numbers become doubles, \u escapes
// including surrogate pairs are decoded to UTF-8, and errors carry the byte
// offset, line and column where parsing stopped.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_JSON_H
#define SQZ_RUNTIME_JSON_H

#include "Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sqz {
namespace runtime {

class JsonValue {
public:
  enum class Kind { Null, Bool, Int, Double, String, Array, Object };

  JsonValue() = default;

  Kind kind() const { return valueKind; }
  bool isNull() const { return valueKind == Kind::Null; }
  bool isBool() const { return valueKind == Kind::Bool; }
  /// An integer literal (no fraction or exponent) that fits in int64.
  bool isInt() const { return valueKind == Kind::Int; }
  bool isNumber() const {
    return valueKind == Kind::Int || valueKind == Kind::Double;
  }
  bool isString() const { return valueKind == Kind::String; }
  bool isArray() const { return valueKind == Kind::Array; }
  bool isObject() const { return valueKind == Kind::Object; }

  /// Accessors; each requires the matching kind.
  bool getBool() const { return boolValue; }
  int64_t getInt() const { return intValue; }
  /// The value of any number as a double.
  double getDouble() const {
    return valueKind == Kind::Int ? static_cast<double>(intValue)
                                  : doubleValue;
  }
  const std::string &getString() const { return stringValue; }

  /// Array elements, or object member values in source order.
  size_t size() const { return items.size(); }
  const JsonValue &operator[](size_t i) const { return items[i]; }
  /// Object member keys, parallel to the values.
  const std::string &key(size_t i) const { return keys[i]; }
  /// The member named `name` of an object, or null if there is none.
  const JsonValue *find(std::string_view name) const;

  /// "null", "boolean", "integer", "number", "string", "array", "object".
  static const char *kindName(Kind kind);

private:
  friend class JsonParser;

  Kind valueKind = Kind::Null;
  bool boolValue = false;
  int64_t intValue = 0;
  double doubleValue = 0;
  std::string stringValue;
  std::vector<std::string> keys;
  std::vector<JsonValue> items;
};

/// Where and why parsing failed.
struct JsonError {
  size_t offset = 0;
  size_t line = 1;
  size_t column = 1;
  std::string message;

  /// "offset 12 (line 2, column 3): expected ':' after object key".
  std::string str() const;
};

/// Parses `text` as one JSON value (surrounding whitespace allowed). Object
/// keys must be unique. Returns false and fills `error` on failure.
bool parseJson(std::string_view text, JsonValue &value, JsonError &error);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_JSON_H
