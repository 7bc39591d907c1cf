//===- CudaDriver.cpp - The CUDA driver API, loaded with dlopen -----------===//
//
// Implements sqz_cuda_api() (include/sqz-c/sqz_gpu.h) over the CUDA driver
// API. No CUDA header is used: the few driver types, constants and entry
// points below are declared here with the values of CUDA 13's cuda.h, and
// looked up by the names cuda.h maps them to (cuMemAlloc -> cuMemAlloc_v2,
// ...). Every table call makes the device's primary context current for its
// duration (restoring the caller's), and records the first failure for
// last_error(), as MLIR's mgpu* wrappers do with their results.
//
//===----------------------------------------------------------------------===//

#include "Runtime/CudaDriver.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>

using namespace sqz::runtime;

namespace {

//===----------------------------------------------------------------------===//
// The driver API subset (values from CUDA 13's cuda.h).
//===----------------------------------------------------------------------===//

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NOT_READY = 600;
constexpr CUresult CUDA_ERROR_NOT_SUPPORTED = 801;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED = 115;
constexpr int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4; // value: cuuint64_t
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED = 14;
constexpr int CU_JIT_INFO_LOG_BUFFER = 3;
constexpr int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr unsigned CU_MEM_ATTACH_GLOBAL = 1;
constexpr unsigned CU_STREAM_DEFAULT = 0;
constexpr unsigned CU_EVENT_DEFAULT = 0;
constexpr int CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4;

struct CUlaunchAttribute {
  int id;
  char pad[4];
  union {
    char bytes[64];
    void *align;
    struct {
      unsigned x, y, z;
    } clusterDim;
  } value;
};
static_assert(sizeof(CUlaunchAttribute) == 72, "CUlaunchAttribute layout");

struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};

/// The driver's entry points. `names` lists the exported symbols to try, newest first.
struct Driver {
  void *handle = nullptr;
  std::string path;
  /// Why the driver is unusable ("" once it loaded and cuInit succeeded).
  std::string error;

  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int *) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char **) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char **) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t *, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
  CUresult (*cuCtxGetCurrent)(CUcontext *) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **) = nullptr;
  /// Optional (CUDA 12+): cluster launches fail without it.
  CUresult (*cuLaunchKernelEx)(const CUlaunchConfig *, CUfunction, void **, void **) = nullptr;
  CUresult (*cuStreamCreate)(CUstream *, unsigned) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned) = nullptr;
  CUresult (*cuEventCreate)(CUevent *, unsigned) = nullptr;
  CUresult (*cuEventDestroy)(CUevent) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent) = nullptr;
  CUresult (*cuEventRecord)(CUevent, CUstream) = nullptr;
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t) = nullptr;
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  /// Optional (CUDA 11.2+): stream-ordered allocation (the device's default memory pool).
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream) = nullptr;
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream) = nullptr;
  CUresult (*cuDeviceGetDefaultMemPool)(void **, CUdevice) = nullptr;
  CUresult (*cuMemPoolSetAttribute)(void *, int, void *) = nullptr;
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream) = nullptr;
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream) = nullptr;
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream) = nullptr;

  void load();

private:
  template <typename Fn>
  bool bind(Fn &fn, std::initializer_list<const char *> names, bool required = true) {
    for (const char *name : names) {
      if (void *symbol = dlsym(handle, name)) {
        static_assert(sizeof(Fn) == sizeof(void *), "function pointer size");
        std::memcpy(&fn, &symbol, sizeof(fn));
        return true;
      }
    }
    if (required && error.empty())
      error = "CUDA driver '" + path + "' lacks " + *names.begin() +
              " (a driver older than this runtime supports?)";
    return !required;
  }
};

