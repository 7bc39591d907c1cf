//===- Model.cpp - Artifact loading and the C API (sqz-c/sqz.h) -----------===//
//
// Implements include/sqz-c/sqz.h: reads the manifest, dlopens the model
// library, checks it implements the artifact ABI, and calls its entry point.
//
//===----------------------------------------------------------------------===//

#include "sqz-c/sqz.h"
#include "sqz-c/sqz_gpu.h"

#include "Runtime/CpuFeatures.h"
#include "Runtime/CudaDriver.h"
#include "Runtime/Manifest.h"
#include "Runtime/Safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace sqz::runtime;

static_assert(SQZ_ABI_VERSION == kArtifactAbiVersion,
              "sqz.h and the manifest reader disagree on the ABI version");

struct sqz_model {
  Manifest manifest;
  std::string libraryPath;
  void *handle = nullptr;
  /// ABI 1 and 2: `void entry(void **buffers)`.
  void (*entry)(void **) = nullptr;
  /// ABI 3: `void entry(void **buffers, const int64_t *shapes)` and the output shape function.
  void (*shapedEntry)(void **, const int64_t *) = nullptr;
  void (*outputShapes)(const int64_t *, int64_t *) = nullptr;
  void (*setNumThreads)(int32_t) = nullptr;
  /// The mapped weights file, when the manifest has one.
  std::unique_ptr<MappedSafetensors> weights;

  /// Sums of the input ranks and of the output ranks: the lengths of the two halves of the
  /// concatenated shape array of ABI 3.
  size_t inputRank = 0, outputRank = 0;
  /// The manifest shapes of every input then every output, concatenated: what a static
  /// model's shapes always are.
  std::vector<int64_t> staticShapes;
  /// For each input dim of the concatenated input shapes: which input and axis it is, and the
  /// index of the first input dim with the same non-empty dim name (kNoDim if none), whose
  /// value it must equal.
  struct DimInfo {
    uint32_t tensor, axis;
    size_t sameNameAs;
  };
  static constexpr size_t kNoDim = ~size_t(0);
  std::vector<DimInfo> inputDims;

  /// A CUDA model (manifest "device": "cuda"): the runtime's table for its GPU, the library's
  /// bind functions, the weights on the GPU and the per-tensor GPU buffers of runs (inputs
  /// then outputs, grown as needed, kept between runs), all guarded by runMutex.
  const sqz_gpu_api *gpu = nullptr;
  int32_t gpuDevice = 0;
  void (*gpuUnbind)(void) = nullptr;
  bool gpuBound = false;
  void *deviceWeights = nullptr;
  struct DeviceBuffer {
    void *ptr = nullptr;
    size_t capacity = 0;
  };
  std::vector<DeviceBuffer> deviceBuffers;
  /// Recorded on the legacy default stream around a run: start, entry start, entry end, end.
  void *events[4] = {nullptr, nullptr, nullptr, nullptr};
  double lastComputeMs = -1, lastTotalMs = -1;
  std::mutex runMutex;

  ~sqz_model() {
    if (gpu) {
      if (gpuBound && gpuUnbind)
        gpuUnbind();
      for (DeviceBuffer &buffer : deviceBuffers)
        gpu->mem_free(buffer.ptr, nullptr);
      gpu->mem_free(deviceWeights, nullptr);
      for (void *event : events)
        gpu->event_destroy(event);
      gpu->last_error();
    }
    if (handle)
      dlclose(handle);
  }
};

static thread_local std::string lastError;

static void setError(std::string message) { lastError = std::move(message); }

const char *sqz_last_error(void) { return lastError.c_str(); }

/// dlsym with the error, if any, as text. POSIX lets a symbol's value be
/// NULL, so failure is told by dlerror(), not by the result.
static void *lookupSymbol(void *handle, const char *name, std::string &error) {
  dlerror();
  void *symbol = dlsym(handle, name);
  if (const char *message = dlerror()) {
    error = message;
    return nullptr;
  }
  if (!symbol)
    error = "symbol is NULL";
  return symbol;
}

template <typename Fn>
static Fn symbolAs(void *symbol) {
  // Object-to-function pointer conversion is only conditionally supported in
  // C++; POSIX guarantees it works for dlsym results.
  Fn fn;
  static_assert(sizeof(fn) == sizeof(symbol), "function pointer size");
  std::memcpy(&fn, &symbol, sizeof(fn));
  return fn;
}

