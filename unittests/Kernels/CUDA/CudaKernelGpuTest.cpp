//===- CudaKernelGpuTest.cpp - Every CUDA kernel on a GPU vs a double reference ===//
//
// Runs every kernel (format x {gemv, gemm, gemm64} x {sm80, sm90 when the device takes sm_90
// PTX}, and the wgmma kernels when it takes sm_90a PTX, i.e. compute capability 9.0) on odd
// shapes: N not a multiple of the 16-row tile, K not a multiple of 256 (and, where
// the format allows, not of 16), M = 1, 3, 16, 33, 130 (every variant at each), unaligned ldx
// (the scalar staging path) and
// aligned ldx (the 16-byte path), ldy > N (columns N..ldy-1 must stay untouched), with and
// without bias. The reference is computed in double from the LOGICAL weights (TestWeights.h).
//
// Tolerance: the kernels round x to fp16 (relative 2^-11), use fp16 weights (f16 formats:
// rounding 2^-11; quantized: fp16 scale 2^-11 plus the fp16 product (code - zero) * scale
// 2^-11) and accumulate in fp32. Per term that is <= ~3 * 2^-11 = 1.5e-3 relative, so
//     |y - ref| <= 2e-3 * sum_k |x[m,k] * W[n,k]| + 1e-5 * (1 + |bias[n]|)
// is asserted for every output.
//
// Needs a GPU: sqz_cuda_api() comes from libsqz_runtime.so ($SQZ_RUNTIME_LIB, else the build
// tree's); without it, or without a driver/device, the binary prints why and exits 77 (ctest
// SKIP, label gpu).
//
//===----------------------------------------------------------------------===//

#include "TestWeights.h"
#include "sqz-c/sqz_gpu.h"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

using namespace sqz_cuk_test;

namespace {

const sqz_gpu_api *gApi = nullptr;
std::string gWhy;
constexpr int kModules = 3;
void *gModule[kModules] = {nullptr, nullptr, nullptr}; // sm80, sm90, sm90a (wgmma) test modules
std::string gModuleWhy[kModules];
const int32_t kModuleSm[kModules] = {80, 90, 90 | SQZ_CUK_SM_ARCH_SPECIFIC};
const char *const kModuleName[kModules] = {"sm80", "sm90", "sm90a"};

std::string exeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return ".";
  buf[n] = 0;
  std::string s(buf);
  return s.substr(0, s.rfind('/'));
}

bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

/// Finds sqz_cuda_api and a device; false with the reason in gWhy.
bool initApi() {
  std::string candidates[3];
  if (const char *env = getenv("SQZ_RUNTIME_LIB"))
    candidates[0] = env;
  candidates[1] = SQZ_CUK_TEST_RUNTIME_LIB;
  candidates[2] = exeDir() + "/../lib/libsqz_runtime.so";
  void *lib = nullptr;
  std::string tried;
  for (const std::string &c : candidates) {
    if (c.empty())
      continue;
    lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib)
      break;
    tried += std::string(" ") + dlerror() + ";";
  }
  if (!lib) {
    gWhy = "no libsqz_runtime.so (set SQZ_RUNTIME_LIB):" + tried;
    return false;
  }
  using ApiFn = const sqz_gpu_api *(*)(int32_t, char *, size_t);
  auto fn = reinterpret_cast<ApiFn>(dlsym(lib, "sqz_cuda_api"));
  if (!fn) {
    gWhy = "libsqz_runtime.so has no sqz_cuda_api";
    return false;
  }
  char err[1024] = "";
  gApi = fn(0, err, sizeof(err));
  if (!gApi) {
    gWhy = std::string("no CUDA device: ") + err;
    return false;
  }
  // The test modules (TestWrappers.cu + kernels). sm90 PTX does not load on sm_8x devices,
  // sm90a PTX only on compute capability 9.0.
  const char *names[kModules] = {"sqz_cuk_test.sm80.ptx", "sqz_cuk_test.sm90.ptx",
                                 "sqz_cuk_test.sm90a.ptx"};
  for (int i = 0; i < kModules; ++i) {
    std::string text, path = exeDir() + "/" + SQZ_CUK_TEST_PTX_DIR_REL + "/" + names[i];
    if (!readFile(path, text)) {
      gModuleWhy[i] = "cannot read " + path;
      continue;
    }
    gModule[i] = gApi->module_load(text.c_str(), text.size() + 1);
    if (!gModule[i]) {
      const char *e = gApi->last_error();
      gModuleWhy[i] = std::string("module_load(") + names[i] + ") failed: " + (e ? e : "?");
    }
  }
  if (!gModule[0]) {
    gWhy = gModuleWhy[0];
    gApi = nullptr;
    return false;
  }
  return true;
}