/// Human-readable text of a driver result: "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
std::string resultText(const Driver &driver, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  if (driver.cuGetErrorName)
    driver.cuGetErrorName(result, &name);
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(result, &text);
  if (!name) {
    // A stub or broken driver may not name its own errors; name the ones seen at setup.
    switch (result) {
    case 34:
      name = "CUDA_ERROR_STUB_LIBRARY";
      text = "this libcuda is the toolkit's link stub, not the NVIDIA driver";
      break;
    case 35:
      name = "CUDA_ERROR_INSUFFICIENT_DRIVER";
      text = "the installed driver is older than the CUDA runtime";
      break;
    case 100:
      name = "CUDA_ERROR_NO_DEVICE";
      text = "no CUDA-capable device is detected";
      break;
    default:
      break;
    }
  }
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

void Driver::load() {
  const char *env = std::getenv("SQZ_CUDA_DRIVER");
  path = env && *env ? env : "libcuda.so.1";
  dlerror();
  handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *message = dlerror();
    error = "CUDA driver not found: " + std::string(message ? message : path) +
            (env && *env ? " (from $SQZ_CUDA_DRIVER)" : "") +
            "; a GPU model needs the NVIDIA driver's libcuda.so.1";
    return;
  }
  bool ok = bind(cuInit, {"cuInit"}) && bind(cuDriverGetVersion, {"cuDriverGetVersion"}) &&
            bind(cuGetErrorName, {"cuGetErrorName"}) &&
            bind(cuGetErrorString, {"cuGetErrorString"}) &&
            bind(cuDeviceGetCount, {"cuDeviceGetCount"}) &&
            bind(cuDeviceGet, {"cuDeviceGet"}) && bind(cuDeviceGetName, {"cuDeviceGetName"}) &&
            bind(cuDeviceGetAttribute, {"cuDeviceGetAttribute"}) &&
            bind(cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}) &&
            bind(cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}) &&
            bind(cuCtxGetCurrent, {"cuCtxGetCurrent"}) &&
            bind(cuCtxSetCurrent, {"cuCtxSetCurrent"}) &&
            bind(cuModuleLoadDataEx, {"cuModuleLoadDataEx"}) &&
            bind(cuModuleUnload, {"cuModuleUnload"}) &&
            bind(cuModuleGetFunction, {"cuModuleGetFunction"}) &&
            bind(cuFuncSetAttribute, {"cuFuncSetAttribute"}) &&
            bind(cuLaunchKernel, {"cuLaunchKernel"}) &&
            bind(cuLaunchKernelEx, {"cuLaunchKernelEx"}, /*required=*/false) &&
            bind(cuStreamCreate, {"cuStreamCreate"}) &&
            bind(cuStreamDestroy, {"cuStreamDestroy_v2", "cuStreamDestroy"}) &&
            bind(cuStreamSynchronize, {"cuStreamSynchronize"}) &&
            bind(cuStreamWaitEvent, {"cuStreamWaitEvent"}) &&
            bind(cuEventCreate, {"cuEventCreate"}) &&
            bind(cuEventDestroy, {"cuEventDestroy_v2", "cuEventDestroy"}) &&
            bind(cuEventSynchronize, {"cuEventSynchronize"}) &&
            bind(cuEventRecord, {"cuEventRecord"}) &&
            bind(cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}) &&
            bind(cuMemAlloc, {"cuMemAlloc_v2"}) &&
            bind(cuMemAllocManaged, {"cuMemAllocManaged"}) &&
            bind(cuMemFree, {"cuMemFree_v2"}) && bind(cuMemcpyAsync, {"cuMemcpyAsync"}) &&
            bind(cuMemAllocAsync, {"cuMemAllocAsync"}, /*required=*/false) &&
            bind(cuMemFreeAsync, {"cuMemFreeAsync"}, /*required=*/false) &&
            bind(cuDeviceGetDefaultMemPool, {"cuDeviceGetDefaultMemPool"}, false) &&
            bind(cuMemPoolSetAttribute, {"cuMemPoolSetAttribute"}, false) &&
            bind(cuMemsetD32Async, {"cuMemsetD32Async"}) &&
            bind(cuMemsetD16Async, {"cuMemsetD16Async"});
  if (!ok)
    return;
  if (CUresult r = cuInit(0); r != CUDA_SUCCESS)
    error = "CUDA driver '" + path + "' failed to initialise: cuInit: " + resultText(*this, r);
}

Driver &driver() {
  // Loaded once and never unloaded: model libraries may hold pointers into it until exit.
  static Driver *instance = [] {
    auto *d = new Driver;
    d->load();
    return d;
  }();
  return *instance;
}

