//===- Emulate.h - Host emulation of the PTX the CUDA kernels use ---------===//
//
// Included by lib/Kernels/CUDA/GemmCommon.cuh when SQZ_CUK_EMULATE is defined (only by
// CudaEmulatedKernelTest.cpp): the kernel code is compiled for the host and run by one
// std::thread per CUDA thread of a block, and the instructions it issues through inline PTX are
// emulated here from the PTX ISA's definitions:
//  - mma.sync.m16n8k16 .f32.f16.f16.f32 and mma.sp.sync.m16n8k32 (fragment tables of the ISA,
//    2:4 metadata: thread 4 * (row % 8) + 2 * selector + (group / 4), bits 16 * (row / 8) +
//    4 * (group % 4)) — the same reading of the ISA as the packer, so this checks the kernel's
//    indexing (chunks, windows, cp.async ring, staging, reduction, tails), not the ISA reading;
//  - ldmatrix .x2/.x4 (non-transposed, b16): lane l's register i = matrix i, row l / 4, halves
//    2 (l % 4) and + 1, row q of matrix i addressed by lane 8 i + q;
//  - wgmma.mma_async.m64n64k16 .f32.f16.f16 with A in registers (warp w: rows 16 w + the
//    m16n8k16 A table; wgmma.mma_async.sp.m64n64k32: each warp's compressed A and metadata as
//    mma.sp's) and B through a K-major, unswizzled matrix descriptor (element (k, n) at
//    start + (n / 8) * SBO + (k / 8) * LBO + (n % 8) * 16 + (k % 8) * 2; start, LBO, SBO in
//    16-byte units in bits 0-13, 16-29, 32-45), D in the m16n8 C table per 8-column block;
//    executed at issue (fence / commit / wait and fence.proxy.async are no-ops);
//  - cp.async (copied at issue; waits are no-ops), shared loads/stores, f16x2 arithmetic with
//    one rounding (_Float16), prmt.b32 (default mode, with the sign-replicate bit), bar.sync
//    (a block barrier), warp-collective exchanges.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_UNITTESTS_KERNELS_CUDA_EMULATE_H
#define SQZ_UNITTESTS_KERNELS_CUDA_EMULATE_H

#include <gtest/gtest.h>

#include <barrier>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace sqz_cuk_emu {

struct Warp {
  std::barrier<> bar{32};
  uint32_t in[32][16];
};

struct Block {
  std::vector<uint8_t> smem;
  std::barrier<> bar{128};
  Warp warps[4];
  uint32_t wgA[128][4]; // the warpgroup's A fragments (wgmma)
  uint32_t wgE[128];    // ... and 2:4 metadata (wgmma.sp)
  uint64_t wgDesc[128]; // ... descriptors and selectors (must be warpgroup-uniform)
  int wgSel[128];
  uint32_t ctaX = 0, ctaY = 0;
};

struct ThreadState {
  Block *block = nullptr;
  uint32_t tid = 0;
};

inline ThreadState &self() {
  static thread_local ThreadState s;
  return s;
}
inline uint8_t *smem() { return self().block->smem.data(); }
inline Warp &warp() { return self().block->warps[self().tid / 32]; }
inline int lane() { return static_cast<int>(self().tid % 32); }

/// Runs `kernel` (the body every thread executes) over a grid x by gy of 128-thread blocks.
inline void launch(uint32_t gx, uint32_t gy, uint32_t sharedBytes,
                   const std::function<void()> &kernel) {
  for (uint32_t by = 0; by < gy; ++by)
    for (uint32_t bx = 0; bx < gx; ++bx) {
      auto block = std::make_unique<Block>();
      // Stale shared memory, as on a GPU, and the worst kind: every half is a NaN, so any
      // uninitialised value that reached a kept output would show.
      block->smem.assign(sharedBytes, 0xFF);
      block->ctaX = bx;
      block->ctaY = by;
      std::vector<std::thread> threads;
      for (uint32_t t = 0; t < 128; ++t)
        threads.emplace_back([&, t] {
          self().block = block.get();
          self().tid = t;
          kernel();
        });
      for (auto &th : threads)
        th.join();
    }
}

