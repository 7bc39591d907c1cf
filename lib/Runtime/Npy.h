//===- Npy.h - Reading and writing NumPy .npy files -------------*- C++ -*-===//
//
// sqz-run takes its inputs and reference outputs as .npy files and writes the
// model's outputs as .npy files, so users can move tensors to and from NumPy
// with np.save/np.load. This implements the format as NumPy defines it
// (numpy/lib/format.py): versions 1.0, 2.0 and 3.0 are read, and files are
// written byte for byte as np.save writes them.
//
// Only dense, little-endian, C-order arrays of the DType element types are
// supported; anything else is rejected with a message that says how to
// convert the array in NumPy. The runtime assumes a little-endian host.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_NPY_H
#define SQZ_RUNTIME_NPY_H

#include "Runtime/AlignedBuffer.h"
#include "Runtime/DType.h"
#include "Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the sqz runtime assumes a little-endian host");

namespace sqz {
namespace runtime {

/// What an .npy header describes.
struct NpyHeader {
  int majorVersion = 1;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  /// Offset of the array data from the start of the file.
  size_t dataOffset = 0;
  size_t numElements = 0;
  size_t dataBytes = 0;
};

/// An array read from an .npy file: dense, C order, 64-byte aligned data.
struct NpyArray {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  AlignedBuffer data;
};

/// Parses an .npy type string such as "<f4" or "|b1".
Status parseNpyDescr(std::string_view descr, DType &type);

/// Parses the header dictionary, e.g.
/// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", filling
/// dtype, shape, numElements and dataBytes of `header`.
Status parseNpyHeaderDict(std::string_view dict, NpyHeader &header);

/// Parses the header at the start of `bytes` (magic, version, header length,
/// dictionary). `size` may extend past the header.
Status parseNpyHeader(const void *bytes, size_t size, NpyHeader &header);

/// Parses a whole .npy file held in memory. The data must be exactly as long
/// as the header says.
Status parseNpy(const void *bytes, size_t size, NpyArray &array);

/// Reads an .npy file. Errors name the file.
Status readNpyFile(const std::string &path, NpyArray &array);

/// The header np.save writes for a C-order array of this type and shape
/// (magic through the newline that ends the padded dictionary).
std::string encodeNpyHeader(DType type, const std::vector<int64_t> &shape);

/// Writes `data` (dense, C order, as many bytes as type and shape say) to an
/// .npy file. The file is written under a temporary name in the same
/// directory and renamed into place, so `path` is never left half-written.
Status writeNpyFile(const std::string &path, DType type,
                    const std::vector<int64_t> &shape, const void *data);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_NPY_H
