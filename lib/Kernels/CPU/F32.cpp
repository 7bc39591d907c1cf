//===- F32.cpp - dense fp32 microkernel and packer ------------------------===//
//
// Format SQZ_UK_F32. Packed payload (at header.offsets[0], 64-byte aligned):
// ceil(N/64) panels, each K x 64 floats, panel p row k column c holding
// W[64p + c, k] (zero for 64p + c >= N). One k step of a panel is 256
// contiguous bytes (4 cache lines), a whole panel is one sequential stream,
// and the same panels are the packed B operand of the GEMM.
//
// Kernel sqz_uk_f32_<isa>:
//   M == 1:      GEMV, one pass per panel over all K (bandwidth bound).
//   M <= MR:     one register tile per panel over all K.
//   larger M:    cache-blocked GEMM (DenseGemm.h): K blocks of 256, row
//                tiles of MR (6 on AVX2/AVX-512), panel-outer while x fits
//                in L2, k-block-outer otherwise.
//
//===----------------------------------------------------------------------===//

#include "KernelCommon.h"

#include "DenseGemm.h"

using namespace sqzdense;

extern "C" void SQZ_UK_FN(f32)(const uint8_t *blob, const float *x, int64_t M,
                               int64_t ldx, const float *bias, float *y,
                               int64_t ldy, int64_t nBegin, int64_t nEnd) {
  const sqz_uk_header *h = reinterpret_cast<const sqz_uk_header *>(blob);
  const int64_t N = h->N, K = h->K;
  if (nEnd > N)
    nEnd = N;
  if (M <= 0 || nEnd <= nBegin)
    return;
  nBegin = unalignedHead(SQZ_UK_FN(f32), blob, x, M, ldx, bias, y, ldy, nBegin,
                         nEnd);
  if (nEnd <= nBegin)
    return;
  const float *panels = reinterpret_cast<const float *>(blob + h->offsets[0]);
  int64_t pBegin = nBegin / kPanel, pEnd = (nEnd + kPanel - 1) / kPanel;
  if (M == 1) {
    for (int64_t p = pBegin; p < pEnd; ++p) {
      int64_t n = p * kPanel;
      int ncols = (int)(nEnd - n < kPanel ? nEnd - n : kPanel);
      gemvPanel(panels + p * K * kPanel, x, K, y + n, ncols,
                bias ? bias + n : nullptr);
    }
    return;
  }
  if (M <= kMR && K > 0) {
    for (int64_t p = pBegin; p < pEnd; ++p) {
      const float *wp = panels + p * K * kPanel;
      for (int64_t c = 0; c < kPanel; c += kNR) {
        int64_t n = p * kPanel + c;
        if (n >= nEnd)
          break;
        int ncols = (int)(nEnd - n < kNR ? nEnd - n : kNR);
        microTileRows((int)M, wp + c, x, ldx, K, y + n, ldy, ncols,
                      bias ? bias + n : nullptr, 1);
      }
    }
    return;
  }
  DirectPanels src{panels, K};
  gemmPanels(src, K, x, M, ldx, bias, y, ldy, nBegin, nEnd, nullptr);
}

#ifdef SQZ_UK_HOST
// ---- Host-side packer (compiled once, into SqzKernelsCPU) ----

int64_t sqz_uk::packedBytesF32(const sqz_uk_logical &w) {
  int64_t panels = (w.N + kPanel - 1) / kPanel;
  return (int64_t)sizeof(sqz_uk_header) + panels * w.K * kPanel * 4;
}

void sqz_uk::packF32(const sqz_uk_logical &w, uint8_t *out) {
  const int64_t N = w.N, K = w.K;
  writeHeader(out, SQZ_UK_F32, w, 0u, sizeof(sqz_uk_header), 0, 0);
  float *dst = reinterpret_cast<float *>(out + sizeof(sqz_uk_header));
  int64_t panels = (N + kPanel - 1) / kPanel;
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t k = 0; k < K; ++k) {
      float *row = dst + (p * K + k) * kPanel;
      for (int64_t c = 0; c < kPanel; ++c) {
        int64_t n = p * kPanel + c;
        row[c] = n < N ? w.weights[n * K + k] : 0.0f;
      }
    }
}
#endif
