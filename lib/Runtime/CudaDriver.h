//===- CudaDriver.h - The CUDA driver API, loaded with dlopen ----*- C++ -*-===//
//
// The runtime's GPU support: libcuda.so.1 (or $SQZ_CUDA_DRIVER) is opened with
// dlopen on first use, so neither the runtime nor sqz-run links CUDA and both
// run where no driver is installed (a GPU model then fails to load with the
// driver's reason). sqz_cuda_api() (include/sqz-c/sqz_gpu.h) hands out the
// table over it; this header adds what the runtime itself needs beside the
// table: device properties and the message of the last reported failure.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_CUDADRIVER_H
#define SQZ_RUNTIME_CUDADRIVER_H

#include "sqz-c/sqz_gpu.h"

#include <cstdint>
#include <string>

namespace sqz {
namespace runtime {

/// The most devices a process can use at once (one table per device).
constexpr int32_t kMaxCudaDevices = 16;

/// The table of GPU `device` (see sqz_cuda_api), or null with the reason in `error`.
const sqz_gpu_api *getCudaApi(int32_t device, std::string &error);

struct CudaDeviceInfo {
  std::string name;
  int major = 0, minor = 0;
  uint64_t totalMemory = 0;
  /// The driver's version, e.g. 13000 for CUDA 13.0.
  int driverVersion = 0;
};

/// Properties of `device`, whose table getCudaApi returned. False with the reason in `error`.
bool getCudaDeviceInfo(int32_t device, CudaDeviceInfo &info, std::string &error);

/// The message last_error() last returned on this thread ("" if none), kept after last_error
/// cleared it, so the runtime can report what failed inside a model's generated code.
const std::string &lastReportedCudaError();
void clearReportedCudaError();

/// The compute capability a target name such as "sm_80" or "sm_90a" asks for (major*10 +
/// minor) and whether it is arch-specific ("a": runs on that exact capability only). False
/// for a malformed name.
bool parseGpuArch(const std::string &arch, int &capability, bool &archSpecific);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_CUDADRIVER_H