/// Fills the shape bookkeeping of a loaded model (see sqz_model).
static void describeDims(sqz_model &model) {
  const Manifest &manifest = model.manifest;
  model.staticShapes.clear();
  model.inputDims.clear();
  model.inputRank = model.outputRank = 0;
  for (size_t i = 0; i < manifest.inputs.size(); ++i) {
    const TensorSpec &spec = manifest.inputs[i];
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      sqz_model::DimInfo info{static_cast<uint32_t>(i), static_cast<uint32_t>(d),
                              sqz_model::kNoDim};
      if (!spec.dimNames[d].empty())
        for (size_t k = 0; k < model.inputDims.size(); ++k) {
          const sqz_model::DimInfo &other = model.inputDims[k];
          if (manifest.inputs[other.tensor].dimNames[other.axis] == spec.dimNames[d]) {
            info.sameNameAs = k;
            break;
          }
        }
      model.inputDims.push_back(info);
    }
    model.inputRank += spec.shape.size();
    model.staticShapes.insert(model.staticShapes.end(), spec.shape.begin(), spec.shape.end());
  }
  for (const TensorSpec &spec : manifest.outputs) {
    model.outputRank += spec.shape.size();
    model.staticShapes.insert(model.staticShapes.end(), spec.shape.begin(), spec.shape.end());
  }
}

namespace {
/// A device a caller asks for: sqz_model_load_on_device's string.
struct DeviceRequest {
  bool any = true; ///< NULL or "": the manifest's
  Manifest::Device device = Manifest::Device::CPU;
  int32_t index = 0;
};

bool parseDeviceRequest(const char *text, DeviceRequest &request) {
  request = DeviceRequest();
  if (!text || !*text)
    return true;
  std::string s = text;
  request.any = false;
  if (s == "cpu")
    return true;
  request.device = Manifest::Device::CUDA;
  if (s == "cuda")
    return true;
  if (s.compare(0, 5, "cuda:") != 0 || s.size() == 5 || s.size() > 8 ||
      s.find_first_not_of("0123456789", 5) != std::string::npos)
    return false;
  request.index = std::stoi(s.substr(5));
  return true;
}

const char *deviceName(Manifest::Device device) {
  return device == Manifest::Device::CUDA ? "cuda" : "cpu";
}

/// Checks that the GPU can run code compiled for the manifest's gpu_arch.
bool checkGpuArch(const sqz_model &model, std::string &error) {
  const std::string &arch = model.manifest.gpuArch;
  if (arch.empty())
    return true;
  int wanted = 0;
  bool archSpecific = false;
  if (!parseGpuArch(arch, wanted, archSpecific)) {
    error = "the manifest's gpu_arch '" + arch + "' is not a GPU architecture (e.g. sm_80)";
    return false;
  }
  CudaDeviceInfo info;
  if (!getCudaDeviceInfo(model.gpuDevice, info, error))
    return false;
  int have = info.major * 10 + info.minor;
  // PTX for sm_XY runs on any later GPU (the driver JIT-compiles it); "a" targets only on
  // their own architecture.
  if (have < wanted || (archSpecific && have != wanted)) {
    error = "the model was compiled for " + arch + ", but GPU " +
            std::to_string(model.gpuDevice) + " (" + info.name + ") is sm_" +
            std::to_string(have) + "; recompile it with --target cuda:sm_" +
            std::to_string(have);
    return false;
  }
  return true;
}

/// Opens the GPU side of a CUDA model whose library is loaded: binds the table (loading the
/// device code) and uploads the weights.
bool loadGpuModel(sqz_model &model) {
  const sqz_gpu_api &gpu = *model.gpu;
  std::string error;
  void *bindSymbol = lookupSymbol(model.handle, "sqz_model_gpu_bind", error);
  void *unbindSymbol =
      bindSymbol ? lookupSymbol(model.handle, "sqz_model_gpu_unbind", error) : nullptr;
  if (!bindSymbol || !unbindSymbol) {
    setError("'" + model.libraryPath + "' is not a CUDA model library: no " +
             (bindSymbol ? "sqz_model_gpu_unbind" : "sqz_model_gpu_bind") + " (" + error +
             "), although its manifest says \"device\": \"cuda\"");
    return false;
  }
  auto bind = symbolAs<int32_t (*)(const sqz_gpu_api *)>(bindSymbol);
  model.gpuUnbind = symbolAs<void (*)(void)>(unbindSymbol);
  gpu.last_error();
  clearReportedCudaError();
  int32_t result = bind(&gpu);
  if (result != SQZ_GPU_BIND_OK) {
    std::string reason =
        result == SQZ_GPU_BIND_LOAD_FAILED
            ? (lastReportedCudaError().empty() ? std::string("unknown error")
                                               : lastReportedCudaError())
        : result == SQZ_GPU_BIND_API_TOO_OLD
            ? std::string("the model needs a newer runtime (its GPU table lacks functions the "
                          "model calls); use the sqz-run of the compiler that made it")
            : "sqz_model_gpu_bind returned " + std::to_string(result);
    if (result == SQZ_GPU_BIND_LOAD_FAILED)
      model.gpuUnbind(); // release the modules that did load
    setError("cannot load the GPU code of '" + model.libraryPath + "': " + reason);
    return false;
  }
  model.gpuBound = true;

  for (void *&event : model.events)
    event = gpu.event_create();
  if (model.manifest.hasWeights() && model.weights->dataSize()) {
    size_t bytes = model.weights->dataSize();
    model.deviceWeights = gpu.mem_alloc(bytes, nullptr, false);
    if (model.deviceWeights) {
      gpu.memcpy(model.deviceWeights, model.weights->data(), bytes, nullptr);
      gpu.stream_synchronize(nullptr);
    }
  }
  if (const char *message = gpu.last_error()) {
    setError("cannot set up CUDA model '" + model.libraryPath + "' on GPU " +
             std::to_string(model.gpuDevice) + ": " + message);
    return false;
  }
  // On the GPU now: the host mapping is no longer needed.
  model.weights.reset();
  model.deviceBuffers.resize(model.manifest.inputs.size() + model.manifest.outputs.size());
  return true;
}
} // namespace

