//===- NF4.cpp - NF4 microkernels -----------------------------------------===//
//
// W[n, k] = scale[n, g] * NF4[code[n, k]] (bitsandbytes NormalFloat-4, absmax scales), any
// group. The 4-bit panel layout and the kernels are shared with int4 (LutPlanes.h); see
// docs/Kernels.md. Note the packed nibble order is ours (plane-major words), not bitsandbytes'
// high-nibble-first bytes: packing starts from the logical codes.
//
//===----------------------------------------------------------------------===//

#include "ActInt8.h"
#include "LutPlanes.h"

extern "C" void SQZ_UK_FN(nf4)(SQZ_UK_KERNEL_PARAMS) {
  // A blob packed with act_int8 runs the int8-activation kernels (ActInt8.h).
  if (headerOf(blob).flags & SQZ_UK_FLAG_ACT_INT8) {
    using A = Act<kActNF4>;
    return kernelAct<kActNF4>(quantLayoutOf(blob, A::kb, A::rowBlockBytes), x, M, ldx, bias,
                          y, ldy, n_begin, n_end);
  }
  kernelLut<kLutNF4>(blob, x, M, ldx, bias, y, ldy, n_begin, n_end);
}

#ifdef SQZ_UK_HOST
int64_t sqz_uk::packedBytesNF4(const sqz_uk_logical &w) {
  return quantSizes(w, Lut<kLutNF4>::kb, Lut<kLutNF4>::rowBlockBytes).total;
}
void sqz_uk::packNF4(const sqz_uk_logical &w, uint8_t *out) {
  packLut<kLutNF4>(w, out, 0);
  actMarkBlob(w, Act<kActNF4>::kb, out);
}
#endif