//===----------------------------------------------------------------------===//
// Errors: the first failure since last_error() was last called, per thread.
//===----------------------------------------------------------------------===//

struct ErrorState {
  bool pending = false;
  std::string message;
  /// What last_error() returned last; stays valid until the next last_error() call.
  std::string reported;
};
thread_local ErrorState errorState;

void recordError(std::string message) {
  if (errorState.pending)
    return;
  errorState.pending = true;
  errorState.message = std::move(message);
}

/// Records `result` of `call` if it failed. Returns whether it succeeded.
bool check(CUresult result, const char *call) {
  if (result == CUDA_SUCCESS)
    return true;
  recordError(std::string(call) + ": " + resultText(driver(), result));
  return false;
}

const char *lastError() {
  if (!errorState.pending)
    return nullptr;
  errorState.pending = false;
  errorState.reported = std::move(errorState.message);
  errorState.message.clear();
  return errorState.reported.c_str();
}

//===----------------------------------------------------------------------===//
// Devices.
//===----------------------------------------------------------------------===//

struct Device {
  bool initialised = false;
  std::string error;
  CUdevice device = 0;
  CUcontext context = nullptr;
  int maxSharedOptin = 0;
  /// Stream-ordered allocation works (cuMemAllocAsync/cuMemFreeAsync bound and the device
  /// supports memory pools).
  bool streamOrderedAlloc = false;
  sqz_gpu_api table{};
};
Device devices[kMaxCudaDevices];
std::mutex devicesMutex;

/// Makes the device's primary context current for the scope, restoring the caller's.
class ScopedContext {
public:
  explicit ScopedContext(const Device &device) {
    Driver &d = driver();
    if (d.cuCtxGetCurrent(&previous) == CUDA_SUCCESS && previous == device.context)
      return;
    restore = true;
    check(d.cuCtxSetCurrent(device.context), "cuCtxSetCurrent");
  }
  ~ScopedContext() {
    if (restore)
      driver().cuCtxSetCurrent(previous);
  }
  ScopedContext(const ScopedContext &) = delete;
  ScopedContext &operator=(const ScopedContext &) = delete;

private:
  CUcontext previous = nullptr;
  bool restore = false;
};

bool isPrefix(const void *image, size_t bytes, const unsigned char *magic, size_t n) {
  return bytes >= n && std::memcmp(image, magic, n) == 0;
}

