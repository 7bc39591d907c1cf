//===- CudaEmulatedKernelTest.cpp - The CUDA kernel code run on the host ---===//
//
// GemmCommon.cuh compiled for the host with SQZ_CUK_EMULATE (Emulate.h: one std::thread per
// CUDA thread, the PTX instructions emulated from the ISA tables) and run on odd shapes against
// a double reference from the logical weights, with the GPU test's tolerance. This checks the
// kernel's own indexing — chunks, K windows, the cp.async ring across windows, activation
// staging (vector and scalar paths), scale/zero/metadata addressing, the cross-warp reduction,
// N/M/K tails, ldy > N, the wgmma variant's core-matrix staging and descriptors — without a
// GPU. It does not check the reading of the PTX ISA fragment tables itself (the emulator and the
// packer share it); CudaKernelGpuTests does, on a GPU.
//
//===----------------------------------------------------------------------===//

#define SQZ_CUK_EMULATE 1
#define SQZ_CUK_SM 80
#include "GemmCommon.cuh"

#include "TestWeights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace sqz_cuk_test;

namespace {

using KernelFn = void (*)(const uint8_t *, const float *, int64_t, int64_t, const float *,
                          float *, int64_t);

template <int F> KernelFn kernelOf(int32_t variant) {
  if (variant == SQZ_CUK_VARIANT_GEMV)
    return [](const uint8_t *b, const float *x, int64_t M, int64_t ldx, const float *bias,
              float *y, int64_t ldy) {
      sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemv, sqz_cuk::kWindowGemv,
                               sqz_cuk::kStagesGemv>(b, x, M, ldx, bias, y, ldy);
    };
  if (variant == SQZ_CUK_VARIANT_WGMMA)
    return [](const uint8_t *b, const float *x, int64_t M, int64_t ldx, const float *bias,
              float *y, int64_t ldy) {
      sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemm64, sqz_cuk::kWindowGemm64,
                               sqz_cuk::kStagesGemm64, true, true>(b, x, M, ldx, bias, y, ldy);
    };
  if (variant == SQZ_CUK_VARIANT_GEMM64)
    return [](const uint8_t *b, const float *x, int64_t M, int64_t ldx, const float *bias,
              float *y, int64_t ldy) {
      sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemm64, sqz_cuk::kWindowGemm64,
                               sqz_cuk::kStagesGemm64, true>(b, x, M, ldx, bias, y, ldy);
    };
  return [](const uint8_t *b, const float *x, int64_t M, int64_t ldx, const float *bias, float *y,
            int64_t ldy) {
    sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemm, sqz_cuk::kWindowGemm,
                             sqz_cuk::kStagesGemm>(b, x, M, ldx, bias, y, ldy);
  };
}

KernelFn kernelFor(int32_t cudaFormat, int32_t variant) {
  switch (cudaFormat) {
  case SQZ_CUK_F16:
    return kernelOf<sqz_cuk::kF16>(variant);
  case SQZ_CUK_INT8:
    return kernelOf<sqz_cuk::kInt8>(variant);
  case SQZ_CUK_INT4:
    return kernelOf<sqz_cuk::kInt4>(variant);
  case SQZ_CUK_NF4:
    return kernelOf<sqz_cuk::kNF4>(variant);
  case SQZ_CUK_TERNARY2:
    return kernelOf<sqz_cuk::kTernary2>(variant);
  case SQZ_CUK_SP24_F16:
    return kernelOf<sqz_cuk::kSp24F16>(variant);
  case SQZ_CUK_SP24_INT4:
    return kernelOf<sqz_cuk::kSp24Int4>(variant);
  }
  return nullptr;
}

struct KernelCase {
  int32_t format; // SQZ_UK_*
  int64_t group;  // 0: K
  bool asym;
};

void runOne(const Weights &w, int32_t variant, int64_t M, bool alignedX, bool withBias,
            uint32_t seed) {
  const int64_t N = w.N, K = w.K;
  std::vector<uint8_t> blob(static_cast<size_t>(sqz_cuk_packed_bytes(&w.logical)));
  ASSERT_EQ(sqz_cuk_pack(&w.logical, blob.data()), 0);
  sqz_uk_header h;
  std::memcpy(&h, blob.data(), sizeof(h));
  sqz_cuk_launch L;
  char err[256];
  const int32_t sm = variant == SQZ_CUK_VARIANT_WGMMA ? 90 | SQZ_CUK_SM_ARCH_SPECIFIC : 80;
  ASSERT_EQ(sqz_cuk_plan_checked(&h, M, sm, variant, &L, err, sizeof(err)), 0) << err;
  KernelFn fn = kernelFor(h.format, variant);
  ASSERT_NE(fn, nullptr);

  const int64_t ldx = alignedX ? (K + 3) / 4 * 4 + 4 : K + 3;
  const int64_t ldy = N + 5;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  // 16-byte aligned x (the vector path needs it).
  std::vector<float> xs(static_cast<size_t>(M * ldx + 8), 0.0f);
  float *x = xs.data();
  while (reinterpret_cast<uintptr_t>(x) % 16)
    ++x;
  for (int64_t i = 0; i < M * ldx; ++i)
    x[i] = dist(rng);
  std::vector<float> bias(static_cast<size_t>(N));
  for (float &v : bias)
    v = dist(rng);
  std::vector<float> y(static_cast<size_t>(M * ldy), NAN);
  // The blob must be 16-byte aligned too (a copy in aligned storage).
  std::vector<uint64_t> aligned((blob.size() + 7) / 8 + 2);
  uint8_t *b = reinterpret_cast<uint8_t *>(aligned.data());
  while (reinterpret_cast<uintptr_t>(b) % 16)
    b += 8;
  std::memcpy(b, blob.data(), blob.size());

  const float *pBias = withBias ? bias.data() : nullptr;
  float *pY = y.data();
  sqz_cuk_emu::launch(L.grid[0], L.grid[1], L.shared_bytes,
                      [&] { fn(b, x, M, ldx, pBias, pY, ldy); });

  std::vector<double> W = w.dense();
  int bad = 0;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double ref = withBias ? bias[n] : 0.0, mag = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        double t = static_cast<double>(x[m * ldx + k]) * W[n * K + k];
        ref += t;
        mag += std::fabs(t);
      }
      double got = y[m * ldy + n];
      double tol = 2e-3 * mag + 1e-5 * (1.0 + (withBias ? std::fabs(bias[n]) : 0.0));
      if (!(std::fabs(got - ref) <= tol) && bad++ < 5)
        ADD_FAILURE() << L.symbol << " N=" << N << " K=" << K << " M=" << M << " y[" << m << ","
                      << n << "] = " << got << ", reference " << ref << " (tolerance " << tol
                      << ")";
    }
    for (int64_t n = N; n < ldy; ++n)
      if (!std::isnan(y[m * ldy + n]) && bad++ < 5)
        ADD_FAILURE() << L.symbol << " wrote y[" << m << "," << n << "] beyond N = " << N;
  }
  EXPECT_EQ(bad, 0) << L.symbol << " N=" << N << " K=" << K << " M=" << M;
}

