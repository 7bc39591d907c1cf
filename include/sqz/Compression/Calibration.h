//===- Calibration.h - Activation statistics for compression ----*- C++ -*-===//
//
// Calibration runs the model's calibration build (`sqz-instrument` taps, made into extra
// outputs by `sqz-expose-taps`, compiled for the CPU) on calibration inputs through the
// runtime, and accumulates per tap, over every token of every sample:
//   <tap>/sumsq   F64 [C]     Σ x_j²          (Wanda)
//   <tap>/absmax  F32 [C]     max |x_j|       (AWQ, LLM.int8 outliers)
//   <tap>/xtx     F64 [C, C]  Σ x xᵀ          (SparseGPT, GPTQ)
//   <tap>/tokens  I64 [1]     number of tokens
// and writes them to a safetensors file (lib/Runtime/Safetensors.h), the statistics file the
// compression passes read (option `stats`). XᵀX is accumulated in fp64; the statistics of all
// taps must fit in the memory limit, which is checked before the first run, so a model whose
// layers are too wide is an error instead of an out-of-memory kill.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_COMPRESSION_CALIBRATION_H
#define SQZ_COMPRESSION_CALIBRATION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sqz::compression {

struct TapRequest {
  std::string name; ///< the tap (the linear's name); the output is `__tap__/<name>`
  bool sumsq = false, absmax = false, xtx = false;
};

/// Calibration inputs: `path` is either an .npy holding N samples of the model's only input
/// stacked on a new leading axis (e.g. int64 [N, L] token ids for an input [1, L], or
/// [N, 1, L]), or a folder whose subfolders (in name order) are samples, each holding one
/// `<input name>.npy` per model input.
struct CalibrationData {
  std::string path;
  int64_t maxSamples = -1; ///< use at most this many (-1: all)
};

/// Runs the calibration artifact in `artifactDir` and writes the statistics of `taps` to
/// `statsPath`. Prints a progress line per sample to `progress`.
llvm::Error runCalibration(const std::string &artifactDir, llvm::ArrayRef<TapRequest> taps,
                           const CalibrationData &data, const std::string &statsPath,
                           uint64_t memoryLimitBytes, llvm::raw_ostream &progress);

/// Writes the union of the statistics files `parts` (each written by runCalibration) to
/// `statsPath`, as one statistics file. Sequential calibration writes one part per block; a
/// tensor present in two parts is an error (each layer is calibrated once).
llvm::Error mergeCalibrationFiles(llvm::ArrayRef<std::string> parts,
                                  const std::string &statsPath);

} // namespace sqz::compression

#endif // SQZ_COMPRESSION_CALIBRATION_H
