//===- Npy.cpp - Reading and writing NumPy .npy files ---------------------===//
//
// Format reference: numpy/lib/format.py. A file is the magic "\x93NUMPY", a
// major and minor version byte, the header length (uint16 in 1.0, uint32 in
// 2.0 and 3.0, little-endian), the header (a Python dict literal, padded with
// spaces and a newline so the data starts at a multiple of 64), then the data.
//
//===----------------------------------------------------------------------===//

#include "Runtime/Npy.h"
#include "Runtime/TextCursor.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <unistd.h>

using namespace sqz::runtime;

static const char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicLen = 6;
// NumPy refuses headers over 10000 bytes by default; allow more, but bound the
// allocation so a corrupt length field cannot ask for gigabytes.
static constexpr size_t kMaxHeaderLen = 1 << 20;
// np.save leaves room for the first dimension to grow to this many digits.
static constexpr size_t kGrowthAxisMaxDigits = 21;
static constexpr size_t kArrayAlign = 64;

//===----------------------------------------------------------------------===//
// Header dictionary
//===----------------------------------------------------------------------===//

namespace {
/// Parses the subset of Python literal syntax np.save writes in a header:
/// a dict with string keys whose values are strings, True/False, and tuples of
/// integers. (Python 2 era files may suffix integers with 'L'.)
class HeaderParser : TextCursor {
public:
  explicit HeaderParser(std::string_view text) : TextCursor(text) {}

  Status parse(NpyHeader &header);

private:
  Status error(const std::string &message) const;
  Status parseString(std::string &out);
  Status parseBool(bool &out);
  Status parseInt(int64_t &out);
  Status parseShape(std::vector<int64_t> &out);

};
} // namespace

Status HeaderParser::error(const std::string &message) const {
  // Show the header so the user can see what was wrong with it; headers are
  // short unless corrupt, so cut long ones.
  std::string shown(text.substr(0, 200));
  while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n'))
    shown.pop_back();
  if (text.size() > 200)
    shown += "...";
  return Status::error("malformed .npy header at offset " +
                       std::to_string(pos) + ": " + message + " (header: " +
                       shown + ")");
}

Status HeaderParser::parseString(std::string &out) {
  char quote = peek();
  if (quote != '\'' && quote != '"')
    return error("expected a string");
  ++pos;
  size_t end = text.find(quote, pos);
  if (end == std::string_view::npos)
    return error("unterminated string");
  std::string_view body = text.substr(pos, end - pos);
  // No key or type string np.save writes needs escapes.
  if (body.find('\\') != std::string_view::npos)
    return error("escape sequences in strings are not supported");
  out.assign(body);
  pos = end + 1;
  return Status::success();
}

Status HeaderParser::parseBool(bool &out) {
  if (consumeWord("True")) {
    out = true;
    return Status::success();
  }
  if (consumeWord("False")) {
    out = false;
    return Status::success();
  }
  return error("expected True or False");
}

Status HeaderParser::parseInt(int64_t &out) {
  bool negative = consume('-');
  if (peek() < '0' || peek() > '9')
    return error("expected an integer");
  uint64_t value = 0;
  while (peek() >= '0' && peek() <= '9') {
    uint64_t digit = static_cast<uint64_t>(text[pos] - '0');
    if (value > (static_cast<uint64_t>(INT64_MAX) - digit) / 10)
      return error("integer out of range");
    value = value * 10 + digit;
    ++pos;
  }
  consume('L');
  out = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  return Status::success();
}

Status HeaderParser::parseShape(std::vector<int64_t> &out) {
  out.clear();
  if (!consume('('))
    return error("expected the shape tuple");
  skipSpace();
  if (consume(')'))
    return Status::success();
  bool sawComma = false;
  while (true) {
    int64_t dim;
    if (Status s = parseInt(dim); !s)
      return s;
    out.push_back(dim);
    skipSpace();
    if (consume(',')) {
      sawComma = true;
      skipSpace();
      if (consume(')'))
        break;
      continue;
    }
    if (consume(')')) {
      // In Python "(3)" is the integer 3, not a tuple; np.load rejects it.
      if (!sawComma)
        return error("shape is not a tuple (a 1-d shape is written (n,))");
      break;
    }
    return error("expected ',' or ')' in shape");
  }
  return Status::success();
}

