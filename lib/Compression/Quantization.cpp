//===- Quantization.cpp - Quantization math: RTN, GPTQ, AWQ, NF4, ... -----===//

#include "sqz/Compression/Quantization.h"

#include "OBS.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace sqz::compression;
using llvm::ArrayRef;

using sqz::compression::obs::RowMajor;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

double sqz::compression::roundHalfEven(double x) {
  double r = std::floor(x), diff = x - r; // exact
  if (diff > 0.5 || (diff == 0.5 && std::fmod(r, 2.0) != 0.0))
    r += 1.0;
  return r;
}

//===----------------------------------------------------------------------===//
// QuantizedMatrix
//===----------------------------------------------------------------------===//

static int64_t groupCount(int64_t cols, int64_t groupSize) {
  return groupSize < 0 ? 1 : (cols + groupSize - 1) / groupSize;
}

int64_t QuantizedMatrix::groups() const { return groupCount(cols, groupSize); }

static int implicitZero(QuantFormat format, int64_t bits) {
  switch (format) {
  case QuantFormat::Symmetric:
  case QuantFormat::SymmetricAbsmax:
    return 1 << (bits - 1);
  case QuantFormat::Ternary:
    return 1;
  case QuantFormat::Asymmetric:
  case QuantFormat::NF4:
    return 0;
  }
  return 0;
}

int QuantizedMatrix::zeroPoint(int64_t row, int64_t group) const {
  if (format == QuantFormat::Asymmetric)
    return zeros[row * groups() + group];
  return implicitZero(format, bits);
}

int QuantizedMatrix::logical(int64_t row, int64_t col) const {
  return int(codes[row * cols + col]) - zeroPoint(row, groupOf(col));
}

float QuantizedMatrix::dequantize(int64_t row, int64_t col) const {
  float s = scales[row * groups() + groupOf(col)];
  if (format == QuantFormat::NF4)
    return s * nf4Table()[codes[row * cols + col]];
  return s * static_cast<float>(logical(row, col));
}

std::vector<float> QuantizedMatrix::dequantize() const {
  std::vector<float> w(rows * cols);
  llvm::parallelFor(0, rows, [&](size_t r) {
    for (int64_t c = 0; c < cols; ++c)
      w[r * cols + c] = dequantize(r, c);
  });
  return w;
}

//===----------------------------------------------------------------------===//
// The uniform quantizer (RTN, GPTQ, AWQ)
//===----------------------------------------------------------------------===//

namespace {
/// The parameters of one group: code = clamp(round(w / scale) + zero, lo, hi).
struct GroupParams {
  float scale = 0;
  int zero = 0, lo = 0, hi = 0;
};
} // namespace