void *moduleLoad(const Device &dev, const void *image, size_t bytes) {
  Driver &d = driver();
  ScopedContext scope(dev);
  if (!image) {
    recordError("module_load: the image is NULL");
    return nullptr;
  }
  static const unsigned char kElf[] = {0x7f, 'E', 'L', 'F'};
  static const unsigned char kFatbin[] = {0x50, 0xed, 0x55, 0xba};
  bool binary = isPrefix(image, bytes, kElf, 4) || isPrefix(image, bytes, kFatbin, 4);
  // PTX is text the driver reads up to its NUL: make sure there is one.
  std::string ptx;
  const void *data = image;
  if (!binary && bytes && static_cast<const char *>(image)[bytes - 1] != '\0') {
    ptx.assign(static_cast<const char *>(image), bytes);
    data = ptx.c_str();
  }
  char infoLog[4096] = "", errorLog[16384] = "";
  int options[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                   CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {infoLog, reinterpret_cast<void *>(uintptr_t(sizeof(infoLog))), errorLog,
                    reinterpret_cast<void *>(uintptr_t(sizeof(errorLog)))};
  CUmodule module = nullptr;
  CUresult r = d.cuModuleLoadDataEx(&module, data, 4, options, values);
  if (r != CUDA_SUCCESS) {
    std::string message = std::string("cannot load the GPU module (") +
                          (binary ? "cubin/fatbin" : "PTX, JIT-compiled by the driver") +
                          "): cuModuleLoadDataEx: " + resultText(d, r);
    errorLog[sizeof(errorLog) - 1] = '\0';
    if (*errorLog)
      message += "\nJIT log:\n" + std::string(errorLog);
    recordError(std::move(message));
    return nullptr;
  }
  return module;
}

void moduleUnload(const Device &dev, void *module) {
  if (!module)
    return;
  ScopedContext scope(dev);
  check(driver().cuModuleUnload(static_cast<CUmodule>(module)), "cuModuleUnload");
}

void *moduleGetFunction(const Device &dev, void *module, const char *name) {
  ScopedContext scope(dev);
  if (!module) {
    recordError(std::string("module_get_function '") + (name ? name : "") +
                "': the module is NULL (it failed to load)");
    return nullptr;
  }
  CUfunction function = nullptr;
  CUresult r = driver().cuModuleGetFunction(&function, static_cast<CUmodule>(module), name);
  if (r != CUDA_SUCCESS) {
    recordError(std::string("cuModuleGetFunction '") + (name ? name : "") +
                "': " + resultText(driver(), r));
    return nullptr;
  }
  return function;
}

/// Launch dims must fit the driver's unsigned ints.
bool checkDims(std::initializer_list<intptr_t> dims, const char *what) {
  for (intptr_t dim : dims)
    if (dim < 0 || static_cast<uintptr_t>(dim) > 0xffffffffu) {
      recordError(std::string(what) + ": launch dimension " + std::to_string(dim) +
                  " is out of range");
      return false;
    }
  return true;
}

/// Allows more than the default 48 KiB of dynamic shared memory when asked for.
bool prepareSharedMemory(const Device &dev, CUfunction function, int32_t sharedBytes) {
  if (sharedBytes < 0) {
    recordError("launch_kernel: negative shared memory size " + std::to_string(sharedBytes));
    return false;
  }
  if (sharedBytes <= 48 * 1024)
    return true;
  if (dev.maxSharedOptin && sharedBytes > dev.maxSharedOptin) {
    recordError("launch_kernel: " + std::to_string(sharedBytes) +
                " bytes of dynamic shared memory exceed the device's " +
                std::to_string(dev.maxSharedOptin));
    return false;
  }
  return check(driver().cuFuncSetAttribute(function,
                                           CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                           sharedBytes),
               "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
}

void launchKernel(const Device &dev, void *function, intptr_t gx, intptr_t gy, intptr_t gz,
                  intptr_t bx, intptr_t by, intptr_t bz, int32_t sharedBytes, void *stream,
                  void **params, void **extra, size_t) {
  ScopedContext scope(dev);
  if (!function) {
    recordError("launch_kernel: the function is NULL");
    return;
  }
  auto fn = static_cast<CUfunction>(function);
  if (!checkDims({gx, gy, gz, bx, by, bz}, "launch_kernel"))
    return;
  // An empty grid (a kernel over a dynamic dim of size 0) has nothing to run; the driver
  // would reject it.
  if (gx == 0 || gy == 0 || gz == 0)
    return;
  if (!prepareSharedMemory(dev, fn, sharedBytes))
    return;
  check(driver().cuLaunchKernel(fn, unsigned(gx), unsigned(gy), unsigned(gz), unsigned(bx),
                                unsigned(by), unsigned(bz), unsigned(sharedBytes),
                                static_cast<CUstream>(stream), params, extra),
        "cuLaunchKernel");
}

void launchClusterKernel(const Device &dev, void *function, intptr_t cx, intptr_t cy,
                         intptr_t cz, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx,
                         intptr_t by, intptr_t bz, int32_t sharedBytes, void *stream,
                         void **params, void **extra) {
  Driver &d = driver();
  ScopedContext scope(dev);
  if (!function) {
    recordError("launch_cluster_kernel: the function is NULL");
    return;
  }
  if (!d.cuLaunchKernelEx) {
    recordError("launch_cluster_kernel: the CUDA driver has no cuLaunchKernelEx (CUDA 12+)");
    return;
  }
  auto fn = static_cast<CUfunction>(function);
  if (!checkDims({cx, cy, cz, gx, gy, gz, bx, by, bz}, "launch_cluster_kernel") ||
      !prepareSharedMemory(dev, fn, sharedBytes))
    return;
  // Clusters of more than 8 blocks are "non-portable" and must be allowed explicitly.
  if (cx * cy * cz > 8 &&
      !check(d.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1),
             "cuFuncSetAttribute(NON_PORTABLE_CLUSTER_SIZE_ALLOWED)"))
    return;
  CUlaunchAttribute attribute{};
  attribute.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attribute.value.clusterDim.x = unsigned(cx);
  attribute.value.clusterDim.y = unsigned(cy);
  attribute.value.clusterDim.z = unsigned(cz);
  CUlaunchConfig config{};
  config.gridDimX = unsigned(gx);
  config.gridDimY = unsigned(gy);
  config.gridDimZ = unsigned(gz);
  config.blockDimX = unsigned(bx);
  config.blockDimY = unsigned(by);
  config.blockDimZ = unsigned(bz);
  config.sharedMemBytes = unsigned(sharedBytes);
  config.hStream = static_cast<CUstream>(stream);
  config.attrs = &attribute;
  config.numAttrs = 1;
  check(d.cuLaunchKernelEx(&config, fn, params, extra), "cuLaunchKernelEx");
}

void *streamCreate(const Device &dev) {
  ScopedContext scope(dev);
  // A blocking stream: it synchronizes with the legacy default stream, on which the runtime
  // records its timing events around a model run.
  CUstream stream = nullptr;
  if (!check(driver().cuStreamCreate(&stream, CU_STREAM_DEFAULT), "cuStreamCreate"))
    return nullptr;
  return stream;
}

void streamDestroy(const Device &dev, void *stream) {
  if (!stream)
    return;
  ScopedContext scope(dev);
  check(driver().cuStreamDestroy(static_cast<CUstream>(stream)), "cuStreamDestroy");
}

void streamSynchronize(const Device &dev, void *stream) {
  ScopedContext scope(dev);
  check(driver().cuStreamSynchronize(static_cast<CUstream>(stream)), "cuStreamSynchronize");
}

void streamWaitEvent(const Device &dev, void *stream, void *event) {
  ScopedContext scope(dev);
  check(driver().cuStreamWaitEvent(static_cast<CUstream>(stream), static_cast<CUevent>(event),
                                   0),
        "cuStreamWaitEvent");
}

void *eventCreate(const Device &dev) {
  ScopedContext scope(dev);
  CUevent event = nullptr;
  if (!check(driver().cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate"))
    return nullptr;
  return event;
}

void eventDestroy(const Device &dev, void *event) {
  if (!event)
    return;
  ScopedContext scope(dev);
  check(driver().cuEventDestroy(static_cast<CUevent>(event)), "cuEventDestroy");
}

void eventSynchronize(const Device &dev, void *event) {
  ScopedContext scope(dev);
  check(driver().cuEventSynchronize(static_cast<CUevent>(event)), "cuEventSynchronize");
}

void eventRecord(const Device &dev, void *event, void *stream) {
  ScopedContext scope(dev);
  check(driver().cuEventRecord(static_cast<CUevent>(event), static_cast<CUstream>(stream)),
        "cuEventRecord");
}

float eventElapsedMs(const Device &dev, void *start, void *end) {
  ScopedContext scope(dev);
  float ms = 0;
  CUresult r = driver().cuEventElapsedTime(&ms, static_cast<CUevent>(start),
                                           static_cast<CUevent>(end));
  if (r == CUDA_ERROR_NOT_READY)
    recordError("event_elapsed_ms: the events have not completed (synchronize first)");
  else
    check(r, "cuEventElapsedTime");
  return ms;
}

/// The device buffers a stream-ordered allocation returned (cuMemAllocAsync): only those are
/// freed with cuMemFreeAsync (cuMemFree frees either kind).
std::mutex asyncAllocsMutex;
std::unordered_set<uintptr_t> asyncAllocs;

void *memAlloc(const Device &dev, uint64_t bytes, void *stream, bool hostShared) {
  // As mgpuMemAlloc: nothing to allocate for an empty buffer.
  if (bytes == 0)
    return nullptr;
  ScopedContext scope(dev);
  CUdeviceptr ptr = 0;
  // Generated code allocates on the stream of its launches (one per model call): a
  // stream-ordered allocation from the device's pool neither synchronizes nor calls into the
  // OS on every run.
  bool ordered = stream && !hostShared && dev.streamOrderedAlloc;
  CUresult r = hostShared ? driver().cuMemAllocManaged(&ptr, bytes, CU_MEM_ATTACH_GLOBAL)
               : ordered  ? driver().cuMemAllocAsync(&ptr, bytes, static_cast<CUstream>(stream))
                          : driver().cuMemAlloc(&ptr, bytes);
  if (ordered && r == CUDA_ERROR_NOT_SUPPORTED) { // e.g. under some virtualization: fall back
    ordered = false;
    r = driver().cuMemAlloc(&ptr, bytes);
  }
  if (r != CUDA_SUCCESS) {
    recordError(std::string(hostShared ? "cuMemAllocManaged"
                            : ordered  ? "cuMemAllocAsync"
                                       : "cuMemAlloc") +
                " of " + std::to_string(bytes) + " bytes: " + resultText(driver(), r));
    return nullptr;
  }
  if (ordered) {
    std::lock_guard<std::mutex> lock(asyncAllocsMutex);
    asyncAllocs.insert(static_cast<uintptr_t>(ptr));
  }
  return reinterpret_cast<void *>(static_cast<uintptr_t>(ptr));
}

void memFree(const Device &dev, void *ptr, void *stream) {
  if (!ptr)
    return;
  ScopedContext scope(dev);
  const auto p = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr));
  bool ordered = false;
  {
    std::lock_guard<std::mutex> lock(asyncAllocsMutex);
    ordered = asyncAllocs.erase(static_cast<uintptr_t>(p)) != 0;
  }
  // A pool buffer is freed stream-ordered: on the stream of the launches that used it (after
  // them), or without one on the legacy default stream, which waits for every blocking stream
  // (cuMemFree would not wait for pending work on a pool buffer). Other buffers: cuMemFree,
  // which waits for the device's pending work.
  if (ordered)
    check(driver().cuMemFreeAsync(p, static_cast<CUstream>(stream)), "cuMemFreeAsync");
  else
    check(driver().cuMemFree(p), "cuMemFree");
}

CUdeviceptr devicePtr(const void *ptr) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr));
}

