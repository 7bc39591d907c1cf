//===- Manifest.cpp - The artifact manifest (manifest.json) ---------------===//

#include "Runtime/Manifest.h"
#include "Runtime/Json.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

using namespace sqz::runtime;

namespace {
/// Validates one manifest, prefixing every error with the file and the JSON
/// path of the offending field ("inputs[0].shape[1]").
class ManifestReader {
public:
  explicit ManifestReader(const std::string &fileName) : fileName(fileName) {}

  Status read(const JsonValue &root, Manifest &manifest);

private:
  Status error(const std::string &path, const std::string &message) const {
    return Status::error(fileName + ": " +
                         (path.empty() ? "" : "'" + path + "': ") + message);
  }
  Status typeError(const std::string &path, const char *expected,
                   const JsonValue &got) const {
    return error(path, std::string("expected ") + expected + ", got " +
                           JsonValue::kindName(got.kind()));
  }
  /// Finds a required member of `object` and checks its kind.
  Status getMember(const JsonValue &object, const std::string &path,
                   const char *name, JsonValue::Kind kind,
                   const JsonValue *&member) const;
  Status getString(const JsonValue &object, const std::string &path,
                   const char *name, std::string &out) const;
  Status readTensors(const JsonValue &root, const char *name, int64_t abiVersion,
                     std::vector<TensorSpec> &tensors) const;
  Status readShape(const JsonValue &entry, const std::string &path, int64_t abiVersion,
                   TensorSpec &spec) const;
  Status readWeights(const JsonValue &root, Manifest &manifest) const;

  const std::string &fileName;
};
} // namespace

Status ManifestReader::getMember(const JsonValue &object,
                                 const std::string &path, const char *name,
                                 JsonValue::Kind kind,
                                 const JsonValue *&member) const {
  std::string memberPath = path.empty() ? name : path + "." + name;
  member = object.find(name);
  if (!member)
    return error(path, std::string("missing required key \"") + name + "\"");
  if (member->kind() != kind &&
      !(kind == JsonValue::Kind::Double && member->isNumber()))
    return typeError(memberPath, JsonValue::kindName(kind), *member);
  return Status::success();
}

Status ManifestReader::getString(const JsonValue &object,
                                 const std::string &path, const char *name,
                                 std::string &out) const {
  const JsonValue *member;
  if (Status s =
          getMember(object, path, name, JsonValue::Kind::String, member);
      !s)
    return s;
  out = member->getString();
  // Names become C strings and file names: an embedded NUL would silently
  // truncate them.
  if (out.find('\0') != std::string::npos)
    return error(path.empty() ? name : path + "." + name,
                 "string contains a NUL character");
  return Status::success();
}

Status ManifestReader::readTensors(const JsonValue &root, const char *name,
                                   int64_t abiVersion,
                                   std::vector<TensorSpec> &tensors) const {
  const JsonValue *list;
  if (Status s = getMember(root, "", name, JsonValue::Kind::Array, list); !s)
    return s;
  tensors.clear();
  for (size_t i = 0; i < list->size(); ++i) {
    std::string path = std::string(name) + "[" + std::to_string(i) + "]";
    const JsonValue &entry = (*list)[i];
    if (!entry.isObject())
      return typeError(path, "object", entry);
    TensorSpec spec;
    if (Status s = getString(entry, path, "name", spec.name); !s)
      return s;
    if (spec.name.empty())
      return error(path + ".name", "name is empty");
    for (const TensorSpec &other : tensors)
      if (other.name == spec.name)
        return error(path + ".name",
                     "duplicate " + std::string(name) + " name \"" +
                         spec.name + "\"");

    std::string dtypeName;
    if (Status s = getString(entry, path, "dtype", dtypeName); !s)
      return s;
    std::optional<DType> dtype = parseDTypeName(dtypeName);
    if (!dtype)
      return error(path + ".dtype", "unknown dtype \"" + dtypeName +
                                        "\" (expected one of " +
                                        listDTypeNames() + ")");
    spec.dtype = *dtype;
    if (const JsonValue *onnxDType = entry.find("onnx_dtype")) {
      if (!onnxDType->isString())
        return typeError(path + ".onnx_dtype", "string", *onnxDType);
      spec.onnxDType = onnxDType->getString();
    }

    if (Status s = readShape(entry, path, abiVersion, spec); !s)
      return s;
    tensors.push_back(std::move(spec));
  }
  return Status::success();
}

