//===- DenseSparseKernelsTest.cpp - f32 / sp24_f32 / sp24_int4 kernels ----===//
//
// Every ISA variant of the dense fp32 and 2:4-sparse microkernels against a
// scalar double reference computed from the LOGICAL weight (not the packed
// blob), on odd shapes: N not a multiple of the 64-column panel, K not a
// multiple of 256 (nor of the 32-column sparse block), M in
// {0, 1, 3, 8, 17, 33, 130}, with and without bias, ldx > K, ldy > N, and
// output ranges split at multiples of SQZ_UK_N_STEP as generated code does.
// Columns outside the range and the padding of y must stay untouched.
// Packing is checked byte-exactly on tiny examples (layouts in
// docs/Kernels.md). Variants the CPU cannot run are skipped.
//
//===----------------------------------------------------------------------===//

#include "Microkernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#define SQZ_DECLARE_KERNEL(fmt, isa)                                           \
  void sqz_uk_##fmt##_##isa(const uint8_t *, const float *, int64_t, int64_t,  \
                            const float *, float *, int64_t, int64_t,          \
                            int64_t);
#define SQZ_DECLARE_FORMAT(fmt)                                                \
  SQZ_DECLARE_KERNEL(fmt, generic)                                             \
  SQZ_DECLARE_KERNEL(fmt, avx2)                                                \
  SQZ_DECLARE_KERNEL(fmt, avx512)                                              \
  SQZ_DECLARE_KERNEL(fmt, avx512vnni)
SQZ_DECLARE_FORMAT(f32)
SQZ_DECLARE_FORMAT(sp24_f32)
SQZ_DECLARE_FORMAT(sp24_int4)
#undef SQZ_DECLARE_FORMAT
#undef SQZ_DECLARE_KERNEL
}

namespace {

struct Variant {
  const char *isa;
  sqz_uk_kernel_fn f32, sp24f32, sp24int4;
};

const Variant kVariants[] = {
    {"generic", sqz_uk_f32_generic, sqz_uk_sp24_f32_generic,
     sqz_uk_sp24_int4_generic},
    {"avx2", sqz_uk_f32_avx2, sqz_uk_sp24_f32_avx2, sqz_uk_sp24_int4_avx2},
    {"avx512", sqz_uk_f32_avx512, sqz_uk_sp24_f32_avx512,
     sqz_uk_sp24_int4_avx512},
    {"avx512vnni", sqz_uk_f32_avx512vnni, sqz_uk_sp24_f32_avx512vnni,
     sqz_uk_sp24_int4_avx512vnni},
};

bool cpuRuns(const std::string &isa) {
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("avx512vl") &&
                __builtin_cpu_supports("avx512cd");
  if (isa == "generic")
    return true;
  if (isa == "avx2")
    return avx2;
  if (isa == "avx512")
    return avx512;
  return avx512 && __builtin_cpu_supports("avx512vnni");
}

// Deterministic pseudo-random numbers.
struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 6364136223846793005ull + 1) {}
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(s >> 33);
  }
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)(next() & 0xffffff) / (float)0x1000000;
  }
};

// A logical weight with its storage and a double-precision dense view.
struct Weight {
  sqz_uk_logical l{};
  std::vector<float> weights, values, scales;
  std::vector<uint8_t> codes, zeros, indices;
  std::vector<double> dense; // [N][K], W as the logical form defines it
};

// Packs into a 64-byte aligned buffer; returns the aligned pointer.
struct Packed {
  std::vector<uint8_t> storage;
  uint8_t *blob = nullptr;
  int64_t bytes = 0;
};

Packed packWeight(const sqz_uk_logical &l) {
  Packed p;
  char err[256] = {};
  EXPECT_EQ(sqz_uk_can_pack(&l, err, sizeof(err)), 1) << err;
  p.bytes = sqz_uk_packed_bytes(&l);
  EXPECT_GT(p.bytes, 0);
  p.storage.assign((size_t)p.bytes + 64, 0xcd);
  uintptr_t a = (uintptr_t)p.storage.data();
  p.blob = p.storage.data() + ((64 - a % 64) % 64);
  EXPECT_EQ(sqz_uk_pack(&l, p.blob), 0);
  return p;
}

