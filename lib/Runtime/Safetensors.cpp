//===- Safetensors.cpp - The weights file of an artifact ------------------===//

#include "Runtime/Safetensors.h"

#include "Runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace sqz::runtime;

size_t sqz::runtime::safetensorsDTypeSize(const std::string &dtype) {
  static const std::pair<const char *, size_t> kSizes[] = {
      {"F64", 8}, {"I64", 8}, {"U64", 8}, {"F32", 4}, {"I32", 4},    {"U32", 4},
      {"F16", 2}, {"BF16", 2}, {"I16", 2}, {"U16", 2}, {"I8", 1},    {"U8", 1},
      {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (const auto &[name, size] : kSizes)
    if (dtype == name)
      return size;
  return 0;
}

MappedSafetensors::~MappedSafetensors() {
  if (mapping)
    munmap(mapping, mappingBytes);
}

const SafetensorsEntry *MappedSafetensors::find(const std::string &name) const {
  for (const SafetensorsEntry &entry : tensors)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

Status MappedSafetensors::open(const std::string &path) {
  auto bad = [&](const std::string &what) {
    return Status::error("weights file '" + path + "': " + what);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return bad(std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return bad(std::strerror(err));
  }
  size_t fileBytes = static_cast<size_t>(st.st_size);
  if (fileBytes < 8) {
    ::close(fd);
    return bad("truncated: " + std::to_string(fileBytes) + " bytes, not even a header length");
  }
  void *map = mmap(nullptr, fileBytes, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (map == MAP_FAILED)
    return bad(std::string("cannot map: ") + std::strerror(err));
  mapping = map;
  mappingBytes = fileBytes;
  const uint8_t *bytes = static_cast<const uint8_t *>(map);

  uint64_t headerBytes;
  std::memcpy(&headerBytes, bytes, 8);
  if (headerBytes > fileBytes - 8)
    return bad("truncated: the header says it is " + std::to_string(headerBytes) +
               " bytes, the file has " + std::to_string(fileBytes - 8) + " after the length");
  JsonValue header;
  JsonError error;
  if (!parseJson(std::string_view(reinterpret_cast<const char *>(bytes + 8), headerBytes), header,
                 error))
    return bad("header is not valid JSON: " + error.str());
  if (!header.isObject())
    return bad("header is not a JSON object");
  dataStart = bytes + 8 + headerBytes;
  dataBytes = fileBytes - 8 - headerBytes;

  tensors.clear();
  meta.clear();
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string &name = header.key(i);
    const JsonValue &value = header[i];
    if (name == "__metadata__") {
      if (!value.isObject())
        return bad("__metadata__ is not an object");
      for (size_t j = 0; j < value.size(); ++j) {
        if (!value[j].isString())
          return bad("__metadata__ value '" + value.key(j) + "' is not a string");
        meta[value.key(j)] = value[j].getString();
      }
      continue;
    }
    auto badTensor = [&](const std::string &what) { return bad("tensor '" + name + "': " + what); };
    if (!value.isObject())
      return badTensor("not an object");
    const JsonValue *dtype = value.find("dtype"), *shape = value.find("shape"),
                    *offsets = value.find("data_offsets");
    if (!dtype || !dtype->isString() || !shape || !shape->isArray() || !offsets ||
        !offsets->isArray() || offsets->size() != 2)
      return badTensor("needs \"dtype\" (string), \"shape\" (array) and \"data_offsets\" "
                       "([begin, end])");
    SafetensorsEntry entry;
    entry.name = name;
    entry.dtype = dtype->getString();
    size_t elementBytes = safetensorsDTypeSize(entry.dtype);
    if (!elementBytes)
      return badTensor("unknown dtype '" + entry.dtype + "'");
    uint64_t elements = 1;
    for (size_t d = 0; d < shape->size(); ++d) {
      const JsonValue &dim = (*shape)[d];
      if (!dim.isInt() || dim.getInt() < 0)
        return badTensor("shape entries must be non-negative integers");
      entry.shape.push_back(dim.getInt());
      if (dim.getInt() != 0 && elements > UINT64_MAX / static_cast<uint64_t>(dim.getInt()))
        return badTensor("shape is too large");
      elements *= static_cast<uint64_t>(dim.getInt());
    }
    if (!(*offsets)[0].isInt() || !(*offsets)[1].isInt() || (*offsets)[0].getInt() < 0 ||
        (*offsets)[1].getInt() < (*offsets)[0].getInt())
      return badTensor("data_offsets must be integers with 0 <= begin <= end");
    entry.begin = static_cast<uint64_t>((*offsets)[0].getInt());
    entry.end = static_cast<uint64_t>((*offsets)[1].getInt());
    if (entry.end > dataBytes)
      return badTensor("data_offsets [" + std::to_string(entry.begin) + ", " +
                       std::to_string(entry.end) + ") run past the data section (" +
                       std::to_string(dataBytes) + " bytes; is the file truncated?)");
    if (elements > UINT64_MAX / elementBytes || entry.end - entry.begin != elements * elementBytes)
      return badTensor("data_offsets cover " + std::to_string(entry.end - entry.begin) +
                       " bytes, its dtype and shape need " +
                       std::to_string(elements * elementBytes));
    tensors.push_back(std::move(entry));
  }
  // The data section must be covered exactly: no overlaps, no holes.
  std::vector<const SafetensorsEntry *> sorted;
  for (const SafetensorsEntry &entry : tensors)
    sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const SafetensorsEntry *a, const SafetensorsEntry *b) {
              return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
            });
  uint64_t covered = 0;
  for (const SafetensorsEntry *entry : sorted) {
    if (entry->begin != covered)
      return bad(entry->begin < covered
                     ? "tensor '" + entry->name + "' overlaps the tensor before it"
                     : "the data section has a hole before tensor '" + entry->name + "'");
    covered = entry->end;
  }
  if (covered != dataBytes)
    return bad("the data section has " + std::to_string(dataBytes) + " bytes but the tensors " +
               "cover " + std::to_string(covered));
  return Status::success();
}

static std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

Status sqz::runtime::writeSafetensors(const std::string &path,
                                      std::vector<SafetensorsTensor> tensors,
                                      const std::map<std::string, std::string> &metadata,
                                      std::vector<SafetensorsEntry> *layout) {
  std::set<std::string> names;
  for (const SafetensorsTensor &tensor : tensors) {
    if (!names.insert(tensor.entry.name).second || tensor.entry.name == "__metadata__")
      return Status::error("weights file '" + path + "': duplicate or reserved tensor name '" +
                           tensor.entry.name + "'");
    if (!safetensorsDTypeSize(tensor.entry.dtype))
      return Status::error("weights file '" + path + "': unknown dtype '" + tensor.entry.dtype +
                           "' of tensor '" + tensor.entry.name + "'");
  }
  // Larger elements first (stable: the given order otherwise), so each tensor is aligned to
  // its element size.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    size_t sa = safetensorsDTypeSize(tensors[a].entry.dtype),
           sb = safetensorsDTypeSize(tensors[b].entry.dtype);
    return sa != sb ? sa > sb : a < b;
  });
  std::vector<SafetensorsTensor> sorted;
  for (size_t i : order)
    sorted.push_back(std::move(tensors[i]));
  tensors = std::move(sorted);
  uint64_t offset = 0;
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[key, value] : metadata) {
      header += (first ? "" : ",") + jsonString(key) + ":" + jsonString(value);
      first = false;
    }
    header += "}";
  }
  for (SafetensorsTensor &tensor : tensors) {
    uint64_t elements = 1;
    for (int64_t dim : tensor.entry.shape)
      elements *= static_cast<uint64_t>(dim);
    tensor.entry.begin = offset;
    offset += elements * safetensorsDTypeSize(tensor.entry.dtype);
    tensor.entry.end = offset;
    header += std::string(header.size() > 1 ? "," : "") + jsonString(tensor.entry.name) +
              ":{\"dtype\":" + jsonString(tensor.entry.dtype) + ",\"shape\":[";
    for (size_t d = 0; d < tensor.entry.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(tensor.entry.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(tensor.entry.begin) + "," +
              std::to_string(tensor.entry.end) + "]}";
  }
  header += "}";
  // Pad with spaces so that the data section starts 64-byte aligned.
  header.append((64 - (8 + header.size()) % 64) % 64, ' ');

  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file)
    return Status::error("cannot create weights file '" + path + "': " + std::strerror(errno));
  uint64_t headerBytes = header.size();
  bool ok = std::fwrite(&headerBytes, 8, 1, file) == 1 &&
            std::fwrite(header.data(), 1, header.size(), file) == header.size();
  for (const SafetensorsTensor &tensor : tensors) {
    size_t bytes = tensor.entry.end - tensor.entry.begin;
    if (ok && bytes)
      ok = std::fwrite(tensor.bytes, 1, bytes, file) == bytes;
  }
  ok = std::fclose(file) == 0 && ok;
  if (!ok)
    return Status::error("cannot write weights file '" + path + "': " + std::strerror(errno));
  if (layout) {
    layout->clear();
    for (const SafetensorsTensor &tensor : tensors)
      layout->push_back(tensor.entry);
  }
  return Status::success();
}