class CudaKernelEmulated : public ::testing::TestWithParam<KernelCase> {};

TEST_P(CudaKernelEmulated, OddShapesAgainstDoubleReference) {
  const KernelCase kc = GetParam();
  const bool sparse = kc.format == SQZ_UK_SP24_F32 || kc.format == SQZ_UK_SP24_INT4;
  // (N, K): N off the tile; K off 256, and > one window (1024 gemv / 512 gemm) for the ring
  // across windows; K off 16 for the dense formats.
  std::vector<std::pair<int64_t, int64_t>> shapes = {{37, 200}, {20, 1100}};
  if (!sparse)
    shapes.push_back({5, 1331});
  uint32_t seed = 100;
  for (auto [N, K] : shapes) {
    int64_t group = kc.group == 0 || kc.group > K ? K : kc.group;
    Weights w = makeWeights(kc.format, N, K, group, kc.asym, seed++);
    char err[512];
    ASSERT_EQ(sqz_cuk_can_pack(&w.logical, err, sizeof(err)), 1) << err;
    for (int64_t M : {1, 3, 16, 33, 70, 130})
      for (int32_t variant : {SQZ_CUK_VARIANT_GEMV, SQZ_CUK_VARIANT_GEMM, SQZ_CUK_VARIANT_GEMM64,
                              SQZ_CUK_VARIANT_WGMMA}) {
        const bool gemv = variant == SQZ_CUK_VARIANT_GEMV;
        const bool wgmma = variant == SQZ_CUK_VARIANT_WGMMA;
        if (wgmma && (M == 1 || M == 16 || M == 33))
          continue; // M = 3, 70, 130 cover the row tails (slow emulation)
        if (M > 16 && gemv && K > 1000)
          continue; // slow under emulation; covered by the smaller shape
        if (M == 70 && ((variant != SQZ_CUK_VARIANT_GEMM64 && !wgmma) || K > 1000))
          continue; // two 64-row blocks (64 + 6 rows)
        if (M == 130 && !(wgmma && N == 37))
          continue; // three wgmma row blocks, N off the 64-row warpgroup tile
        SCOPED_TRACE(std::string(gemv                                ? "gemv"
                                 : variant == SQZ_CUK_VARIANT_GEMM   ? "gemm"
                                 : variant == SQZ_CUK_VARIANT_GEMM64 ? "gemm64"
                                                                     : "wgmma") +
                     " M=" + std::to_string(M));
        runOne(w, variant, M, /*alignedX=*/M % 2 == 1, /*withBias=*/M != 3, seed++);
      }
  }
}

/// Test names: format, group ("gK" = per channel), "asym".
std::string caseName(const ::testing::TestParamInfo<KernelCase> &info) {
  static const char *const names[] = {"", "f32", "int8", "int4", "nf4", "ternary2", "ternary16",
                                      "sp24_f32", "sp24_int4"};
  const KernelCase &c = info.param;
  std::string n = names[c.format];
  if (c.format != SQZ_UK_F32 && c.format != SQZ_UK_SP24_F32)
    n += c.group ? "_g" + std::to_string(c.group) : std::string("_gK");
  return c.asym ? n + "_asym" : n;
}

INSTANTIATE_TEST_SUITE_P(
    AllFormats, CudaKernelEmulated,
    ::testing::Values(KernelCase{SQZ_UK_F32, 0, false}, KernelCase{SQZ_UK_INT8, 64, true},
                      KernelCase{SQZ_UK_INT4, 128, false}, KernelCase{SQZ_UK_INT4, 32, true},
                      KernelCase{SQZ_UK_INT4, 0, false}, KernelCase{SQZ_UK_NF4, 64, false},
                      KernelCase{SQZ_UK_NF4, 0, false}, KernelCase{SQZ_UK_TERNARY2, 64, false},
                      KernelCase{SQZ_UK_TERNARY16, 0, false},
                      KernelCase{SQZ_UK_SP24_F32, 0, false},
                      KernelCase{SQZ_UK_SP24_INT4, 128, false},
                      KernelCase{SQZ_UK_SP24_INT4, 32, true}), caseName);

} // namespace