struct DevBuf {
  void *p = nullptr;
  explicit DevBuf(size_t bytes) { p = gApi->mem_alloc(bytes ? bytes : 4, nullptr, false); }
  ~DevBuf() {
    if (p)
      gApi->mem_free(p, nullptr);
  }
};

struct KernelCase {
  int32_t format; // SQZ_UK_*
  int64_t group;  // 0: K (per channel)
  bool asym;
};

/// Runs one kernel variant on one shape; returns the number of bad outputs (and reports them).
void runOne(const Weights &w, int smIdx, int32_t variant, int64_t M, bool alignedX, bool withBias,
            uint32_t seed) {
  const int64_t N = w.N, K = w.K;
  char err[512] = "";
  int64_t bytes = sqz_cuk_packed_bytes(&w.logical);
  ASSERT_GT(bytes, 0);
  std::vector<uint8_t> blob(static_cast<size_t>(bytes));
  ASSERT_EQ(sqz_cuk_pack(&w.logical, blob.data()), 0);
  sqz_uk_header h;
  std::memcpy(&h, blob.data(), sizeof(h));
  sqz_cuk_launch L;
  ASSERT_EQ(sqz_cuk_plan_checked(&h, M, kModuleSm[smIdx], variant, &L, err, sizeof(err)), 0)
      << err;
  void *fn = gApi->module_get_function(gModule[smIdx], (std::string(L.symbol) + "_kernel").c_str());
  ASSERT_NE(fn, nullptr) << L.symbol << ": " << (gApi->last_error() ? gApi->last_error() : "");

  const int64_t ldx = alignedX ? (K + 3) / 4 * 4 + 4 : K + 3;
  const int64_t ldy = N + 5;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(M * ldx + 4), 0.0f), bias(static_cast<size_t>(N));
  for (float &v : x)
    v = dist(rng);
  for (float &v : bias)
    v = dist(rng);
  const uint32_t kCanary = 0x7fc0dead; // a NaN the kernel never writes
  std::vector<uint32_t> y(static_cast<size_t>(M * ldy + 1), kCanary);

  DevBuf dBlob(blob.size()), dX(x.size() * 4), dBias(bias.size() * 4), dY(y.size() * 4);
  gApi->memcpy(dBlob.p, blob.data(), blob.size(), nullptr);
  gApi->memcpy(dX.p, x.data(), x.size() * 4, nullptr);
  gApi->memcpy(dBias.p, bias.data(), bias.size() * 4, nullptr);
  gApi->memcpy(dY.p, y.data(), y.size() * 4, nullptr);
  const uint8_t *pBlob = static_cast<const uint8_t *>(dBlob.p);
  const float *pX = static_cast<const float *>(dX.p);
  const float *pBias = withBias ? static_cast<const float *>(dBias.p) : nullptr;
  float *pY = static_cast<float *>(dY.p);
  int64_t mArg = M, ldxArg = ldx, ldyArg = ldy;
  void *params[7] = {&pBlob, &pX, &mArg, &ldxArg, &pBias, &pY, &ldyArg};
  gApi->launch_kernel(fn, L.grid[0], L.grid[1], L.grid[2], L.block[0], L.block[1], L.block[2],
                      static_cast<int32_t>(L.shared_bytes), nullptr, params, nullptr, 7);
  gApi->stream_synchronize(nullptr);
  gApi->memcpy(y.data(), dY.p, y.size() * 4, nullptr);
  gApi->stream_synchronize(nullptr);
  const char *e = gApi->last_error();
  ASSERT_EQ(e, nullptr) << L.symbol << ": " << e;

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
      float got;
      std::memcpy(&got, &y[m * ldy + n], 4);
      double tol = 2e-3 * mag + 1e-5 * (1.0 + (withBias ? std::fabs(bias[n]) : 0.0));
      if (!(std::fabs(got - ref) <= tol) && bad++ < 5)
        ADD_FAILURE() << L.symbol << " N=" << N << " K=" << K << " M=" << M << " y[" << m << ","
                      << n << "] = " << got << ", reference " << ref << " (tolerance " << tol
                      << ")";
    }
    for (int64_t n = N; n < ldy; ++n)
      if (y[m * ldy + n] != kCanary && bad++ < 5)
        ADD_FAILURE() << L.symbol << " wrote y[" << m << "," << n << "] beyond N = " << N;
  }
  EXPECT_EQ(bad, 0) << L.symbol << " N=" << N << " K=" << K << " M=" << M;
}

