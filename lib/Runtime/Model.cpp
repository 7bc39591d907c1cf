//===- Model.cpp - Artifact loading and the C API (sqz-c/sqz.h) -----------===//
//
// Implements include/sqz-c/sqz.h: reads the manifest, dlopens the model
// library, checks it implements the artifact ABI, and calls its entry point.
//
//===----------------------------------------------------------------------===//

#include "sqz-c/sqz.h"

#include "Runtime/Manifest.h"
#include "Runtime/Safetensors.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <memory>
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
  void (*entry)(void **) = nullptr;
  void (*setNumThreads)(int32_t) = nullptr;
  /// ABI 2: the mapped weights file.
  std::unique_ptr<MappedSafetensors> weights;

  ~sqz_model() {
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

static bool loadModel(const std::string &dir, sqz_model &model) {
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

  // The path always contains a '/', so dlopen never searches LD_LIBRARY_PATH
  // for it and picks up another artifact's library.
  model.libraryPath = prefix + model.manifest.library;
  if (::stat(model.libraryPath.c_str(), &st) != 0) {
    setError("cannot open model library '" + model.libraryPath +
             "' named by the manifest: " + std::strerror(errno));
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
  if (abiVersion >= 2) {
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
  model.entry = symbolAs<void (*)(void **)>(entrySymbol);
  return true;
}

sqz_model *sqz_model_load(const char *artifactDir) {
  if (!artifactDir || !*artifactDir) {
    setError("sqz_model_load: artifact directory is empty");
    return nullptr;
  }
  sqz_model *model = new sqz_model;
  if (!loadModel(artifactDir, *model)) {
    delete model;
    return nullptr;
  }
  return model;
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
  size_t sqz_model_##KIND##_nbytes(const sqz_model *m, size_t i) {             \
    const TensorSpec *t = getTensor(m, i, IS_OUTPUT, __func__);                \
    return t ? t->numBytes : 0;                                                \
  }

SQZ_DEFINE_ACCESSORS(input, false)
SQZ_DEFINE_ACCESSORS(output, true)

#undef SQZ_DEFINE_ACCESSORS

int sqz_model_run(sqz_model *m, const void *const *inputs,
                  void *const *outputs) {
  if (!m) {
    setError("sqz_model_run: model is NULL");
    return 1;
  }
  const std::vector<TensorSpec> &ins = m->manifest.inputs;
  const std::vector<TensorSpec> &outs = m->manifest.outputs;
  if ((!inputs && !ins.empty()) || (!outputs && !outs.empty())) {
    setError(std::string("sqz_model_run: ") +
             (!inputs && !ins.empty() ? "inputs" : "outputs") +
             " array is NULL");
    return 1;
  }

  // The entry takes one mutable array; it only reads the input slots.
  // Generated code never dereferences an empty tensor's pointer, but give it
  // a valid address anyway rather than NULL.
  alignas(64) static unsigned char emptyTensor[64];
  // Runs may be hot (benchmarks, serving loops): no allocation for the
  // common case of a few tensors.
  size_t numBuffers = ins.size() + outs.size() + (m->weights ? 1 : 0);
  void *stackBuffers[16];
  std::vector<void *> heapBuffers;
  void **buffers = stackBuffers;
  if (numBuffers > 16) {
    heapBuffers.resize(numBuffers);
    buffers = heapBuffers.data();
  }
  auto bind = [&](size_t slot, const TensorSpec &spec, const void *data,
                  const char *kind, size_t index) {
    if (!data && spec.numBytes != 0) {
      setError(std::string("sqz_model_run: ") + kind + " " +
               std::to_string(index) + " ('" + spec.name +
               "') buffer is NULL");
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
  m->entry(buffers);
  return 0;
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
