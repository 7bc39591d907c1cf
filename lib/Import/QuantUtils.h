//===- QuantUtils.h - Host-side unpacking of N-bit weight codes --*- C++ -*-===//
//
// onnxruntime's weight-only quantized ops (com.microsoft MatMulNBits, QMoE) store 2/4/8-bit codes
// packed into uint8 bytes, 8 / bits codes a byte, low bits first. These helpers (defined in
// QuantizeOps.cpp) dequantize such weights into float host tensors at import time, and let a
// MatMul keep a block-wise or per-axis DequantizeLinear weight quantized (sqz.quant_linear).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_QUANTUTILS_H
#define SQZ_LIB_IMPORT_QUANTUTILS_H

#include "GraphImporter.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>

namespace mlir::sqz::import {

/// The `bits`-wide code number `index` of the uint8 tensor `bytes` (8 / bits codes a byte, low
/// bits first).
int64_t getPackedCode(const HostTensor &bytes, int64_t index, int64_t bits);

/// Dequantizes a [rows, cols] weight into `out` (a float tensor; row r lands at element
/// r * cols): row r's codes are codes number r * rowStride .. r * rowStride + cols - 1 of
/// `codes` (see getPackedCode), and out[r, c] = (code - zero(r, b)) * scale(r, b) in f32 with
/// b = c / blockSize. `scale` and `zero` are asked once per (row, block).
void dequantizePackedRows(const HostTensor &codes, int64_t rowStride, int64_t rows, int64_t cols,
                          int64_t bits, int64_t blockSize,
                          llvm::function_ref<float(int64_t row, int64_t block)> scale,
                          llvm::function_ref<float(int64_t row, int64_t block)> zero,
                          HostTensor &out);

/// The constant codes a DequantizeLinear folded into a float [K, N] weight (HostTensor::
/// quantOrigin), when they fit `sqz.quant_linear`: integer codes of 2, 4 or 8 bits, block-wise
/// along axis 0 (the MatMul's input features) with a power-of-2 block_size, or per-axis along
/// axis 1 (the output features: one group per output channel). `weightData`
/// identifies the folded tensor (a tensor derived from it has other data).
struct DequantizedWeightOrigin {
  HostTensor codes; // [K, N], the DequantizeLinear's input
  HostTensor scale; // [ceil(K / group), N], or [N] when group is -1
  std::optional<HostTensor> zeroPoint; // like scale, the codes' dtype
  int64_t group = 0;                   // block_size, or -1 (per-axis)
  const char *weightData = nullptr;
};

/// `sqz.quant_linear(x, codes, scales[, zeros])` for a MatMul whose B input `weight` is a
/// folded DequantizeLinear (see DequantizedWeightOrigin), or null when `weight` has no such
/// origin. The MatMul's input 0 is the linear's input.
Value buildDequantizedMatMul(NodeContext &node, const HostTensor &weight);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_QUANTUTILS_H
