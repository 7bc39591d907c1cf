//===- KernelBench.cpp - the CPU microkernels with cold weights ----------===//
//
// sqz-bench-kernels (Google Benchmark): every weight format of the microkernel registry
// (lib/Kernels/CPU; f32 and the 2:4 formats too when they are built; int8, int4 and nf4 both
// with the fp32-dequantization path and, as <format>_a8, the int8-activation path) at
// N x K = 4096 x 4096, 14336 x 4096 and 4096 x 14336 (W is [N, K], y = x W^T), batch
// M = 1, 8, 32, on T threads (default 2) that split N into ranges at multiples of
// SQZ_UK_N_STEP as generated code does.
//
// Weights are cold: each case packs one weight and cycles through enough distinct copies of
// the blob to read >= --copies-mb (default 640) MB, so a matrix that fits in the last-level
// cache is not re-read from it. The machine's read bandwidth is measured in the same run,
// before the cases, with bench/MemBandwidth.cpp's summing loop over >= 1 GiB on the same
// threads (best of 5 passes).
//
// Per case, counters: us (median time per call; us_mean the mean), GBps (packed bytes incl.
// scales / time), roof_pct (GBps as % of the measured bandwidth), GFLOPs (2 M N K / time), bpw
// (packed bits per weight). bench/kernel_bench.py runs this with --benchmark_format=json and adds
// onnxruntime's MatMulNBits.
//
//   sqz-bench-kernels [--isa=generic|avx2|avx512|avx512vnni] [--threads=T] [--copies-mb=MB]
//                     [--formats=int4_g128,int4_g128_a8,nf4_g64,...]
//                     [--shapes=4096x4096,...] [--batches=1,8] [benchmark flags]
//
//===----------------------------------------------------------------------===//

#include "Microkernels.h"

// The bandwidth read loop (sumWords) of sqz-bench-membw, reused as is.
#define main sqzMemBandwidthMain
#include "MemBandwidth.cpp"
#undef main

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

//===----------------------------------------------------------------------===//
// Threads: T - 1 persistent workers released by a generation counter; the caller runs part 0.
//===----------------------------------------------------------------------===//

class Pool {
public:
  explicit Pool(int threads) : threads_(threads) {
    for (int t = 1; t < threads; ++t)
      workers_.emplace_back([this, t] { loop(t); });
  }
  ~Pool() {
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
    for (auto &w : workers_)
      w.join();
  }
  int threads() const { return threads_; }
  /// Runs job(t) for t in [0, threads) and waits for all.
  void run(const std::function<void(int)> &job) {
    job_ = &job;
    done_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    job(0);
    while (done_.load(std::memory_order_acquire) < threads_ - 1)
      ;
  }

private:
  void loop(int t) {
    long long seen = 0;
    for (;;) {
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen)
        if (++spins > (1 << 16))
          std::this_thread::yield();
      seen = generation_.load(std::memory_order_acquire);
      if (stop_)
        return;
      (*job_)(t);
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  int threads_;
  std::vector<std::thread> workers_;
  std::atomic<long long> generation_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)> *job_ = nullptr;
};

/// The N range of thread t: N split at multiples of SQZ_UK_N_STEP.
std::pair<int64_t, int64_t> rangeOf(int64_t N, int t, int threads) {
  int64_t steps = (N + SQZ_UK_N_STEP - 1) / SQZ_UK_N_STEP;
  int64_t s0 = steps * t / threads, s1 = steps * (t + 1) / threads;
  return {std::min(N, s0 * SQZ_UK_N_STEP), std::min(N, s1 * SQZ_UK_N_STEP)};
}