/// "shape", and the optional "dim_names" and "max_shape" that describe its dynamic dims.
Status ManifestReader::readShape(const JsonValue &entry, const std::string &path,
                                 int64_t abiVersion, TensorSpec &spec) const {
  const JsonValue *shape;
  if (Status s = getMember(entry, path, "shape", JsonValue::Kind::Array, shape); !s)
    return s;
  spec.dynamic = false;
  for (size_t d = 0; d < shape->size(); ++d) {
    const JsonValue &dim = (*shape)[d];
    std::string dimPath = path + ".shape[" + std::to_string(d) + "]";
    if (!dim.isInt())
      return typeError(dimPath, "integer", dim);
    int64_t value = dim.getInt();
    if (value == kDynamicDim && abiVersion >= kDynamicShapesAbiVersion) {
      spec.dynamic = true;
    } else if (value < 0) {
      // ABI versions 1 and 2 have static shapes only.
      if (abiVersion < kDynamicShapesAbiVersion)
        return error(dimPath, "dimension " + std::to_string(value) +
                                  " is negative (shapes must be static)");
      return error(dimPath, "dimension " + std::to_string(value) +
                                " is invalid (expected a size >= 0, or -1 for a dynamic dim)");
    }
    spec.shape.push_back(value);
  }
  size_t rank = spec.shape.size();

  spec.dimNames.assign(rank, std::string());
  if (const JsonValue *names = entry.find("dim_names")) {
    std::string namesPath = path + ".dim_names";
    if (!names->isArray())
      return typeError(namesPath, "array", *names);
    if (names->size() != rank)
      return error(namesPath, "has " + std::to_string(names->size()) +
                                  " entries, but the shape has " + std::to_string(rank) +
                                  " dims");
    for (size_t d = 0; d < rank; ++d) {
      const JsonValue &name = (*names)[d];
      std::string namePath = namesPath + "[" + std::to_string(d) + "]";
      if (!name.isString())
        return typeError(namePath, "string", name);
      if (name.getString().find('\0') != std::string::npos)
        return error(namePath, "string contains a NUL character");
      spec.dimNames[d] = name.getString();
    }
  }

  spec.maxShape = spec.shape;
  if (const JsonValue *maxShape = entry.find("max_shape")) {
    std::string maxPath = path + ".max_shape";
    if (!maxShape->isArray())
      return typeError(maxPath, "array", *maxShape);
    if (maxShape->size() != rank)
      return error(maxPath, "has " + std::to_string(maxShape->size()) +
                                " entries, but the shape has " + std::to_string(rank) +
                                " dims");
    for (size_t d = 0; d < rank; ++d) {
      const JsonValue &bound = (*maxShape)[d];
      std::string boundPath = maxPath + "[" + std::to_string(d) + "]";
      if (!bound.isInt())
        return typeError(boundPath, "integer", bound);
      int64_t value = bound.getInt();
      if (spec.shape[d] != kDynamicDim && value != spec.shape[d])
        return error(boundPath, "is " + std::to_string(value) + ", but dim " +
                                    std::to_string(d) + " is static with size " +
                                    std::to_string(spec.shape[d]) +
                                    " (static dims repeat their size)");
      if (value < 0 && value != kDynamicDim)
        return error(boundPath, "bound " + std::to_string(value) +
                                    " is invalid (expected a size >= 0, or -1 for no bound)");
      spec.maxShape[d] = value;
    }
  }

  spec.numElements = spec.numBytes = 0;
  if (spec.dynamic)
    return Status::success();
  if (Status s = computeTensorSize(spec.dtype, spec.shape, spec.numElements, spec.numBytes);
      !s)
    return error(path + ".shape", s.message());
  return Status::success();
}

