//===- TextCursor.h - A read position in a text -----------------*- C++ -*-===//
//
// The scanning primitives shared by the runtime's small hand-written parsers (the JSON
// manifest reader and the .npy header parser).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_RUNTIME_TEXTCURSOR_H
#define SQZ_LIB_RUNTIME_TEXTCURSOR_H

#include <cstddef>
#include <string_view>

namespace sqz {
namespace runtime {

struct TextCursor {
  explicit TextCursor(std::string_view text) : text(text) {}

  /// Skips JSON/Python whitespace (space, tab, newline, carriage return).
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  /// Consumes `c` if it is next.
  bool consume(char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  /// Consumes `word` if it is next.
  bool consumeWord(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return false;
    pos += word.size();
    return true;
  }
  /// The next character, or '\0' at the end.
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }

  std::string_view text;
  size_t pos = 0;
};

} // namespace runtime
} // namespace sqz

#endif // SQZ_LIB_RUNTIME_TEXTCURSOR_H