void memcpyAny(const Device &dev, void *dst, const void *src, size_t bytes, void *stream) {
  if (!bytes)
    return;
  ScopedContext scope(dev);
  check(driver().cuMemcpyAsync(devicePtr(dst), devicePtr(src), bytes,
                               static_cast<CUstream>(stream)),
        "cuMemcpyAsync");
}

void memset32(const Device &dev, void *dst, uint32_t value, size_t count, void *stream) {
  if (!count)
    return;
  ScopedContext scope(dev);
  check(driver().cuMemsetD32Async(devicePtr(dst), value, count, static_cast<CUstream>(stream)),
        "cuMemsetD32Async");
}

void memset16(const Device &dev, void *dst, uint16_t value, size_t count, void *stream) {
  if (!count)
    return;
  ScopedContext scope(dev);
  check(driver().cuMemsetD16Async(devicePtr(dst), value, count, static_cast<CUstream>(stream)),
        "cuMemsetD16Async");
}

/// The table functions of device slot D: plain C function pointers carry no state, so each
/// device gets its own instantiation.
template <int D>
struct Thunks {
  static const Device &dev() { return devices[D]; }
  static void *moduleLoad(const void *image, size_t bytes) {
    return ::moduleLoad(dev(), image, bytes);
  }
  static void moduleUnload(void *module) { ::moduleUnload(dev(), module); }
  static void *moduleGetFunction(void *module, const char *name) {
    return ::moduleGetFunction(dev(), module, name);
  }
  static void launchKernel(void *f, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx,
                           intptr_t by, intptr_t bz, int32_t smem, void *stream, void **params,
                           void **extra, size_t n) {
    ::launchKernel(dev(), f, gx, gy, gz, bx, by, bz, smem, stream, params, extra, n);
  }
  static void launchClusterKernel(void *f, intptr_t cx, intptr_t cy, intptr_t cz, intptr_t gx,
                                  intptr_t gy, intptr_t gz, intptr_t bx, intptr_t by,
                                  intptr_t bz, int32_t smem, void *stream, void **params,
                                  void **extra) {
    ::launchClusterKernel(dev(), f, cx, cy, cz, gx, gy, gz, bx, by, bz, smem, stream, params,
                          extra);
  }
  static void *streamCreate() { return ::streamCreate(dev()); }
  static void streamDestroy(void *s) { ::streamDestroy(dev(), s); }
  static void streamSynchronize(void *s) { ::streamSynchronize(dev(), s); }
  static void streamWaitEvent(void *s, void *e) { ::streamWaitEvent(dev(), s, e); }
  static void *eventCreate() { return ::eventCreate(dev()); }
  static void eventDestroy(void *e) { ::eventDestroy(dev(), e); }
  static void eventSynchronize(void *e) { ::eventSynchronize(dev(), e); }
  static void eventRecord(void *e, void *s) { ::eventRecord(dev(), e, s); }
  static float eventElapsedMs(void *a, void *b) { return ::eventElapsedMs(dev(), a, b); }
  static void *memAlloc(uint64_t bytes, void *s, bool shared) {
    return ::memAlloc(dev(), bytes, s, shared);
  }
  static void memFree(void *p, void *s) { ::memFree(dev(), p, s); }
  static void memcpy(void *dst, const void *src, size_t bytes, void *s) {
    ::memcpyAny(dev(), dst, src, bytes, s);
  }
  static void memset32(void *dst, uint32_t v, size_t n, void *s) {
    ::memset32(dev(), dst, v, n, s);
  }
  static void memset16(void *dst, uint16_t v, size_t n, void *s) {
    ::memset16(dev(), dst, v, n, s);
  }

