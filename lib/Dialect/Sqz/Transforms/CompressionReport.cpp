//===- CompressionReport.cpp - What compression did to each layer ---------===//

#include "sqz/Dialect/Sqz/Transforms/CompressionReport.h"

#include "CompressionSupport.h"
#include "LayerSelection.h"

#include "sqz/Compression/Quantization.h"
#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "Runtime/Safetensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::sqz;
namespace rt = ::sqz::runtime;

/// The constant attribute behind `value`, or null.
static Attribute getConstantValue(Value value) {
  if (auto cst = value.getDefiningOp<arith::ConstantOp>())
    return cst.getValue();
  return {};
}

/// The bytes of an i8 constant (dense or dense_resource), or none.
static std::optional<std::vector<uint8_t>> readI8Constant(Attribute value) {
  if (auto dense = dyn_cast_or_null<DenseIntElementsAttr>(value)) {
    std::vector<uint8_t> bytes;
    for (APInt v : dense.getValues<APInt>())
      bytes.push_back(static_cast<uint8_t>(v.getZExtValue()));
    return bytes;
  }
  if (auto blob = dyn_cast_or_null<DenseResourceElementsAttr>(value))
    if (AsmResourceBlob *data = blob.getRawHandle().getBlob()) {
      ArrayRef<char> raw = data->getData();
      return std::vector<uint8_t>(raw.begin(), raw.end());
    }
  return std::nullopt;
}

/// The library's logical form of a quantized weight [rows, cols] stored in the IR (the
/// sqz.quant_linear semantics, shared by the quantized parts of the other forms).
static ::sqz::compression::QuantizedMatrix
toQuantizedMatrix(QuantAttr scheme, int64_t rows, int64_t cols, int64_t groupSize,
                  std::vector<uint8_t> codes, std::vector<float> scales,
                  std::optional<std::vector<uint8_t>> zeros) {
  namespace cmp = ::sqz::compression;
  cmp::QuantizedMatrix q;
  q.format = scheme.getFormat() == QuantFormat::NF4       ? cmp::QuantFormat::NF4
             : scheme.getFormat() == QuantFormat::Ternary ? cmp::QuantFormat::Ternary
             : zeros                                      ? cmp::QuantFormat::Asymmetric
                                                          : cmp::QuantFormat::Symmetric;
  q.rows = rows;
  q.cols = cols;
  q.bits = scheme.getBits();
  q.groupSize = groupSize;
  q.codes = std::move(codes);
  q.scales = std::move(scales);
  if (zeros)
    q.zeros = std::move(*zeros);
  return q;
}

/// Stored bytes of `count` codes packed at the scheme's bits, f32 scales and 1-byte zeros.
static int64_t quantizedBytes(QuantAttr scheme, int64_t count, int64_t groupParams,
                              bool asymmetric) {
  return (count * scheme.getBits() + 7) / 8 + groupParams * 4 + (asymmetric ? groupParams : 0);
}

