//===- TensorOps.cpp - ONNX data movement ops -----------------------------===//
//
// Constant, Identity, Reshape and Transpose. Reshape and Transpose of import-time constants are
// folded on the host (so e.g. MatMul(x, Transpose(W)) still sees a constant weight); otherwise
// they become tensor.collapse_shape/expand_shape and linalg.transpose.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

using namespace mlir;
using namespace mlir::sqz::import;

LogicalResult mlir::sqz::import::importConstant(NodeContext &node) {
  if (failed(node.checkNumInputs(0, 0)))
    return failure();
  const onnx::NodeProto &proto = node.getNode();
  if (proto.attribute_size() != 1)
    return node.emitError() << "expected exactly one attribute, got " << proto.attribute_size();
  const onnx::AttributeProto &attr = proto.attribute(0);
  const std::string &name = attr.name();
  HostTensor tensor;
  if (name == "value" && attr.type() == onnx::AttributeProto::TENSOR) {
    std::string error;
    FailureOr<HostTensor> read = readTensorProto(attr.t(), error);
    if (failed(read))
      return node.emitError() << error;
    tensor = std::move(*read);
  } else if (name == "value_float" && attr.type() == onnx::AttributeProto::FLOAT) {
    tensor = HostTensor::allocate("", onnx::TensorProto::FLOAT, {});
    tensor.setDouble(0, attr.f());
  } else if (name == "value_floats" && attr.type() == onnx::AttributeProto::FLOATS) {
    tensor = HostTensor::allocate("", onnx::TensorProto::FLOAT, {attr.floats_size()});
    for (int i = 0; i < attr.floats_size(); ++i)
      tensor.setDouble(i, attr.floats(i));
  } else if (name == "value_int" && attr.type() == onnx::AttributeProto::INT) {
    tensor = HostTensor::allocate("", onnx::TensorProto::INT64, {});
    tensor.setInt(0, attr.i());
  } else if (name == "value_ints" && attr.type() == onnx::AttributeProto::INTS) {
    tensor = HostTensor::allocate("", onnx::TensorProto::INT64, {attr.ints_size()});
    for (int i = 0; i < attr.ints_size(); ++i)
      tensor.setInt(i, attr.ints(i));
  } else {
    return node.emitError() << "constant attribute '" << name << "' is not supported";
  }
  node.setConstantResult(0, std::move(tensor));
  return success();
}

LogicalResult mlir::sqz::import::importIdentity(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  node.forwardInput(0, 0);
  return success();
}

LogicalResult mlir::sqz::import::importReshape(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  const HostTensor *shapeTensor = node.getConstantInput(1);
  if (!shapeTensor)
    return node.emitError()
           << "the shape input must be a constant (computed shapes are not supported yet)";
  if (shapeTensor->dtype != onnx::TensorProto::INT64 || shapeTensor->shape.size() != 1)
    return node.emitError() << "the shape input must be a 1-D int64 tensor";
  FailureOr<int64_t> allowZero =
      node.getOpset() >= 14 ? node.getIntAttr("allowzero", 0) : FailureOr<int64_t>(0);
  if (failed(allowZero))
    return failure();

  RankedTensorType inputType = node.getInputType(0);
  ArrayRef<int64_t> inputShape = inputType.getShape();
  SmallVector<int64_t> shape;
  int64_t inferred = -1, known = 1;
  bool hasZero = false;
  for (int64_t i = 0, e = shapeTensor->getNumElements(); i < e; ++i) {
    int64_t dim = shapeTensor->getInt(i);
    if (dim == 0 && !*allowZero) {
      if (i >= inputType.getRank())
        return node.emitError() << "shape entry " << i
                                << " is 0 (copy the input dim) but the input has rank "
                                << inputType.getRank();
      dim = inputShape[i];
    } else if (dim == -1) {
      if (inferred >= 0)
        return node.emitError() << "the shape has more than one -1";
      inferred = i;
      shape.push_back(1);
      continue;
    } else if (dim < -1) {
      return node.emitError() << "shape entry " << i << " is " << dim;
    }
    hasZero |= dim == 0;
    known *= dim;
    shape.push_back(dim);
  }
  int64_t numElements = inputType.getNumElements();
  if (inferred >= 0) {
    if (hasZero && *allowZero)
      return node.emitError() << "allowzero=1 forbids both 0 and -1 in the shape";
    if (known == 0 || numElements % known != 0)
      return node.emitError() << "cannot reshape " << inputType << " to a shape with " << known
                              << " elements times -1";
    shape[inferred] = numElements / known;
  } else if (known != numElements) {
    return node.emitError() << "cannot reshape " << inputType << " (" << numElements
                            << " elements) to " << known << " elements";
  }

  int32_t dtype = node.getInputDType(0);
  if (const HostTensor *data = node.getConstantInput(0)) {
    HostTensor reshaped = *data; // shares the data
    reshaped.shape = shape;
    node.setConstantResult(0, std::move(reshaped));
    return success();
  }
  node.setResult(0, buildReshape(node.getBuilder(), node.getLoc(), node.getInput(0), shape), dtype);
  return success();
}

LogicalResult mlir::sqz::import::importTranspose(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  FailureOr<std::optional<SmallVector<int64_t>>> permAttr = node.getIntsAttr("perm");
  if (failed(permAttr))
    return failure();
  RankedTensorType type = node.getInputType(0);
  int64_t rank = type.getRank();
  SmallVector<int64_t> perm;
  if (*permAttr) {
    perm = **permAttr;
  } else {
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  }
  SmallVector<bool> seen(rank, false);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (int64_t p : perm) {
    valid &= p >= 0 && p < rank && !seen[p];
    if (valid)
      seen[p] = true;
  }
  if (!valid)
    return node.emitError() << "'perm' is not a permutation of the " << rank << " input dims";

  int32_t dtype = node.getInputDType(0);
  if (const HostTensor *data = node.getConstantInput(0)) {
    node.setConstantResult(0, transposeHostTensor(*data, perm));
    return success();
  }
  node.setResult(0, buildTranspose(node.getBuilder(), node.getLoc(), node.getInput(0), perm),
                 dtype);
  return success();
}
