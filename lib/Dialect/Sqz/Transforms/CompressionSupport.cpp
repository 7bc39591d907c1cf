//===- CompressionSupport.cpp - What the compression passes share ---------===//

#include "CompressionSupport.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "Runtime/Safetensors.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <cstring>

using namespace mlir;
using namespace mlir::sqz;

FailureOr<PruneMethod>
mlir::sqz::parsePruneMethod(StringRef method,
                            function_ref<InFlightDiagnostic()> emitError) {
  std::optional<PruneMethod> parsed = llvm::StringSwitch<std::optional<PruneMethod>>(method)
                                          .Case("magnitude", PruneMethod::Magnitude)
                                          .Case("wanda", PruneMethod::Wanda)
                                          .Case("sparsegpt", PruneMethod::SparseGPT)
                                          .Default(std::nullopt);
  if (!parsed)
    return emitError() << "unknown method '" << method
                       << "' (expected magnitude, wanda or sparsegpt)";
  return *parsed;
}

//===----------------------------------------------------------------------===//
// CalibrationStats
//===----------------------------------------------------------------------===//

struct CalibrationStats::File {
  ::sqz::runtime::MappedSafetensors tensors;
};

CalibrationStats::~CalibrationStats() = default;

FailureOr<std::unique_ptr<CalibrationStats>>
CalibrationStats::open(StringRef path, function_ref<InFlightDiagnostic()> emitError) {
  std::unique_ptr<CalibrationStats> stats(new CalibrationStats());
  stats->path = path.str();
  stats->file = std::make_unique<File>();
  ::sqz::runtime::Status status = stats->file->tensors.open(stats->path);
  if (!status.ok())
    return emitError() << "cannot read calibration statistics '" << path
                       << "': " << status.message();
  return stats;
}

static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

FailureOr<std::vector<double>> CalibrationStats::getF64(Operation *op, StringRef layer,
                                                        StringRef stat,
                                                        ArrayRef<int64_t> shape) const {
  FailureOr<ArrayRef<char>> raw = getRaw(op, layer, stat, "F64", shape);
  if (failed(raw))
    return failure();
  std::vector<double> values(raw->size() / sizeof(double));
  std::memcpy(values.data(), raw->data(), values.size() * sizeof(double));
  return values;
}

FailureOr<std::vector<float>> CalibrationStats::getAbsMax(Operation *op, StringRef layer,
                                                          int64_t in) const {
  FailureOr<ArrayRef<char>> raw = getRaw(op, layer, "absmax", "F32", {in});
  if (failed(raw))
    return failure();
  std::vector<float> values(raw->size() / sizeof(float));
  std::memcpy(values.data(), raw->data(), values.size() * sizeof(float));
  return values;
}

FailureOr<ArrayRef<char>> CalibrationStats::getRaw(Operation *op, StringRef layer,
                                                   StringRef stat, StringRef dtype,
                                                   ArrayRef<int64_t> shape) const {
  const ::sqz::runtime::MappedSafetensors &tensors = file->tensors;
  std::string tokensKey = (layer + "/tokens").str();
  const ::sqz::runtime::SafetensorsEntry *tokens = tensors.find(tokensKey);
  if (!tokens)
    return op->emitError() << "layer '" << layer << "' has no statistics in '" << path
                           << "' (no '" << tokensKey << "')";
  int64_t count = 0;
  if (tokens->dtype != "I64" || tokens->shape != std::vector<int64_t>{1})
    return op->emitError() << "'" << tokensKey << "' in '" << path
                           << "' must be I64 [1], got " << tokens->dtype << " "
                           << formatShape(tokens->shape);
  std::memcpy(&count, tensors.data() + tokens->begin, sizeof(count));
  if (count <= 0)
    return op->emitError() << "layer '" << layer << "' saw no calibration tokens ('"
                           << tokensKey << "' is " << count << " in '" << path << "')";

  std::string key = (layer + "/" + stat).str();
  const ::sqz::runtime::SafetensorsEntry *entry = tensors.find(key);
  if (!entry)
    return op->emitError() << "layer '" << layer << "' has no '" << key << "' in '" << path
                           << "'";
  if (entry->dtype != dtype || entry->shape != std::vector<int64_t>(shape.begin(), shape.end()))
    return op->emitError() << "'" << key << "' in '" << path << "' must be " << dtype << " "
                           << formatShape(shape) << ", got " << entry->dtype << " "
                           << formatShape(entry->shape);
  return ArrayRef<char>(reinterpret_cast<const char *>(tensors.data()) + entry->begin,
                        entry->end - entry->begin);
}

FailureOr<std::vector<double>> CalibrationStats::getSumSq(Operation *op, StringRef layer,
                                                          int64_t in) const {
  return getF64(op, layer, "sumsq", {in});
}

FailureOr<std::vector<double>> CalibrationStats::getXtX(Operation *op, StringRef layer,
                                                        int64_t in) const {
  return getF64(op, layer, "xtx", {in, in});
}

//===----------------------------------------------------------------------===//
// Weight constants
//===----------------------------------------------------------------------===//

static const llvm::fltSemantics *getSemantics(Type elt) {
  if (elt.isF32())
    return &llvm::APFloat::IEEEsingle();
  if (elt.isF16())
    return &llvm::APFloat::IEEEhalf();
  if (elt.isBF16())
    return &llvm::APFloat::BFloat();
  return nullptr;
}

