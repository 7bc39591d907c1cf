//===- Quantization.h - Quantization math: RTN, GPTQ, AWQ, NF4, ... -*- C++ -*-===//
//
// The numeric core of the quantization passes, in plain C++ on row-major float matrices, in the
// style of Pruning.h: a linear's weight is [rows = outputs, cols = inputs], groups run along
// the columns (the reduction axis). The result is the *logical* quantized form (one code per
// weight, scales and zero points per row and group); packing for kernels comes later.
// Everything is deterministic: rows are independent and each row's arithmetic has a fixed
// order, so the bits do not depend on the thread count.
//
// Conventions (../shared/research/compression.md §3, §6, §8; deviations are marked):
// - Groups: group g of a row covers columns [g·G, min((g+1)·G, cols)); a trailing partial group
//   is legal and gets its own scale/zero from its own elements. G = -1 is one group per row.
// - Stored codes are unsigned, codes[r·cols + c] ∈ [0, 2^bits − 1]; the logical (signed) value
//   is code − zero with
//     Asymmetric:      a zero point per group (`zeros`), ŵ = s·(code − z)
//     Symmetric:       the implicit zero 2^(bits−1), logical ∈ [−2^(b−1), 2^(b−1) − 1]
//     SymmetricAbsmax: the implicit zero 2^(bits−1), logical ∈ [−(2^(b−1) − 1), 2^(b−1) − 1]
//     Ternary:         the implicit zero 1, logical ∈ {−1, 0, 1}
//     NF4:             code is an index into nf4Table(), ŵ = absmax·table[code]
//   This is GPTQ's own representation (q ∈ [0, maxq] with zero = (maxq+1)/2 when symmetric)
//   and ONNX Runtime MatMulNBits' (default zero point 2^(b−1)), so packing needs no shift.
// - Arithmetic follows the float32 reference code (torch): scales and zero points are computed
//   in float, the quotient w / s is a float division, rounded **half to even** (torch.round),
//   and ŵ = s·(code − z) in float. An all-zero group gets scale 0 and logical code 0.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_COMPRESSION_QUANTIZATION_H
#define SQZ_COMPRESSION_QUANTIZATION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <vector>

namespace sqz::compression {

enum class QuantFormat {
  /// min/max range extended to contain 0 (GPTQ `find_params`, sym=False):
  /// s = (max − min)/(2^b − 1), z = round(−min/s).
  Asymmetric,
  /// GPTQ `--sym`: s = 2·absmax/(2^b − 1), zero 2^(b−1); +absmax is not representable.
  Symmetric,
  /// s = absmax/(2^(b−1) − 1), codes within ±(2^(b−1) − 1) (LLM.int8 / AWQ sym / Q8_0).
  SymmetricAbsmax,
  /// bitsandbytes NF4: absmax blocks, nearest of the 16 NormalFloat values.
  NF4,
  /// BitNet b1.58: absmean scale, codes in {−1, 0, 1}.
  Ternary,
};

/// One quantized weight matrix in logical form.
struct QuantizedMatrix {
  QuantFormat format = QuantFormat::Asymmetric;
  int64_t rows = 0, cols = 0;
  int64_t bits = 4;
  int64_t groupSize = -1;     ///< -1: one group per row
  std::vector<uint8_t> codes; ///< [rows, cols], stored (unsigned) codes
  std::vector<float> scales;  ///< [rows, groups]; NF4: the (reconstructed) absmax
  std::vector<uint8_t> zeros; ///< [rows, groups], Asymmetric only (empty otherwise)

  /// NF4 double quantization (QLoRA): `scales` then hold the reconstructed absmax,
  /// absmax ≈ dynamicMap8()[scaleCodes[i]]·scaleBlockAbsmax[i / 256] + scaleOffset.
  bool doubleQuant = false;
  float scaleOffset = 0;
  std::vector<uint8_t> scaleCodes;     ///< [rows·groups]
  std::vector<float> scaleBlockAbsmax; ///< [ceil(rows·groups / 256)]