/// `find_params` on the values [begin, end) (float, as the reference).
template <typename T>
static GroupParams findParams(QuantFormat format, int64_t bits, const T *begin, const T *end) {
  int maxq = (1 << bits) - 1;
  float lo = 0, hi = 0; // the range always contains 0
  for (const T *p = begin; p != end; ++p) {
    float w = static_cast<float>(*p);
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  GroupParams g;
  g.lo = 0;
  g.hi = maxq;
  switch (format) {
  case QuantFormat::Asymmetric:
    if (lo == 0 && hi == 0)
      return g; // scale 0: code = zero = 0
    g.scale = (hi - lo) / static_cast<float>(maxq);
    g.zero = static_cast<int>(roundHalfEven(-lo / g.scale));
    g.zero = std::clamp(g.zero, 0, maxq);
    return g;
  case QuantFormat::Symmetric: {
    float absmax = std::max(-lo, hi);
    g.zero = 1 << (bits - 1);
    if (absmax != 0)
      g.scale = (absmax + absmax) / static_cast<float>(maxq);
    return g;
  }
  case QuantFormat::SymmetricAbsmax: {
    float absmax = std::max(-lo, hi);
    g.zero = 1 << (bits - 1);
    g.lo = 1;
    if (absmax != 0)
      g.scale = absmax / static_cast<float>(g.zero - 1);
    return g;
  }
  case QuantFormat::NF4:
  case QuantFormat::Ternary:
    break;
  }
  return g;
}

static uint8_t quantizeValue(const GroupParams &g, float w) {
  if (g.scale == 0)
    return static_cast<uint8_t>(g.zero);
  double q = roundHalfEven(w / g.scale) + g.zero; // float quotient, as torch
  return static_cast<uint8_t>(std::clamp(q, double(g.lo), double(g.hi)));
}

static float dequantizeValue(const GroupParams &g, uint8_t code) {
  return g.scale * static_cast<float>(int(code) - g.zero);
}

llvm::Error sqz::compression::checkQuantOptions(const QuantOptions &options, int64_t cols) {
  if (options.format != QuantFormat::Asymmetric && options.format != QuantFormat::Symmetric &&
      options.format != QuantFormat::SymmetricAbsmax)
    return makeError("uniform quantization needs the asymmetric or a symmetric format");
  if (options.bits != 2 && options.bits != 3 && options.bits != 4 && options.bits != 8)
    return makeError(llvm::formatv("bits must be 2, 3, 4 or 8, got {0}", options.bits));
  if (options.groupSize == 0 || options.groupSize < -1)
    return makeError(llvm::formatv("the group size must be positive or -1 (one group per "
                                   "row), got {0}",
                                   options.groupSize));
  if (cols <= 0)
    return makeError("the weight has no columns");
  return llvm::Error::success();
}

static QuantizedMatrix emptyResult(QuantFormat format, int64_t bits, int64_t groupSize,
                                   int64_t rows, int64_t cols) {
  QuantizedMatrix q;
  q.format = format;
  q.bits = bits;
  q.groupSize = groupSize;
  q.rows = rows;
  q.cols = cols;
  q.codes.assign(rows * cols, 0);
  q.scales.assign(rows * q.groups(), 0.0f);
  if (format == QuantFormat::Asymmetric)
    q.zeros.assign(rows * q.groups(), 0);
  return q;
}

static void storeParams(QuantizedMatrix &q, int64_t r, int64_t g, const GroupParams &p) {
  q.scales[r * q.groups() + g] = p.scale;
  if (!q.zeros.empty())
    q.zeros[r * q.groups() + g] = static_cast<uint8_t>(p.zero);
}

llvm::Expected<QuantizedMatrix> sqz::compression::quantizeRTN(ArrayRef<float> weight, int64_t rows,
                                                              int64_t cols,
                                                              const QuantOptions &options) {
  if (llvm::Error e = checkQuantOptions(options, cols))
    return std::move(e);
  if (static_cast<int64_t>(weight.size()) != rows * cols)
    return makeError("the weight must have rows * cols entries");
  QuantizedMatrix q = emptyResult(options.format, options.bits, options.groupSize, rows, cols);
  int64_t size = options.groupSize < 0 ? cols : options.groupSize;
  llvm::parallelFor(0, rows, [&](size_t r) {
    const float *row = weight.data() + r * cols;
    for (int64_t g = 0, c0 = 0; c0 < cols; ++g, c0 += size) {
      int64_t c1 = std::min(c0 + size, cols);
      GroupParams p = findParams(options.format, options.bits, row + c0, row + c1);
      storeParams(q, r, g, p);
      for (int64_t c = c0; c < c1; ++c)
        q.codes[r * cols + c] = quantizeValue(p, row[c]);
    }
  });
  return q;
}

//===----------------------------------------------------------------------===//
// GPTQ
//===----------------------------------------------------------------------===//

llvm::Expected<QuantizedMatrix> sqz::compression::gptq(ArrayRef<float> weight, int64_t rows,
                                                       int64_t cols, ArrayRef<double> xtx,
                                                       const GPTQOptions &options,
                                                       GPTQResult &result) {
  result = GPTQResult();
  const QuantOptions &qo = options.quant;
  if (llvm::Error e = checkQuantOptions(qo, cols))
    return std::move(e);
  if (static_cast<int64_t>(weight.size()) != rows * cols)
    return makeError("the weight must have rows * cols entries");
  if (static_cast<int64_t>(xtx.size()) != cols * cols)
    return makeError(llvm::formatv("the Hessian must be [{0}, {0}]", cols));
  if (options.blockSize <= 0)
    return makeError("the block size must be positive");
  if (!(options.percDamp >= 0.0))
    return makeError("the damping must not be negative");
  if (!options.keep.empty() && static_cast<int64_t>(options.keep.size()) != rows * cols)
    return makeError("the keep mask must have rows * cols entries");
  // Whether weight (r, original column c) is kept (not pruned).
  auto kept = [&](int64_t r, int64_t c) {
    return options.keep.empty() || options.keep[r * cols + c] != 0;
  };

  QuantizedMatrix q = emptyResult(qo.format, qo.bits, qo.groupSize, rows, cols);
  int64_t groups = q.groups();
  bool grouped = qo.groupSize > 0;
  bool staticGroups = grouped && (options.staticGroups || options.actOrder);
  std::vector<GroupParams> params(rows * groups);

  // One group per row: parameters from the original weights (the reference's first
  // find_params, before dead columns are zeroed).
  if (!grouped)
    llvm::parallelFor(0, rows, [&](size_t r) {
      std::vector<float> row(weight.begin() + r * cols, weight.begin() + (r + 1) * cols);
      for (int64_t c = 0; c < cols; ++c)
        if (!kept(r, c))
          row[c] = 0.0f;
      params[r] = findParams(qo.format, qo.bits, row.data(), row.data() + cols);
    });

  RowMajor h = Eigen::Map<const RowMajor>(xtx.data(), cols, cols);
  RowMajor wd =
      Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          weight.data(), rows, cols)
          .cast<double>();
  for (int64_t j = 0; j < cols; ++j) {
    if (h(j, j) != 0.0)
      continue;
    ++result.deadColumns;
    h(j, j) = 1.0;
    wd.col(j).setZero();
  }

  if (staticGroups)
    llvm::parallelFor(0, rows, [&](size_t r) {
      std::vector<float> row(cols);
      for (int64_t c = 0; c < cols; ++c)
        row[c] = kept(r, c) ? static_cast<float>(wd(r, c)) : 0.0f;
      for (int64_t g = 0; g < groups; ++g)
        params[r * groups + g] = findParams(qo.format, qo.bits, row.data() + g * qo.groupSize,
                                            row.data() + std::min((g + 1) * qo.groupSize, cols));
    });

  // act-order: decreasing diag(H) (after the dead-column fix), ties by lower index.
  std::vector<int64_t> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  if (options.actOrder) {
    std::sort(perm.begin(), perm.end(),
              [&](int64_t a, int64_t b) { return h(a, a) != h(b, b) ? h(a, a) > h(b, b) : a < b; });
    RowMajor hp(cols, cols), wp(rows, cols);
    for (int64_t i = 0; i < cols; ++i) {
      wp.col(i) = wd.col(perm[i]);
      for (int64_t j = 0; j < cols; ++j)
        hp(i, j) = h(perm[i], perm[j]);
    }
    h.swap(hp);
    wd.swap(wp);
  }
  result.order = perm;

  // U upper with H⁻¹ = UᵀU: the Cholesky factor of the damped inverse (identity on failure).
  RowMajor u = obs::dampedInverseCholesky(h, options.percDamp, result.identityFallback);

  std::vector<double> rowLoss(rows, 0.0);
  RowMajor err(rows, options.blockSize);
  bool dynamicGroups = grouped && !staticGroups;
  for (int64_t i1 = 0; i1 < cols;) {
    int64_t i2 = std::min(i1 + options.blockSize, cols);
    // A group's parameters come from its fully updated weights: a group that starts inside
    // the block and would extend past it starts the next block instead.
    if (dynamicGroups) {
      int64_t last = (i2 - 1) / qo.groupSize * qo.groupSize;
      if (last > i1 && std::min(last + qo.groupSize, cols) > i2)
        i2 = last;
    }
    int64_t count = i2 - i1;
    llvm::parallelFor(0, rows, [&](size_t r) {
      double *w1 = &wd(r, i1);
      double loss = 0;
      std::vector<float> group;
      for (int64_t i = 0; i < count; ++i) {
        int64_t c = i1 + i, orig = perm[c];
        int64_t g = grouped ? orig / qo.groupSize : 0;
        if (dynamicGroups && c % qo.groupSize == 0) {
          int64_t end = std::min(c + qo.groupSize, cols);
          group.resize(end - c);
          for (int64_t k = c; k < end; ++k)
            group[k - c] = kept(r, perm[k]) ? static_cast<float>(wd(r, k)) : 0.0f;
          params[r * groups + g] =
              findParams(qo.format, qo.bits, group.data(), group.data() + group.size());
        }
        const GroupParams &p = params[r * groups + g];
        double d = u(c, c), w = w1[i];
        // A pruned weight is quantized as 0 (the zero point): only its error is fed back.
        uint8_t code = quantizeValue(p, kept(r, orig) ? static_cast<float>(w) : 0.0f);
        double deq = dequantizeValue(p, code);
        q.codes[r * cols + orig] = code;
        loss += (w - deq) * (w - deq) / (d * d) / 2;
        double e = (w - deq) / d;
        const double *uRow = &u(c, i1);
        for (int64_t j = i; j < count; ++j)
          w1[j] -= e * uRow[j];
        w1[i] = deq;
        err(r, i) = e;
      }
      rowLoss[r] += loss;
    });
    // The lazy update of the columns after the block: W[:, i2:] -= Err · U[i1:i2, i2:].
    obs::lazyBlockUpdate(wd, err, u, i1, i2);
    i1 = i2;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g)
      storeParams(q, r, g, params[r * groups + g]);
  for (double loss : rowLoss)
    result.loss += loss;
  return q;
}