static bool loadModel(const std::string &dir, const DeviceRequest &request,
                      sqz_model &model) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    setError("cannot open artifact directory '" + dir +
             "': " + std::strerror(errno));
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    setError("'" + dir +
             "' is not a directory (an artifact is a directory containing "
             "manifest.json and the model library)");
    return false;
  }
  std::string prefix = dir.back() == '/' ? dir : dir + "/";
  if (Status s = readManifestFile(prefix + "manifest.json", model.manifest);
      !s) {
    setError(s.message());
    return false;
  }
  Manifest::Device device = model.manifest.device;
  if (!request.any && request.device != device) {
    setError("artifact '" + dir + "' was compiled for " +
             (device == Manifest::Device::CUDA
                  ? "cuda" + (model.manifest.gpuArch.empty()
                                  ? std::string()
                                  : " (" + model.manifest.gpuArch + ")")
                  : std::string("cpu")) +
             " (its manifest's \"device\"), not for " + deviceName(request.device) +
             (device == Manifest::Device::CUDA
                  ? "; recompile it with sqz-compile --target cpu to run it on the CPU"
                  : "; recompile it with sqz-compile --target cuda:sm_80 (or sm_90) to run it "
                    "on a GPU"));
    return false;
  }
  if (device == Manifest::Device::CUDA) {
    // Before anything else: without a driver nothing below can work.
    model.gpuDevice = request.index;
    std::string error;
    model.gpu = getCudaApi(model.gpuDevice, error);
    if (!model.gpu) {
      setError("cannot run CUDA model '" + dir + "': " + error);
      return false;
    }
    if (!checkGpuArch(model, error)) {
      setError("cannot run CUDA model '" + dir + "': " + error);
      return false;
    }
  }

  // The path always contains a '/', so dlopen never searches LD_LIBRARY_PATH
  // for it and picks up another artifact's library.
  model.libraryPath = prefix + model.manifest.library;
  if (::stat(model.libraryPath.c_str(), &st) != 0) {
    setError("cannot open model library '" + model.libraryPath +
             "' named by the manifest: " + std::strerror(errno));
    return false;
  }
  // Code for a CPU feature the host lacks would fault at the first run: refuse it here.
  std::vector<std::string> missing = missingCpuFeatures(model.manifest.cpuFeatures);
  if (!missing.empty()) {
    std::string list;
    for (const std::string &feature : missing)
      list += (list.empty() ? "" : ", ") + feature;
    setError("the model library was compiled for CPU '" +
             (model.manifest.targetCPU.empty() ? std::string("?") : model.manifest.targetCPU) +
             "' and uses " + list + ", which this CPU lacks; recompile it with "
             "--target-cpu=native (or a CPU this host implements, e.g. x86-64-v3)");
    return false;
  }
  dlerror();
  model.handle = dlopen(model.libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!model.handle) {
    const char *message = dlerror();
    setError("cannot load model library: " +
             std::string(message ? message : "unknown dlopen error"));
    return false;
  }

  std::string error;
  void *abiSymbol = lookupSymbol(model.handle, "sqz_abi_version", error);
  if (!abiSymbol) {
    setError("'" + model.libraryPath +
             "' is not a Squeeze model library: no sqz_abi_version (" + error +
             ")");
    return false;
  }
  uint32_t abiVersion = symbolAs<uint32_t (*)(void)>(abiSymbol)();
  if (abiVersion != model.manifest.abiVersion) {
    setError("'" + model.libraryPath + "' has ABI version " +
             std::to_string(abiVersion) + ", but its manifest says " +
             std::to_string(model.manifest.abiVersion) +
             " (the library and manifest.json come from different compiles)");
    return false;
  }
  if (model.manifest.hasWeights()) {
    std::string path = dir + "/" + model.manifest.weightsFile;
    model.weights = std::make_unique<MappedSafetensors>();
    if (Status s = model.weights->open(path); !s) {
      setError(s.message());
      return false;
    }
    if (model.weights->dataSize() != model.manifest.weightsBytes) {
      setError("weights file '" + path + "' has " +
               std::to_string(model.weights->dataSize()) + " bytes of data, the library " +
               "was compiled for " + std::to_string(model.manifest.weightsBytes) +
               " (a weights file from another compile?)");
      return false;
    }
    for (const WeightSpec &spec : model.manifest.weights) {
      const SafetensorsEntry *entry = model.weights->find(spec.name);
      if (!entry || entry->dtype != spec.dtype || entry->shape != spec.shape ||
          entry->begin != spec.offset) {
        setError("weights file '" + path + "' does not match the library: tensor '" +
                 spec.name + "' is " +
                 (entry ? "laid out differently" : std::string("missing")) +
                 " (a weights file from another compile?)");
        return false;
      }
    }
  }
  // Optional: older libraries have no thread control.
  dlerror();
  if (void *threads = dlsym(model.handle, "sqz_model_set_num_threads"))
    model.setNumThreads = symbolAs<void (*)(int32_t)>(threads);
  void *entrySymbol =
      lookupSymbol(model.handle, model.manifest.entry.c_str(), error);
  if (!entrySymbol) {
    setError("'" + model.libraryPath + "' has no entry symbol '" +
             model.manifest.entry + "' named by the manifest (" + error + ")");
    return false;
  }
  if (abiVersion < kDynamicShapesAbiVersion) {
    model.entry = symbolAs<void (*)(void **)>(entrySymbol);
  } else {
    model.shapedEntry = symbolAs<void (*)(void **, const int64_t *)>(entrySymbol);
    void *shapesSymbol = lookupSymbol(model.handle, "sqz_model_output_shapes", error);
    if (!shapesSymbol) {
      setError("'" + model.libraryPath + "' has no sqz_model_output_shapes, which ABI " +
               std::to_string(abiVersion) + " model libraries export (" + error + ")");
      return false;
    }
    model.outputShapes = symbolAs<void (*)(const int64_t *, int64_t *)>(shapesSymbol);
  }
  describeDims(model);
  if (model.gpu && !loadGpuModel(model))
    return false;
  return true;
}

