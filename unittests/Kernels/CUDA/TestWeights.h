//===- TestWeights.h - Random logical weights for the CUDA kernel tests ----===//
//
// Builds sqz_uk_logical descriptions (lib/Kernels/CPU/Microkernels.h) of every format the CUDA
// kernels take, with their storage, and the dense double-precision weight matrix they mean.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_UNITTESTS_KERNELS_CUDA_TESTWEIGHTS_H
#define SQZ_UNITTESTS_KERNELS_CUDA_TESTWEIGHTS_H

#include "CudaKernels.h"
#include "KernelCommon.h" // kNF4Table: the logical NF4 values

#include <cstdint>
#include <random>
#include <vector>

namespace sqz_cuk_test {

/// One logical linear with its storage.
struct Weights {
  int32_t format = 0; // SQZ_UK_*
  int64_t N = 0, K = 0, group = 0;
  bool asymmetric = false;
  std::vector<float> weights, values, scales;
  std::vector<uint8_t> codes, zeros, indices;
  sqz_uk_logical logical{};

  int64_t groups() const { return group > 0 ? (K + group - 1) / group : 0; }

  /// Dense W[n, k] in double, as the logical form defines it.
  std::vector<double> dense() const {
    std::vector<double> W(static_cast<size_t>(N * K), 0.0);
    const int64_t G = groups();
    for (int64_t n = 0; n < N; ++n) {
      if (format == SQZ_UK_F32) {
        for (int64_t k = 0; k < K; ++k)
          W[n * K + k] = weights[n * K + k];
        continue;
      }
      if (format == SQZ_UK_SP24_F32 || format == SQZ_UK_SP24_INT4) {
        for (int64_t grp = 0; grp < K / 4; ++grp) {
          unsigned nib = (indices[n * ((K + 7) / 8) + grp / 2] >> (4 * (grp & 1))) & 15u;
          int64_t cols[2] = {grp * 4 + (nib & 3), grp * 4 + ((nib >> 2) & 3)};
          for (int j = 0; j < 2; ++j) {
            int64_t vi = n * (K / 2) + grp * 2 + j;
            double v;
            if (format == SQZ_UK_SP24_F32) {
              v = values[vi];
            } else {
              int64_t gi = cols[j] / group;
              double z = asymmetric ? zeros[n * G + gi] : 8.0;
              v = static_cast<double>(scales[n * G + gi]) * (codes[vi] - z);
            }
            W[n * K + cols[j]] = v;
          }
        }
        continue;
      }
      if (format == SQZ_UK_NF4) {
        for (int64_t k = 0; k < K; ++k)
          W[n * K + k] = static_cast<double>(scales[n * G + k / group]) *
                         static_cast<double>(kNF4Table[codes[n * K + k]]);
        continue;
      }
      double zsym = format == SQZ_UK_INT8 ? 128.0 : format == SQZ_UK_INT4 ? 8.0 : 1.0;
      for (int64_t k = 0; k < K; ++k) {
        int64_t gi = k / group;
        double z = asymmetric ? zeros[n * G + gi] : zsym;
        W[n * K + k] = static_cast<double>(scales[n * G + gi]) * (codes[n * K + k] - z);
      }
    }
    return W;
  }
};

/// Random weights of `format` (SQZ_UK_*), shape [N, K], `group` for quantized formats.
inline Weights makeWeights(int32_t format, int64_t N, int64_t K, int64_t group, bool asymmetric,
                           uint32_t seed) {
  Weights w;
  w.format = format;
  w.N = N;
  w.K = K;
  w.asymmetric = asymmetric;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> val(-1.0f, 1.0f), scale(0.002f, 0.05f);
  const bool quant = format != SQZ_UK_F32 && format != SQZ_UK_SP24_F32;
  w.group = quant ? group : 0;
  const bool sparse = format == SQZ_UK_SP24_F32 || format == SQZ_UK_SP24_INT4;
  const int64_t G = w.groups();
  unsigned maxCode = format == SQZ_UK_INT8 ? 255 : (format == SQZ_UK_TERNARY2 ||
                                                    format == SQZ_UK_TERNARY16)
                                                       ? 2
                                                       : 15;
  if (format == SQZ_UK_F32) {
    w.weights.resize(static_cast<size_t>(N * K));
    for (float &v : w.weights)
      v = val(rng);
  }
  if (sparse) {
    static const uint8_t kNibbles[6] = {0x4, 0x8, 0x9, 0xc, 0xd, 0xe};
    w.indices.assign(static_cast<size_t>(N * ((K + 7) / 8)), 0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t grp = 0; grp < K / 4; ++grp)
        w.indices[n * ((K + 7) / 8) + grp / 2] |=
            static_cast<uint8_t>(kNibbles[rng() % 6] << (4 * (grp & 1)));
    if (format == SQZ_UK_SP24_F32) {
      w.values.resize(static_cast<size_t>(N * (K / 2)));
      for (float &v : w.values)
        v = val(rng);
    }
  }
  if (quant) {
    int64_t cols = sparse ? K / 2 : K;
    w.codes.resize(static_cast<size_t>(N * cols));
    for (uint8_t &c : w.codes)
      c = static_cast<uint8_t>(rng() % (maxCode + 1));
    w.scales.resize(static_cast<size_t>(N * G));
    for (float &s : w.scales)
      s = scale(rng);
    if (asymmetric) {
      w.zeros.resize(static_cast<size_t>(N * G));
      for (uint8_t &z : w.zeros)
        z = static_cast<uint8_t>(rng() % (maxCode + 1));
    }
  }
  sqz_uk_logical &l = w.logical;
  l.format = format;
  l.asymmetric = asymmetric ? 1 : 0;
  l.N = N;
  l.K = K;
  l.group = w.group;
  l.weights = w.weights.empty() ? nullptr : w.weights.data();
  l.values = w.values.empty() ? nullptr : w.values.data();
  l.codes = w.codes.empty() ? nullptr : w.codes.data();
  l.scales = w.scales.empty() ? nullptr : w.scales.data();
  l.zeros = w.zeros.empty() ? nullptr : w.zeros.data();
  l.indices = w.indices.empty() ? nullptr : w.indices.data();
  return w;
}

/// fp16 bits -> float (exact).
inline float halfToFloat(uint16_t h) {
  _Float16 v;
  __builtin_memcpy(&v, &h, 2);
  return static_cast<float>(v);
}
inline uint16_t floatToHalf(float f) {
  _Float16 v = static_cast<_Float16>(f);
  uint16_t h;
  __builtin_memcpy(&h, &v, 2);
  return h;
}

} // namespace sqz_cuk_test

#endif