//===----------------------------------------------------------------------===//
// Output error
//===----------------------------------------------------------------------===//

/// Σ_r d_r H d_rᵀ for the rows of `d` [rows, cols], in fixed 64-row chunks.
static double quadraticForm(const RowMajor &d, const RowMajor &h) {
  constexpr int64_t kChunk = 64;
  int64_t rows = d.rows(), cols = d.cols();
  int64_t chunks = (rows + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks, 0.0);
  llvm::parallelFor(0, chunks, [&](size_t chunk) {
    int64_t r0 = static_cast<int64_t>(chunk) * kChunk, nr = std::min(kChunk, rows - r0);
    RowMajor dh = d.block(r0, 0, nr, cols) * h;
    partial[chunk] = dh.cwiseProduct(d.block(r0, 0, nr, cols)).sum();
  });
  double total = 0;
  for (double p : partial)
    total += p;
  return total;
}

static RowMajor difference(ArrayRef<float> a, ArrayRef<float> b, int64_t rows, int64_t cols) {
  RowMajor d(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      d(r, c) = double(a[r * cols + c]) - double(b[r * cols + c]);
  return d;
}

double sqz::compression::outputError(ArrayRef<float> weight, ArrayRef<float> approx, int64_t rows,
                                     int64_t cols, ArrayRef<double> xtx) {
  Eigen::Map<const RowMajor> h(xtx.data(), cols, cols);
  return quadraticForm(difference(weight, approx, rows, cols), h);
}

double sqz::compression::relativeOutputError(ArrayRef<float> weight, ArrayRef<float> approx,
                                             int64_t rows, int64_t cols, ArrayRef<double> xtx) {
  Eigen::Map<const RowMajor> h(xtx.data(), cols, cols);
  std::vector<float> zero(rows * cols, 0.0f);
  double den = quadraticForm(difference(weight, zero, rows, cols), h);
  if (!(den > 0))
    return 0;
  return quadraticForm(difference(weight, approx, rows, cols), h) / den;
}

//===----------------------------------------------------------------------===//
// AWQ
//===----------------------------------------------------------------------===//

/// ŵ·(1/s) of Q(W·diag(s)) for one weight: the approximation of W in the original domain.
static llvm::Expected<std::vector<float>> awqApprox(const WeightView &w, ArrayRef<float> scales,
                                                    const QuantOptions &options,
                                                    QuantizedMatrix *out = nullptr,
                                                    ArrayRef<float> clipMax = {}) {
  int64_t rows = w.rows, cols = w.cols;
  int64_t size = options.groupSize < 0 ? cols : options.groupSize;
  std::vector<float> scaled(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = w.data[r * cols + c] * scales[c];
      if (!clipMax.empty()) {
        float m = clipMax[r * groupCount(cols, options.groupSize) + c / size];
        v = std::clamp(v, -m, m);
      }
      scaled[r * cols + c] = v;
    }
  auto q = quantizeRTN(scaled, rows, cols, options);
  if (!q)
    return q.takeError();
  std::vector<float> approx = q->dequantize();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      approx[r * cols + c] /= scales[c];
  if (out)
    *out = std::move(*q);
  return approx;
}

llvm::Error sqz::compression::awq(ArrayRef<WeightView> weights, ArrayRef<double> xtx,
                                  ArrayRef<double> activationScale, const AWQOptions &options,
                                  AWQResult &result) {
  result = AWQResult();
  if (weights.empty())
    return makeError("AWQ needs at least one weight");
  int64_t cols = weights.front().cols;
  if (llvm::Error e = checkQuantOptions(options.quant, cols))
    return e;
  for (const WeightView &w : weights)
    if (w.cols != cols || static_cast<int64_t>(w.data.size()) != w.rows * w.cols)
      return makeError("the weights must share the input dimension and match their shapes");
  if (static_cast<int64_t>(xtx.size()) != cols * cols)
    return makeError(llvm::formatv("XᵀX must be [{0}, {0}]", cols));
  if (static_cast<int64_t>(activationScale.size()) != cols)
    return makeError("the activation scale needs one entry per input channel");
  if (options.scaleGrid <= 0 || options.clipGrid <= 0 || !(options.maxShrink >= 0.0) ||
      options.maxShrink >= 1.0)
    return makeError("the AWQ grids must be positive and the shrink in [0, 1)");
  Eigen::Map<const RowMajor> h(xtx.data(), cols, cols);

  // Scale search.
  double best = std::numeric_limits<double>::infinity();
  std::vector<float> scales(cols), bestScales(cols, 1.0f);
  for (int64_t i = 0; i < options.scaleGrid; ++i) {
    double alpha = double(i) / double(options.scaleGrid);
    std::vector<double> s(cols);
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (int64_t c = 0; c < cols; ++c) {
      s[c] = std::max(std::pow(std::max(activationScale[c], 0.0), alpha), 1e-4);
      lo = std::min(lo, s[c]);
      hi = std::max(hi, s[c]);
    }
    double norm = std::sqrt(hi * lo);
    for (int64_t c = 0; c < cols; ++c)
      scales[c] = static_cast<float>(s[c] / norm);
    double total = 0;
    for (const WeightView &w : weights) {
      auto approx = awqApprox(w, scales, options.quant);
      if (!approx)
        return approx.takeError();
      total += quadraticForm(difference(w.data, *approx, w.rows, cols), h);
    }
    result.gridErrors.push_back(total);
    if (total < best) { // the first of equal errors, as the reference
      best = total;
      bestScales = scales;
      result.alpha = alpha;
    }
  }
  result.inputScales = bestScales;

  // Clip search in the scaled domain: W' = W·diag(s), H' = diag(1/s)·H·diag(1/s).
  int64_t size = options.quant.groupSize < 0 ? cols : options.quant.groupSize;
  int64_t groups = groupCount(cols, options.quant.groupSize);
  int64_t steps = static_cast<int64_t>(options.maxShrink * options.clipGrid);
  RowMajor hs(cols, cols);
  for (int64_t a = 0; a < cols; ++a)
    for (int64_t b = 0; b < cols; ++b)
      hs(a, b) = h(a, b) / (double(bestScales[a]) * double(bestScales[b]));
  for (const WeightView &w : weights) {
    int64_t rows = w.rows;
    std::vector<float> clipMax(rows * groups, std::numeric_limits<float>::infinity());
    if (options.clip && steps > 0) {
      llvm::parallelFor(0, rows, [&](size_t r) {
        std::vector<float> orig(size), cur(size);
        for (int64_t g = 0; g < groups; ++g) {
          int64_t c0 = g * size, n = std::min(size, cols - c0);
          float amax = 0;
          for (int64_t k = 0; k < n; ++k) {
            orig[k] = w.data[r * cols + c0 + k] * bestScales[c0 + k];
            amax = std::max(amax, std::fabs(orig[k]));
          }
          double bestErr = std::numeric_limits<double>::infinity();
          float bestMax = amax;
          for (int64_t i = 0; i < steps; ++i) {
            float m = amax * static_cast<float>(1.0 - double(i) / double(options.clipGrid));
            for (int64_t k = 0; k < n; ++k)
              cur[k] = std::clamp(orig[k], -m, m);
            GroupParams p =
                findParams(options.quant.format, options.quant.bits, cur.data(), cur.data() + n);
            std::vector<double> d(n);
            for (int64_t k = 0; k < n; ++k)
              d[k] = double(orig[k]) - dequantizeValue(p, quantizeValue(p, cur[k]));
            Eigen::Map<const Eigen::VectorXd> dv(d.data(), n);
            double e = dv.dot(hs.block(c0, c0, n, n) * dv);
            if (e < bestErr) {
              bestErr = e;
              bestMax = m;
            }
          }
          clipMax[r * groups + g] = bestMax;
        }
      });
    }
    QuantizedMatrix qm;
    auto approx = awqApprox(w, bestScales, options.quant, &qm, clipMax);
    if (!approx)
      return approx.takeError();
    result.error += quadraticForm(difference(w.data, *approx, rows, cols), h);
    result.clipMax.insert(result.clipMax.end(), clipMax.begin(), clipMax.end());
    result.quantized.push_back(std::move(qm));
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// NF4
//===----------------------------------------------------------------------===//

const std::array<float, 16> &sqz::compression::nf4Table() {
  static const std::array<float, 16> table = {
      -1.0f,
      -0.6961928009986877f,
      -0.5250730514526367f,
      -0.39491748809814453f,
      -0.28444138169288635f,
      -0.18477343022823334f,
      -0.09105003625154495f,
      0.0f,
      0.07958029955625534f,
      0.16093020141124725f,
      0.24611230194568634f,
      0.33791524171829224f,
      0.44070982933044434f,
      0.5626170039176941f,
      0.7229568362236023f,
      1.0f,
  };
  return table;
}

uint8_t sqz::compression::nf4Encode(float x) {
  // bitsandbytes csrc/kernels.cu dQuantizeNF4: the midpoints, compared with `>`.
  static const float thresholds[15] = {
      -0.8480964004993439f,  -0.6106329262256622f,  -0.4599952697753906f,   -0.33967943489551544f,
      -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
      0.1202552504837513f,   0.2035212516784668f,   0.2920137718319893f,    0.3893125355243683f,
      0.5016634166240692f,   0.6427869200706482f,   0.8614784181118011f};
  uint8_t code = 0;
  for (float t : thresholds)
    code += x > t;
  return code;
}

const std::array<float, 256> &sqz::compression::dynamicMap8() {
  // bitsandbytes functional.create_dynamic_map(signed=True, max_exponent_bits=7,
  // total_bits=8): for i < 7, ±10^(i−6) times the midpoints of linspace(0.1, 1, 2^i + 1);
  // then 0 and 1.0; sorted. Computed exactly (double) and rounded once to float: torch builds
  // the map at run time with a float32 linspace whose last bit depends on the CPU's vector
  // width, so there is no single bit pattern to reproduce (ours is within 2 ulp of it).
  static const std::array<float, 256> map = [] {
    std::vector<float> data;
    for (int i = 0; i < 7; ++i) {
      int64_t n = (int64_t(1) << i) + 1;
      double magnitude = std::pow(10.0, i - 6);
      for (int64_t k = 0; k + 1 < n; ++k) {
        double lo = 0.1 + 0.9 * double(k) / double(n - 1);
        double hi = 0.1 + 0.9 * double(k + 1) / double(n - 1);
        data.push_back(static_cast<float>(magnitude * (lo + hi) / 2));
        data.push_back(static_cast<float>(-magnitude * (lo + hi) / 2));
      }
    }
    data.push_back(0.0f);
    data.push_back(1.0f);
    std::sort(data.begin(), data.end());
    std::array<float, 256> out{};
    std::copy(data.begin(), data.end(), out.begin());
    return out;
  }();
  return map;
}

/// The index of the dynamic-map value nearest to x (ties: the lower index).
static uint8_t dynamicEncode(float x) {
  const std::array<float, 256> &map = dynamicMap8();
  auto it = std::lower_bound(map.begin(), map.end(), x);
  if (it == map.end())
    return 255;
  int64_t hi = it - map.begin();
  if (hi == 0)
    return 0;
  return static_cast<uint8_t>(x - map[hi - 1] <= map[hi] - x ? hi - 1 : hi);
}

llvm::Expected<QuantizedMatrix> sqz::compression::quantizeNF4(ArrayRef<float> weight, int64_t rows,
                                                              int64_t cols,
                                                              const NF4Options &options) {
  if (options.blockSize <= 0)
    return makeError(
        llvm::formatv("the NF4 block size must be positive, got {0}", options.blockSize));
  if (static_cast<int64_t>(weight.size()) != rows * cols || cols <= 0)
    return makeError("the weight must have rows * cols entries");
  QuantizedMatrix q = emptyResult(QuantFormat::NF4, 4, options.blockSize, rows, cols);
  int64_t groups = q.groups();
  llvm::parallelFor(0, rows, [&](size_t r) {
    const float *row = weight.data() + r * cols;
    for (int64_t g = 0; g < groups; ++g) {
      int64_t c0 = g * options.blockSize, c1 = std::min(c0 + options.blockSize, cols);
      float absmax = 0;
      for (int64_t c = c0; c < c1; ++c)
        absmax = std::max(absmax, std::fabs(row[c]));
      q.scales[r * groups + g] = absmax;
      float inverse = absmax == 0 ? 0.0f : 1.0f / absmax;
      for (int64_t c = c0; c < c1; ++c)
        q.codes[r * cols + c] = nf4Encode(row[c] * inverse);
    }
  });
  if (!options.doubleQuant)
    return q;

  // QLoRA double quantization: absmax − mean(absmax), blocks of 256, 8-bit dynamic map.
  constexpr int64_t kBlock = 256;
  int64_t n = rows * groups;
  double sum = 0;
  for (float s : q.scales)
    sum += s;
  q.doubleQuant = true;
  q.scaleOffset = static_cast<float>(sum / double(n));
  q.scaleCodes.assign(n, 0);
  q.scaleBlockAbsmax.assign((n + kBlock - 1) / kBlock, 0.0f);
  for (int64_t b = 0; b * kBlock < n; ++b) {
    int64_t i0 = b * kBlock, i1 = std::min(i0 + kBlock, n);
    float absmax = 0;
    for (int64_t i = i0; i < i1; ++i)
      absmax = std::max(absmax, std::fabs(q.scales[i] - q.scaleOffset));
    q.scaleBlockAbsmax[b] = absmax;
    float inverse = absmax == 0 ? 0.0f : 1.0f / absmax;
    for (int64_t i = i0; i < i1; ++i) {
      q.scaleCodes[i] = dynamicEncode((q.scales[i] - q.scaleOffset) * inverse);
      q.scales[i] = dynamicMap8()[q.scaleCodes[i]] * absmax + q.scaleOffset;
    }
  }
  return q;
}

//===----------------------------------------------------------------------===//
// Ternary and LLM.int8()
//===----------------------------------------------------------------------===//

llvm::Expected<QuantizedMatrix>
sqz::compression::quantizeTernary(ArrayRef<float> weight, int64_t rows, int64_t cols, bool perRow) {
  if (static_cast<int64_t>(weight.size()) != rows * cols || cols <= 0 || rows <= 0)
    return makeError("the weight must have rows * cols entries");
  QuantizedMatrix q = emptyResult(QuantFormat::Ternary, 2, -1, rows, cols);
  auto absmean = [&](int64_t begin, int64_t end) {
    double sum = 0;
    for (int64_t i = begin; i < end; ++i)
      sum += std::fabs(weight[i]);
    return std::max(static_cast<float>(sum / double(end - begin)), 1e-5f);
  };
  float tensorGamma = perRow ? 0.0f : absmean(0, rows * cols);
  llvm::parallelFor(0, rows, [&](size_t r) {
    float gamma = perRow ? absmean(r * cols, (r + 1) * cols) : tensorGamma;
    float inverse = 1.0f / gamma;
    q.scales[r] = gamma;
    for (int64_t c = 0; c < cols; ++c) {
      double t = std::clamp(roundHalfEven(weight[r * cols + c] * inverse), -1.0, 1.0);
      q.codes[r * cols + c] = static_cast<uint8_t>(t + 1);
    }
  });
  return q;
}

llvm::Expected<Int8Decomposition> sqz::compression::decomposeInt8(ArrayRef<float> weight,
                                                                  int64_t rows, int64_t cols,
                                                                  ArrayRef<float> activationAbsmax,
                                                                  double threshold) {
  if (!(threshold > 0))
    return makeError(llvm::formatv("the outlier threshold must be positive, got {0}", threshold));
  if (static_cast<int64_t>(weight.size()) != rows * cols || cols <= 0)
    return makeError("the weight must have rows * cols entries");
  if (static_cast<int64_t>(activationAbsmax.size()) != cols)
    return makeError("the activation absmax needs one entry per input channel");
  Int8Decomposition d;
  std::vector<uint8_t> outlier(cols, 0);
  for (int64_t c = 0; c < cols; ++c)
    if (activationAbsmax[c] >= threshold) {
      outlier[c] = 1;
      d.outlierColumns.push_back(c);
    }
  int64_t n = d.outlierColumns.size();
  d.int8 = emptyResult(QuantFormat::SymmetricAbsmax, 8, -1, rows, cols);
  d.outlierWeights.assign(rows * n, 0.0f);
  llvm::parallelFor(0, rows, [&](size_t r) {
    std::vector<float> rest;
    rest.reserve(cols);
    for (int64_t c = 0; c < cols; ++c)
      if (!outlier[c])
        rest.push_back(weight[r * cols + c]);
    GroupParams p =
        findParams(QuantFormat::SymmetricAbsmax, 8, rest.data(), rest.data() + rest.size());
    d.int8.scales[r] = p.scale;
    for (int64_t c = 0, k = 0; c < cols; ++c) {
      float w = weight[r * cols + c];
      if (outlier[c]) {
        d.int8.codes[r * cols + c] = static_cast<uint8_t>(p.zero);
        d.outlierWeights[r * n + k++] = w;
      } else {
        d.int8.codes[r * cols + c] = quantizeValue(p, w);
      }
    }
  });
  return d;
}