Status HeaderParser::parse(NpyHeader &header) {
  std::string descr;
  bool fortranOrder = false;
  bool haveDescr = false, haveFortran = false, haveShape = false;

  skipSpace();
  if (!consume('{'))
    return error("expected '{'");
  while (true) {
    skipSpace();
    if (consume('}'))
      break;
    std::string key;
    if (Status s = parseString(key); !s)
      return s;
    skipSpace();
    if (!consume(':'))
      return error("expected ':' after key '" + key + "'");
    skipSpace();
    bool *seen = nullptr;
    Status s = Status::success();
    if (key == "descr") {
      seen = &haveDescr;
      if (peek() == '[')
        return error("structured dtypes are not supported");
      s = parseString(descr);
    } else if (key == "fortran_order") {
      seen = &haveFortran;
      s = parseBool(fortranOrder);
    } else if (key == "shape") {
      seen = &haveShape;
      s = parseShape(header.shape);
    } else {
      return error("unexpected key '" + key +
                   "' (expected 'descr', 'fortran_order' and 'shape')");
    }
    if (!s)
      return s;
    if (*seen)
      return error("duplicate key '" + key + "'");
    *seen = true;
    skipSpace();
    if (consume(','))
      continue;
    if (consume('}'))
      break;
    return error("expected ',' or '}'");
  }
  skipSpace();
  if (pos != text.size())
    return error("unexpected text after the dictionary");
  if (!haveDescr || !haveFortran || !haveShape)
    return error(std::string("missing key '") +
                 (!haveDescr ? "descr" : !haveFortran ? "fortran_order"
                                                      : "shape") +
                 "'");

  if (Status s = parseNpyDescr(descr, header.dtype); !s)
    return s;
  if (fortranOrder) {
    // With at most one dimension larger than 1, Fortran and C order are the
    // same bytes; only reject arrays whose layout actually differs.
    size_t nonUnitDims = 0;
    for (int64_t dim : header.shape)
      nonUnitDims += dim != 1;
    if (nonUnitDims > 1)
      return Status::error("Fortran-order arrays are not supported; save "
                           "with np.ascontiguousarray");
  }
  return computeTensorSize(header.dtype, header.shape, header.numElements,
                           header.dataBytes)
      .withContext("bad shape in .npy header");
}

Status sqz::runtime::parseNpyDescr(std::string_view descr, DType &type) {
  std::string_view body = descr;
  char order = '=';
  if (!body.empty() && std::strchr("<>=|", body[0])) {
    order = body[0];
    body.remove_prefix(1);
  }
  static const struct {
    const char *code;
    DType type;
  } kCodes[] = {
      {"f2", DType::Float16}, {"f4", DType::Float32}, {"f8", DType::Float64},
      {"i1", DType::Int8},    {"i2", DType::Int16},   {"i4", DType::Int32},
      {"i8", DType::Int64},   {"u1", DType::UInt8},   {"u2", DType::UInt16},
      {"u4", DType::UInt32},  {"u8", DType::UInt64},  {"b1", DType::Bool},
      {"?", DType::Bool},
  };
  for (const auto &code : kCodes) {
    if (body != code.code)
      continue;
    // Byte order is meaningless for single bytes ('>i1' is just int8).
    if (order == '>' && dtypeSize(code.type) > 1)
      return Status::error(
          "big-endian arrays ('" + std::string(descr) +
          "') are not supported; convert with arr.astype('" +
          dtypeNpyDescr(code.type) + "')");
    type = code.type;
    return Status::success();
  }
  return Status::error("unsupported .npy dtype '" + std::string(descr) +
                       "' (supported: " + listDTypeNames() + ")");
}

Status sqz::runtime::parseNpyHeaderDict(std::string_view dict,
                                        NpyHeader &header) {
  return HeaderParser(dict).parse(header);
}

//===----------------------------------------------------------------------===//
// Preamble and whole files
//===----------------------------------------------------------------------===//