static sqz_model *loadOnDevice(const char *function, const char *artifactDir,
                               const char *device) {
  if (!artifactDir || !*artifactDir) {
    setError(std::string(function) + ": artifact directory is empty");
    return nullptr;
  }
  DeviceRequest request;
  if (!parseDeviceRequest(device, request)) {
    setError(std::string(function) + ": unknown device '" + device +
             "' (expected cpu, cuda or cuda:N)");
    return nullptr;
  }
  sqz_model *model = new sqz_model;
  if (!loadModel(artifactDir, request, *model)) {
    delete model;
    return nullptr;
  }
  return model;
}

sqz_model *sqz_model_load(const char *artifactDir) {
  return loadOnDevice("sqz_model_load", artifactDir, nullptr);
}

sqz_model *sqz_model_load_on_device(const char *artifactDir, const char *device) {
  return loadOnDevice("sqz_model_load_on_device", artifactDir, device);
}

const char *sqz_model_device(const sqz_model *m) {
  if (!m) {
    setError("sqz_model_device: model is NULL");
    return nullptr;
  }
  return deviceName(m->manifest.device);
}

int sqz_model_last_run_gpu_ms(const sqz_model *m, double *computeMs, double *totalMs) {
  if (!m) {
    setError("sqz_model_last_run_gpu_ms: model is NULL");
    return 1;
  }
  if (!m->gpu) {
    setError("sqz_model_last_run_gpu_ms: the model runs on the CPU");
    return 1;
  }
  std::lock_guard<std::mutex> lock(const_cast<sqz_model *>(m)->runMutex);
  if (m->lastTotalMs < 0) {
    setError("sqz_model_last_run_gpu_ms: the model has not run yet");
    return 1;
  }
  if (computeMs)
    *computeMs = m->lastComputeMs;
  if (totalMs)
    *totalMs = m->lastTotalMs;
  return 0;
}

void sqz_model_unload(sqz_model *m) { delete m; }

const char *sqz_model_source(const sqz_model *m) {
  if (!m) {
    setError("sqz_model_source: model is NULL");
    return nullptr;
  }
  return m->manifest.source.c_str();
}

size_t sqz_model_num_inputs(const sqz_model *m) {
  if (!m) {
    setError("sqz_model_num_inputs: model is NULL");
    return 0;
  }
  return m->manifest.inputs.size();
}

