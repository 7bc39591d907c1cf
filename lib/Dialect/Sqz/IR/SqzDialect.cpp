//===- SqzDialect.cpp - sqz dialect, attributes and op verifiers ----------===//
//
// Registers the sqz dialect and implements the verifiers the lowerings rely on.
//
//===----------------------------------------------------------------------===//

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::sqz;

#include "sqz/Dialect/Sqz/IR/SqzDialect.cpp.inc"
#include "sqz/Dialect/Sqz/IR/SqzEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "sqz/Dialect/Sqz/IR/SqzAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "sqz/Dialect/Sqz/IR/SqzOps.cpp.inc"

void SqzDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "sqz/Dialect/Sqz/IR/SqzAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "sqz/Dialect/Sqz/IR/SqzOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

unsigned QuantAttr::getBits() const {
  switch (getFormat()) {
  case QuantFormat::Int8:
    return 8;
  case QuantFormat::Int4:
  case QuantFormat::NF4:
    return 4;
  case QuantFormat::Int3:
    return 3;
  case QuantFormat::Int2:
  case QuantFormat::Ternary:
    return 2;
  }
  llvm_unreachable("unknown quant format");
}

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                QuantFormat format, int64_t group,
                                bool symmetric) {
  if (group != -1 && group <= 0)
    return emitError() << "#sqz.quant group must be positive or -1 (one group "
                          "per output channel), got "
                       << group;
  if (group > 0 && (group & (group - 1)) != 0)
    return emitError() << "#sqz.quant group must be a power of two, got "
                       << group;
  if ((format == QuantFormat::NF4 || format == QuantFormat::Ternary) &&
      !symmetric)
    return emitError() << "#sqz.quant format '" << stringifyQuantFormat(format)
                       << "' is symmetric by definition";
  return success();
}

