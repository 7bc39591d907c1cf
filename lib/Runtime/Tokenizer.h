//===- Tokenizer.h - llama2.c tokenizer (tok*.bin) --------------*- C++ -*-===//
//
// The tokenizer format of llama2.c (`tokenizer.bin`, `tok512.bin`...): int32
// max_token_length, then per token a float32 merge score, an int32 byte length
// and the bytes. Token 0 is <unk>, 1 is BOS, 2 is EOS; pieces <0x00>..<0xFF>
// are raw bytes. Decoding and encoding follow llama2.c's decode() and
// encode(): a piece after BOS drops its leading space; encoding prepends a
// space (the dummy prefix), looks up each UTF-8 character (falling back to
// byte pieces, id = byte + 3), then merges the adjacent pair whose merged piece
// has the highest score until no pair merges.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_TOKENIZER_H
#define SQZ_RUNTIME_TOKENIZER_H

#include "Runtime/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sqz {
namespace runtime {

class Tokenizer {
public:
  static constexpr int64_t kBos = 1;
  static constexpr int64_t kEos = 2;

  /// Reads a tokenizer file. A truncated or inconsistent file is an error.
  Status load(const std::string &path);
  /// Parses the bytes of a tokenizer file (`origin` names it in errors).
  Status parse(std::string_view data, const std::string &origin);

  size_t size() const { return pieces.size(); }

  /// The bytes token `token` stands for after token `previous` (-1: none).
  /// Out-of-range ids decode to "".
  std::string decodePiece(int64_t previous, int64_t token) const;
  /// The text of `ids` (BOS and EOS print nothing).
  std::string decode(const std::vector<int64_t> &ids) const;
  /// The ids of `text`, with BOS first when `bos`.
  std::vector<int64_t> encode(std::string_view text, bool bos) const;

private:
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::unordered_map<std::string, int64_t> ids;
};

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_TOKENIZER_H