double measureBandwidth(Pool &pool, int64_t bytes, int passes) {
  int T = pool.threads();
  size_t words = static_cast<size_t>(bytes) / sizeof(uint64_t);
  words -= words % (8 * static_cast<size_t>(T));
  size_t slice = words / T;
  auto *buf = static_cast<uint64_t *>(std::aligned_alloc(4096, (words * 8 + 4095) / 4096 * 4096));
  pool.run([&](int t) {
    for (size_t i = t * slice; i < (t + 1) * slice; ++i)
      buf[i] = i * 0x9E3779B97F4A7C15ULL;
  });
  std::vector<uint64_t> sums(T, 0);
  double best = 0;
  for (int p = 0; p < passes; ++p) {
    auto start = std::chrono::steady_clock::now();
    pool.run([&](int t) { sums[t] += sumWords(buf + t * slice, slice); });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, words * 8.0 / s / 1e9);
  }
  uint64_t check = 0;
  for (uint64_t s : sums)
    check ^= s;
  std::fprintf(stderr, "bandwidth: %.2f GB/s (%zu bytes on %d threads, best of %d; %016llx)\n",
               best, words * 8, T, passes, static_cast<unsigned long long>(check));
  std::free(buf);
  return best;
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

struct FormatConfig {
  const char *name;
  int32_t format;
  int64_t group; // 0: per-channel
  bool asym;
  bool actInt8 = false; // packed with sqz_uk_logical::act_int8 (the int8-activation path)
};

// "<format>" runs the fp32-dequantization path, "<format>_a8" the int8-activation path
// (docs/Kernels.md) of the same weight.
const FormatConfig kConfigs[] = {
    {"f32", SQZ_UK_F32, 0, false},
    {"int8", SQZ_UK_INT8, 0, false},
    {"int8_a8", SQZ_UK_INT8, 0, false, true},
    {"int4_g128", SQZ_UK_INT4, 128, false},
    {"int4_g128_a8", SQZ_UK_INT4, 128, false, true},
    {"int4_g128_asym", SQZ_UK_INT4, 128, true},
    {"int4_g128_asym_a8", SQZ_UK_INT4, 128, true, true},
    {"int4_g32", SQZ_UK_INT4, 32, false},
    {"int4_g32_a8", SQZ_UK_INT4, 32, false, true},
    {"nf4_g64", SQZ_UK_NF4, 64, false},
    {"nf4_g64_a8", SQZ_UK_NF4, 64, false, true},
    {"ternary2", SQZ_UK_TERNARY2, 0, false},
    {"ternary16", SQZ_UK_TERNARY16, 0, false},
    {"sp24_f32", SQZ_UK_SP24_F32, 0, false},
    {"sp24_int4_g128", SQZ_UK_SP24_INT4, 128, false},
};

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  float uniform() { return (next() >> 40) * (1.0f / 16777216.0f); }
};

/// One packed weight, as `copies` distinct 64-byte aligned blobs.
struct Packed {
  int64_t bytes = 0;
  std::vector<uint8_t *> copies;
  ~Packed() {
    for (uint8_t *c : copies)
      std::free(c);
  }
};