  static sqz_gpu_api table() {
    sqz_gpu_api t{};
    t.version = SQZ_GPU_API_VERSION;
    t.size = sizeof(sqz_gpu_api);
    t.module_load = moduleLoad;
    t.module_unload = moduleUnload;
    t.module_get_function = moduleGetFunction;
    t.launch_kernel = launchKernel;
    t.stream_create = streamCreate;
    t.stream_destroy = streamDestroy;
    t.stream_synchronize = streamSynchronize;
    t.stream_wait_event = streamWaitEvent;
    t.event_create = eventCreate;
    t.event_destroy = eventDestroy;
    t.event_synchronize = eventSynchronize;
    t.event_record = eventRecord;
    t.event_elapsed_ms = eventElapsedMs;
    t.mem_alloc = memAlloc;
    t.mem_free = memFree;
    t.memcpy = memcpy;
    t.memset32 = memset32;
    t.memset16 = memset16;
    t.last_error = lastError;
    t.launch_cluster_kernel = launchClusterKernel;
    return t;
  }
};

template <int... D>
sqz_gpu_api tableFor(int device, std::integer_sequence<int, D...>) {
  sqz_gpu_api table{};
  ((device == D ? (table = Thunks<D>::table(), 0) : 0), ...);
  return table;
}

/// Initialises device `index` once (under devicesMutex).
void initDevice(int32_t index) {
  Device &dev = devices[index];
  Driver &d = driver();
  dev.initialised = true;
  if (!d.error.empty()) {
    dev.error = d.error;
    return;
  }
  int count = 0;
  if (CUresult r = d.cuDeviceGetCount(&count); r != CUDA_SUCCESS) {
    dev.error = "cannot count the CUDA devices: cuDeviceGetCount: " + resultText(d, r);
    return;
  }
  if (index >= count) {
    dev.error = "CUDA device " + std::to_string(index) + " does not exist (" +
                (count ? "the driver sees " + std::to_string(count) + " device" +
                             (count == 1 ? "" : "s")
                       : std::string("the driver sees no device")) +
                ")";
    return;
  }
  if (CUresult r = d.cuDeviceGet(&dev.device, index); r != CUDA_SUCCESS) {
    dev.error = "cuDeviceGet(" + std::to_string(index) + "): " + resultText(d, r);
    return;
  }
  if (CUresult r = d.cuDevicePrimaryCtxRetain(&dev.context, dev.device); r != CUDA_SUCCESS) {
    dev.error = "cannot create a context on CUDA device " + std::to_string(index) +
                ": cuDevicePrimaryCtxRetain: " + resultText(d, r);
    return;
  }
  d.cuDeviceGetAttribute(&dev.maxSharedOptin,
                         CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev.device);
  int pools = 0;
  const char *syncAlloc = std::getenv("SQZ_CUDA_SYNC_ALLOC");
  dev.streamOrderedAlloc =
      d.cuMemAllocAsync && d.cuMemFreeAsync &&
      d.cuDeviceGetAttribute(&pools, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, dev.device) ==
          CUDA_SUCCESS &&
      pools != 0 && !(syncAlloc && *syncAlloc && std::strcmp(syncAlloc, "0") != 0);
  // The default pool would hand its memory back to the OS at every synchronization (release
  // threshold 0), i.e. at the end of every model call: keep it instead.
  void *pool = nullptr;
  if (dev.streamOrderedAlloc && d.cuDeviceGetDefaultMemPool && d.cuMemPoolSetAttribute &&
      d.cuDeviceGetDefaultMemPool(&pool, dev.device) == CUDA_SUCCESS && pool) {
    uint64_t keep = UINT64_MAX;
    d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep);
  }
  dev.table = tableFor(index, std::make_integer_sequence<int, kMaxCudaDevices>());
}

} // namespace

