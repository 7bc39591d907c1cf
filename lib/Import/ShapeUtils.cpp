//===- ShapeUtils.cpp - Helpers of the shape/indexing op importers --------===//
//
// See ShapeUtils.h.
//
//===----------------------------------------------------------------------===//

#include "ShapeUtils.h"

#include "ImportBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <cstring>

using namespace mlir;
using namespace mlir::sqz::import;

int64_t mlir::sqz::import::getShapeNumElements(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

SmallVector<int64_t> mlir::sqz::import::getRowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

bool mlir::sqz::import::allInputsConstant(const NodeContext &node) {
  for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i)
    if (node.hasInput(i) && !node.getConstantInput(i))
      return false;
  return true;
}

FailureOr<SmallVector<int64_t>> mlir::sqz::import::getConstantInts(NodeContext &node,
                                                                   unsigned index, StringRef what) {
  const HostTensor *tensor = node.getConstantInput(index);
  if (!tensor)
    return node.emitError() << "the " << what
                            << " input must be an import-time constant (computed values are not "
                               "supported)";
  if (isFloatDType(tensor->dtype) || tensor->dtype == onnx::TensorProto::BOOL ||
      tensor->shape.size() > 1)
    return node.emitError() << "the " << what << " input must be a 0-D or 1-D integer tensor";
  SmallVector<int64_t> values;
  for (int64_t i = 0, e = tensor->getNumElements(); i < e; ++i)
    values.push_back(tensor->getInt(i));
  return values;
}

FailureOr<int64_t> mlir::sqz::import::normalizeAxis(NodeContext &node, int64_t axis, int64_t rank,
                                                    StringRef what) {
  if (axis < -rank || axis >= rank)
    return node.emitError() << what << " " << axis << " is out of range for rank " << rank;
  return axis < 0 ? axis + rank : axis;
}

void mlir::sqz::import::forEachIndex(ArrayRef<int64_t> shape,
                                     function_ref<void(int64_t, ArrayRef<int64_t>)> fn) {
  int64_t count = getShapeNumElements(shape);
  SmallVector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < count; ++i) {
    fn(i, index);
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
}

HostTensor
mlir::sqz::import::gatherHostElements(const HostTensor &source, ArrayRef<int64_t> shape,
                                      function_ref<int64_t(ArrayRef<int64_t>)> sourceIndex) {
  HostTensor result = HostTensor::allocate("", source.dtype, shape);
  if (result.getNumElements() == 0)
    return result;
  int64_t size = getDTypeSize(source.dtype);
  MutableArrayRef<char> out = result.getMutableData();
  forEachIndex(shape, [&](int64_t i, ArrayRef<int64_t> index) {
    int64_t from = sourceIndex(index);
    if (from >= 0)
      std::memcpy(out.data() + i * size, source.data.data() + from * size, size);
  });
  return result;
}

int64_t mlir::sqz::import::getBroadcastSourceIndex(ArrayRef<int64_t> sourceShape,
                                                   ArrayRef<int64_t> resultIndex) {
  int64_t offset = resultIndex.size() - sourceShape.size();
  int64_t flat = 0;
  for (auto [d, dim] : llvm::enumerate(sourceShape))
    flat = flat * dim + (dim == 1 ? 0 : resultIndex[offset + d]);
  return flat;
}

HostTensor mlir::sqz::import::reshapeHostTensor(const HostTensor &source, ArrayRef<int64_t> shape) {
  HostTensor result = source; // shares the data
  result.shape.assign(shape.begin(), shape.end());
  return result;
}

Value mlir::sqz::import::buildIndexedGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                                             ArrayRef<AffineMap> inputMaps,
                                             ArrayRef<int64_t> resultShape, Type resultElementType,
                                             IndexedBodyFn body,
                                             ArrayRef<OpFoldResult> resultSizes) {
  MLIRContext *context = b.getContext();
  int64_t rank = resultShape.size();
  SmallVector<AffineMap> maps(inputMaps.begin(), inputMaps.end());
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, context));
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  Value init = !resultSizes.empty()
                   ? createEmpty(b, loc, resultSizes, resultElementType)
                   : createEmpty(b, loc, getLoopSizes(b, loc, resultShape, inputs, inputMaps),
                                 resultElementType);
  auto resultType = RankedTensorType::get(resultShape, resultElementType);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        SmallVector<Value> indices;
        for (int64_t d = 0; d < rank; ++d)
          indices.push_back(linalg::IndexOp::create(nested, nestedLoc, d));
        Value result = body(nested, nestedLoc, indices, args.drop_back());
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  return generic.getResult(0);
}

Value mlir::sqz::import::castToIndex(OpBuilder &b, Location loc, Value value) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
}