Status ManifestReader::read(const JsonValue &root, Manifest &manifest) {
  if (!root.isObject())
    return typeError("", "a JSON object", root);

  std::string format;
  if (Status s = getString(root, "", "format", format); !s)
    return s;
  if (format != "sqz-artifact")
    return error("format", "expected \"sqz-artifact\", got \"" + format + "\"");

  const JsonValue *abi;
  if (Status s = getMember(root, "", "abi_version", JsonValue::Kind::Int, abi);
      !s)
    return s;
  manifest.abiVersion = abi->getInt();
  if (manifest.abiVersion < kMinArtifactAbiVersion ||
      manifest.abiVersion > kArtifactAbiVersion)
    return error("abi_version",
                 "artifact ABI version " + std::to_string(abi->getInt()) +
                     " is not supported by this runtime (it supports " +
                     std::to_string(kMinArtifactAbiVersion) + " to " +
                     std::to_string(kArtifactAbiVersion) +
                     "); recompile the model or use a matching sqz-run");
  if (Status s = readWeights(root, manifest); !s)
    return s;

  if (Status s = getString(root, "", "library", manifest.library); !s)
    return s;
  // Relative, so the artifact directory can be moved or copied elsewhere.
  if (manifest.library.empty() || manifest.library[0] == '/')
    return error("library", "must be a non-empty path relative to the "
                            "artifact directory, got \"" +
                                manifest.library + "\"");
  if (Status s = getString(root, "", "entry", manifest.entry); !s)
    return s;
  if (manifest.entry.empty())
    return error("entry", "entry symbol name is empty");

  manifest.source.clear();
  if (const JsonValue *source = root.find("source")) {
    if (!source->isString())
      return typeError("source", "string", *source);
    manifest.source = source->getString();
  }

  manifest.targetCPU.clear();
  if (const JsonValue *cpu = root.find("target_cpu")) {
    if (!cpu->isString())
      return typeError("target_cpu", "string", *cpu);
    manifest.targetCPU = cpu->getString();
  }
  manifest.cpuFeatures.clear();
  if (const JsonValue *features = root.find("cpu_features")) {
    if (!features->isArray())
      return typeError("cpu_features", "array", *features);
    for (size_t i = 0; i < features->size(); ++i) {
      const JsonValue &feature = (*features)[i];
      std::string field = "cpu_features[" + std::to_string(i) + "]";
      if (!feature.isString())
        return typeError(field, "string", feature);
      manifest.cpuFeatures.push_back(feature.getString());
    }
  }

  manifest.device = Manifest::Device::CPU;
  manifest.gpuArch.clear();
  if (const JsonValue *device = root.find("device")) {
    if (!device->isString())
      return typeError("device", "string", *device);
    if (device->getString() == "cuda")
      manifest.device = Manifest::Device::CUDA;
    else if (device->getString() != "cpu")
      return error("device", "unknown device \"" + device->getString() +
                                 "\" (expected \"cpu\" or \"cuda\")");
  }
  if (const JsonValue *arch = root.find("gpu_arch")) {
    if (!arch->isString())
      return typeError("gpu_arch", "string", *arch);
    if (manifest.device != Manifest::Device::CUDA)
      return error("gpu_arch", "is only meaningful with \"device\": \"cuda\"");
    manifest.gpuArch = arch->getString();
    if (manifest.gpuArch.find('\0') != std::string::npos)
      return error("gpu_arch", "string contains a NUL character");
  }

  if (Status s = readTensors(root, "inputs", manifest.abiVersion, manifest.inputs); !s)
    return s;
  if (Status s = readTensors(root, "outputs", manifest.abiVersion, manifest.outputs); !s)
    return s;
  manifest.dynamic = false;
  for (const std::vector<TensorSpec> *tensors : {&manifest.inputs, &manifest.outputs})
    for (const TensorSpec &spec : *tensors)
      manifest.dynamic |= spec.dynamic;
  return Status::success();
}