const sqz_gpu_api *sqz::runtime::getCudaApi(int32_t device, std::string &error) {
  if (device < 0 || device >= kMaxCudaDevices) {
    error = "CUDA device " + std::to_string(device) + " is out of range (0 to " +
            std::to_string(kMaxCudaDevices - 1) + ")";
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(devicesMutex);
  Device &dev = devices[device];
  if (!dev.initialised)
    initDevice(device);
  if (!dev.error.empty()) {
    error = dev.error;
    return nullptr;
  }
  return &dev.table;
}

bool sqz::runtime::getCudaDeviceInfo(int32_t device, CudaDeviceInfo &info,
                                     std::string &error) {
  if (!getCudaApi(device, error))
    return false;
  Driver &d = driver();
  const Device &dev = devices[device];
  char name[256] = "";
  size_t total = 0;
  CUresult r;
  if ((r = d.cuDeviceGetName(name, sizeof(name) - 1, dev.device)) != CUDA_SUCCESS ||
      (r = d.cuDeviceGetAttribute(&info.major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                  dev.device)) != CUDA_SUCCESS ||
      (r = d.cuDeviceGetAttribute(&info.minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                  dev.device)) != CUDA_SUCCESS ||
      (r = d.cuDeviceTotalMem(&total, dev.device)) != CUDA_SUCCESS ||
      (r = d.cuDriverGetVersion(&info.driverVersion)) != CUDA_SUCCESS) {
    error = "cannot query CUDA device " + std::to_string(device) + ": " + resultText(d, r);
    return false;
  }
  info.name = name;
  info.totalMemory = total;
  return true;
}

const std::string &sqz::runtime::lastReportedCudaError() { return errorState.reported; }

void sqz::runtime::clearReportedCudaError() {
  errorState.pending = false;
  errorState.message.clear();
  errorState.reported.clear();
}

bool sqz::runtime::parseGpuArch(const std::string &arch, int &capability,
                                bool &archSpecific) {
  // sm_<major><minor>[a|f]: sm_80, sm_90a, sm_100a, sm_120f.
  if (arch.size() < 5 || arch.compare(0, 3, "sm_") != 0)
    return false;
  std::string digits = arch.substr(3);
  archSpecific = false;
  char last = digits.back();
  if (last == 'a' || last == 'f') {
    archSpecific = last == 'a';
    digits.pop_back();
  }
  if (digits.size() < 2 || digits.size() > 3 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  capability = std::stoi(digits);
  return capability >= 10;
}

// Exported from libsqz_runtime.so with the sqz_* C API (sqz_gpu.h has no SQZ_API marker).
__attribute__((visibility("default"))) const sqz_gpu_api *
sqz_cuda_api(int32_t device, char *error, size_t errorSize) {
  std::string message;
  const sqz_gpu_api *api = getCudaApi(device, message);
  if (!api && error && errorSize) {
    size_t n = std::min(message.size(), errorSize - 1);
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
  }
  return api;
}
