//===- AlignedBuffer.h - Owned, 64-byte aligned tensor storage --*- C++ -*-===//
//
// Tensor data handed to a compiled model is allocated here: 64-byte alignment
// lets generated code use aligned vector loads on any ISA we target, and
// allocation failure is reported (the runtime has no exceptions, so operator
// new would abort on a huge .npy file instead of giving an error).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_ALIGNEDBUFFER_H
#define SQZ_RUNTIME_ALIGNEDBUFFER_H

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace sqz {
namespace runtime {

class AlignedBuffer {
public:
  static constexpr size_t kAlignment = 64;

  /// Allocates `size` zeroed bytes, dropping any previous contents. Returns
  /// false if memory is exhausted. data() is non-null afterwards even when
  /// `size` is 0, so empty tensors never need a special case.
  bool allocate(size_t size) {
    ptr.reset();
    bytes = capacity = 0;
    if (size > SIZE_MAX - kAlignment)
      return false;
    // aligned_alloc wants a multiple of the alignment.
    size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded == 0)
      rounded = kAlignment;
    void *p = std::aligned_alloc(kAlignment, rounded);
    if (!p)
      return false;
    std::memset(p, 0, rounded);
    ptr.reset(static_cast<uint8_t *>(p));
    bytes = size;
    capacity = rounded;
    return true;
  }

  /// Makes size() `size`, reallocating (zeroed, contents dropped) only when the current
  /// allocation is too small; otherwise the contents stay. For buffers reused across runs
  /// whose size varies (decode steps). Returns false if memory is exhausted.
  bool resize(size_t size) {
    if (ptr && size <= capacity) {
      bytes = size;
      return true;
    }
    return allocate(size);
  }

  uint8_t *data() { return ptr.get(); }
  const uint8_t *data() const { return ptr.get(); }
  size_t size() const { return bytes; }

private:
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> ptr;
  size_t bytes = 0;
  size_t capacity = 0;
};

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_ALIGNEDBUFFER_H
