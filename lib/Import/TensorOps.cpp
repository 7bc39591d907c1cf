//===- TensorOps.cpp - ONNX data movement ops -----------------------------===//
//
// Constant, Identity, Reshape, Transpose, DepthToSpace and SpaceToDepth. Reshape and Transpose
// of import-time constants are folded on the host (so e.g. MatMul(x, Transpose(W)) still sees a
// constant weight); otherwise they become tensor.collapse_shape/expand_shape and
// linalg.transpose. DepthToSpace and SpaceToDepth are a reshape to 6-D, a transpose and a
// reshape back to 4-D.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

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

/// Reshape of a tensor with dynamic dims, or to a shape known only as run-time sizes: 0 copies
/// the input dim (unless allowzero), -1 is the element count over the other dims.
static LogicalResult importDynamicReshape(NodeContext &node) {
  FailureOr<SmallVector<OpFoldResult>> target = getMixedInts(node, 1, "shape");
  if (failed(target))
    return failure();
  FailureOr<int64_t> allowZero =
      node.getOpset() >= 14 ? node.getIntAttr("allowzero", 0) : FailureOr<int64_t>(0);
  if (failed(allowZero))
    return failure();
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Value input = node.getInput(0);
  SmallVector<OpFoldResult> inSizes = getMixedSizes(b, loc, input);
  SmallVector<OpFoldResult> sizes;
  int64_t inferred = -1;
  OpFoldResult known = b.getIndexAttr(1), total = b.getIndexAttr(1);
  for (OpFoldResult size : inSizes)
    total = buildIndexOp(b, loc, "Mul", total, size);
  for (auto [i, entry] : llvm::enumerate(*target)) {
    std::optional<int64_t> c = getConstantSize(entry);
    OpFoldResult size = entry;
    if (c && *c == 0 && !*allowZero) {
      if (static_cast<int64_t>(i) >= static_cast<int64_t>(inSizes.size()))
        return node.emitError() << "shape entry " << i
                                << " is 0 (copy the input dim) but the input has rank "
                                << inSizes.size();
      size = inSizes[i];
    } else if (c && *c == -1) {
      if (inferred >= 0)
        return node.emitError() << "the shape has more than one -1";
      inferred = i;
      sizes.push_back(b.getIndexAttr(1));
      continue;
    } else if (c && *c < -1) {
      return node.emitError() << "shape entry " << i << " is " << *c;
    } else if (c) {
      size = b.getIndexAttr(*c);
    }
    known = buildIndexOp(b, loc, "Mul", known, size);
    sizes.push_back(size);
  }
  if (inferred >= 0)
    sizes[inferred] = buildIndexOp(b, loc, "Div", total, known);
  // A size equal to an input dim that is the only dynamic one keeps its tensor.dim.
  SmallVector<int64_t> shape = getStaticSizes(sizes);
  node.setResult(0, buildReshape(b, loc, input, shape, sizes), node.getInputDType(0));
  return success();
}

LogicalResult mlir::sqz::import::importReshape(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  if (node.getSymbolicInput(1) ||
      (!node.getConstantInput(0) && !node.getInputType(0).hasStaticShape()))
    return importDynamicReshape(node);
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

/// Result 0 is input 0 reshaped to `expanded`, transposed by `perm` and reshaped to `shape`
/// (DepthToSpace, SpaceToDepth); folded on the host for a constant input.
static LogicalResult importBlockShuffle(NodeContext &node, ArrayRef<int64_t> expanded,
                                        ArrayRef<int64_t> perm, ArrayRef<int64_t> shape) {
  int32_t dtype = node.getInputDType(0);
  if (const HostTensor *data = node.getConstantInput(0)) {
    HostTensor shuffled = transposeHostTensor(reshapeHostTensor(*data, expanded), perm);
    node.setConstantResult(0, reshapeHostTensor(shuffled, shape));
    return success();
  }
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Value value = buildReshape(b, loc, node.getInput(0), expanded);
  value = buildTranspose(b, loc, value, perm);
  node.setResult(0, buildReshape(b, loc, value, shape), dtype);
  return success();
}

/// The `blocksize` attribute (required, >= 1) of DepthToSpace/SpaceToDepth and the 4-D input
/// shape.
static FailureOr<int64_t> getBlockSize(NodeContext &node, ArrayRef<int64_t> &shape) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  if (!node.getAttr("blocksize"))
    return node.emitError() << "attribute 'blocksize' is required";
  FailureOr<int64_t> blockSize = node.getIntAttr("blocksize", 1);
  if (failed(blockSize))
    return failure();
  if (*blockSize < 1)
    return node.emitError() << "blocksize must be >= 1, got " << *blockSize;
  RankedTensorType type = node.getInputType(0);
  if (type.getRank() != 4)
    return node.emitError() << "the input must be 4-D [N, C, H, W], got " << type;
  shape = type.getShape();
  return blockSize;
}

LogicalResult mlir::sqz::import::importDepthToSpace(NodeContext &node) {
  ArrayRef<int64_t> shape;
  FailureOr<int64_t> blockSize = getBlockSize(node, shape);
  if (failed(blockSize))
    return failure();
  FailureOr<std::string> mode = node.getOpset() >= 11 ? node.getStringAttr("mode", "DCR")
                                                       : FailureOr<std::string>(std::string("DCR"));
  if (failed(mode))
    return failure();
  if (*mode != "DCR" && *mode != "CRD")
    return node.emitError() << "unsupported mode '" << *mode << "' (supported: DCR, CRD)";
  int64_t bs = *blockSize, n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  if (c % (bs * bs) != 0)
    return node.emitError() << "the channels " << c << " are not a multiple of blocksize² "
                            << bs * bs;
  int64_t depth = c / (bs * bs);
  SmallVector<int64_t> result = {n, depth, h * bs, w * bs};
  if (*mode == "DCR")
    return importBlockShuffle(node, {n, bs, bs, depth, h, w}, {0, 3, 4, 1, 5, 2}, result);
  return importBlockShuffle(node, {n, depth, bs, bs, h, w}, {0, 1, 4, 2, 5, 3}, result);
}

LogicalResult mlir::sqz::import::importSpaceToDepth(NodeContext &node) {
  ArrayRef<int64_t> shape;
  FailureOr<int64_t> blockSize = getBlockSize(node, shape);
  if (failed(blockSize))
    return failure();
  int64_t bs = *blockSize, n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  if (h % bs != 0 || w % bs != 0)
    return node.emitError() << "the spatial dims " << h << "x" << w
                            << " are not multiples of blocksize " << bs;
  return importBlockShuffle(node, {n, c, h / bs, bs, w / bs, bs}, {0, 3, 5, 1, 2, 4},
                            {n, c * bs * bs, h / bs, w / bs});
}
