//===- Manifest.h - The artifact manifest (manifest.json) -------*- C++ -*-===//
//
// sqz-compile writes manifest.json beside model.so to say how to call it: the
// ABI version, the library and entry symbol, and the name, dtype and shape of
// every input and output, in the order of the entry's buffer array. From ABI 3
// a dim may be dynamic (-1), with an optional name and upper bound.
// Parsing is separate from loading the library so it can be tested without
// dlopen. See docs/Runtime.md for the format.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_MANIFEST_H
#define SQZ_RUNTIME_MANIFEST_H

#include "Runtime/DType.h"
#include "Runtime/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sqz {
namespace runtime {

/// The newest artifact ABI this runtime implements (see include/sqz-c/sqz.h); it also loads
/// every version from kMinArtifactAbiVersion on. Version 2 adds the weights file, version 3
/// dynamic dims (the entry also takes the shapes; the library computes output shapes).
constexpr int64_t kArtifactAbiVersion = 3;
constexpr int64_t kMinArtifactAbiVersion = 1;
/// The first ABI version with dynamic dims.
constexpr int64_t kDynamicShapesAbiVersion = 3;

/// The value of a dynamic dim in TensorSpec::shape (and of an unbounded one in maxShape).
constexpr int64_t kDynamicDim = -1;

/// One input or output of the model.
struct TensorSpec {
  std::string name;
  DType dtype = DType::Float32;
  /// The manifest's optional "onnx_dtype": the ONNX dtype `dtype` carries widened or as bit
  /// patterns ("int4", "bfloat16", "float8e4m3fn", ...); empty when absent.
  std::string onnxDType;
  /// Static dims >= 0; kDynamicDim for a dim known only at run time (ABI 3).
  std::vector<int64_t> shape;
  /// One per dim: static dims repeat their size, dynamic dims hold their upper bound or
  /// kDynamicDim (none). The manifest's "max_shape", or `shape` when absent.
  std::vector<int64_t> maxShape;
  /// One per dim: the manifest's "dim_names" ("" for static or unnamed dims), or all "".
  std::vector<std::string> dimNames;
  /// Whether some dim is dynamic.
  bool dynamic = false;
  /// Element count and byte size of the dense buffer; 0 for a dynamic tensor (its size
  /// follows from the shape of each run).
  size_t numElements = 0;
  size_t numBytes = 0;
};

/// A tensor of the weights file as the library was compiled for it.
struct WeightSpec {
  std::string name;
  std::string dtype; ///< safetensors dtype name ("F32", "I8", ...)
  std::vector<int64_t> shape;
  uint64_t offset = 0; ///< in the file's data section
};

struct Manifest {
  int64_t abiVersion = 0;
  /// Whether some input or output has a dynamic dim (needs ABI 3).
  bool dynamic = false;
  /// ABI 2 (optional in ABI 3): the safetensors file holding the large weights (relative to the artifact
  /// directory), its data section's size and the layout the library expects.
  std::string weightsFile;
  uint64_t weightsBytes = 0;
  std::vector<WeightSpec> weights;
  /// Path of the shared library, relative to the artifact directory.
  std::string library;
  /// Name of the entry symbol: `void entry(void **buffers)`, from ABI 3
  /// `void entry(void **buffers, const int64_t *shapes)`.
  std::string entry;
  /// The model the artifact was compiled from ("" if not recorded).
  std::string source;
  /// The CPU the code was compiled for ("" if not recorded) and the instruction-set features
  /// it may use (LLVM names; optional "cpu_features"): checked against the host at load.
  std::string targetCPU;
  std::vector<std::string> cpuFeatures;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  /// Where the model runs (the optional "device"): a CUDA artifact's buffers (inputs, outputs,
  /// weights) are device pointers, and its library exports sqz_model_gpu_bind/_unbind.
  enum class Device { CPU, CUDA };
  Device device = Device::CPU;
  /// The GPU the device code was compiled for ("sm_80"; "gpu_arch", CUDA only, optional).
  std::string gpuArch;

  /// Whether the library reads a weights file (buffer after the outputs).
  bool hasWeights() const { return !weightsFile.empty(); }
};

/// Parses and validates manifest JSON text. `fileName` is only used to prefix
/// error messages ("out/manifest.json: offset 12 (line 2, column 3): ...").
/// Unknown keys are ignored so later compilers can add information without
/// breaking older runtimes; incompatible changes bump abi_version.
Status parseManifest(std::string_view text, const std::string &fileName,
                     Manifest &manifest);

/// Reads and parses `path`.
Status readManifestFile(const std::string &path, Manifest &manifest);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_MANIFEST_H