Weight makeF32(int64_t N, int64_t K, uint64_t seed) {
  Weight w;
  Lcg r(seed);
  w.weights.resize(N * K);
  w.dense.resize(N * K);
  for (int64_t i = 0; i < N * K; ++i) {
    w.weights[i] = r.uniform(-1, 1);
    w.dense[i] = w.weights[i];
  }
  w.l.format = SQZ_UK_F32;
  w.l.N = N;
  w.l.K = K;
  w.l.weights = w.weights.data();
  return w;
}

const uint8_t kValidNibbles[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};

// 2:4 weight: f32 values, or int4 codes with group scales (dense columns).
Weight makeSp24(int64_t N, int64_t K, bool int4, int64_t group, bool asym,
                uint64_t seed) {
  Weight w;
  Lcg r(seed);
  const int64_t ib = (K + 7) / 8, G = int4 ? (K + group - 1) / group : 0;
  w.indices.assign(N * ib, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < K / 4; ++g)
      w.indices[n * ib + g / 2] |= kValidNibbles[r.next() % 6] << (4 * (g & 1));
  if (int4) {
    w.codes.resize(N * K / 2);
    for (auto &c : w.codes)
      c = r.next() % 16;
    w.scales.resize(N * G);
    for (auto &s : w.scales)
      s = r.uniform(0.01f, 0.2f);
    if (asym) {
      w.zeros.resize(N * G);
      for (auto &z : w.zeros)
        z = r.next() % 16;
    }
  } else {
    w.values.resize(N * K / 2);
    for (auto &v : w.values)
      v = r.uniform(-1, 1);
  }
  w.dense.assign(N * K, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < K / 4; ++g) {
      unsigned nib = (w.indices[n * ib + g / 2] >> (4 * (g & 1))) & 15;
      int cols[2] = {(int)(nib & 3), (int)(nib >> 2)};
      for (int t = 0; t < 2; ++t) {
        int64_t k = 4 * g + cols[t], src = n * (K / 2) + 2 * g + t;
        double v;
        if (int4) {
          int64_t gi = k / group;
          double zero = asym ? w.zeros[n * G + gi] : 8.0;
          v = (double)w.scales[n * G + gi] * ((double)w.codes[src] - zero);
        } else {
          v = w.values[src];
        }
        w.dense[n * K + k] = v;
      }
    }
  w.l.format = int4 ? SQZ_UK_SP24_INT4 : SQZ_UK_SP24_F32;
  w.l.N = N;
  w.l.K = K;
  w.l.group = int4 ? group : 0;
  w.l.asymmetric = asym ? 1 : 0;
  w.l.indices = w.indices.data();
  w.l.values = int4 ? nullptr : w.values.data();
  w.l.codes = int4 ? w.codes.data() : nullptr;
  w.l.scales = int4 ? w.scales.data() : nullptr;
  w.l.zeros = asym ? w.zeros.data() : nullptr;
  return w;
}