inline float h2f(uint16_t h) {
  _Float16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
}
inline uint16_t f2h(float f) {
  _Float16 v = static_cast<_Float16>(f);
  uint16_t h;
  std::memcpy(&h, &v, 2);
  return h;
}
inline uint16_t lo(uint32_t v) { return static_cast<uint16_t>(v & 0xffff); }
inline uint16_t hi(uint32_t v) { return static_cast<uint16_t>(v >> 16); }
inline uint32_t pack(uint16_t l, uint16_t h) { return l | (static_cast<uint32_t>(h) << 16); }

} // namespace sqz_cuk_emu

#define sqz_cuk_dynamic_smem (::sqz_cuk_emu::smem())

namespace sqz_cuk {
namespace dev {

inline uint32_t tidX() { return sqz_cuk_emu::self().tid; }
inline uint32_t ctaX() { return sqz_cuk_emu::self().block->ctaX; }
inline uint32_t ctaY() { return sqz_cuk_emu::self().block->ctaY; }
inline void barSync() { sqz_cuk_emu::self().block->bar.arrive_and_wait(); }
inline void warpSync() { sqz_cuk_emu::warp().bar.arrive_and_wait(); }
inline uint32_t sharedAddr(const void *p) {
  return static_cast<uint32_t>(static_cast<const uint8_t *>(p) - sqz_cuk_emu::smem());
}
inline void cpAsync16(uint32_t dst, const void *src) {
  std::memcpy(sqz_cuk_emu::smem() + dst, src, 16);
}
inline void cpAsyncCommit() {}
template <int N> inline void cpAsyncWait() {}
inline U4 ldShared128(uint32_t addr) {
  U4 v;
  std::memcpy(&v, sqz_cuk_emu::smem() + addr, 16);
  return v;
}
inline F4 ldgF4(const float *p) {
  F4 v;
  std::memcpy(&v, p, 16);
  return v;
}
inline uint32_t ldgU32(const void *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void stShared64(uint32_t addr, uint32_t l, uint32_t h) {
  std::memcpy(sqz_cuk_emu::smem() + addr, &l, 4);
  std::memcpy(sqz_cuk_emu::smem() + addr + 4, &h, 4);
}

inline void ldmatrix(uint32_t addr, int count, uint32_t *out) {
  using namespace sqz_cuk_emu;
  Warp &w = warp();
  const int l = lane();
  w.in[l][0] = addr;
  w.bar.arrive_and_wait();
  for (int i = 0; i < count; ++i) {
    uint32_t rowAddr = w.in[8 * i + l / 4][0];
    std::memcpy(&out[i], smem() + rowAddr + 4 * (l % 4), 4);
  }
  w.bar.arrive_and_wait();
}
inline void ldmatrixX4(uint32_t addr, uint32_t &b0, uint32_t &b1, uint32_t &b2, uint32_t &b3) {
  uint32_t o[4];
  ldmatrix(addr, 4, o);
  b0 = o[0];
  b1 = o[1];
  b2 = o[2];
  b3 = o[3];
}
inline void ldmatrixX2(uint32_t addr, uint32_t &b0, uint32_t &b1) {
  uint32_t o[2];
  ldmatrix(addr, 2, o);
  b0 = o[0];
  b1 = o[1];
}

/// Shared part of the two mma emulations: every lane publishes A (4 regs), B (nb regs) and its
/// metadata; each lane then computes its 4 accumulators.
inline void mmaEmu(float (&d)[4], const uint32_t (&a)[4], const uint32_t *b, int nb, bool sparse,
                   uint32_t e, int sel) {
  using namespace sqz_cuk_emu;
  Warp &w = warp();
  const int l = lane();
  for (int r = 0; r < 4; ++r)
    w.in[l][r] = a[r];
  for (int j = 0; j < nb; ++j)
    w.in[l][4 + j] = b[j];
  w.in[l][8] = e;
  w.bar.arrive_and_wait();
  const int K = sparse ? 32 : 16;
  float A[16][32] = {}, B[32][8] = {};
  for (int ln = 0; ln < 32; ++ln) {
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) {
        int row = ln / 4 + 8 * (r & 1), col = 2 * (ln % 4) + h + 8 * (r >> 1);
        float v = h2f(h ? hi(w.in[ln][r]) : lo(w.in[ln][r]));
        if (!sparse) {
          A[row][col] = v;
          continue;
        }
        // Compressed column col = kept value col % 2 of 4-column group col / 2.
        int grp = col / 2;
        int mlane = 4 * (row % 8) + 2 * sel + grp / 4;
        unsigned nib = (w.in[mlane][8] >> (16 * (row / 8) + 4 * (grp % 4))) & 15u;
        int idx = col % 2 ? (nib >> 2) & 3 : nib & 3;
        A[row][4 * grp + idx] = v;
      }
    for (int j = 0; j < nb; ++j)
      for (int h = 0; h < 2; ++h)
        B[2 * (ln % 4) + h + 8 * j][ln / 4] = h2f(h ? hi(w.in[ln][4 + j]) : lo(w.in[ln][4 + j]));
  }
  for (int i = 0; i < 4; ++i) {
    int row = l / 4 + 8 * (i >> 1), col = 2 * (l % 4) + (i & 1);
    float s = d[i];
    for (int k = 0; k < K; ++k)
      s += A[row][k] * B[k][col];
    d[i] = s;
  }
  w.bar.arrive_and_wait();
}
inline void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  uint32_t b[2] = {b0, b1};
  mmaEmu(d, a, b, 2, false, 0, 0);
}
template <int SEL>
inline void mmaSp16832(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                       uint32_t b2, uint32_t b3, uint32_t e) {
  uint32_t b[4] = {b0, b1, b2, b3};
  mmaEmu(d, a, b, 4, true, e, SEL);
}

inline void fenceProxyAsync() {}
inline void wgmmaFence() {}
inline void wgmmaCommit() {}
template <int N> inline void wgmmaWait() {}
/// The block (one warpgroup) publishes its A fragments (and 2:4 metadata); each thread then
/// computes its own 32 accumulators from all of A and from B in shared memory through the
/// descriptor. sparse: A is 64 x 32 dense, given as each warp's compressed 16 x 16 in the
/// mma.sp m16n8k32 layout with the mma.sp .f16 metadata of selector sel (as mmaEmu reads it).
inline void wgmmaEmu(float (&d)[8][4], const uint32_t (&a)[4], uint64_t desc, bool sparse,
                     uint32_t e, int sel) {
  using namespace sqz_cuk_emu;
  Block &blk = *self().block;
  const uint32_t t = self().tid;
  for (int r = 0; r < 4; ++r)
    blk.wgA[t][r] = a[r];
  blk.wgE[t] = e;
  blk.wgDesc[t] = desc;
  blk.wgSel[t] = sel;
  blk.bar.arrive_and_wait();
  // The descriptor must be the same in every thread ("the contents of a matrix descriptor must
  // be same across all the warps in the warpgroup"); so must the selector (an immediate).
  if (t == 0)
    for (int u = 1; u < 128; ++u) {
      EXPECT_EQ(blk.wgDesc[u], desc) << "thread " << u << ": a non-uniform wgmma descriptor";
      EXPECT_EQ(blk.wgSel[u], sel) << "thread " << u << ": a non-uniform sparsity selector";
    }
  EXPECT_EQ(desc >> 62, 0u) << "swizzled layouts are not emulated";
  EXPECT_EQ((desc >> 49) & 7u, 0u) << "base offset must be 0";
  const uint32_t start = static_cast<uint32_t>(desc & 0x3FFFu) << 4;
  const uint32_t lbo = static_cast<uint32_t>((desc >> 16) & 0x3FFFu) << 4;
  const uint32_t sbo = static_cast<uint32_t>((desc >> 32) & 0x3FFFu) << 4;
  const int K = sparse ? 32 : 16;
  auto B = [&](int k, int n) {
    uint16_t hv;
    const size_t at = start + (n / 8) * sbo + (k / 8) * lbo + (n % 8) * 16 + (k % 8) * 2;
    EXPECT_LE(at + 2, blk.smem.size()) << "wgmma B read past the shared memory";
    std::memcpy(&hv, smem() + at, 2);
    return h2f(hv);
  };
  // The 64 x K A operand, from the fragments: m16n8k16 A table per warp (lane (g, t), register
  // r, half h: row g + 8 (r & 1), column 2 t + h + 8 (r >> 1)); sparse: that column is the
  // compressed one, placed by the metadata nibble as in mmaEmu.
  // A thread's outputs need only its own warp's 16 rows of A.
  const int w = static_cast<int>(t / 32), l = static_cast<int>(t % 32);
  float A[64][32] = {};
  for (int ln = 0; ln < 32; ++ln)
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) {
        const int row = ln / 4 + 8 * (r & 1), col = 2 * (ln % 4) + h + 8 * (r >> 1);
        const uint32_t v = blk.wgA[32 * w + ln][r];
        const float f = h2f(h ? hi(v) : lo(v));
        if (!sparse) {
          A[16 * w + row][col] = f;
          continue;
        }
        const int grp = col / 2;
        const int mlane = 4 * (row % 8) + 2 * sel + grp / 4;
        const unsigned nib =
            (blk.wgE[32 * w + mlane] >> (16 * (row / 8) + 4 * (grp % 4))) & 15u;
        const int idx = col % 2 ? (nib >> 2) & 3 : nib & 3;
        A[16 * w + row][4 * grp + idx] = f;
      }
  for (int j = 0; j < 8; ++j)
    for (int i = 0; i < 4; ++i) {
      const int row = 16 * w + l / 4 + 8 * (i >> 1), col = 8 * j + 2 * (l % 4) + (i & 1);
      float s = d[j][i];
      for (int k = 0; k < K; ++k)
        s += A[row][k] * B(k, col);
      d[j][i] = s;
    }
  blk.bar.arrive_and_wait();
}
inline void wgmma64x64x16(float (&d)[8][4], const uint32_t (&a)[4], uint64_t desc) {
  wgmmaEmu(d, a, desc, false, 0, 0);
}
template <int SEL>
inline void wgmmaSp64x64x32(float (&d)[8][4], const uint32_t (&a)[4], uint64_t desc, uint32_t e) {
  wgmmaEmu(d, a, desc, true, e, SEL);
}

