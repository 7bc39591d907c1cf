//===- QuantUtils.h - Host-side unpacking of N-bit weight codes --*- C++ -*-===//
//
// onnxruntime's weight-only quantized ops (com.microsoft MatMulNBits, QMoE) store 2/4/8-bit codes
// packed into uint8 bytes, 8 / bits codes a byte, low bits first. These helpers (defined in
// QuantizeOps.cpp) dequantize such weights into float host tensors at import time.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_QUANTUTILS_H
#define SQZ_LIB_IMPORT_QUANTUTILS_H

#include "GraphImporter.h"

#include "llvm/ADT/STLFunctionalExtras.h"

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

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_QUANTUTILS_H