// Runs `fn` on every M and output split and compares with the reference.
void checkKernel(const char *what, sqz_uk_kernel_fn fn, const Weight &w,
                 uint64_t seed) {
  const int64_t N = w.l.N, K = w.l.K;
  Packed p = packWeight(w.l);
  Lcg r(seed);
  const int64_t ldx = K + 3, ldy = N + 5;
  std::vector<float> bias(N);
  for (auto &b : bias)
    b = r.uniform(-1, 1);
  for (int64_t M : {0, 1, 3, 8, 17, 33, 130}) {
    std::vector<float> x(M * ldx + 1);
    for (auto &v : x)
      v = r.uniform(-1, 1);
    for (int withBias = 0; withBias < 2; ++withBias) {
      const float *b = withBias ? bias.data() : nullptr;
      // Output ranges: the whole N, and a split at multiples of 64 as
      // generated code hands out (n_end = N for the last one).
      std::vector<std::pair<int64_t, int64_t>> ranges;
      ranges.push_back({0, N});
      std::vector<std::pair<int64_t, int64_t>> split;
      for (int64_t n0 = 0; n0 < N; n0 += 128)
        split.push_back({n0, n0 + 128 < N ? n0 + 128 : N});
      const float kSentinel = -12345.0f;
      // Ranges not starting at multiples of 64 (outside the ABI's promise,
      // still served exactly).
      std::vector<std::pair<int64_t, int64_t>> odd;
      for (int64_t cut : {int64_t(37), int64_t(101)})
        if (cut < N)
          odd.push_back({odd.empty() ? 0 : odd.back().second, cut});
      odd.push_back({odd.empty() ? 0 : odd.back().second, N});
      for (int mode = 0; mode < 3; ++mode) {
        std::vector<float> y(M * ldy + 1, kSentinel);
        if (mode == 0) {
          fn(p.blob, x.data(), M, ldx, b, y.data(), ldy, 0, N);
        } else if (mode == 2) {
          for (size_t i = odd.size(); i-- > 0;)
            fn(p.blob, x.data(), M, ldx, b, y.data(), ldy, odd[i].first,
               odd[i].second);
        } else {
          // Reverse order, so a kernel that writes outside its range is
          // caught by the sentinel or by the later range's overwrite check.
          for (size_t i = split.size(); i-- > 0;)
            fn(p.blob, x.data(), M, ldx, b, y.data(), ldy, split[i].first,
               split[i].second);
        }
        double worst = 0;
        for (int64_t m = 0; m < M; ++m) {
          for (int64_t n = 0; n < N; ++n) {
            double ref = b ? (double)b[n] : 0.0, mag = std::fabs(ref);
            for (int64_t k = 0; k < K; ++k) {
              double t = (double)x[m * ldx + k] * w.dense[n * K + k];
              ref += t;
              mag += std::fabs(t);
            }
            double err = std::fabs((double)y[m * ldy + n] - ref) /
                         (mag > 1e-30 ? mag : 1e-30);
            if (err > worst)
              worst = err;
            if (!(err <= 1e-5)) {
              ADD_FAILURE()
                  << what << " M=" << M << " N=" << N << " K=" << K
                  << " bias=" << withBias << " mode=" << mode << ": y[" << m
                  << "," << n << "] = " << y[m * ldy + n] << ", reference "
                  << ref << " (relative error " << err << ")";
              return;
            }
          }
          for (int64_t n = N; n < ldy; ++n)
            ASSERT_EQ(y[m * ldy + n], kSentinel)
                << what << ": wrote y padding at m=" << m << " n=" << n;
        }
        ASSERT_EQ(y[M * ldy], kSentinel) << what << ": wrote past y";
        (void)worst;
      }
      // A range in the middle (aligned, or not) leaves the rest alone.
      for (auto r : {std::pair<int64_t, int64_t>{64, 128}, {37, 101}}) {
        if (N < r.second || M == 0)
          continue;
        std::vector<float> y(M * ldy + 1, kSentinel);
        fn(p.blob, x.data(), M, ldx, b, y.data(), ldy, r.first, r.second);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < ldy; ++n)
            if (n < r.first || n >= r.second)
              ASSERT_EQ(y[m * ldy + n], kSentinel)
                  << what << ": wrote outside [" << r.first << ", " << r.second
                  << ") at m=" << m << " n=" << n;
            else
              ASSERT_NE(y[m * ldy + n], kSentinel);
      }
    }
  }
}

template <typename F> void forEachVariant(F f) {
  for (const Variant &v : kVariants) {
    if (!cpuRuns(v.isa)) {
      std::printf("[  SKIPPED ] %s: this CPU lacks it\n", v.isa);
      continue;
    }
    SCOPED_TRACE(v.isa);
    f(v);
  }
}

// ---- Numerics ----

TEST(DenseKernels, F32MatchesReference) {
  struct Shape {
    int64_t N, K;
  } shapes[] = {{1, 1},     {5, 7},     {63, 300},  {65, 257},
                {200, 300}, {70, 1100}, {520, 1030}};
  forEachVariant([&](const Variant &v) {
    for (const Shape &s : shapes) {
      Weight w = makeF32(s.N, s.K, 17 + s.N * 31 + s.K);
      std::string what = std::string("f32_") + v.isa;
      checkKernel(what.c_str(), v.f32, w, s.N + s.K);
    }
  });
}