inline uint32_t hsub2(uint32_t a, uint32_t b) {
  using namespace sqz_cuk_emu;
  return pack(f2h(h2f(lo(a)) - h2f(lo(b))), f2h(h2f(hi(a)) - h2f(hi(b))));
}
inline uint32_t hmul2(uint32_t a, uint32_t b) {
  using namespace sqz_cuk_emu;
  return pack(f2h(h2f(lo(a)) * h2f(lo(b))), f2h(h2f(hi(a)) * h2f(hi(b))));
}
inline uint32_t prmt(uint32_t a, uint32_t b, uint32_t c) {
  const uint64_t bytes = a | (static_cast<uint64_t>(b) << 32);
  uint32_t d = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned sel = (c >> (4 * i)) & 15u;
    uint32_t v = static_cast<uint32_t>(bytes >> (8 * (sel & 7u))) & 0xFFu;
    if (sel & 8u)
      v = (v & 0x80u) ? 0xFFu : 0u;
    d |= v << (8 * i);
  }
  return d;
}
inline uint32_t packHalf2(float l, float h) {
  using namespace sqz_cuk_emu;
  return pack(f2h(l), f2h(h));
}

} // namespace dev
} // namespace sqz_cuk

#endif // SQZ_UNITTESTS_KERNELS_CUDA_EMULATE_H
