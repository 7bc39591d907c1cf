//===- Tokenizer.cpp - llama2.c tokenizer (tok*.bin) ----------------------===//

#include "Runtime/Tokenizer.h"

#include <cstring>
#include <fstream>
#include <iterator>

using namespace sqz::runtime;

Status Tokenizer::load(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot open tokenizer '" + path + "'");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    return Status::error("cannot read tokenizer '" + path + "'");
  return parse(data, path);
}

Status Tokenizer::parse(std::string_view data, const std::string &origin) {
  pieces.clear();
  scores.clear();
  ids.clear();
  auto bad = [&](const std::string &what) {
    return Status::error("malformed tokenizer '" + origin + "': " + what);
  };
  if (data.size() < 4)
    return bad("shorter than its 4-byte header");
  int32_t maxLength;
  std::memcpy(&maxLength, data.data(), 4);
  if (maxLength <= 0)
    return bad("max_token_length is " + std::to_string(maxLength));
  size_t pos = 4;
  while (pos < data.size()) {
    if (data.size() - pos < 8)
      return bad("token " + std::to_string(pieces.size()) + " is truncated at byte " +
                 std::to_string(pos));
    float score;
    int32_t length;
    std::memcpy(&score, data.data() + pos, 4);
    std::memcpy(&length, data.data() + pos + 4, 4);
    pos += 8;
    if (length < 0 || length > maxLength || data.size() - pos < static_cast<size_t>(length))
      return bad("token " + std::to_string(pieces.size()) + " has length " +
                 std::to_string(length) + " at byte " + std::to_string(pos - 4));
    pieces.emplace_back(data.substr(pos, length));
    scores.push_back(score);
    pos += length;
  }
  if (pieces.size() < 3)
    return bad("it has " + std::to_string(pieces.size()) + " tokens (needs <unk>, BOS, EOS)");
  for (size_t i = 0; i < pieces.size(); ++i)
    ids.emplace(pieces[i], static_cast<int64_t>(i)); // the first of duplicates wins
  return Status::success();
}

/// "<0x0A>" -> 0x0A, else -1.
static int rawByte(const std::string &piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>')
    return -1;
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                               : -1;
  };
  int hi = hex(piece[3]), lo = hex(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string Tokenizer::decodePiece(int64_t previous, int64_t token) const {
  if (token < 0 || token >= static_cast<int64_t>(pieces.size()) || token == kBos ||
      token == kEos)
    return "";
  const std::string &piece = pieces[token];
  if (int byte = rawByte(piece); byte >= 0)
    return std::string(1, static_cast<char>(byte));
  if (previous == kBos && !piece.empty() && piece[0] == ' ')
    return piece.substr(1);
  return piece;
}

std::string Tokenizer::decode(const std::vector<int64_t> &tokens) const {
  std::string text;
  int64_t previous = -1;
  for (int64_t token : tokens) {
    text += decodePiece(previous, token);
    previous = token;
  }
  return text;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool bos) const {
  std::vector<int64_t> tokens;
  if (bos)
    tokens.push_back(kBos);
  if (text.empty())
    return tokens;
  size_t first = tokens.size(); // merges start after BOS, with the dummy prefix
  // The dummy prefix, as sentencepiece's add_dummy_prefix.
  if (auto it = ids.find(" "); it != ids.end())
    tokens.push_back(it->second);
  // One token per UTF-8 character, or its bytes.
  for (size_t i = 0; i < text.size();) {
    size_t length = 1;
    while (i + length < text.size() && length < 4 &&
           (static_cast<unsigned char>(text[i + length]) & 0xC0) == 0x80)
      ++length;
    std::string character(text.substr(i, length));
    if (auto it = ids.find(character); it != ids.end()) {
      tokens.push_back(it->second);
    } else {
      // Byte fallback: <0x00>..<0xFF> are ids 3..258; without them, <unk>.
      for (char c : character) {
        int64_t id = static_cast<unsigned char>(c) + 3;
        tokens.push_back(id < static_cast<int64_t>(pieces.size()) ? id : 0);
      }
    }
    i += length;
  }
  // Greedy merges by score.
  for (;;) {
    float bestScore = -1e10f;
    int64_t bestId = -1;
    size_t bestAt = 0;
    for (size_t i = first; i + 1 < tokens.size(); ++i) {
      const std::string &a = pieces[tokens[i]], &b = pieces[tokens[i + 1]];
      auto it = ids.find(a + b);
      if (it != ids.end() && scores[it->second] > bestScore) {
        bestScore = scores[it->second];
        bestId = it->second;
        bestAt = i;
      }
    }
    if (bestId < 0)
      break;
    tokens[bestAt] = bestId;
    tokens.erase(tokens.begin() + bestAt + 1);
  }
  return tokens;
}