std::unique_ptr<Packed> makePacked(const FormatConfig &c, int64_t N, int64_t K,
                                   int64_t copiesBytes) {
  Rng rng{0x1234567ULL + N * 31 + K};
  sqz_uk_logical w;
  std::memset(&w, 0, sizeof(w));
  w.format = c.format;
  w.asymmetric = c.asym;
  w.act_int8 = c.actInt8;
  w.N = N;
  w.K = K;
  w.group = c.group ? c.group : K;
  int64_t groups = (K + w.group - 1) / w.group;
  std::vector<float> weights, values, scales;
  std::vector<uint8_t> codes, zeros, indices;
  bool sparse = c.format == SQZ_UK_SP24_F32 || c.format == SQZ_UK_SP24_INT4;
  int64_t cols = sparse ? K / 2 : K;
  if (c.format == SQZ_UK_F32 || c.format == SQZ_UK_SP24_F32) {
    auto &v = c.format == SQZ_UK_F32 ? weights : values;
    v.resize(N * cols);
    for (auto &x : v)
      x = rng.uniform() - 0.5f;
    w.weights = weights.data();
    w.values = values.data();
  } else {
    unsigned maxCode = c.format == SQZ_UK_INT8                                       ? 255
                       : c.format == SQZ_UK_TERNARY2 || c.format == SQZ_UK_TERNARY16 ? 2
                                                                                     : 15;
    codes.resize(N * cols);
    for (auto &x : codes)
      x = static_cast<uint8_t>(rng.next() % (maxCode + 1));
    scales.resize(N * groups);
    for (auto &x : scales)
      x = 0.001f + 0.01f * rng.uniform();
    if (c.asym) {
      zeros.resize(N * groups);
      for (auto &x : zeros)
        x = static_cast<uint8_t>(rng.next() % (maxCode + 1));
    }
    w.codes = codes.data();
    w.scales = scales.data();
    w.zeros = c.asym ? zeros.data() : nullptr;
  }
  if (sparse) {
    // Valid 2:4 nibbles: (lo, hi) with lo < hi.
    static const uint8_t nibbles[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};
    indices.resize(N * ((K + 7) / 8));
    for (auto &x : indices)
      x = static_cast<uint8_t>(nibbles[rng.next() % 6] | nibbles[rng.next() % 6] << 4);
    w.indices = indices.data();
  }
  char error[512];
  if (!sqz_uk_can_pack(&w, error, sizeof(error))) {
    std::fprintf(stderr, "%s: cannot pack: %s\n", c.name, error);
    return nullptr;
  }
  auto p = std::make_unique<Packed>();
  p->bytes = sqz_uk_packed_bytes(&w);
  int64_t alloc = (p->bytes + 63) / 64 * 64;
  auto *first = static_cast<uint8_t *>(std::aligned_alloc(64, alloc));
  if (sqz_uk_pack(&w, first) != 0) {
    std::free(first);
    return nullptr;
  }
  const auto *header = reinterpret_cast<const sqz_uk_header *>(first);
  if (c.actInt8 && !(header->flags & SQZ_UK_FLAG_ACT_INT8)) {
    std::fprintf(stderr, "%s: the packer did not take the int8-activation path\n", c.name);
    std::free(first);
    return nullptr;
  }
  p->copies.push_back(first);
  int64_t n = std::max<int64_t>(2, (copiesBytes + p->bytes - 1) / p->bytes);
  for (int64_t i = 1; i < n; ++i) {
    auto *c2 = static_cast<uint8_t *>(std::aligned_alloc(64, alloc));
    std::memcpy(c2, first, p->bytes);
    p->copies.push_back(c2);
  }
  return p;
}

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

struct Options {
  std::string isa;
  int threads = 2;
  int64_t copiesMB = 640;
  std::vector<std::string> formats, shapes = {"4096x4096", "14336x4096", "4096x14336"};
  std::vector<int64_t> batches = {1, 8, 32};
};

std::vector<std::string> splitList(const std::string &s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos)
      end = s.size();
    if (end > start)
      out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string bestIsa() {
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (avx512 && __builtin_cpu_supports("avx512vnni"))
    return "avx512vnni";
  return avx512 ? "avx512" : avx2 ? "avx2" : "generic";
}

int isaLevel(const std::string &isa) {
  return isa == "avx512vnni" ? SQZ_UK_ISA_AVX512VNNI
         : isa == "avx512"   ? SQZ_UK_ISA_AVX512
         : isa == "avx2"     ? SQZ_UK_ISA_AVX2
                             : SQZ_UK_ISA_GENERIC;
}

} // namespace