size_t sqz_model_num_outputs(const sqz_model *m) {
  if (!m) {
    setError("sqz_model_num_outputs: model is NULL");
    return 0;
  }
  return m->manifest.outputs.size();
}

/// The tensor an accessor asks about, or null (with the error set) if the
/// model is null or the index out of range.
static const TensorSpec *getTensor(const sqz_model *m, size_t i, bool output,
                                   const char *function) {
  if (!m) {
    setError(std::string(function) + ": model is NULL");
    return nullptr;
  }
  const std::vector<TensorSpec> &tensors =
      output ? m->manifest.outputs : m->manifest.inputs;
  if (i >= tensors.size()) {
    setError(std::string(function) + ": index " + std::to_string(i) +
             " is out of range (the model has " +
             std::to_string(tensors.size()) +
             (output ? " outputs)" : " inputs)"));
    return nullptr;
  }
  return &tensors[i];
}

static const int64_t kNoDims[1] = {0};

#define SQZ_DEFINE_ACCESSORS(KIND, IS_OUTPUT)                                  \
  const char *sqz_model_##KIND##_name(const sqz_model *m, size_t i) {          \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    return t ? t->name.c_str() : nullptr;                                      \
  }                                                                            \
  const char *sqz_model_##KIND##_dtype(const sqz_model *m, size_t i) {         \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    return t ? dtypeName(t->dtype) : nullptr;                                  \
  }                                                                            \
  const char *sqz_model_##KIND##_onnx_dtype(const sqz_model *m, size_t i) {    \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    return t ? t->onnxDType.c_str() : nullptr;                                 \
  }                                                                            \
  size_t sqz_model_##KIND##_rank(const sqz_model *m, size_t i) {               \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    return t ? t->shape.size() : 0;                                            \
  }                                                                            \
  const int64_t *sqz_model_##KIND##_shape(const sqz_model *m, size_t i) {      \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    if (!t)                                                                    \
      return nullptr;                                                          \
    return t->shape.empty() ? kNoDims : t->shape.data();                       \
  }                                                                            \
  const int64_t *sqz_model_##KIND##_max_shape(const sqz_model *m, size_t i) {  \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    if (!t)                                                                    \
      return nullptr;                                                          \
    return t->maxShape.empty() ? kNoDims : t->maxShape.data();                 \
  }                                                                            \
  const char *sqz_model_##KIND##_dim_name(const sqz_model *m, size_t i,        \
                                          size_t axis) {                       \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    if (!t)                                                                    \
      return nullptr;                                                          \
    if (axis >= t->shape.size()) {                                             \
      setError(std::string(__func__) + ": axis " + std::to_string(axis) +      \
               " is out of range (" #KIND " '" + t->name + "' has rank " +     \
               std::to_string(t->shape.size()) + ")");                         \
      return nullptr;                                                          \
    }                                                                          \
    return t->dimNames[axis].c_str();                                          \
  }                                                                            \
  size_t sqz_model_##KIND##_nbytes(const sqz_model *m, size_t i) {             \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    return t ? t->numBytes : 0;                                                \
  }

SQZ_DEFINE_ACCESSORS(input, false)
SQZ_DEFINE_ACCESSORS(output, true)

#undef SQZ_DEFINE_ACCESSORS

int sqz_model_is_dynamic(const sqz_model *m) {
  if (!m) {
    setError("sqz_model_is_dynamic: model is NULL");
    return 0;
  }
  return m->manifest.dynamic ? 1 : 0;
}