  int64_t groups() const;
  int64_t groupOf(int64_t col) const { return groupSize < 0 ? 0 : col / groupSize; }
  /// The zero point of (row, group): per group for Asymmetric, implicit otherwise (NF4: 0).
  int zeroPoint(int64_t row, int64_t group) const;
  /// The signed logical code of one weight (NF4: the table index).
  int logical(int64_t row, int64_t col) const;
  float dequantize(int64_t row, int64_t col) const;
  /// ŵ [rows, cols].
  std::vector<float> dequantize() const;
};

/// Round half to even, as torch.round / numpy.round (independent of the FP rounding mode).
double roundHalfEven(double x);

//===----------------------------------------------------------------------===//
// Round to nearest
//===----------------------------------------------------------------------===//

struct QuantOptions {
  QuantFormat format = QuantFormat::Asymmetric; ///< Asymmetric, Symmetric or SymmetricAbsmax
  int64_t bits = 4;                             ///< 2, 3, 4 or 8
  int64_t groupSize = -1;                       ///< -1 or > 0 (any, the last group ragged)
};

/// Checks the options of the uniform (RTN/GPTQ/AWQ) quantizers.
llvm::Error checkQuantOptions(const QuantOptions &options, int64_t cols);

/// Round-to-nearest of `weight` [rows, cols], group-wise.
llvm::Expected<QuantizedMatrix> quantizeRTN(llvm::ArrayRef<float> weight, int64_t rows,
                                            int64_t cols, const QuantOptions &options);

//===----------------------------------------------------------------------===//
// GPTQ
//===----------------------------------------------------------------------===//

struct GPTQOptions {
  QuantOptions quant;
  int64_t blockSize = 128; ///< lazy-update block (the result does not depend on it)
  double percDamp = 0.01;  ///< H += percDamp·mean(diag H)·I
  /// Process columns by decreasing diag(H). Implies static groups: each group's parameters
  /// are computed from the original weights, before the permutation, so the groups stay
  /// contiguous in the original column order (no g_idx).
  bool actOrder = false;
  /// Compute every group's parameters up front from the original weights (the reference's
  /// static_groups=True) instead of at the group's first column from the updated weights.
  bool staticGroups = false;
  /// [rows, cols] or empty (dense). Weights whose entry is 0 are pruned: they are quantized to
  /// exactly 0 (their error is fed back like any other) and group parameters see them as 0.
  /// GPTQ of an n:m-sparse weight with its mask fixed (SparseGPT's joint mode with a given
  /// mask); their codes are then the zero point.
  llvm::ArrayRef<uint8_t> keep;
};

struct GPTQResult {
  int64_t deadColumns = 0;       ///< columns with H_jj = 0 (their weights quantized as 0)
  bool identityFallback = false; ///< Cholesky failed: no error feedback (plain RTN)
  double loss = 0;               ///< Σ (w − q)²/[H⁻¹]_cc²/2, the reference's error estimate
  std::vector<int64_t> order;    ///< the column processing order (act-order permutation)
};

/// GPTQ (Frantar et al. 2023, reference `fasterquant`) of `weight` [rows, cols]. `xtx` is
/// [cols, cols] row-major, XᵀX or any positive multiple (the reference's 2XᵀX/n): the result
/// does not depend on its scale. Dead columns (H_jj = 0) get H_jj = 1 and weight 0; the upper
/// Cholesky factor U of (H + damp·I)⁻¹ drives the error feedback (w − q)/U_cc·U[c, c:], applied
/// lazily per block; if the damped H is not positive definite, U = I and the result says so.
llvm::Expected<QuantizedMatrix> gptq(llvm::ArrayRef<float> weight, int64_t rows, int64_t cols,
                                     llvm::ArrayRef<double> xtx, const GPTQOptions &options,
                                     GPTQResult &result);

//===----------------------------------------------------------------------===//
// AWQ
//===----------------------------------------------------------------------===//

/// A weight matrix [rows, cols] (one of the linears that share an input).
struct WeightView {
  llvm::ArrayRef<float> data;
  int64_t rows = 0, cols = 0;
};

struct AWQOptions {
  QuantOptions quant;     ///< the final (and search) quantizer
  int64_t scaleGrid = 20; ///< α ∈ {0, 1/grid, ..., (grid−1)/grid}
  bool clip = true;       ///< the per-group clip search (skip it for q/k, as AWQ does)
  int64_t clipGrid = 20;  ///< max range shrunk by (1 − i/clipGrid)
  double maxShrink = 0.5; ///< for i < maxShrink·clipGrid
};

struct AWQResult {
  /// s [cols]: the quantized matrices hold Q(W·diag(s)) — the input must be divided by s
  /// (folded into the previous op, or an explicit per-channel scaling of the input).
  std::vector<float> inputScales;
  double alpha = 0;               ///< the chosen exponent
  std::vector<double> gridErrors; ///< Σ tr(ΔW XᵀX ΔWᵀ) per α (α = 0 is plain RTN)
  double error = 0;               ///< the same for the final result (after clipping)
  std::vector<float> clipMax;     ///< per weight, [rows, groups]: the chosen max |w| (scaled)
  std::vector<QuantizedMatrix> quantized; ///< per weight, of clip(W·diag(s))
};

/// AWQ (Lin et al. 2024): for the linears `weights` sharing one input with statistics `xtx`
/// ([cols, cols], Σ x xᵀ) and `activationScale` ([cols], mean |x| per channel as AWQ, or the
/// RMS sqrt(Σ x²/n)), searches s = actScale^α (clamped ≥ 1e-4, normalized so that
/// max(s)·min(s) = 1) minimizing the summed output error Σ tr(ΔW XᵀX ΔWᵀ) of
/// ΔW = W − Q(W·diag(s))·diag(s)⁻¹, then per (row, group) the clip max |w| ∈ amax·(1 − i/20),
/// i < 10, minimizing the group's own output error Δᵀ H_gg Δ in the scaled domain.
llvm::Error awq(llvm::ArrayRef<WeightView> weights, llvm::ArrayRef<double> xtx,
                llvm::ArrayRef<double> activationScale, const AWQOptions &options,
                AWQResult &result);

//===----------------------------------------------------------------------===//
// NF4, ternary, LLM.int8()
//===----------------------------------------------------------------------===//

/// The 16 NF4 values of bitsandbytes (`get_4bit_type('nf4')`), increasing.
const std::array<float, 16> &nf4Table();
/// The index of the NF4 value nearest to x ∈ [−1, 1]: bitsandbytes' `dQuantizeNF4` decision
/// tree (strict `>` against the midpoints, so a tie goes to the lower code).
uint8_t nf4Encode(float x);
/// bitsandbytes' 8-bit signed dynamic map (`create_dynamic_map(signed=True)`), 256 increasing
/// values in [−1, 1], used for the double quantization of NF4 scales.
const std::array<float, 256> &dynamicMap8();

struct NF4Options {
  int64_t blockSize = 64;   ///< absmax block along each row (the last block may be ragged)
  bool doubleQuant = false; ///< 8-bit quantization of the absmax values, blocks of 256
};

/// NF4 of `weight` [rows, cols]: per block, absmax = max|w|, code = nf4Encode(w·(1/absmax)).
llvm::Expected<QuantizedMatrix> quantizeNF4(llvm::ArrayRef<float> weight, int64_t rows,
                                            int64_t cols, const NF4Options &options);

/// BitNet b1.58 ternary: γ = max(mean|W|, 1e-5) over the whole tensor (the reference) or per
/// output row; code = clip(round(w·(1/γ)), −1, 1). Scales are [rows, 1] (per tensor: γ
/// repeated).
llvm::Expected<QuantizedMatrix> quantizeTernary(llvm::ArrayRef<float> weight, int64_t rows,
                                                int64_t cols, bool perRow);

struct Int8Decomposition {
  std::vector<int64_t> outlierColumns; ///< increasing
  QuantizedMatrix int8;                ///< SymmetricAbsmax 8-bit per row; outlier columns 0
  std::vector<float> outlierWeights;   ///< [rows, outlierColumns.size()], the float weights
};

/// LLM.int8() (Dettmers et al. 2022) weight-side decomposition: input channels whose
/// calibration absmax is ≥ threshold are outliers kept in float (the paper's semantics);
/// the other columns are int8 with one absmax/127 scale per output row (over those columns).
llvm::Expected<Int8Decomposition> decomposeInt8(llvm::ArrayRef<float> weight, int64_t rows,
                                                int64_t cols,
                                                llvm::ArrayRef<float> activationAbsmax,
                                                double threshold = 6.0);

//===----------------------------------------------------------------------===//
// Output error
//===----------------------------------------------------------------------===//

/// tr(D·XᵀX·Dᵀ) with D = W − Ŵ: Σ over the calibration tokens of ‖x(W − Ŵ)ᵀ‖² when `xtx` is
/// Σ x xᵀ (any positive multiple scales it).
double outputError(llvm::ArrayRef<float> weight, llvm::ArrayRef<float> approx, int64_t rows,
                   int64_t cols, llvm::ArrayRef<double> xtx);

/// ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² = tr(D·XᵀX·Dᵀ) / tr(W·XᵀX·Wᵀ); 0 when the denominator is 0.
double relativeOutputError(llvm::ArrayRef<float> weight, llvm::ArrayRef<float> approx, int64_t rows,
                           int64_t cols, llvm::ArrayRef<double> xtx);

} // namespace sqz::compression

#endif // SQZ_COMPRESSION_QUANTIZATION_H
