//===- MemBandwidth.cpp - the machine's memory read bandwidth ------------===//
//
// sqz-bench-membw: the roof for memory-bound kernels (GEMV, LLM decode). Reads a buffer much
// larger than the last-level cache with a plain summing loop on T threads (each thread owns one
// contiguous slice, as a row-split GEMV does) and prints the best of P passes:
//
//   sqz-bench-membw [--bytes N] [--threads T] [--passes P]
//   ...
//   bandwidth 81.23 GB/s
//
// Defaults: 1 GiB, 2 threads, 10 passes. GB = 1e9 bytes. The sum is printed so the compiler
// cannot drop the loads.
//
//===----------------------------------------------------------------------===//

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// Sum of n uint64 words with 8 independent accumulators (vectorized by the compiler: the
// integer adds are associative, no fast-math needed).
uint64_t sumWords(const uint64_t *p, size_t n) {
  uint64_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += p[i + j];
  uint64_t s = 0;
  for (; i < n; ++i)
    s += p[i];
  for (int j = 0; j < 8; ++j)
    s += acc[j];
  return s;
}

bool parseSize(const char *text, long long &out) {
  char *end = nullptr;
  long long v = std::strtoll(text, &end, 10);
  if (end == text || v <= 0)
    return false;
  if (*end == 'K' || *end == 'k')
    v <<= 10, ++end;
  else if (*end == 'M' || *end == 'm')
    v <<= 20, ++end;
  else if (*end == 'G' || *end == 'g')
    v <<= 30, ++end;
  if (*end != '\0')
    return false;
  out = v;
  return true;
}

} // namespace

int main(int argc, char **argv) {
  long long bytes = 1LL << 30, threads = 2, passes = 10;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    long long *dst = a == "--bytes"     ? &bytes
                     : a == "--threads" ? &threads
                     : a == "--passes"  ? &passes
                                        : nullptr;
    if (!dst || i + 1 >= argc || !parseSize(argv[i + 1], *dst)) {
      std::fprintf(stderr, "usage: sqz-bench-membw [--bytes N[K|M|G]] [--threads T] "
                           "[--passes P]\n");
      return 2;
    }
  }
  size_t words = static_cast<size_t>(bytes) / sizeof(uint64_t);
  words -= words % (8 * static_cast<size_t>(threads));
  if (words == 0) {
    std::fprintf(stderr, "sqz-bench-membw: --bytes must be at least %lld\n", 64 * threads);
    return 2;
  }
  // aligned_alloc wants a size that is a multiple of the alignment.
  size_t allocBytes = (words * sizeof(uint64_t) + 4095) / 4096 * 4096;
  auto *buf = static_cast<uint64_t *>(std::aligned_alloc(4096, allocBytes));
  if (!buf) {
    std::fprintf(stderr, "sqz-bench-membw: cannot allocate %lld bytes\n", bytes);
    return 1;
  }
  // Touch every page from the thread that will read it (first-touch placement) with
  // non-constant data.
  size_t slice = words / threads;
  {
    std::vector<std::thread> pool;
    for (long long t = 0; t < threads; ++t)
      pool.emplace_back([=] {
        for (size_t i = t * slice; i < (t + 1) * slice; ++i)
          buf[i] = i * 0x9E3779B97F4A7C15ULL;
      });
    for (auto &th : pool)
      th.join();
  }

  // Workers 1..T-1 are persistent and released together by a generation counter; the main
  // thread reads slice 0 itself (no extra spinning thread on a machine with T cores) and times
  // from the release to the last slice's end.
  std::atomic<long long> generation{0}, done{0};
  std::vector<uint64_t> sums(threads, 0);
  std::vector<std::thread> pool;
  for (long long t = 1; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (long long g = 1; g <= passes; ++g) {
        while (generation.load(std::memory_order_acquire) < g)
          ;
        sums[t] += sumWords(buf + t * slice, slice);
        done.fetch_add(1, std::memory_order_acq_rel);
      }
    });
  double best = 0;
  uint64_t check = 0;
  for (long long g = 1; g <= passes; ++g) {
    auto start = std::chrono::steady_clock::now();
    generation.store(g, std::memory_order_release);
    sums[0] += sumWords(buf, slice);
    while (done.load(std::memory_order_acquire) < g * (threads - 1))
      ;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double gbs = static_cast<double>(words * sizeof(uint64_t)) / s / 1e9;
    std::printf("pass %lld: %.2f GB/s\n", g, gbs);
    if (gbs > best)
      best = gbs;
  }
  for (auto &th : pool)
    th.join();
  for (uint64_t s : sums)
    check ^= s;
  std::printf("read %zu bytes on %lld threads, best of %lld passes (checksum %016llx)\n",
              words * sizeof(uint64_t), threads, passes,
              static_cast<unsigned long long>(check));
  std::printf("bandwidth %.2f GB/s\n", best);
  std::free(buf);
  return 0;
}