namespace {
/// Runs may be hot (benchmarks, serving loops, decode steps): arrays of up to N elements live
/// on the stack, larger ones on the heap.
template <typename T, size_t N>
class SmallArray {
public:
  explicit SmallArray(size_t size) {
    static_assert(N > 0, "SmallArray needs a stack part");
    if (size > N) {
      heap.resize(size);
      ptr = heap.data();
    }
  }
  SmallArray(const SmallArray &) = delete;
  SmallArray &operator=(const SmallArray &) = delete;
  T *data() { return ptr; }
  T &operator[](size_t i) { return ptr[i]; }

private:
  T stack[N];
  std::vector<T> heap;
  T *ptr = stack;
};

/// " ('seq')" for a named dim, "" otherwise.
std::string dimLabel(const TensorSpec &spec, size_t axis) {
  return spec.dimNames[axis].empty() ? "" : " ('" + spec.dimNames[axis] + "')";
}

std::string formatDims(const int64_t *dims, size_t rank) {
  std::string text = "[";
  for (size_t d = 0; d < rank; ++d)
    text += (d ? "," : "") + std::to_string(dims[d]);
  return text + "]";
}

/// Checks one dim of a tensor against the manifest: static dims equal, dynamic ones in
/// [0, bound].
bool checkDim(const char *function, const char *kind, const TensorSpec &spec, size_t axis,
              int64_t value) {
  int64_t declared = spec.shape[axis], bound = spec.maxShape[axis];
  // The message is built only on failure: a valid run allocates nothing.
  auto what = [&] {
    return std::string(function) + ": " + kind + " '" + spec.name + "' dim " +
           std::to_string(axis) + dimLabel(spec, axis) + " is " + std::to_string(value);
  };
  if (declared != kDynamicDim) {
    if (value == declared)
      return true;
    setError(what() + ", but the model declares " + std::to_string(declared));
    return false;
  }
  if (value < 0) {
    setError(what() + ", must be >= 0");
    return false;
  }
  if (bound != kDynamicDim && value > bound) {
    setError(what() + ", above its bound " + std::to_string(bound));
    return false;
  }
  return true;
}

/// Whether a dense buffer of `dims` fits in memory at all (element count times element size
/// fits size_t); sets the error if not.
bool checkSize(const char *function, const char *kind, const TensorSpec &spec,
               const int64_t *dims, size_t rank) {
  size_t count = 1;
  bool overflow = false;
  for (size_t d = 0; d < rank; ++d) {
    if (dims[d] == 0)
      return true;
    if (static_cast<uint64_t>(dims[d]) > SIZE_MAX / count)
      overflow = true;
    else
      count *= static_cast<size_t>(dims[d]);
  }
  if (!overflow && count <= SIZE_MAX / dtypeSize(spec.dtype))
    return true;
  setError(std::string(function) + ": " + kind + " '" + spec.name + "' of shape " +
           formatDims(dims, rank) + " is too large");
  return false;
}

bool hasZeroDim(const int64_t *dims, size_t rank) {
  for (size_t d = 0; d < rank; ++d)
    if (dims[d] == 0)
      return true;
  return false;
}
} // namespace

/// Validates the caller's input shapes against the manifest and writes the full shapes of
/// every input then every output to `shapes` (m.inputRank + m.outputRank entries), asking the
/// library for the output shapes of a dynamic model. Sets the error and returns false on a
/// bad shape.
static bool computeShapes(const sqz_model &m, const char *function,
                          const int64_t *const *inputShapes, int64_t *shapes) {
  const std::vector<TensorSpec> &ins = m.manifest.inputs;
  const std::vector<TensorSpec> &outs = m.manifest.outputs;
  if (!inputShapes && m.inputRank) {
    setError(std::string(function) + ": input_shapes array is NULL");
    return false;
  }
  size_t at = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const TensorSpec &spec = ins[i];
    size_t rank = spec.shape.size();
    if (!rank)
      continue;
    const int64_t *dims = inputShapes[i];
    if (!dims) {
      setError(std::string(function) + ": input " + std::to_string(i) + " ('" + spec.name +
               "') shape is NULL (it has rank " + std::to_string(rank) + ")");
      return false;
    }
    for (size_t d = 0; d < rank; ++d, ++at) {
      shapes[at] = dims[d];
      if (!checkDim(function, "input", spec, d, dims[d]))
        return false;
      size_t same = m.inputDims[at].sameNameAs;
      if (same != sqz_model::kNoDim && shapes[same] != dims[d]) {
        const sqz_model::DimInfo &other = m.inputDims[same];
        setError(std::string(function) + ": input '" + spec.name + "' dim " +
                 std::to_string(d) + dimLabel(spec, d) + " is " + std::to_string(dims[d]) +
                 ", but input '" + ins[other.tensor].name + "' dim " +
                 std::to_string(other.axis) + " of the same name is " +
                 std::to_string(shapes[same]) + " (dims named '" + spec.dimNames[d] +
                 "' must be equal)");
        return false;
      }
    }
    if (!checkSize(function, "input", spec, shapes + at - rank, rank))
      return false;
  }

  int64_t *outShapes = shapes + m.inputRank;
  if (m.outputShapes)
    m.outputShapes(shapes, outShapes);
  else
    std::copy(m.staticShapes.begin() + m.inputRank, m.staticShapes.end(), outShapes);
  at = 0;
  for (const TensorSpec &spec : outs) {
    size_t rank = spec.shape.size();
    for (size_t d = 0; d < rank; ++d, ++at) {
      // The library computed these; a mismatch means it and the manifest disagree.
      if (!checkDim(function, "output", spec, d, outShapes[at])) {
        lastError += " (computed by the model library from the input shapes " +
                     formatDims(shapes, m.inputRank) + ")";
        return false;
      }
    }
    if (!checkSize(function, "output", spec, outShapes + at - rank, rank))
      return false;
  }
  return true;
}

