//===- Int4.cpp - int4 microkernels (group scales, sym/asym) --------------===//
//
// W[n, k] = scale[n, g] * (code[n, k] - zero[n, g]), zero = 8 when symmetric, any group
// (ragged last group, per-channel). The 4-bit panel layout and the kernels are shared with
// nf4 (LutPlanes.h); see docs/Kernels.md.
//
//===----------------------------------------------------------------------===//

#include "ActInt8.h"
#include "LutPlanes.h"

extern "C" void SQZ_UK_FN(int4)(SQZ_UK_KERNEL_PARAMS) {
  // A blob packed with act_int8 runs the int8-activation kernels (ActInt8.h).
  if (headerOf(blob).flags & SQZ_UK_FLAG_ACT_INT8) {
    using A = Act<kActInt4>;
    return kernelAct<kActInt4>(quantLayoutOf(blob, A::kb, A::rowBlockBytes), x, M, ldx, bias,
                           y, ldy, n_begin, n_end);
  }
  kernelLut<kLutInt4>(blob, x, M, ldx, bias, y, ldy, n_begin, n_end);
}

#ifdef SQZ_UK_HOST
int64_t sqz_uk::packedBytesInt4(const sqz_uk_logical &w) {
  return quantSizes(w, Lut<kLutInt4>::kb, Lut<kLutInt4>::rowBlockBytes).total;
}
void sqz_uk::packInt4(const sqz_uk_logical &w, uint8_t *out) {
  packLut<kLutInt4>(w, out, 0);
  actMarkBlob(w, Act<kActInt4>::kb, out);
}
#endif
