//===- SparseGPTBench.cpp - Compression speed of SparseGPT ----------------===//
//
// The Compression I speed target: SparseGPT on one 4096x4096 linear with 128 x 512
// calibration tokens in under 2 minutes on 2 cores. Times the two phases separately:
// accumulating XᵀX over the calibration tokens (what `sqz-compile --calib-data` does per
// layer) and the SparseGPT pass itself (50% unstructured, then 2:4), and prints peak RSS.
//
//   build/bin/sqz-bench-sparsegpt [rows cols tokens]     (defaults 4096 4096 65536)
//
//===----------------------------------------------------------------------===//

#include "sqz/Compression/Pruning.h"

#include <Eigen/Core>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sys/resource.h>
#include <vector>

using namespace sqz::compression;

static double seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main(int argc, char **argv) {
  int64_t rows = argc > 1 ? std::atoll(argv[1]) : 4096;
  int64_t cols = argc > 2 ? std::atoll(argv[2]) : 4096;
  int64_t tokens = argc > 3 ? std::atoll(argv[3]) : 128 * 512;
  const int64_t batch = 512;
  std::printf("SparseGPT bench: W [%lld, %lld], %lld calibration tokens\n", (long long)rows,
              (long long)cols, (long long)tokens);
  std::mt19937 gen(0);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(rows * cols);
  for (float &x : w)
    x = normal(gen);

  // XᵀX, batch by batch (float products per batch, fp64 accumulation).
  auto start = std::chrono::steady_clock::now();
  Eigen::MatrixXd xtx = Eigen::MatrixXd::Zero(cols, cols);
  Eigen::MatrixXf x(batch, cols);
  Eigen::MatrixXf partial(cols, cols);
  for (int64_t t = 0; t < tokens; t += batch) {
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t i = 0; i < batch; ++i)
        x(i, j) = normal(gen) * (1.0f + (j % 7));
    partial.setZero();
    partial.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
    xtx += partial.cast<double>();
  }
  xtx = xtx.selfadjointView<Eigen::Lower>();
  double hessianSeconds = seconds(start);
  std::vector<double> h(xtx.data(), xtx.data() + cols * cols); // symmetric: order irrelevant
  std::printf("hessian: %.1f s\n", hessianSeconds);

  for (int variant = 0; variant < 2; ++variant) {
    SparseGPTOptions opts;
    if (variant == 1) {
      opts.n = 2;
      opts.m = 4;
    }
    std::vector<float> v = w;
    std::vector<uint8_t> keep(v.size());
    SparseGPTResult result;
    start = std::chrono::steady_clock::now();
    if (llvm::Error e = sparseGPT(v, rows, cols, h, opts, keep, result)) {
      std::fprintf(stderr, "%s\n", llvm::toString(std::move(e)).c_str());
      return 1;
    }
    std::printf("sparsegpt %s: %.1f s (loss %.4g%s)\n", variant ? "2:4" : "50%",
                seconds(start), result.loss,
                result.identityFallback ? ", identity fallback" : "");
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf("peak RSS: %.0f MiB\n", usage.ru_maxrss / 1024.0);
  return 0;
}