/// invoke() for a CUDA model: copies the inputs to GPU buffers, calls the entry on device
/// pointers, copies the outputs back, and times it all with events on the default stream.
static int invokeCuda(sqz_model *m, const char *function, const int64_t *shapes,
                      const void *const *inputs, void *const *outputs) {
  const std::vector<TensorSpec> &ins = m->manifest.inputs;
  const std::vector<TensorSpec> &outs = m->manifest.outputs;
  const sqz_gpu_api &gpu = *m->gpu;
  std::lock_guard<std::mutex> lock(m->runMutex);
  gpu.last_error(); // a failure of an earlier, already reported run
  size_t numTensors = ins.size() + outs.size();
  size_t numBuffers = numTensors + (m->manifest.hasWeights() ? 1 : 0);
  SmallArray<void *, 16> buffers(numBuffers);
  SmallArray<size_t, 16> bytes(numTensors);
  const int64_t *dims = shapes;
  for (size_t t = 0; t < numTensors; ++t) {
    bool isInput = t < ins.size();
    const TensorSpec &spec = isInput ? ins[t] : outs[t - ins.size()];
    size_t rank = spec.shape.size();
    size_t count = 1;
    for (size_t d = 0; d < rank; ++d)
      count *= static_cast<size_t>(dims[d]);
    dims += rank;
    bytes[t] = count * dtypeSize(spec.dtype);
    const void *host = isInput ? inputs[t] : outputs[t - ins.size()];
    if (!host && bytes[t]) {
      setError(std::string(function) + ": " + (isInput ? "input " : "output ") +
               std::to_string(isInput ? t : t - ins.size()) + " ('" + spec.name +
               "') buffer is NULL");
      return 1;
    }
    sqz_model::DeviceBuffer &buffer = m->deviceBuffers[t];
    if (buffer.capacity < bytes[t]) {
      gpu.mem_free(buffer.ptr, nullptr);
      buffer.ptr = gpu.mem_alloc(bytes[t], nullptr, false);
      buffer.capacity = buffer.ptr ? bytes[t] : 0;
      if (!buffer.ptr) {
        const char *reason = gpu.last_error();
        setError(std::string(function) + ": cannot allocate " + std::to_string(bytes[t]) +
                 " bytes on GPU " + std::to_string(m->gpuDevice) + " for " +
                 (isInput ? "input '" : "output '") + spec.name + "': " +
                 (reason ? reason : "unknown error"));
        return 1;
      }
    }
    buffers[t] = buffer.ptr;
  }
  if (m->manifest.hasWeights())
    buffers[numBuffers - 1] = m->deviceWeights;

  gpu.event_record(m->events[0], nullptr);
  for (size_t i = 0; i < ins.size(); ++i)
    gpu.memcpy(buffers[i], inputs[i], bytes[i], nullptr);
  gpu.event_record(m->events[1], nullptr);
  if (m->shapedEntry)
    m->shapedEntry(buffers.data(), shapes);
  else
    m->entry(buffers.data());
  gpu.event_record(m->events[2], nullptr);
  for (size_t j = 0; j < outs.size(); ++j)
    gpu.memcpy(outputs[j], buffers[ins.size() + j], bytes[ins.size() + j], nullptr);
  gpu.event_record(m->events[3], nullptr);
  gpu.event_synchronize(m->events[3]);
  if (const char *message = gpu.last_error()) {
    setError(std::string(function) + ": CUDA error while running '" + m->libraryPath +
             "' on GPU " + std::to_string(m->gpuDevice) + ": " + message);
    m->lastComputeMs = m->lastTotalMs = -1;
    return 1;
  }
  m->lastComputeMs = gpu.event_elapsed_ms(m->events[1], m->events[2]);
  m->lastTotalMs = gpu.event_elapsed_ms(m->events[0], m->events[3]);
  gpu.last_error(); // timing is best effort
  return 0;
}

/// Binds the buffers and calls the entry; `shapes` are the full shapes computeShapes gave.
static int invoke(sqz_model *m, const char *function, const int64_t *shapes,
                  const void *const *inputs, void *const *outputs) {
  const std::vector<TensorSpec> &ins = m->manifest.inputs;
  const std::vector<TensorSpec> &outs = m->manifest.outputs;
  if ((!inputs && !ins.empty()) || (!outputs && !outs.empty())) {
    setError(std::string(function) + ": " +
             (!inputs && !ins.empty() ? "inputs" : "outputs") + " array is NULL");
    return 1;
  }
  if (m->gpu)
    return invokeCuda(m, function, shapes, inputs, outputs);

  // The entry takes one mutable array; it only reads the input slots.
  // Generated code never dereferences an empty tensor's pointer, but give it
  // a valid address anyway rather than NULL.
  alignas(64) static unsigned char emptyTensor[64];
  size_t numBuffers = ins.size() + outs.size() + (m->weights ? 1 : 0);
  SmallArray<void *, 16> buffers(numBuffers);
  const int64_t *dims = shapes;
  auto bind = [&](size_t slot, const TensorSpec &spec, const void *data, const char *kind,
                  size_t index) {
    size_t rank = spec.shape.size();
    bool empty = hasZeroDim(dims, rank);
    dims += rank;
    if (!data && !empty) {
      setError(std::string(function) + ": " + kind + " " + std::to_string(index) + " ('" +
               spec.name + "') buffer is NULL");
      return false;
    }
    buffers[slot] = data ? const_cast<void *>(data) : emptyTensor;
    return true;
  };
  for (size_t i = 0; i < ins.size(); ++i)
    if (!bind(i, ins[i], inputs[i], "input", i))
      return 1;
  for (size_t i = 0; i < outs.size(); ++i)
    if (!bind(ins.size() + i, outs[i], outputs[i], "output", i))
      return 1;
  if (m->weights)
    buffers[numBuffers - 1] = const_cast<uint8_t *>(m->weights->data());
  if (m->shapedEntry)
    m->shapedEntry(buffers.data(), shapes);
  else
    m->entry(buffers.data());
  return 0;
}