LogicalResult SparsityAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t n, int64_t m) {
  if (m < 2 || m > 64)
    return emitError() << "#sqz.sparsity group size m must be in [2, 64], got "
                       << m;
  if (n < 1 || n >= m)
    return emitError() << "#sqz.sparsity needs 1 <= n < m, got " << n << ":"
                       << m;
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

/// Checks that every group of m consecutive weights along the input dimension
/// holds at most n nonzeros. Only f32 constants are checked element by element
/// (the form pruning passes produce); other element types are trusted.
static LogicalResult verifyNMPattern(LinearOp op, SparsityAttr sparsity,
                                     Attribute weightValue) {
  int64_t n = sparsity.getN(), m = sparsity.getM();
  int64_t in = op.getInFeatures(), out = op.getOutFeatures();
  if (in % m != 0)
    return op.emitOpError() << "sparsity " << n << ":" << m
                            << " needs the input features (" << in
                            << ") to be a multiple of " << m;
  SmallVector<float> values;
  if (auto dense = dyn_cast<DenseFPElementsAttr>(weightValue)) {
    if (!dense.getElementType().isF32())
      return success();
    values.assign(dense.getValues<float>().begin(),
                  dense.getValues<float>().end());
  } else if (auto blob = dyn_cast<DenseF32ResourceElementsAttr>(weightValue)) {
    std::optional<ArrayRef<float>> data = blob.tryGetAsArrayRef();
    if (!data)
      return success(); // Blob elided (e.g. printed without data): trust it.
    values.assign(data->begin(), data->end());
  } else {
    return success();
  }
  for (int64_t o = 0; o < out; ++o)
    for (int64_t g = 0; g < in; g += m) {
      int64_t nnz = 0;
      for (int64_t j = 0; j < m; ++j)
        nnz += values[o * in + g + j] != 0.0f;
      if (nnz > n)
        return op.emitOpError()
               << "weight row " << o << " has " << nnz
               << " nonzeros in input columns [" << g << ", " << g + m
               << "), which violates sparsity " << n << ":" << m;
    }
  return success();
}

/// The checks every linear form shares: an optional 1-D bias of `out` elements of `elt`, and
/// a result with the input's leading dims and `out` as its last dim.
static LogicalResult verifyBiasAndResult(Operation *op, RankedTensorType xTy,
                                         RankedTensorType yTy, Value bias,
                                         Type elt, int64_t out) {
  if (bias) {
    auto bTy = cast<RankedTensorType>(bias.getType());
    if (bTy.getElementType() != elt)
      return op->emitOpError() << "bias element type " << bTy.getElementType()
                               << " differs from weight element type " << elt;
    if (bTy.getRank() != 1 || bTy.getDimSize(0) != out)
      return op->emitOpError() << "bias must be a 1-D tensor of " << out
                               << " elements, got " << bTy;
  }
  if (yTy.getRank() != xTy.getRank())
    return op->emitOpError() << "result rank " << yTy.getRank()
                             << " differs from input rank " << xTy.getRank();
  for (int64_t d = 0, e = xTy.getRank() - 1; d < e; ++d)
    if (yTy.getDimSize(d) != xTy.getDimSize(d))
      return op->emitOpError()
             << "result dim " << d << " (" << yTy.getDimSize(d)
             << ") differs from input dim (" << xTy.getDimSize(d) << ")";
  if (yTy.getDimSize(yTy.getRank() - 1) != out)
    return op->emitOpError() << "result last dim must be out=" << out
                             << ", got " << yTy.getDimSize(yTy.getRank() - 1);
  return success();
}

LogicalResult LinearOp::verify() {
  RankedTensorType xTy = getInput().getType();
  RankedTensorType wTy = getWeight().getType();
  RankedTensorType yTy = getResult().getType();
  Type elt = wTy.getElementType();
  if (!isa<FloatType>(elt))
    return emitOpError() << "weight element type must be a float type, got "
                         << elt;
  if (xTy.getElementType() != elt || yTy.getElementType() != elt)
    return emitOpError() << "input, weight and result must share one element "
                            "type, got "
                         << xTy.getElementType() << ", " << elt << ", "
                         << yTy.getElementType();
  if (wTy.getRank() != 2 || !wTy.hasStaticShape())
    return emitOpError() << "weight must be a static 2-D tensor [out, in], got "
                         << wTy;
  int64_t out = wTy.getDimSize(0), in = wTy.getDimSize(1);
  if (xTy.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  int64_t xIn = xTy.getDimSize(xTy.getRank() - 1);
  if (!ShapedType::isDynamic(xIn) && xIn != in)
    return emitOpError() << "input feature size " << xIn
                         << " does not match weight [out=" << out
                         << ", in=" << in << "]";
  if (failed(verifyBiasAndResult(*this, xTy, yTy, getBias(), elt, out)))
    return failure();

  // W must be a constant: compression passes rewrite its value.
  Attribute weightValue;
  if (!matchPattern(getWeight(), m_Constant(&weightValue)))
    return emitOpError() << "weight must be produced by a constant op (e.g. "
                            "arith.constant), not a runtime value";
  if (std::optional<SparsityAttr> sparsity = getSparsity())
    return verifyNMPattern(*this, *sparsity, weightValue);
  return success();
}

//===----------------------------------------------------------------------===//
// SparseLinearOp
//===----------------------------------------------------------------------===//

int64_t SparseLinearOp::Layout::indexBits() const {
  int64_t bits = 1;
  while ((int64_t{1} << bits) < m)
    ++bits;
  return bits;
}

int64_t SparseLinearOp::Layout::readIndex(const uint8_t *row, int64_t k) const {
  int64_t b = indexBits(), bit = k * b, value = 0;
  for (int64_t i = 0; i < b; ++i, ++bit)
    value |= static_cast<int64_t>((row[bit / 8] >> (bit % 8)) & 1) << i;
  return value;
}

void SparseLinearOp::Layout::writeIndex(uint8_t *row, int64_t k,
                                        int64_t index) const {
  int64_t b = indexBits(), bit = k * b;
  for (int64_t i = 0; i < b; ++i, ++bit)
    if ((index >> i) & 1)
      row[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
}

/// The bytes of an i8 constant, if they are available (not an elided blob); a
/// splat is expanded into `storage`.
static std::optional<ArrayRef<char>>
getI8ConstantBytes(Attribute value, std::vector<char> &storage) {
  if (auto dense = dyn_cast<DenseIntElementsAttr>(value)) {
    if (!dense.isSplat())
      return dense.getRawData();
    storage.assign(dense.getNumElements(),
                   static_cast<char>(dense.getSplatValue<int8_t>()));
    return ArrayRef<char>(storage);
  }
  if (auto blob = dyn_cast<DenseResourceElementsAttr>(value)) {
    if (AsmResourceBlob *data = blob.getRawHandle().getBlob())
      return data->getData();
  }
  return std::nullopt;
}

/// Checks that every stored code in `bytes` is below 2^bits (ternary: at most 2).
static LogicalResult verifyCodeRange(Operation *op, QuantAttr quant, ArrayRef<char> bytes) {
  unsigned bits = quant.getBits();
  unsigned limit = quant.getFormat() == QuantFormat::Ternary ? 2 : (1u << bits) - 1;
  if (limit >= 255)
    return success();
  for (char c : bytes)
    if (static_cast<uint8_t>(c) > limit)
      return op->emitOpError() << "code " << static_cast<unsigned>(static_cast<uint8_t>(c))
                               << " is out of range for " << stringifyQuantFormat(quant.getFormat())
                               << " (at most " << limit << ")";
  return success();
}

/// The scales [out, groups] f32 and, exactly when `quant` is asymmetric, zeros [out, groups] i8
/// of a quantized weight; both must be constants.
static LogicalResult verifyScalesAndZeros(Operation *op, QuantAttr quant, Value scales,
                                          Value zeros, int64_t out, int64_t groups) {
  MLIRContext *ctx = op->getContext();
  auto sTy = cast<RankedTensorType>(scales.getType());
  if (sTy != RankedTensorType::get({out, groups}, Float32Type::get(ctx)))
    return op->emitOpError() << "scales must be tensor<" << out << "x" << groups
                             << "xf32> (one per row and group), got " << sTy;
  if (quant.getSymmetric() == static_cast<bool>(zeros))
    return op->emitOpError() << (quant.getSymmetric() ? "a symmetric scheme has no zero points"
                                                      : "an asymmetric scheme needs zero points");
  if (zeros) {
    auto zTy = cast<RankedTensorType>(zeros.getType());
    if (zTy != RankedTensorType::get({out, groups}, IntegerType::get(ctx, 8)))
      return op->emitOpError() << "zeros must be tensor<" << out << "x" << groups
                               << "xi8>, got " << zTy;
  }
  if (!matchPattern(scales, m_Constant()) || (zeros && !matchPattern(zeros, m_Constant())))
    return op->emitOpError() << "scales and zeros must be produced by constant ops";
  return success();
}

LogicalResult QuantLinearOp::verify() {
  RankedTensorType xTy = getInput().getType();
  RankedTensorType cTy = getCodes().getType();
  RankedTensorType yTy = getResult().getType();
  Type elt = xTy.getElementType();
  if (!isa<FloatType>(elt) || yTy.getElementType() != elt)
    return emitOpError() << "input and result must share one float element type, got "
                         << elt << " and " << yTy.getElementType();
  if (xTy.getRank() < 1 || ShapedType::isDynamic(xTy.getDimSize(xTy.getRank() - 1)))
    return emitOpError() << "input must have a static last dimension, got " << xTy;
  if (cTy.getRank() != 2 || !cTy.hasStaticShape() || !cTy.getElementType().isInteger(8))
    return emitOpError() << "codes must be a static 2-D tensor of i8, got " << cTy;
  int64_t out = cTy.getDimSize(0), in = cTy.getDimSize(1);
  if (xTy.getDimSize(xTy.getRank() - 1) != in)
    return emitOpError() << "input has " << xTy.getDimSize(xTy.getRank() - 1)
                         << " features but codes has " << in << " columns";
  QuantAttr quant = getQuant();
  if (failed(verifyScalesAndZeros(*this, quant, getScales(), getZeros(), out, getNumGroups())))
    return failure();
  if (failed(verifyBiasAndResult(*this, xTy, yTy, getBias(), elt, out)))
    return failure();
  Attribute codeValue;
  if (!matchPattern(getCodes(), m_Constant(&codeValue)))
    return emitOpError() << "codes must be produced by a constant op";
  // Codes within range when readable.
  std::vector<char> splat;
  std::optional<ArrayRef<char>> bytes = getI8ConstantBytes(codeValue, splat);
  if (bytes)
    return verifyCodeRange(*this, quant, *bytes);
  return success();
}

LogicalResult OutlierLinearOp::verify() {
  RankedTensorType xTy = getInput().getType();
  RankedTensorType cTy = getCodes().getType();
  RankedTensorType iTy = getOutlierColumns().getType();
  RankedTensorType fTy = getOutlierWeights().getType();
  RankedTensorType yTy = getResult().getType();
  Type elt = xTy.getElementType();
  if (!isa<FloatType>(elt) || yTy.getElementType() != elt)
    return emitOpError() << "input and result must share one float element type, got "
                         << elt << " and " << yTy.getElementType();
  if (xTy.getRank() < 1 || ShapedType::isDynamic(xTy.getDimSize(xTy.getRank() - 1)))
    return emitOpError() << "input must have a static last dimension, got " << xTy;
  if (cTy.getRank() != 2 || !cTy.hasStaticShape() || !cTy.getElementType().isInteger(8))
    return emitOpError() << "codes must be a static 2-D tensor of i8, got " << cTy;
  int64_t out = cTy.getDimSize(0), in = cTy.getDimSize(1);
  if (xTy.getDimSize(xTy.getRank() - 1) != in)
    return emitOpError() << "input has " << xTy.getDimSize(xTy.getRank() - 1)
                         << " features but codes has " << in << " columns";
  QuantAttr quant = getQuant();
  if (!quant.getSymmetric() || quant.getFormat() == QuantFormat::NF4 ||
      quant.getFormat() == QuantFormat::Ternary)
    return emitOpError() << "the quantized part must use a symmetric integer format (int8, "
                            "int4, int3, int2), got "
                         << quant;
  if (failed(verifyScalesAndZeros(*this, quant, getScales(), Value(), out, getNumGroups())))
    return failure();
  if (iTy.getRank() != 1 || !iTy.hasStaticShape() || !iTy.getElementType().isInteger(64))
    return emitOpError() << "outlier_columns must be a static 1-D tensor of i64, got " << iTy;
  int64_t n = iTy.getDimSize(0);
  if (n < 1 || n > in)
    return emitOpError() << "needs between 1 and " << in << " outlier columns, got " << n
                         << " (without outliers the layer is an sqz.quant_linear)";
  if (fTy != RankedTensorType::get({out, n}, elt))
    return emitOpError() << "outlier_weights must be " << RankedTensorType::get({out, n}, elt)
                         << " ([out, outlier columns] of the input's element type), got " << fTy;
  if (failed(verifyBiasAndResult(*this, xTy, yTy, getBias(), elt, out)))
    return failure();
  Attribute codeValue, columnValue;
  if (!matchPattern(getCodes(), m_Constant(&codeValue)) ||
      !matchPattern(getOutlierColumns(), m_Constant(&columnValue)) ||
      !matchPattern(getOutlierWeights(), m_Constant()))
    return emitOpError() << "codes, outlier_columns and outlier_weights must be produced by "
                            "constant ops";
  SmallVector<int64_t> columns;
  if (auto dense = dyn_cast<DenseIntElementsAttr>(columnValue)) {
    for (const APInt &v : dense.getValues<APInt>())
      columns.push_back(v.getSExtValue());
  } else if (auto blob = dyn_cast<DenseResourceElementsAttr>(columnValue)) {
    if (AsmResourceBlob *data = blob.getRawHandle().getBlob()) {
      ArrayRef<char> raw = data->getData();
      columns.resize(raw.size() / sizeof(int64_t));
      std::memcpy(columns.data(), raw.data(), columns.size() * sizeof(int64_t));
    }
  }
  for (size_t k = 0; k < columns.size(); ++k)
    if (columns[k] < 0 || columns[k] >= in || (k > 0 && columns[k] <= columns[k - 1]))
      return emitOpError() << "outlier_columns must be strictly increasing and in [0, " << in
                           << "), got " << columns[k] << " at position " << k;
  std::vector<char> splat;
  std::optional<ArrayRef<char>> bytes = getI8ConstantBytes(codeValue, splat);
  if (!bytes)
    return success();
  if (failed(verifyCodeRange(*this, quant, *bytes)))
    return failure();
  uint8_t zero = static_cast<uint8_t>(1u << (quant.getBits() - 1));
  if (static_cast<int64_t>(bytes->size()) == out * in)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t c : columns)
        if (static_cast<uint8_t>((*bytes)[o * in + c]) != zero)
          return emitOpError() << "the code of outlier column " << c << " in row " << o
                               << " must be the zero point " << unsigned(zero) << ", got "
                               << unsigned(static_cast<uint8_t>((*bytes)[o * in + c]));
  return success();
}

LogicalResult SparseLinearOp::verify() {
  RankedTensorType xTy = getInput().getType();
  RankedTensorType vTy = getValues().getType();
  RankedTensorType iTy = getIndices().getType();
  RankedTensorType yTy = getResult().getType();
  std::optional<QuantAttr> quant = getQuant();
  Type elt = quant ? xTy.getElementType() : vTy.getElementType();
  if (quant) {
    if (!vTy.getElementType().isInteger(8))
      return emitOpError() << "quantized values must be i8 codes, got " << vTy;
    if (!isa<FloatType>(elt) || yTy.getElementType() != elt)
      return emitOpError() << "input and result must share one float element type, got "
                           << elt << " and " << yTy.getElementType();
  } else {
    if (getScales() || getZeros())
      return emitOpError() << "scales and zeros need a quant attribute (quantized values)";
    if (!isa<FloatType>(elt))
      return emitOpError() << "values element type must be a float type, got "
                           << elt;
    if (xTy.getElementType() != elt || yTy.getElementType() != elt)
      return emitOpError() << "input, values and result must share one element "
                              "type, got "
                           << xTy.getElementType() << ", " << elt << ", "
                           << yTy.getElementType();
  }
  if (xTy.getRank() < 1 ||
      ShapedType::isDynamic(xTy.getDimSize(xTy.getRank() - 1)))
    return emitOpError() << "input must have a static last dimension (the "
                            "dense input features), got "
                         << xTy;
  if (vTy.getRank() != 2 || !vTy.hasStaticShape())
    return emitOpError() << "values must be a static 2-D tensor, got " << vTy;
  if (iTy.getRank() != 2 || !iTy.hasStaticShape() ||
      !iTy.getElementType().isInteger(8))
    return emitOpError() << "indices must be a static 2-D tensor of i8, got "
                         << iTy;
  Layout layout = getLayout();
  int64_t out = vTy.getDimSize(0), in = layout.in;
  if (vTy.getDimSize(1) != layout.valuesPerRow())
    return emitOpError() << "values must be [" << out << ", "
                         << layout.valuesPerRow() << "] for " << in
                         << " input features at sparsity " << layout.n << ":"
                         << layout.m << " (" << layout.groups() << " groups of "
                         << layout.n << " kept values + " << layout.tail()
                         << " dense tail columns), got " << vTy;
  if (iTy.getDimSize(0) != out ||
      iTy.getDimSize(1) != layout.indexBytesPerRow())
    return emitOpError() << "indices must be [" << out << ", "
                         << layout.indexBytesPerRow() << "] ("
                         << layout.indexBits() << "-bit indices of "
                         << layout.groups() * layout.n
                         << " kept values per row), got " << iTy;
  if (failed(verifyBiasAndResult(*this, xTy, yTy, getBias(), elt, out)))
    return failure();

  Attribute valuesValue;
  if (!matchPattern(getValues(), m_Constant(&valuesValue)))
    return emitOpError() << "values must be produced by a constant op";
  if (quant) {
    if (!getScales())
      return emitOpError() << "quantized values need scales";
    if (quant->getGroup() > 0 && quant->getGroup() % layout.m != 0)
      return emitOpError() << "the quantization group (" << quant->getGroup()
                           << " dense columns) must be a multiple of m = " << layout.m;
    if (failed(verifyScalesAndZeros(*this, *quant, getScales(), getZeros(), out,
                                    getNumGroups())))
      return failure();
    std::vector<char> codeSplat;
    if (std::optional<ArrayRef<char>> codes = getI8ConstantBytes(valuesValue, codeSplat))
      if (failed(verifyCodeRange(*this, *quant, *codes)))
        return failure();
  }
  Attribute indexValue;
  if (!matchPattern(getIndices(), m_Constant(&indexValue)))
    return emitOpError() << "indices must be produced by a constant op";
  std::vector<char> splat;
  std::optional<ArrayRef<char>> bytes = getI8ConstantBytes(indexValue, splat);
  if (!bytes)
    return success(); // Elided blob: nothing more to check.
  int64_t rowBytes = layout.indexBytesPerRow(),
          kept = layout.groups() * layout.n;
  if (static_cast<int64_t>(bytes->size()) != out * rowBytes)
    return emitOpError() << "indices constant holds " << bytes->size()
                         << " bytes, expected " << out * rowBytes;
  int64_t usedBits = kept * layout.indexBits();
  for (int64_t o = 0; o < out; ++o) {
    const auto *row =
        reinterpret_cast<const uint8_t *>(bytes->data() + o * rowBytes);
    for (int64_t g = 0; g < layout.groups(); ++g) {
      int64_t previous = -1;
      for (int64_t r = 0; r < layout.n; ++r) {
        int64_t index = layout.readIndex(row, g * layout.n + r);
        if (index >= layout.m || index <= previous)
          return emitOpError()
                 << "indices of row " << o << ", group " << g
                 << " must be strictly increasing and below " << layout.m
                 << ", got " << index << " after " << previous;
        previous = index;
      }
    }
    for (int64_t bit = usedBits; bit < rowBytes * 8; ++bit)
      if ((row[bit / 8] >> (bit % 8)) & 1)
        return emitOpError()
               << "padding bits of indices row " << o << " must be 0";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ObserveOp
//===----------------------------------------------------------------------===//

LogicalResult ObserveOp::verify() {
  RankedTensorType ty = getInput().getType();
  if (!isa<FloatType>(ty.getElementType()))
    return emitOpError() << "can only observe float tensors, got " << ty;
  if (ty.getRank() < 1)
    return emitOpError() << "observed tensor must have rank >= 1 (the last "
                            "dimension is the channel dimension)";
  if (getTap().empty())
    return emitOpError() << "tap name must not be empty";
  ObserveStat stats = getStats();
  if (static_cast<uint32_t>(stats) == 0)
    return emitOpError() << "must request at least one statistic";
  if (bitEnumContainsAll(stats, ObserveStat::XtX) &&
      ShapedType::isDynamic(ty.getDimSize(ty.getRank() - 1)))
    return emitOpError() << "xtx needs a static channel dimension";
  return success();
}

void ObserveOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  // Recording statistics is a side effect: taps must be neither CSE'd nor
  // dropped while calibration still needs them.
  effects.emplace_back(MemoryEffects::Write::get());
}

//===----------------------------------------------------------------------===//
// MoEOp
//===----------------------------------------------------------------------===//

LogicalResult MoEOp::verify() {
  RankedTensorType xTy = getInput().getType();
  Type elt = xTy.getElementType();
  if (!isa<FloatType>(elt))
    return emitOpError() << "input must be a float tensor, got " << xTy;
  if (xTy.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  if (getResult().getType() != xTy)
    return emitOpError() << "result type " << getResult().getType()
                         << " must equal the input type " << xTy;

  auto checkStacked = [&](Value v, StringRef name, int64_t e, int64_t out,
                          int64_t in) -> LogicalResult {
    auto ty = cast<RankedTensorType>(v.getType());
    if (ty.getElementType() != elt)
      return emitOpError() << name << " element type " << ty.getElementType()
                           << " differs from the input's " << elt;
    SmallVector<int64_t> want = {e, out};
    if (in >= 0)
      want.push_back(in);
    if (ty.getShape() != ArrayRef<int64_t>(want)) {
      InFlightDiagnostic d = emitOpError() << name << " must have shape [";
      llvm::interleave(want, d, [&](int64_t s) { d << s; }, ", ");
      return d << "], got " << ty;
    }
    if (!matchPattern(v, m_Constant()))
      return emitOpError() << name << " must be produced by a constant op";
    return success();
  };

  auto fc1Ty = getFc1().getType();
  if (fc1Ty.getRank() != 3 || !fc1Ty.hasStaticShape())
    return emitOpError() << "fc1 must be a static [experts, inter, hidden] "
                            "tensor, got "
                         << fc1Ty;
  int64_t e = getNumExperts(), inter = getInterSize(), hidden = getHiddenSize();
  if (e < 1)
    return emitOpError() << "needs at least one expert";
  int64_t xHidden = xTy.getDimSize(xTy.getRank() - 1);
  if (!ShapedType::isDynamic(xHidden) && xHidden != hidden)
    return emitOpError() << "input hidden size " << xHidden
                         << " differs from fc1's " << hidden;
  if (failed(checkStacked(getFc1(), "fc1", e, inter, hidden)) ||
      failed(checkStacked(getFc2(), "fc2", e, hidden, inter)))
    return failure();
  if (getFc3() && failed(checkStacked(getFc3(), "fc3", e, inter, hidden)))
    return failure();
  if (getFc3Bias() && !getFc3())
    return emitOpError() << "fc3_bias needs fc3";
  if (getFc1Bias() && failed(checkStacked(getFc1Bias(), "fc1_bias", e, inter, -1)))
    return failure();
  if (getFc2Bias() && failed(checkStacked(getFc2Bias(), "fc2_bias", e, hidden, -1)))
    return failure();
  if (getFc3Bias() && failed(checkStacked(getFc3Bias(), "fc3_bias", e, inter, -1)))
    return failure();

  auto logitsTy = getRouterLogits().getType();
  if (logitsTy.getElementType() != elt)
    return emitOpError() << "router_logits element type "
                         << logitsTy.getElementType() << " differs from the "
                         << "input's " << elt;
  if (logitsTy.getRank() != 2 || logitsTy.getDimSize(1) != e)
    return emitOpError() << "router_logits must be [tokens, " << e
                         << "], got " << logitsTy;
  if (xTy.hasStaticShape() && !ShapedType::isDynamic(logitsTy.getDimSize(0)) &&
      logitsTy.getDimSize(0) * hidden != xTy.getNumElements())
    return emitOpError() << "router_logits has " << logitsTy.getDimSize(0)
                         << " token rows but the input has "
                         << xTy.getNumElements() / hidden;
  if (getTopK() > e)
    return emitOpError() << "top_k " << getTopK() << " exceeds the "
                         << e << " experts";
  double cf = getCapacityFactor().convertToDouble();
  if (!(cf >= 0.0) || std::isinf(cf))
    return emitOpError() << "capacity_factor must be finite and >= 0 (0 = "
                            "dropless), got "
                         << cf;
  return success();
}

//===----------------------------------------------------------------------===//
// PackedLinearOp
//===----------------------------------------------------------------------===//

// The blob header and format numbers of the CPU microkernel ABI (a plain C header; nothing
// of the kernel library is linked into the dialect).
#include "../../../Kernels/CPU/Microkernels.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <cstring>

namespace {
struct PackedKernelName {
  const char *name;
  int32_t format;
};
} // namespace

static constexpr PackedKernelName kPackedKernels[] = {
    {"f32", SQZ_UK_F32},           {"int8", SQZ_UK_INT8},
    {"int4", SQZ_UK_INT4},         {"nf4", SQZ_UK_NF4},
    {"ternary2", SQZ_UK_TERNARY2}, {"ternary16", SQZ_UK_TERNARY16},
    {"sp24_f32", SQZ_UK_SP24_F32}, {"sp24_int4", SQZ_UK_SP24_INT4}};

// The CUDA kernels' formats and blob magic (lib/Kernels/CUDA/CudaKernels.h, sqz_cuk_format
// and SQZ_CUK_MAGIC; numbers stored in blobs, never renumbered, so repeated here rather than
// pulling the kernel library's headers into the dialect).
static constexpr PackedKernelName kCUDAPackedKernels[] = {
    {"f16", 1},      {"int8", 2},     {"int4", 3},      {"nf4", 4},
    {"ternary2", 5}, {"sp24_f16", 7}, {"sp24_int4", 8}};
static constexpr uint32_t kCUDABlobMagic = 0x43515a53u; // SQZ_CUK_MAGIC
static constexpr uint32_t kCUDABlobVersion = 1;

int32_t PackedLinearOp::getKernelFormat(StringRef kernel) {
  for (const PackedKernelName &k : kPackedKernels)
    if (kernel == k.name)
      return k.format;
  return 0;
}

int32_t PackedLinearOp::getCUDAKernelFormat(StringRef kernel) {
  for (const PackedKernelName &k : kCUDAPackedKernels)
    if (kernel == k.name)
      return k.format;
  return 0;
}

int32_t PackedLinearOp::getCUDAArch(StringRef isa) {
  return llvm::StringSwitch<int32_t>(isa)
      .Case("sm_80", 80)
      .Case("sm_90", 90)
      .Case("sm_90a", 90)
      .Default(-1);
}

int32_t PackedLinearOp::getISALevel(StringRef isa) {
  return llvm::StringSwitch<int32_t>(isa)
      .Case("generic", SQZ_UK_ISA_GENERIC)
      .Case("avx2", SQZ_UK_ISA_AVX2)
      .Case("avx512", SQZ_UK_ISA_AVX512)
      .Case("avx512vnni", SQZ_UK_ISA_AVX512VNNI)
      .Default(-1);
}

LogicalResult PackedLinearOp::verify() {
  RankedTensorType xTy = getInput().getType();
  RankedTensorType blobTy = getBlob().getType();
  RankedTensorType yTy = getResult().getType();
  Type f32 = Float32Type::get(getContext());
  // A CUDA blob (isa = a GPU architecture) or a CPU one; the rest of the checks is shared.
  bool cuda = isCUDA();
  if ((cuda && getCUDAArch(getIsa()) < 0) || (!cuda && getISALevel(getIsa()) < 0))
    return emitOpError() << "unknown isa '" << getIsa()
                         << "' (expected generic, avx2, avx512 or avx512vnni for the CPU, "
                            "sm_80, sm_90 or sm_90a for CUDA)";
  int32_t format = cuda ? getCUDAKernelFormat(getKernel()) : getKernelFormat(getKernel());
  if (!format) {
    InFlightDiagnostic d = emitOpError() << "unknown " << (cuda ? "CUDA" : "CPU") << " kernel '"
                                         << getKernel() << "' (expected ";
    llvm::interleave(cuda ? ArrayRef<PackedKernelName>(kCUDAPackedKernels)
                          : ArrayRef<PackedKernelName>(kPackedKernels),
                     d, [&](const PackedKernelName &k) { d << k.name; }, ", ");
    return d << ")";
  }
  if (xTy.getElementType() != f32 || yTy.getElementType() != f32)
    return emitOpError() << "input and result must be f32 (the kernels' activations), got "
                         << xTy.getElementType() << " and " << yTy.getElementType();
  if (xTy.getRank() < 1 || xTy.isDynamicDim(xTy.getRank() - 1))
    return emitOpError() << "input must have a static last dimension, got " << xTy;
  if (blobTy.getRank() != 1 || !blobTy.hasStaticShape() ||
      !blobTy.getElementType().isInteger(8))
    return emitOpError() << "blob must be a static 1-D tensor of i8, got " << blobTy;
  int64_t in = getInFeatures();
  if (yTy.getRank() < 1 || yTy.isDynamicDim(yTy.getRank() - 1))
    return emitOpError() << "result must have a static last dimension, got " << yTy;
  int64_t out = getOutFeatures();
  if (failed(verifyBiasAndResult(*this, xTy, yTy, getBias(), f32, out)))
    return failure();
  int64_t size = blobTy.getDimSize(0);
  if (size < static_cast<int64_t>(sizeof(sqz_uk_header)))
    return emitOpError() << "blob of " << size << " bytes cannot hold the "
                         << sizeof(sqz_uk_header) << "-byte header";
  Attribute blobValue;
  if (!matchPattern(getBlob(), m_Constant(&blobValue)))
    return emitOpError() << "blob must be produced by a constant op";
  std::vector<char> splat;
  std::optional<ArrayRef<char>> bytes = getI8ConstantBytes(blobValue, splat);
  if (!bytes)
    return success(); // Elided blob: nothing more to check.
  if (static_cast<int64_t>(bytes->size()) != size)
    return emitOpError() << "blob constant holds " << bytes->size() << " bytes, expected "
                         << size;
  sqz_uk_header h;
  std::memcpy(&h, bytes->data(), sizeof(h));
  uint32_t magic = cuda ? kCUDABlobMagic : SQZ_UK_MAGIC;
  uint32_t version = cuda ? kCUDABlobVersion : SQZ_UK_VERSION;
  if (h.magic != magic || h.version != version)
    return emitOpError() << "blob is not a packed weight of the " << (cuda ? "CUDA " : "CPU ")
                         << "kernel ABI version " << version << " (magic 0x"
                         << llvm::utohexstr(h.magic) << ", expected 0x"
                         << llvm::utohexstr(magic) << ", version " << h.version << ")";
  if (h.format != format)
    return emitOpError() << "blob holds format " << h.format << " but kernel '"
                         << getKernel() << "' reads format " << format;
  if (h.N != out || h.K != in)
    return emitOpError() << "blob packs a weight [N=" << h.N << ", K=" << h.K
                         << "] but the op has out=" << out << ", in=" << in;
  bool dense = cuda ? (format == 1 || format == 7)
                    : (format == SQZ_UK_F32 || format == SQZ_UK_SP24_F32);
  if (!dense && (h.group < 1 || h.group > h.K))
    return emitOpError() << "blob group " << h.group << " is not in [1, K=" << h.K << "]";
  for (int64_t offset : h.offsets)
    if (offset < 0 || offset > size)
      return emitOpError() << "blob payload offset " << offset << " is outside its " << size
                           << " bytes";
  return success();
}