/// Checks magic and version and decodes the header length. Needs the first
/// 10 (version 1) or 12 (versions 2 and 3) bytes.
static Status parsePreamble(const uint8_t *bytes, size_t size, int &major,
                            size_t &prefixLen, size_t &headerLen) {
  if (size < kMagicLen || std::memcmp(bytes, kMagic, kMagicLen) != 0)
    return Status::error("not an .npy file (bad magic; expected "
                         "\"\\x93NUMPY\")");
  if (size < kMagicLen + 2)
    return Status::error("truncated .npy header");
  major = bytes[6];
  int minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    return Status::error("unsupported .npy format version " +
                         std::to_string(major) + "." + std::to_string(minor) +
                         " (supported: 1.0, 2.0, 3.0)");
  size_t lengthBytes = major == 1 ? 2 : 4;
  prefixLen = kMagicLen + 2 + lengthBytes;
  if (size < prefixLen)
    return Status::error("truncated .npy header");
  headerLen = 0;
  for (size_t i = 0; i < lengthBytes; ++i)
    headerLen |= static_cast<size_t>(bytes[kMagicLen + 2 + i]) << (8 * i);
  if (headerLen > kMaxHeaderLen)
    return Status::error(".npy header length " + std::to_string(headerLen) +
                         " exceeds the limit of " +
                         std::to_string(kMaxHeaderLen) + " bytes");
  return Status::success();
}

Status sqz::runtime::parseNpyHeader(const void *data, size_t size,
                                    NpyHeader &header) {
  const uint8_t *bytes = static_cast<const uint8_t *>(data);
  int major;
  size_t prefixLen, headerLen;
  if (Status s = parsePreamble(bytes, size, major, prefixLen, headerLen); !s)
    return s;
  if (size - prefixLen < headerLen)
    return Status::error("truncated .npy header: expected " +
                         std::to_string(headerLen) + " header bytes, have " +
                         std::to_string(size - prefixLen));
  // Versions 1.0/2.0 are latin-1 and 3.0 is UTF-8; everything we accept is
  // ASCII, so the bytes can be parsed as they are.
  std::string_view dict(reinterpret_cast<const char *>(bytes + prefixLen),
                        headerLen);
  header.majorVersion = major;
  header.dataOffset = prefixLen + headerLen;
  return parseNpyHeaderDict(dict, header);
}

static Status dataSizeError(const NpyHeader &header, size_t have) {
  const char *what = have < header.dataBytes
                         ? "truncated .npy data: "
                         : "trailing bytes after .npy data: ";
  return Status::error(
      what + formatTensorType(header.dtype, header.shape) + " needs " +
      std::to_string(header.dataBytes) + " bytes, file has " +
      std::to_string(have));
}

Status sqz::runtime::parseNpy(const void *data, size_t size, NpyArray &array) {
  NpyHeader header;
  if (Status s = parseNpyHeader(data, size, header); !s)
    return s;
  size_t have = size - header.dataOffset;
  if (have != header.dataBytes)
    return dataSizeError(header, have);
  if (!array.data.allocate(header.dataBytes))
    return Status::error("out of memory allocating " +
                         std::to_string(header.dataBytes) + " bytes");
  std::memcpy(array.data.data(),
              static_cast<const uint8_t *>(data) + header.dataOffset,
              header.dataBytes);
  array.dtype = header.dtype;
  array.shape = std::move(header.shape);
  return Status::success();
}

namespace {
struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;
} // namespace

