//===- Safetensors.h - The weights file of an artifact ----------*- C++ -*-===//
//
// Compiled artifacts keep large weights outside the model library, in a
// safetensors file (https://github.com/huggingface/safetensors: an 8-byte
// little-endian header length, a JSON header mapping tensor names to
// {"dtype", "shape", "data_offsets": [begin, end)} relative to the data
// section, then the data section, fully covered by the tensors, no holes).
// The runtime memory-maps it read-only, so loading costs no copy and the pages
// fault in as the model first reads them.
//
// Our writer pads the header with spaces (as safetensors' own writer does) so
// that the data section starts at a multiple of 64 bytes, and orders tensors
// by decreasing element size, so every tensor is aligned to its element size
// (and a page-aligned mapping gives 64-byte-aligned data). The optional
// "__metadata__" map (string values) is kept.
//
// One owner for the format: the compiler writes through writeSafetensors and
// the runtime reads through MappedSafetensors.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_SAFETENSORS_H
#define SQZ_RUNTIME_SAFETENSORS_H

#include "Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sqz {
namespace runtime {

struct SafetensorsEntry {
  std::string name;
  std::string dtype; ///< safetensors name: F32, F16, BF16, F64, I8..I64, U8..U64, BOOL
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; ///< byte range in the data section
};

/// Bytes per element of a safetensors dtype name, or 0 if unknown.
size_t safetensorsDTypeSize(const std::string &dtype);

/// A safetensors file mapped read-only.
class MappedSafetensors {
public:
  MappedSafetensors() = default;
  MappedSafetensors(const MappedSafetensors &) = delete;
  MappedSafetensors &operator=(const MappedSafetensors &) = delete;
  ~MappedSafetensors();

  /// Maps and validates `path`: header length and JSON, every entry's dtype,
  /// shape and offsets (in bounds, size = elements x dtype size, no overlaps,
  /// the data section exactly covered), and the file size.
  Status open(const std::string &path);

  const uint8_t *data() const { return dataStart; }
  size_t dataSize() const { return dataBytes; }
  const std::vector<SafetensorsEntry> &entries() const { return tensors; }
  const std::map<std::string, std::string> &metadata() const { return meta; }
  /// The entry named `name`, or null.
  const SafetensorsEntry *find(const std::string &name) const;

private:
  void *mapping = nullptr;
  size_t mappingBytes = 0;
  const uint8_t *dataStart = nullptr;
  size_t dataBytes = 0;
  std::vector<SafetensorsEntry> tensors;
  std::map<std::string, std::string> meta;
};

/// A tensor to write: its entry (begin/end are assigned by the writer) and
/// its bytes (entry size exactly).
struct SafetensorsTensor {
  SafetensorsEntry entry;
  const void *bytes = nullptr;
};

/// Writes `tensors` to `path` in the layout described above and returns the
/// entries with their assigned offsets (in the order written) through
/// `layout`. Names must be unique.
Status writeSafetensors(const std::string &path, std::vector<SafetensorsTensor> tensors,
                        const std::map<std::string, std::string> &metadata,
                        std::vector<SafetensorsEntry> *layout = nullptr);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_SAFETENSORS_H