TEST(SparseKernels, Sp24F32MatchesReference) {
  struct Shape {
    int64_t N, K;
  } shapes[] = {{1, 4}, {5, 12}, {63, 300}, {65, 260}, {200, 296}, {70, 1100}};
  forEachVariant([&](const Variant &v) {
    for (const Shape &s : shapes) {
      Weight w = makeSp24(s.N, s.K, false, 0, false, 5 + s.N * 7 + s.K);
      std::string what = std::string("sp24_f32_") + v.isa;
      checkKernel(what.c_str(), v.sp24f32, w, s.N * 3 + s.K);
    }
  });
}

TEST(SparseKernels, Sp24Int4MatchesReference) {
  struct Shape {
    int64_t N, K, group;
  } shapes[] = {{1, 4, 4},      {5, 12, 4},     {63, 300, 128}, {65, 260, 32},
                {130, 296, 12}, {70, 1100, 64}, {66, 300, 300}, {64, 64, 64}};
  forEachVariant([&](const Variant &v) {
    for (const Shape &s : shapes)
      for (int asym = 0; asym < 2; ++asym) {
        Weight w = makeSp24(s.N, s.K, true, s.group, asym,
                            9 + s.N * 5 + s.K + s.group + asym);
        std::string what = std::string("sp24_int4_") + v.isa + " group " +
                           std::to_string(s.group) + (asym ? " asym" : " sym");
        checkKernel(what.c_str(), v.sp24int4, w, s.N + s.K + asym);
      }
  });
}

// ---- Packing, byte-exact ----

template <typename T> void put(std::vector<uint8_t> &b, size_t at, T v) {
  memcpy(b.data() + at, &v, sizeof(T));
}

std::vector<uint8_t> header(uint16_t format, int64_t N, int64_t K,
                            int64_t group, uint32_t flags, int64_t o0,
                            int64_t o1, int64_t o2, size_t total) {
  std::vector<uint8_t> b(total, 0);
  put<uint32_t>(b, 0, SQZ_UK_MAGIC);
  put<uint16_t>(b, 4, SQZ_UK_VERSION);
  put<uint16_t>(b, 6, format);
  put<int64_t>(b, 8, N);
  put<int64_t>(b, 16, K);
  put<int64_t>(b, 24, group);
  put<uint32_t>(b, 32, flags);
  put<int64_t>(b, 40, o0);
  put<int64_t>(b, 48, o1);
  put<int64_t>(b, 56, o2);
  return b;
}

std::vector<uint8_t> packedBytes(const sqz_uk_logical &l) {
  Packed p = packWeight(l);
  return std::vector<uint8_t>(p.blob, p.blob + p.bytes);
}

TEST(DenseKernels, F32PackingIsByteExact) {
  // W [3, 2] = {{1, 2}, {3, 4}, {5, 6}}: one panel of K = 2 rows of 64
  // floats, panel[k][c] = W[c, k], columns 3..63 zero.
  const float W[6] = {1, 2, 3, 4, 5, 6};
  sqz_uk_logical l{};
  l.format = SQZ_UK_F32;
  l.N = 3;
  l.K = 2;
  l.weights = W;
  std::vector<uint8_t> want =
      header(SQZ_UK_F32, 3, 2, 0, 0, 64, 0, 0, 64 + 2 * 64 * 4);
  const float col[2][3] = {{1, 3, 5}, {2, 4, 6}};
  for (int k = 0; k < 2; ++k)
    for (int c = 0; c < 3; ++c)
      put<float>(want, 64 + (k * 64 + c) * 4, col[k][c]);
  EXPECT_EQ(sqz_uk_packed_bytes(&l), (int64_t)want.size());
  EXPECT_EQ(packedBytes(l), want);
}