class CudaKernelGpu : public ::testing::TestWithParam<KernelCase> {
protected:
  void SetUp() override {
    if (!gApi)
      GTEST_SKIP() << gWhy;
  }
};

TEST_P(CudaKernelGpu, OddShapesAgainstDoubleReference) {
  const KernelCase kc = GetParam();
  const bool sparse = kc.format == SQZ_UK_SP24_F32 || kc.format == SQZ_UK_SP24_INT4;
  // (N, K): N off the 16-row tile; K off 256 (and off 16 where the format allows).
  std::vector<std::pair<int64_t, int64_t>> shapes = {{37, 200}, {77, 1000}, {16, 4100}};
  if (!sparse)
    shapes.push_back({45, 1331});
  uint32_t seed = 100;
  for (auto [N, K] : shapes) {
    int64_t group = kc.group == 0 ? K : kc.group;
    if (group > K)
      group = K;
    Weights w = makeWeights(kc.format, N, K, group, kc.asym, seed++);
    char err[512];
    ASSERT_EQ(sqz_cuk_can_pack(&w.logical, err, sizeof(err)), 1) << err;
    for (int smIdx = 0; smIdx < kModules; ++smIdx) {
      if (!gModule[smIdx]) {
        std::printf("note: %s kernels not run: %s\n", kModuleName[smIdx],
                    gModuleWhy[smIdx].c_str());
        continue;
      }
      for (int64_t M : {1, 3, 16, 33, 130, 200})
        for (int32_t variant :
             {SQZ_CUK_VARIANT_GEMV, SQZ_CUK_VARIANT_GEMM, SQZ_CUK_VARIANT_GEMM64,
              SQZ_CUK_VARIANT_WGMMA}) {
          if ((variant == SQZ_CUK_VARIANT_WGMMA) != (smIdx == 2))
            continue; // the sm90a module holds the wgmma kernels only
          SCOPED_TRACE(std::string(kModuleName[smIdx]) + " variant " + std::to_string(variant) +
                       " M=" + std::to_string(M));
          runOne(w, smIdx, variant, M, /*alignedX=*/M % 2 == 1, /*withBias=*/M != 3, seed++);
        }
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
    AllFormats, CudaKernelGpu,
    ::testing::Values(KernelCase{SQZ_UK_F32, 0, false}, KernelCase{SQZ_UK_INT8, 0, false},
                      KernelCase{SQZ_UK_INT8, 64, true}, KernelCase{SQZ_UK_INT4, 128, false},
                      KernelCase{SQZ_UK_INT4, 32, true}, KernelCase{SQZ_UK_INT4, 0, false},
                      KernelCase{SQZ_UK_NF4, 64, false}, KernelCase{SQZ_UK_NF4, 0, false},
                      KernelCase{SQZ_UK_TERNARY2, 64, false},
                      KernelCase{SQZ_UK_TERNARY16, 128, false},
                      KernelCase{SQZ_UK_SP24_F32, 0, false},
                      KernelCase{SQZ_UK_SP24_INT4, 128, false},
                      KernelCase{SQZ_UK_SP24_INT4, 32, true}), caseName);

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!initApi()) {
    std::printf("SKIP: CUDA kernel GPU tests need a GPU: %s\n", gWhy.c_str());
    return 77;
  }
  return RUN_ALL_TESTS();
}