std::map<std::string, LayerWeight> mlir::sqz::collectLayerWeights(ModuleOp module) {
  std::map<std::string, LayerWeight> layers;
  module.walk([&](Operation *op) {
    std::string name = getLayerName(op);
    if (name.empty())
      return;
    std::string error;
    if (auto linear = dyn_cast<LinearOp>(op)) {
      FailureOr<std::vector<float>> w =
          readFloatConstant(getConstantValue(linear.getWeight()), error);
      if (failed(w))
        return;
      LayerWeight l;
      l.name = name;
      l.out = linear.getOutFeatures();
      l.in = linear.getInFeatures();
      l.dense = std::move(*w);
      Type element = linear.getWeight().getType().getElementType();
      l.bytes = l.out * l.in * ((element.getIntOrFloatBitWidth() + 7) / 8);
      l.form = linear.getSparsity() ? llvm::formatv("dense {0} ({1}:{2} pattern)", element,
                                                    linear.getSparsity()->getN(),
                                                    linear.getSparsity()->getM())
                                          .str()
                                    : llvm::formatv("dense {0}", element).str();
      layers[name] = std::move(l);
      return;
    }
    if (auto quant = dyn_cast<QuantLinearOp>(op)) {
      std::optional<std::vector<uint8_t>> codes = readI8Constant(getConstantValue(quant.getCodes()));
      FailureOr<std::vector<float>> scales =
          readFloatConstant(getConstantValue(quant.getScales()), error);
      std::optional<std::vector<uint8_t>> zeros;
      if (quant.getZeros())
        zeros = readI8Constant(getConstantValue(quant.getZeros()));
      if (!codes || failed(scales) || (quant.getZeros() && !zeros))
        return;
      LayerWeight l;
      l.name = name;
      l.out = quant.getOutFeatures();
      l.in = quant.getInFeatures();
      // The library's dequantization (Quantization.h), from the op's constants.
      QuantAttr scheme = quant.getQuant();
      bool asymmetric = zeros.has_value();
      ::sqz::compression::QuantizedMatrix q =
          toQuantizedMatrix(scheme, l.out, l.in, quant.getGroupSize(), std::move(*codes),
                            std::move(*scales), std::move(zeros));
      l.dense = q.dequantize();
      // Stored bytes: the logical codes packed at `bits` per weight, f32 scales, 1-byte zeros.
      l.bytes = quantizedBytes(scheme, l.out * l.in, l.out * quant.getNumGroups(), asymmetric);
      l.form = llvm::formatv("{0} g{1}{2}", stringifyQuantFormat(scheme.getFormat()),
                             scheme.getGroup(), scheme.getSymmetric() ? "" : " asym")
                   .str();
      layers[name] = std::move(l);
      return;
    }
    if (auto outlier = dyn_cast<OutlierLinearOp>(op)) {
      std::optional<std::vector<uint8_t>> codes =
          readI8Constant(getConstantValue(outlier.getCodes()));
      FailureOr<std::vector<float>> scales =
          readFloatConstant(getConstantValue(outlier.getScales()), error);
      FailureOr<std::vector<float>> fp =
          readFloatConstant(getConstantValue(outlier.getOutlierWeights()), error);
      auto columns =
          dyn_cast_or_null<DenseIntElementsAttr>(getConstantValue(outlier.getOutlierColumns()));
      if (!codes || failed(scales) || failed(fp) || !columns)
        return;
      LayerWeight l;
      l.name = name;
      l.out = outlier.getOutFeatures();
      l.in = outlier.getInFeatures();
      QuantAttr scheme = outlier.getQuant();
      l.dense = toQuantizedMatrix(scheme, l.out, l.in, outlier.getGroupSize(), std::move(*codes),
                                  std::move(*scales), std::nullopt)
                    .dequantize();
      int64_t n = outlier.getNumOutliers(), k = 0;
      for (const APInt &c : columns.getValues<APInt>()) {
        for (int64_t r = 0; r < l.out; ++r)
          l.dense[r * l.in + c.getSExtValue()] = (*fp)[r * n + k];
        ++k;
      }
      Type element = outlier.getOutlierWeights().getType().getElementType();
      // Codes (the outlier columns' included), scales, the i64 column list, the float columns.
      l.bytes = quantizedBytes(scheme, l.out * l.in, l.out * outlier.getNumGroups(), false) +
                n * 8 + l.out * n * ((element.getIntOrFloatBitWidth() + 7) / 8);
      l.form = llvm::formatv("{0} g{1} + {2} {3} cols", stringifyQuantFormat(scheme.getFormat()),
                             scheme.getGroup(), n, element)
                   .str();
      layers[name] = std::move(l);
      return;
    }
    if (auto sparse = dyn_cast<SparseLinearOp>(op)) {
      std::optional<QuantAttr> scheme = sparse.getQuant();
      std::vector<float> values;
      std::optional<std::vector<uint8_t>> codes;
      ::sqz::compression::QuantizedMatrix q;
      SparseLinearOp::Layout layout = sparse.getLayout();
      int64_t out = sparse.getOutFeatures(), in = sparse.getInFeatures();
      int64_t perRow = layout.valuesPerRow(), bytesPerRow = layout.indexBytesPerRow();
      if (scheme) {
        codes = readI8Constant(getConstantValue(sparse.getValues()));
        FailureOr<std::vector<float>> scales =
            readFloatConstant(getConstantValue(sparse.getScales()), error);
        std::optional<std::vector<uint8_t>> zeros;
        if (sparse.getZeros())
          zeros = readI8Constant(getConstantValue(sparse.getZeros()));
        if (!codes || failed(scales) || (sparse.getZeros() && !zeros))
          return;
        // Codes over the dense columns (set at the kept positions below), groups in dense
        // columns: the library dequantizes each kept value.
        q = toQuantizedMatrix(*scheme, out, in, sparse.getGroupSize(),
                              std::vector<uint8_t>(out * in, 0), std::move(*scales),
                              std::move(zeros));
      } else {
        FailureOr<std::vector<float>> read =
            readFloatConstant(getConstantValue(sparse.getValues()), error);
        if (failed(read))
          return;
        values = std::move(*read);
      }
      std::optional<std::vector<uint8_t>> indices =
          readI8Constant(getConstantValue(sparse.getIndices()));
      if (!indices)
        return;
      LayerWeight l;
      l.name = name;
      l.out = out;
      l.in = in;
      l.dense.assign(l.out * l.in, 0.0f);
      for (int64_t r = 0; r < l.out; ++r) {
        const uint8_t *idx = indices->data() + r * bytesPerRow;
        for (int64_t k = 0; k < perRow; ++k) {
          int64_t c = k < layout.groups() * layout.n
                          ? k / layout.n * layout.m + layout.readIndex(idx, k)
                          : layout.groups() * layout.m + (k - layout.groups() * layout.n);
          if (scheme) {
            q.codes[r * l.in + c] = (*codes)[r * perRow + k];
            l.dense[r * l.in + c] = q.dequantize(r, c);
          } else {
            l.dense[r * l.in + c] = values[r * perRow + k];
          }
        }
      }
      if (scheme) {
        l.bytes = quantizedBytes(*scheme, l.out * perRow, l.out * sparse.getNumGroups(),
                                 sparse.getZeros() != nullptr) +
                  static_cast<int64_t>(indices->size());
        l.form = llvm::formatv("{0}:{1} sparse {2} g{3}{4}", layout.n, layout.m,
                               stringifyQuantFormat(scheme->getFormat()), scheme->getGroup(),
                               scheme->getSymmetric() ? "" : " asym")
                     .str();
      } else {
        Type element = sparse.getValues().getType().getElementType();
        l.bytes = l.out * perRow * ((element.getIntOrFloatBitWidth() + 7) / 8) +
                  static_cast<int64_t>(indices->size());
        l.form = llvm::formatv("{0}:{1} sparse {2}", layout.n, layout.m, element).str();
      }
      layers[name] = std::move(l);
    }
  });
  return layers;
}