TEST(SparseKernels, Sp24F32PackingIsByteExact) {
  // N = 2, K = 8 (two groups). Row 0 keeps columns {1, 2} then {0, 3}
  // (nibbles 0x9, 0xC: byte 0xC9); row 1 keeps {0, 1} then {2, 3} (0x4,
  // 0xE: byte 0xE4). One panel, one block of 32 columns: meta[64] uint32
  // (padding groups and columns 0x4), then values[8][2][64] f32.
  const uint8_t idx[2] = {0xC9, 0xE4};
  const float vals[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  sqz_uk_logical l{};
  l.format = SQZ_UK_SP24_F32;
  l.N = 2;
  l.K = 8;
  l.values = vals;
  l.indices = idx;
  std::vector<uint8_t> want =
      header(SQZ_UK_SP24_F32, 2, 8, 0, 0, 64, 0, 0, 64 + 4352);
  for (int c = 0; c < 64; ++c)
    put<uint32_t>(want, 64 + 4 * c,
                  c == 0   ? 0x444444C9u
                  : c == 1 ? 0x444444E4u
                           : 0x44444444u);
  for (int n = 0; n < 2; ++n)
    for (int g = 0; g < 2; ++g)
      for (int t = 0; t < 2; ++t)
        put<float>(want, 64 + 256 + ((g * 2 + t) * 64 + n) * 4,
                   vals[n * 4 + g * 2 + t]);
  EXPECT_EQ(sqz_uk_packed_bytes(&l), (int64_t)want.size());
  EXPECT_EQ(packedBytes(l), want);
}

TEST(SparseKernels, Sp24Int4PackingIsByteExact) {
  // N = 1, K = 12 (three groups; K % 8 == 4, so the index row has
  // ceil(12/8) = 2 bytes), group 8 (G = 2, the last group ragged), asymmetric.
  // Kept codes 3, 12 | 7, 1 | 15, 0 with nibbles 0x9, 0xC, 0xD.
  const uint8_t idx[2] = {0xC9, 0x0D};
  const uint8_t codes[6] = {3, 12, 7, 1, 15, 0};
  const float scales[2] = {0.5f, 0.25f};
  const uint8_t zeros[2] = {8, 3};
  sqz_uk_logical l{};
  l.format = SQZ_UK_SP24_INT4;
  l.asymmetric = 1;
  l.N = 1;
  l.K = 12;
  l.group = 8;
  l.codes = codes;
  l.scales = scales;
  l.zeros = zeros;
  l.indices = idx;
  // Blocks at 64 (one block: meta 256 + codes 512), scales at 832
  // ([G=2][64] f32), biases -zero*scale at 832 + 512 = 1344.
  std::vector<uint8_t> want =
      header(SQZ_UK_SP24_INT4, 1, 12, 8, SQZ_UK_FLAG_ASYMMETRIC, 64, 832, 1344,
             1344 + 512);
  for (int c = 0; c < 64; ++c)
    put<uint32_t>(want, 64 + 4 * c, c == 0 ? 0x44444DC9u : 0x44444444u);
  // Word 0 of column 0: slots 0..5 -> nibbles 3, 12, 7, 1, 15, 0.
  put<uint32_t>(want, 64 + 256, 0x00F17C3u);
  put<float>(want, 832, 0.5f);
  put<float>(want, 832 + 256, 0.25f);
  put<float>(want, 1344, -4.0f);
  put<float>(want, 1344 + 256, -0.75f);
  EXPECT_EQ(sqz_uk_packed_bytes(&l), (int64_t)want.size());
  EXPECT_EQ(packedBytes(l), want);
}

TEST(SparseKernels, RejectsInvalidIndices) {
  // 0x5 names column 1 twice: not a 2:4 nibble.
  const uint8_t idx[1] = {0x54};
  const float vals[4] = {1, 2, 3, 4};
  sqz_uk_logical l{};
  l.format = SQZ_UK_SP24_F32;
  l.N = 1;
  l.K = 8;
  l.values = vals;
  l.indices = idx;
  char err[256] = {};
  EXPECT_EQ(sqz_uk_can_pack(&l, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err), "");
  l.K = 6; // not a multiple of 4
  EXPECT_EQ(sqz_uk_can_pack(&l, err, sizeof(err)), 0);
}

} // namespace