FailureOr<std::vector<float>> mlir::sqz::readFloatConstant(Attribute value,
                                                           std::string &error) {
  auto typed = dyn_cast<ElementsAttr>(value);
  if (!typed) {
    error = "the weight is not an elements constant";
    return failure();
  }
  Type elt = typed.getShapedType().getElementType();
  const llvm::fltSemantics *semantics = getSemantics(elt);
  if (!semantics) {
    std::string type;
    llvm::raw_string_ostream os(type);
    os << elt;
    error = "weights of type " + type + " are not supported (f32, f16 or bf16)";
    return failure();
  }
  int64_t count = typed.getNumElements();
  std::vector<float> values(count);
  if (auto dense = dyn_cast<DenseFPElementsAttr>(value)) {
    int64_t i = 0;
    for (llvm::APFloat v : dense.getValues<llvm::APFloat>()) {
      bool lost = false;
      v.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven, &lost);
      values[i++] = v.convertToFloat();
    }
    return values;
  }
  auto blob = dyn_cast<DenseResourceElementsAttr>(value);
  if (!blob) {
    error = "the weight constant is neither dense nor dense_resource";
    return failure();
  }
  AsmResourceBlob *data = blob.getRawHandle().getBlob();
  if (!data) {
    error = "the weight's data is not available (elided dense_resource blob)";
    return failure();
  }
  ArrayRef<char> raw = data->getData();
  size_t bytes = elt.getIntOrFloatBitWidth() / 8;
  if (raw.size() != static_cast<size_t>(count) * bytes) {
    error = "the weight blob holds " + std::to_string(raw.size()) + " bytes, expected " +
            std::to_string(count * bytes);
    return failure();
  }
  if (elt.isF32()) {
    std::memcpy(values.data(), raw.data(), raw.size());
    return values;
  }
  for (int64_t i = 0; i < count; ++i) {
    uint16_t bits;
    std::memcpy(&bits, raw.data() + i * 2, 2);
    llvm::APFloat v(*semantics, llvm::APInt(16, bits));
    bool lost = false;
    v.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven, &lost);
    values[i] = v.convertToFloat();
  }
  return values;
}

DenseResourceElementsAttr mlir::sqz::makeFloatResource(RankedTensorType type,
                                                       ArrayRef<float> values,
                                                       StringRef key) {
  Type elt = type.getElementType();
  std::vector<char> raw;
  if (elt.isF32()) {
    raw.resize(values.size() * 4);
    std::memcpy(raw.data(), values.data(), raw.size());
  } else {
    const llvm::fltSemantics *semantics = getSemantics(elt);
    assert(semantics && "makeFloatResource: f32, f16 or bf16 expected");
    raw.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      llvm::APFloat v(values[i]);
      bool lost = false;
      v.convert(*semantics, llvm::APFloat::rmNearestTiesToEven, &lost);
      uint16_t bits = static_cast<uint16_t>(v.bitcastToAPInt().getZExtValue());
      std::memcpy(raw.data() + i * 2, &bits, 2);
    }
  }
  return DenseResourceElementsAttr::get(
      type, key, HeapAsmResourceBlob::allocateAndCopyWithAlign(raw, alignof(double)));
}

DenseResourceElementsAttr mlir::sqz::makeI8Resource(RankedTensorType type,
                                                    ArrayRef<uint8_t> bytes, StringRef key) {
  ArrayRef<char> raw(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  return DenseResourceElementsAttr::get(
      type, key, HeapAsmResourceBlob::allocateAndCopyWithAlign(raw, alignof(double)));
}

std::string mlir::sqz::getResourceKey(Attribute value) {
  if (auto blob = dyn_cast<DenseResourceElementsAttr>(value))
    return blob.getRawHandle().getKey().str();
  return "";
}

std::string mlir::sqz::getBlobKeyBase(StringRef layerName) {
  if (layerName.empty())
    return "sqz_weight";
  std::string key = layerName.str();
  for (char &c : key)
    if (!llvm::isAlnum(c) && c != '_' && c != '.')
      c = '_';
  return key;
}

LogicalResult mlir::sqz::checkMethodHasStats(PruneMethod kind, StringRef method, StringRef stats,
                                             function_ref<InFlightDiagnostic()> emitError) {
  if (kind == PruneMethod::Magnitude || !stats.empty())
    return success();
  emitError() << "method '" << method << "' needs calibration statistics (stats=<file>, "
              << (kind == PruneMethod::Wanda ? "L/sumsq" : "L/xtx") << " per layer)";
  return failure();
}

FailureOr<CompressionTargets> mlir::sqz::selectCompressionTargets(
    ModuleOp module, ArrayRef<std::string> targets, ArrayRef<std::string> ignore,
    StringRef statsPath, function_ref<InFlightDiagnostic()> emitError,
    function_ref<bool(Operation *)> isCandidate) {
  FailureOr<LayerSelector> selector = LayerSelector::create(targets, ignore, emitError);
  if (failed(selector))
    return failure();
  CompressionTargets result;
  if (!statsPath.empty()) {
    FailureOr<std::unique_ptr<CalibrationStats>> opened =
        CalibrationStats::open(statsPath, emitError);
    if (failed(opened))
      return failure();
    result.stats = std::move(*opened);
  }
  FailureOr<SmallVector<SelectedLayer>> layers =
      selectLayers(module, *selector, [&](Operation *op) {
        return isCandidate ? isCandidate(op) : isa<LinearOp>(op);
      });
  if (failed(layers))
    return failure();
  result.layers = std::move(*layers);
  return result;
}