std::vector<LayerReport>
mlir::sqz::compareLayers(const std::map<std::string, LayerWeight> &before,
                         const std::map<std::string, LayerWeight> &after,
                         const std::map<std::string, std::string> &methods,
                         const std::string &statsPath) {
  std::unique_ptr<rt::MappedSafetensors> stats;
  if (!statsPath.empty()) {
    stats = std::make_unique<rt::MappedSafetensors>();
    if (!stats->open(statsPath))
      stats.reset();
  }
  std::vector<LayerReport> reports;
  for (const auto &[name, now] : after) {
    LayerReport r;
    r.name = name;
    r.out = now.out;
    r.in = now.in;
    r.form = now.form;
    r.numel = now.out * now.in;
    for (float w : now.dense)
      r.zeros += w == 0.0f;
    auto method = methods.find(name);
    r.method = method == methods.end() ? "-" : method->second;
    r.bytesAfter = now.bytes;
    auto old = before.find(name);
    r.bytesBefore = old == before.end() ? now.bytes : old->second.bytes;
    if (stats && old != before.end() && old->second.out == now.out &&
        old->second.in == now.in) {
      const rt::SafetensorsEntry *xtx = stats->find(name + "/xtx");
      if (xtx && xtx->dtype == "F64" && xtx->shape == std::vector<int64_t>{now.in, now.in}) {
        std::vector<double> a(now.in * now.in);
        std::memcpy(a.data(), stats->data() + xtx->begin, a.size() * sizeof(double));
        r.relativeError = ::sqz::compression::relativeOutputError(
            old->second.dense, now.dense, now.out, now.in, a);
      }
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

llvm::json::Value mlir::sqz::reportToJson(const std::vector<LayerReport> &layers) {
  llvm::json::Array rows;
  int64_t zeros = 0, numel = 0, before = 0, after = 0;
  for (const LayerReport &r : layers) {
    llvm::json::Object row{{"name", r.name},
                           {"shape", llvm::json::Array{r.out, r.in}},
                           {"method", r.method},
                           {"form", r.form},
                           {"zeros", r.zeros},
                           {"numel", r.numel},
                           {"sparsity", r.numel ? double(r.zeros) / r.numel : 0.0},
                           {"bytes_before", r.bytesBefore},
                           {"bytes_after", r.bytesAfter},
                           {"bits_per_weight", r.numel ? 8.0 * r.bytesAfter / r.numel : 0.0}};
    row["relative_error"] =
        r.relativeError ? llvm::json::Value(*r.relativeError) : llvm::json::Value(nullptr);
    rows.push_back(std::move(row));
    zeros += r.zeros;
    numel += r.numel;
    before += r.bytesBefore;
    after += r.bytesAfter;
  }
  return llvm::json::Object{
      {"layers", std::move(rows)},
      {"totals", llvm::json::Object{{"layers", static_cast<int64_t>(layers.size())},
                                    {"zeros", zeros},
                                    {"numel", numel},
                                    {"sparsity", numel ? double(zeros) / numel : 0.0},
                                    {"bytes_before", before},
                                    {"bytes_after", after},
                                    {"bits_per_weight", numel ? 8.0 * after / numel : 0.0}}}};
}

void mlir::sqz::printReport(const std::vector<LayerReport> &layers, llvm::raw_ostream &os) {
  os << llvm::formatv("{0,-28} {1,-11} {2,-40} {3,9} {4,11} {5,11} {6,10}\n", "layer", "shape",
                      "method", "sparsity", "bytes", "after", "rel.err");
  int64_t zeros = 0, numel = 0, before = 0, after = 0;
  for (const LayerReport &r : layers) {
    std::string shape = llvm::formatv("{0}x{1}", r.out, r.in).str();
    std::string method = r.method.size() > 40 ? r.method.substr(0, 37) + "..." : r.method;
    std::string err = r.relativeError ? llvm::formatv("{0:e2}", *r.relativeError).str() : "-";
    os << llvm::formatv("{0,-28} {1,-11} {2,-40} {3,8:P1} {4,11} {5,11} {6,10}\n", r.name, shape,
                        method, r.numel ? double(r.zeros) / r.numel : 0.0, r.bytesBefore,
                        r.bytesAfter, err);
    zeros += r.zeros;
    numel += r.numel;
    before += r.bytesBefore;
    after += r.bytesAfter;
  }
  os << llvm::formatv("{0,-28} {1,-11} {2,-40} {3,8:P1} {4,11} {5,11}\n", "total",
                      llvm::formatv("{0} layers", layers.size()).str(), "",
                      numel ? double(zeros) / numel : 0.0, before, after);
}