/// The first dynamic dim of the model, as "input 'x' dim 1 ('seq')", for error messages.
static std::string firstDynamicDim(const sqz_model &m) {
  for (const std::vector<TensorSpec> *tensors : {&m.manifest.inputs, &m.manifest.outputs})
    for (const TensorSpec &spec : *tensors)
      for (size_t d = 0; d < spec.shape.size(); ++d)
        if (spec.shape[d] == kDynamicDim)
          return std::string(tensors == &m.manifest.inputs ? "input" : "output") + " '" +
                 spec.name + "' dim " + std::to_string(d) + dimLabel(spec, d);
  return "";
}

int sqz_model_run(sqz_model *m, const void *const *inputs,
                  void *const *outputs) {
  if (!m) {
    setError("sqz_model_run: model is NULL");
    return 1;
  }
  if (m->manifest.dynamic) {
    setError("sqz_model_run: the model has dynamic dims (" + firstDynamicDim(*m) +
             "); run it with sqz_model_run_shaped, which takes the input shapes");
    return 1;
  }
  return invoke(m, "sqz_model_run", m->staticShapes.data(), inputs, outputs);
}

/// Shape arrays of up to this many dims in all stay on the stack.
static constexpr size_t kStackDims = 64;

int sqz_model_infer_output_shapes(const sqz_model *m, const int64_t *const *input_shapes,
                                  int64_t *const *output_shapes) {
  const char *function = "sqz_model_infer_output_shapes";
  if (!m) {
    setError(std::string(function) + ": model is NULL");
    return 1;
  }
  const std::vector<TensorSpec> &outs = m->manifest.outputs;
  if (!output_shapes && m->outputRank) {
    setError(std::string(function) + ": output_shapes array is NULL");
    return 1;
  }
  for (size_t j = 0; j < outs.size(); ++j)
    if (!outs[j].shape.empty() && !output_shapes[j]) {
      setError(std::string(function) + ": output " + std::to_string(j) + " ('" +
               outs[j].name + "') shape is NULL (it has rank " +
               std::to_string(outs[j].shape.size()) + ")");
      return 1;
    }
  SmallArray<int64_t, kStackDims> shapes(m->inputRank + m->outputRank);
  if (!computeShapes(*m, function, input_shapes, shapes.data()))
    return 1;
  const int64_t *dims = shapes.data() + m->inputRank;
  for (size_t j = 0; j < outs.size(); ++j) {
    std::copy(dims, dims + outs[j].shape.size(), output_shapes[j]);
    dims += outs[j].shape.size();
  }
  return 0;
}

int sqz_model_run_shaped(sqz_model *m, const int64_t *const *input_shapes,
                         const void *const *inputs, void *const *outputs) {
  const char *function = "sqz_model_run_shaped";
  if (!m) {
    setError(std::string(function) + ": model is NULL");
    return 1;
  }
  SmallArray<int64_t, kStackDims> shapes(m->inputRank + m->outputRank);
  if (!computeShapes(*m, function, input_shapes, shapes.data()))
    return 1;
  return invoke(m, function, shapes.data(), inputs, outputs);
}

int sqz_model_set_threads(sqz_model *m, int n) {
  if (!m) {
    setError("sqz_model_set_threads: model is NULL");
    return 1;
  }
  if (n < 1) {
    setError("sqz_model_set_threads: the thread count must be at least 1, got " +
             std::to_string(n));
    return 1;
  }
  if (!m->setNumThreads) {
    setError("'" + m->libraryPath + "' has no thread control (sqz_model_set_num_threads); "
             "recompile it with a newer sqz-compile");
    return 1;
  }
  m->setNumThreads(static_cast<int32_t>(n));
  return 0;
}