static Status readNpyFileImpl(const std::string &path, NpyArray &array) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file)
    return Status::error(std::strerror(errno));
  auto readError = [&]() {
    return Status::error(std::ferror(file.get()) ? std::strerror(errno)
                                                 : "unexpected end of file");
  };

  // Read the preamble first to learn how long the header is, then the rest
  // of the header, then the data straight into its aligned buffer.
  std::vector<uint8_t> head(kMagicLen + 2 + 4);
  size_t got = std::fread(head.data(), 1, head.size(), file.get());
  if (got < head.size() && std::ferror(file.get()))
    return readError();
  int major;
  size_t prefixLen, headerLen;
  if (Status s = parsePreamble(head.data(), got, major, prefixLen, headerLen);
      !s)
    return s;
  size_t headerEnd = prefixLen + headerLen;
  if (headerEnd > got) {
    head.resize(headerEnd);
    size_t more = std::fread(head.data() + got, 1, headerEnd - got, file.get());
    if (more < headerEnd - got && std::ferror(file.get()))
      return readError();
    got += more;
  }
  NpyHeader header;
  if (Status s = parseNpyHeader(head.data(), got, header); !s)
    return s;

  // The 12 bytes read first never reach into the data: every dictionary that
  // parses is longer than the 2 bytes a version 1.0 preamble leaves over.
  if (!array.data.allocate(header.dataBytes))
    return Status::error("out of memory allocating " +
                         std::to_string(header.dataBytes) + " bytes");
  size_t read =
      std::fread(array.data.data(), 1, header.dataBytes, file.get());
  if (read < header.dataBytes) {
    if (std::ferror(file.get()))
      return readError();
    return dataSizeError(header, read);
  }
  if (std::fgetc(file.get()) != EOF) {
    std::fseek(file.get(), 0, SEEK_END);
    long end = std::ftell(file.get());
    return dataSizeError(header, end < 0 ? header.dataBytes + 1
                                         : static_cast<size_t>(end) -
                                               headerEnd);
  }
  array.dtype = header.dtype;
  array.shape = std::move(header.shape);
  return Status::success();
}

Status sqz::runtime::readNpyFile(const std::string &path, NpyArray &array) {
  return readNpyFileImpl(path, array).withContext(path);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

std::string sqz::runtime::encodeNpyHeader(DType type,
                                          const std::vector<int64_t> &shape) {
  // Exactly numpy.lib.format._write_array_header: keys sorted, repr() of the
  // values, growth padding, then spaces and '\n' up to a multiple of 64.
  std::string dict = "{'descr': '";
  dict += dtypeNpyDescr(type);
  dict += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1)
    dict += ',';
  dict += "), }";
  if (!shape.empty())
    dict.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');

  // Version 1.0 unless the header does not fit its 16-bit length.
  size_t hlen = dict.size() + 1; // with the final '\n'
  int major = 1;
  size_t lengthBytes = 2;
  // Never 0: an already aligned header still gets 64 bytes of padding.
  auto padding = [&] {
    return kArrayAlign - (kMagicLen + 2 + lengthBytes + hlen) % kArrayAlign;
  };
  size_t padLen = padding();
  if (hlen + padLen > 0xffff) {
    major = 2;
    lengthBytes = 4;
    padLen = padding();
  }
  size_t total = hlen + padLen;
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < lengthBytes; ++i)
    out += static_cast<char>((total >> (8 * i)) & 0xff);
  out += dict;
  out.append(padLen, ' ');
  out += '\n';
  return out;
}

static bool writeAll(int fd, const void *data, size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

Status sqz::runtime::writeNpyFile(const std::string &path, DType type,
                                  const std::vector<int64_t> &shape,
                                  const void *data) {
  size_t numElements, numBytes;
  if (Status s = computeTensorSize(type, shape, numElements, numBytes); !s)
    return s.withContext(path);
  std::string header = encodeNpyHeader(type, shape);

  // A hidden temporary beside the target, so rename() is atomic.
  size_t slash = path.rfind('/');
  size_t baseStart = slash == std::string::npos ? 0 : slash + 1;
  std::string tmpPath = path.substr(0, baseStart) + "." +
                        path.substr(baseStart) + ".tmp-" +
                        std::to_string(::getpid());
  int fd = ::open(tmpPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0666);
  if (fd < 0)
    return Status::error(path + ": cannot create '" + tmpPath +
                         "': " + std::strerror(errno));
  bool ok = writeAll(fd, header.data(), header.size()) &&
            writeAll(fd, data, numBytes);
  int savedErrno = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    savedErrno = errno;
  }
  if (ok && ::rename(tmpPath.c_str(), path.c_str()) != 0) {
    ok = false;
    savedErrno = errno;
  }
  if (!ok) {
    ::unlink(tmpPath.c_str());
    return Status::error(path + ": " + std::strerror(savedErrno));
  }
  return Status::success();
}