int main(int argc, char **argv) {
  Options opt;
  std::vector<char *> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *prefix) -> const char * {
      size_t n = std::strlen(prefix);
      return a.compare(0, n, prefix) == 0 ? argv[i] + n : nullptr;
    };
    if (const char *v = value("--isa="))
      opt.isa = v;
    else if (const char *v = value("--threads="))
      opt.threads = std::max(1, std::atoi(v));
    else if (const char *v = value("--copies-mb="))
      opt.copiesMB = std::max(1, std::atoi(v));
    else if (const char *v = value("--formats="))
      opt.formats = splitList(v);
    else if (const char *v = value("--shapes="))
      opt.shapes = splitList(v);
    else if (const char *v = value("--batches=")) {
      opt.batches.clear();
      for (auto &b : splitList(v))
        opt.batches.push_back(std::atoll(b.c_str()));
    } else
      rest.push_back(argv[i]);
  }
  if (opt.isa.empty())
    opt.isa = bestIsa();
  int restArgc = static_cast<int>(rest.size());
  benchmark::Initialize(&restArgc, rest.data());

  static Pool pool(opt.threads);
  static double bandwidth = measureBandwidth(pool, int64_t(1) << 30, 5);
  benchmark::AddCustomContext("isa", opt.isa);
  benchmark::AddCustomContext("threads", std::to_string(opt.threads));
  benchmark::AddCustomContext("membw_GBps", std::to_string(bandwidth));
  benchmark::AddCustomContext("copies_MB", std::to_string(opt.copiesMB));

  for (const FormatConfig &c : kConfigs) {
    if (!opt.formats.empty() &&
        std::find(opt.formats.begin(), opt.formats.end(), c.name) == opt.formats.end())
      continue;
    const char *symbol = sqz_uk_kernel_symbol(c.format, isaLevel(opt.isa));
    sqz_uk_kernel_fn fn = symbol ? sqz_uk_lookup(symbol) : nullptr;
    if (!fn)
      continue; // format not built
    for (const std::string &shape : opt.shapes) {
      int64_t N = 0, K = 0;
      if (std::sscanf(shape.c_str(), "%ldx%ld", &N, &K) != 2 || N <= 0 || K <= 0) {
        std::fprintf(stderr, "bad shape '%s' (expected NxK)\n", shape.c_str());
        return 2;
      }
      for (int64_t M : opt.batches) {
        std::string name = std::string(c.name) + "/" + shape + "/M" + std::to_string(M);
        FormatConfig cfg = c;
        int64_t copiesBytes = opt.copiesMB * 1000000;
        benchmark::RegisterBenchmark(
            name.c_str(),
            [cfg, fn, N, K, M, copiesBytes](benchmark::State &state) {
              // The batches of one format and shape share the packed copies (the framework
              // also calls this function more than once per case).
              static std::string cachedKey;
              static std::unique_ptr<Packed> cached;
              std::string key =
                  std::string(cfg.name) + "/" + std::to_string(N) + "x" + std::to_string(K);
              if (key != cachedKey) {
                cached.reset();
                cached = makePacked(cfg, N, K, copiesBytes);
                cachedKey = key;
              }
              Packed *p = cached.get();
              if (!p) {
                state.SkipWithError("cannot pack");
                return;
              }
              Rng rng{42};
              std::vector<float> x(M * K), y(M * N), bias(N);
              for (auto &v : x)
                v = rng.uniform() - 0.5f;
              for (auto &v : bias)
                v = rng.uniform();
              int T = pool.threads();
              size_t copy = 0;
              const uint8_t *blob = nullptr;
              std::function<void(int)> job = [&](int t) {
                auto [n0, n1] = rangeOf(N, t, T);
                if (n0 < n1)
                  fn(blob, x.data(), M, K, bias.data(), y.data(), N, n0, n1);
              };
              double total = 0;
              int64_t iters = 0;
              std::vector<double> times;
              for (auto _ : state) {
                blob = p->copies[copy];
                copy = (copy + 1) % p->copies.size();
                auto start = std::chrono::steady_clock::now();
                pool.run(job);
                double s =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                state.SetIterationTime(s);
                total += s;
                ++iters;
                times.push_back(s);
              }
              // The median call (as bench/kernel_bench.py takes onnxruntime's median): robust
              // to a thread descheduled on a shared machine; us_mean has the mean.
              double t = total / std::max<int64_t>(iters, 1);
              state.counters["us_mean"] = t * 1e6;
              if (!times.empty()) {
                std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
                t = times[times.size() / 2];
              }
              double gbps = p->bytes / t / 1e9;
              state.counters["us"] = t * 1e6;
              state.counters["GBps"] = gbps;
              state.counters["roof_pct"] = 100.0 * gbps / bandwidth;
              state.counters["GFLOPs"] = 2.0 * M * N * K / t / 1e9;
              state.counters["bpw"] = 8.0 * p->bytes / (double(N) * K);
              state.counters["copies"] = static_cast<double>(p->copies.size());
              benchmark::DoNotOptimize(y.data());
            })
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->MinTime(0.25);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