/// "weights": {"file": "model.safetensors", "bytes": N, "tensors": [{"name", "dtype",
/// "shape", "offset"}, ...]}: required in ABI 2, optional in ABI 3, absent before.
Status ManifestReader::readWeights(const JsonValue &root, Manifest &manifest) const {
  manifest.weightsFile.clear();
  manifest.weightsBytes = 0;
  manifest.weights.clear();
  const JsonValue *weights = root.find("weights");
  if (manifest.abiVersion < 2) {
    if (weights)
      return error("weights", "a weights file needs abi_version 2");
    return Status::success();
  }
  // Required in ABI 2; optional from ABI 3 (a model may keep every constant inline).
  if (!weights && manifest.abiVersion >= kDynamicShapesAbiVersion)
    return Status::success();
  const JsonValue *object;
  if (Status s = getMember(root, "", "weights", JsonValue::Kind::Object, object); !s)
    return s;
  if (Status s = getString(*object, "weights", "file", manifest.weightsFile); !s)
    return s;
  if (manifest.weightsFile.empty() || manifest.weightsFile[0] == '/' ||
      manifest.weightsFile.find("..") != std::string::npos)
    return error("weights.file", "must be a relative path inside the artifact directory, got \"" +
                                     manifest.weightsFile + "\"");
  const JsonValue *bytes, *tensors;
  if (Status s = getMember(*object, "weights", "bytes", JsonValue::Kind::Int, bytes); !s)
    return s;
  if (bytes->getInt() < 0)
    return error("weights.bytes", "must not be negative");
  manifest.weightsBytes = static_cast<uint64_t>(bytes->getInt());
  if (Status s = getMember(*object, "weights", "tensors", JsonValue::Kind::Array, tensors); !s)
    return s;
  for (size_t i = 0; i < tensors->size(); ++i) {
    std::string path = "weights.tensors[" + std::to_string(i) + "]";
    const JsonValue &t = (*tensors)[i];
    if (!t.isObject())
      return typeError(path, "object", t);
    WeightSpec spec;
    const JsonValue *shape, *offset;
    if (Status s = getString(t, path, "name", spec.name); !s)
      return s;
    if (Status s = getString(t, path, "dtype", spec.dtype); !s)
      return s;
    if (Status s = getMember(t, path, "shape", JsonValue::Kind::Array, shape); !s)
      return s;
    for (size_t d = 0; d < shape->size(); ++d) {
      if (!(*shape)[d].isInt() || (*shape)[d].getInt() < 0)
        return error(path + ".shape", "dims must be non-negative integers");
      spec.shape.push_back((*shape)[d].getInt());
    }
    if (Status s = getMember(t, path, "offset", JsonValue::Kind::Int, offset); !s)
      return s;
    if (offset->getInt() < 0)
      return error(path + ".offset", "must not be negative");
    spec.offset = static_cast<uint64_t>(offset->getInt());
    manifest.weights.push_back(std::move(spec));
  }
  return Status::success();
}

Status sqz::runtime::parseManifest(std::string_view text,
                                   const std::string &fileName,
                                   Manifest &manifest) {
  JsonValue root;
  JsonError jsonError;
  if (!parseJson(text, root, jsonError))
    return Status::error(fileName + ": invalid JSON at " + jsonError.str());
  return ManifestReader(fileName).read(root, manifest);
}

Status sqz::runtime::readManifestFile(const std::string &path,
                                      Manifest &manifest) {
  struct Closer {
    void operator()(std::FILE *f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
  if (!file)
    return Status::error("cannot open manifest '" + path +
                         "': " + std::strerror(errno));
  std::string text;
  char chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0)
    text.append(chunk, n);
  if (std::ferror(file.get()))
    return Status::error("cannot read manifest '" + path +
                         "': " + std::strerror(errno));
  return parseManifest(text, path, manifest);
}
