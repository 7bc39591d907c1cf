//===- OBS.h - Shared core of SparseGPT and GPTQ --------------*- C++ -*-===//
//
// The optimal-brain-surgeon machinery both SparseGPT (Pruning.cpp) and GPTQ (Quantization.cpp)
// run: the upper Cholesky factor of the damped inverse Hessian that drives the error feedback,
// and the lazy update of the columns after a block. Internal to lib/Compression.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_COMPRESSION_OBS_H
#define SQZ_LIB_COMPRESSION_OBS_H

#include <Eigen/Core>

#include <cstdint>

namespace sqz::compression::obs {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Damps `h` in place by `percDamp`·mean(diag h) and returns U, upper triangular with
/// (h + damp·I)⁻¹ = UᵀU. If the damped h (or its inverse) is not positive definite, returns
/// the identity and sets `fallback` (no error feedback).
RowMajor dampedInverseCholesky(RowMajor &h, double percDamp, bool &fallback);

/// The lazy update after the block of columns [i1, i2): W[:, i2:] -= Err[:, :i2-i1] ·
/// U[i1:i2, i2:], on fixed 64-row chunks in parallel (the result does not depend on the
/// thread count).
void lazyBlockUpdate(RowMajor &w, const RowMajor &err, const RowMajor &u, int64_t i1,
                     int64_t i2);

} // namespace sqz::compression::obs

#endif // SQZ_LIB_COMPRESSION_OBS_H
