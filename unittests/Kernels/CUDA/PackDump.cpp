//===- PackDump.cpp - Writes a packed CUDA blob, its dense weights and plans ===//
//
// Test helper for test/Kernels/CUDA/bench-layout.test, which checks that the NumPy mirror of
// the layout in bench/cuda_bench.py (its blob reader and launch plans) agrees with the C++
// packer and sqz_cuk_plan:
//   sqz-cuk-pack-dump <uk format> <N> <K> <group> <asym 0|1> <out dir>
// writes <out>/blob.bin (sqz_cuk_pack of random logical weights), <out>/dense.bin (float64
// [N, K], the logical weights) and prints one line per M in {0, 1, 8, 9, 33, 128, 200} and
// target (sm_80, then sm_90a):
//   plan <M> <symbol> <grid x> <grid y> <block x> <shared bytes> <sm: 80 | 90a>
//
//===----------------------------------------------------------------------===//

#include "TestWeights.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace sqz_cuk_test;

int main(int argc, char **argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s format N K group asym outdir\n", argv[0]);
    return 2;
  }
  Weights w = makeWeights(std::atoi(argv[1]), std::atoll(argv[2]), std::atoll(argv[3]),
                          std::atoll(argv[4]), std::atoi(argv[5]) != 0, 5);
  char err[512];
  if (!sqz_cuk_can_pack(&w.logical, err, sizeof(err))) {
    std::fprintf(stderr, "cannot pack: %s\n", err);
    return 1;
  }
  std::vector<uint8_t> blob(static_cast<size_t>(sqz_cuk_packed_bytes(&w.logical)));
  if (sqz_cuk_pack(&w.logical, blob.data()) != 0)
    return 1;
  std::string dir = argv[6];
  FILE *f = std::fopen((dir + "/blob.bin").c_str(), "wb");
  if (!f)
    return 1;
  std::fwrite(blob.data(), 1, blob.size(), f);
  std::fclose(f);
  std::vector<double> W = w.dense();
  f = std::fopen((dir + "/dense.bin").c_str(), "wb");
  if (!f)
    return 1;
  std::fwrite(W.data(), sizeof(double), W.size(), f);
  std::fclose(f);
  sqz_uk_header h;
  std::memcpy(&h, blob.data(), sizeof(h));
  for (int32_t sm : {80, 90 | SQZ_CUK_SM_ARCH_SPECIFIC})
    for (long long M : {0, 1, 8, 9, 33, 128, 200}) {
      sqz_cuk_launch l;
      if (sqz_cuk_plan(&h, M, sm, &l) != 0)
        return 1;
      std::printf("plan %lld %s %u %u %u %u %s\n", M, l.symbol, l.grid[0], l.grid[1], l.block[0],
                  l.shared_bytes, sm == 80 ? "80" : "90a");
    }
  return 0;
}
