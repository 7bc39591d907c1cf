//===- ShapeOps.cpp - ONNX shape and data-layout ops ----------------------===//
//
// Shape, Unsqueeze, Squeeze, Flatten, Concat, Split, Slice, Expand, Tile, ConstantOfShape and
// Range. Every one of them folds on the host when all its inputs are import-time constants
// (Shape always does: shapes are static), so the Shape -> Gather -> Unsqueeze -> Concat ->
// Reshape chains of PyTorch exports become constants. Otherwise: tensor.expand_shape /
// collapse_shape for (un)squeeze and flatten, one `linalg.generic` reading its inputs with
// tensor.extract for Concat, tensor.extract_slice + linalg.copy for Split and positive-step
// Slice (tensor.extract in a `linalg.generic` for negative steps), broadcasting
// `linalg.generic`s for Expand and Tile. Shape-like operands (axes, starts, repeats, ...) must
// be constants.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::sqz::import;

/// Normalizes `axes` for `rank` (must be in range and unique) and sorts them.
static FailureOr<SmallVector<int64_t>> normalizeAxes(NodeContext &node, ArrayRef<int64_t> axes,
                                                     int64_t rank) {
  SmallVector<int64_t> result;
  for (int64_t axis : axes) {
    FailureOr<int64_t> normalized = normalizeAxis(node, axis, rank, "axis");
    if (failed(normalized))
      return failure();
    if (llvm::is_contained(result, *normalized))
      return node.emitError() << "axis " << axis << " is repeated";
    result.push_back(*normalized);
  }
  llvm::sort(result);
  return result;
}

/// Result 0 is input 0 reshaped to `shape` (host reshape for constants).
static LogicalResult setReshaped(NodeContext &node, ArrayRef<int64_t> shape) {
  if (const HostTensor *data = node.getConstantInput(0)) {
    node.setConstantResult(0, reshapeHostTensor(*data, shape));
    return success();
  }
  node.setResult(0, buildReshape(node.getBuilder(), node.getLoc(), node.getInput(0), shape),
                 node.getInputDType(0));
  return success();
}

/// The axes of Squeeze/Unsqueeze: attribute before opset 13, optional input from 13 on.
static FailureOr<std::optional<SmallVector<int64_t>>> getAxesOperand(NodeContext &node) {
  if (node.getOpset() < 13) {
    if (failed(node.checkNumInputs(1, 1)))
      return failure();
    return node.getIntsAttr("axes");
  }
  if (failed(node.checkNumInputs(1, 2)))
    return failure();
  if (!node.hasInput(1))
    return std::optional<SmallVector<int64_t>>();
  FailureOr<SmallVector<int64_t>> axes = getConstantInts(node, 1, "axes");
  if (failed(axes))
    return failure();
  return std::optional<SmallVector<int64_t>>(*axes);
}

LogicalResult mlir::sqz::import::importShape(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  ArrayRef<int64_t> shape = node.getInputType(0).getShape();
  int64_t rank = shape.size();
  FailureOr<int64_t> start = node.getOpset() >= 15 ? node.getIntAttr("start", 0) : 0;
  FailureOr<int64_t> end = node.getOpset() >= 15 ? node.getIntAttr("end", rank) : rank;
  if (failed(start) || failed(end))
    return failure();
  auto clamp = [&](int64_t value) {
    if (value < 0)
      value += rank;
    return std::clamp<int64_t>(value, 0, rank);
  };
  int64_t first = clamp(*start), last = std::max(clamp(*end), first);
  HostTensor result = HostTensor::allocate("", onnx::TensorProto::INT64, {last - first});
  for (int64_t i = first; i < last; ++i)
    result.setInt(i - first, shape[i]);
  node.setConstantResult(0, std::move(result));
  return success();
}

/// Size: the element count of a statically shaped tensor, an int64 scalar known at import.
LogicalResult mlir::sqz::import::importSize(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  RankedTensorType type = node.getInputType(0);
  if (!type.hasStaticShape())
    return node.emitError() << "the input shape must be static";
  HostTensor result = HostTensor::allocate("", onnx::TensorProto::INT64, {});
  result.setInt(0, type.getNumElements());
  node.setConstantResult(0, std::move(result));
  return success();
}

LogicalResult mlir::sqz::import::importUnsqueeze(NodeContext &node) {
  FailureOr<std::optional<SmallVector<int64_t>>> axesOperand = getAxesOperand(node);
  if (failed(axesOperand))
    return failure();
  if (!*axesOperand)
    return node.emitError() << "the axes are required";
  ArrayRef<int64_t> inputShape = node.getInputType(0).getShape();
  int64_t outRank = inputShape.size() + (*axesOperand)->size();
  FailureOr<SmallVector<int64_t>> axes = normalizeAxes(node, **axesOperand, outRank);
  if (failed(axes))
    return failure();
  SmallVector<int64_t> shape;
  for (int64_t d = 0, next = 0; d < outRank; ++d)
    shape.push_back(llvm::is_contained(*axes, d) ? 1 : inputShape[next++]);
  return setReshaped(node, shape);
}

LogicalResult mlir::sqz::import::importSqueeze(NodeContext &node) {
  FailureOr<std::optional<SmallVector<int64_t>>> axesOperand = getAxesOperand(node);
  if (failed(axesOperand))
    return failure();
  ArrayRef<int64_t> inputShape = node.getInputType(0).getShape();
  int64_t rank = inputShape.size();
  SmallVector<int64_t> axes;
  if (*axesOperand) {
    FailureOr<SmallVector<int64_t>> normalized = normalizeAxes(node, **axesOperand, rank);
    if (failed(normalized))
      return failure();
    axes = *normalized;
    for (int64_t axis : axes)
      if (inputShape[axis] != 1)
        return node.emitError() << "cannot squeeze dim " << axis << " of size " << inputShape[axis];
  } else {
    for (int64_t d = 0; d < rank; ++d)
      if (inputShape[d] == 1)
        axes.push_back(d);
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d)
    if (!llvm::is_contained(axes, d))
      shape.push_back(inputShape[d]);
  return setReshaped(node, shape);
}

LogicalResult mlir::sqz::import::importFlatten(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  ArrayRef<int64_t> inputShape = node.getInputType(0).getShape();
  int64_t rank = inputShape.size();
  FailureOr<int64_t> axis = node.getIntAttr("axis", 1);
  if (failed(axis))
    return failure();
  if (*axis < -rank || *axis > rank)
    return node.emitError() << "axis " << *axis << " is out of range for rank " << rank;
  int64_t split = *axis < 0 ? *axis + rank : *axis;
  int64_t outer = getShapeNumElements(inputShape.take_front(split));
  int64_t inner = getShapeNumElements(inputShape.drop_front(split));
  return setReshaped(node, {outer, inner});
}

LogicalResult mlir::sqz::import::importConcat(NodeContext &node) {
  if (node.getNumInputs() < 1 || !llvm::all_of(llvm::seq(0u, node.getNumInputs()),
                                               [&](unsigned i) { return node.hasInput(i); }))
    return node.emitError() << "expected one or more inputs";
  const onnx::AttributeProto *axisAttr = node.getAttr("axis");
  if (!axisAttr)
    return node.emitError() << "attribute 'axis' is required";
  FailureOr<int64_t> axisValue = node.getIntAttr("axis", 0);
  if (failed(axisValue))
    return failure();
  int32_t dtype = node.getInputDType(0);
  RankedTensorType firstType = node.getInputType(0);
  int64_t rank = firstType.getRank();
  FailureOr<int64_t> axis = normalizeAxis(node, *axisValue, rank, "axis");
  if (failed(axis))
    return failure();
  bool dynamic = false;
  for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i)
    dynamic |= !node.getConstantInput(i) && !node.getInputType(i).hasStaticShape();
  if (dynamic) {
    // Dynamic dims: tensor.concat (outside the axis, a dynamic dim meets the same size).
    SmallVector<Value> parts;
    for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i) {
      if (node.getInputDType(i) != dtype || node.getInputType(i).getRank() != rank)
        return node.emitError() << "input " << i << " of type " << node.getInputType(i)
                                << " does not match input 0 of type " << firstType;
      Value part = node.getInput(i);
      if (!node.getInputType(i).isDynamicDim(*axis) && node.getInputType(i).getDimSize(*axis) == 0)
        continue;
      parts.push_back(part);
    }
    if (parts.empty())
      parts.push_back(node.getInput(0));
    if (parts.size() == 1) {
      node.setResult(0, parts[0], dtype);
      return success();
    }
    // tensor.concat: parts whose dynamic size is 0 at run time copy nothing (the CPU pipeline
    // turns the strided copies into loops, sqz-cpu-legalize-memrefs).
    node.setResult(
        0, tensor::ConcatOp::create(node.getBuilder(), node.getLoc(), *axis, parts).getResult(),
        dtype);
    return success();
  }
  SmallVector<int64_t> shape(firstType.getShape());
  shape[*axis] = 0;
  for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i) {
    RankedTensorType type = node.getInputType(i);
    if (node.getInputDType(i) != dtype)
      return node.emitError() << "input " << i << " has dtype '"
                              << getDTypeName(node.getInputDType(i)) << "', input 0 '"
                              << getDTypeName(dtype) << "'";
    bool compatible = type.getRank() == rank;
    for (int64_t d = 0; compatible && d < rank; ++d)
      compatible = d == *axis || type.getDimSize(d) == shape[d];
    if (!compatible)
      return node.emitError() << "input " << i << " of type " << type
                              << " does not match input 0 of type " << firstType << " outside axis "
                              << *axis;
    shape[*axis] += type.getDimSize(*axis);
  }

  if (allInputsConstant(node)) {
    // Copy the inputs' contiguous chunks (everything from the axis on) in order.
    SmallVector<HostTensor> parts;
    for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i)
      parts.push_back(*node.getConstantInput(i));
    HostTensor result = HostTensor::allocate("", dtype, shape);
    int64_t size = getDTypeSize(dtype);
    int64_t outer = getShapeNumElements(ArrayRef<int64_t>(shape).take_front(*axis));
    int64_t inner = getShapeNumElements(ArrayRef<int64_t>(shape).drop_front(*axis + 1));
    MutableArrayRef<char> out = result.getMutableData();
    int64_t offset = 0;
    for (int64_t o = 0; o < outer; ++o) {
      for (const HostTensor &part : parts) {
        int64_t chunk = part.shape[*axis] * inner * size;
        if (chunk == 0)
          continue;
        std::memcpy(out.data() + offset, part.data.data() + o * chunk, chunk);
        offset += chunk;
      }
    }
    node.setConstantResult(0, std::move(result));
    return success();
  }

  // One linalg.generic over the result: along the axis, read the input that covers the index
  // (tensor.extract at a clamped index from every input, then a select chain). No insert_slice:
  // bufferizing those into shared destinations creates memref.copy between strided views, which
  // the CPU pipeline lowers to a runtime call it does not link.
  SmallVector<Value> parts;
  SmallVector<int64_t> offsets, sizes;
  int64_t offset = 0;
  for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i) {
    int64_t size = node.getInputType(i).getDimSize(*axis);
    if (size > 0) {
      parts.push_back(node.getInput(i));
      offsets.push_back(offset);
      sizes.push_back(size);
    }
    offset += size;
  }
  if (parts.size() == 1 &&
      cast<RankedTensorType>(parts[0].getType()).getShape() == ArrayRef<int64_t>(shape)) {
    node.setResult(0, parts[0], dtype);
    return success();
  }
  if (parts.empty()) {
    node.setResult(
        0, createEmpty(node.getBuilder(), node.getLoc(), shape, firstType.getElementType()), dtype);
    return success();
  }
  Value result = buildIndexedGeneric(
      node.getBuilder(), node.getLoc(), {}, {}, shape, firstType.getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange indices, ValueRange) {
        Value idx = indices[*axis];
        auto read = [&](size_t i) {
          SmallVector<Value> coords(indices);
          if (sizes[i] == 1) {
            coords[*axis] = arith::ConstantIndexOp::create(b, loc, 0);
            return tensor::ExtractOp::create(b, loc, parts[i], coords).getResult();
          }
          Value local = idx;
          if (offsets[i] != 0)
            local = arith::SubIOp::create(b, loc, idx,
                                          arith::ConstantIndexOp::create(b, loc, offsets[i]));
          if (i > 0)
            local =
                arith::MaxSIOp::create(b, loc, local, arith::ConstantIndexOp::create(b, loc, 0));
          if (i + 1 < parts.size())
            local = arith::MinSIOp::create(b, loc, local,
                                           arith::ConstantIndexOp::create(b, loc, sizes[i] - 1));
          coords[*axis] = local;
          return tensor::ExtractOp::create(b, loc, parts[i], coords).getResult();
        };
        Value value = read(parts.size() - 1);
        for (size_t i = parts.size() - 1; i-- > 0;) {
          Value end = arith::ConstantIndexOp::create(b, loc, offsets[i] + sizes[i]);
          Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, end);
          value = arith::SelectOp::create(b, loc, inside, read(i), value);
        }
        return value;
      });
  node.setResult(0, result, dtype);
  return success();
}

/// Result `index` is the strided box (offsets, sizes, steps) of input 0; steps may be negative.
static void setSlice(NodeContext &node, unsigned index, ArrayRef<int64_t> offsets,
                     ArrayRef<int64_t> sizes, ArrayRef<int64_t> steps) {
  int64_t rank = offsets.size();
  int32_t dtype = node.getInputDType(0);
  RankedTensorType inputType = node.getInputType(0);
  if (const HostTensor *data = node.getConstantInput(0)) {
    SmallVector<int64_t> strides = getRowMajorStrides(data->shape);
    node.setConstantResult(index, gatherHostElements(*data, sizes, [&](ArrayRef<int64_t> idx) {
                             int64_t flat = 0;
                             for (int64_t d = 0; d < rank; ++d)
                               flat += (offsets[d] + idx[d] * steps[d]) * strides[d];
                             return flat;
                           }));
    return;
  }
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Value input = node.getInput(0);
  if (inputType.getShape() == sizes) { // the whole tensor (steps only matter for size > 1)
    bool identity = true;
    for (int64_t d = 0; d < rank; ++d)
      identity &= sizes[d] <= 1 || steps[d] == 1;
    if (identity) {
      node.setResult(index, input, dtype);
      return;
    }
  }
  if (llvm::all_of(steps, [](int64_t step) { return step > 0; })) {
    SmallVector<OpFoldResult> offsetAttrs, sizeAttrs, stepAttrs;
    for (int64_t d = 0; d < rank; ++d) {
      offsetAttrs.push_back(b.getIndexAttr(offsets[d]));
      sizeAttrs.push_back(b.getIndexAttr(sizes[d]));
      stepAttrs.push_back(b.getIndexAttr(steps[d]));
    }
    Value slice = tensor::ExtractSliceOp::create(b, loc, input, offsetAttrs, sizeAttrs, stepAttrs);
    // Copy the (strided) view into a tensor of its own: the CPU pipeline lowers memref.copy of
    // strided views (which bufferization would create for returned or reshaped slices) to a
    // runtime call it does not link; linalg.copy becomes plain loops.
    Value init = createEmpty(b, loc, sizes, inputType.getElementType());
    node.setResult(index,
                   linalg::CopyOp::create(b, loc, ValueRange{slice}, ValueRange{init}).getResult(0),
                   dtype);
    return;
  }
  // Negative steps: read element offset + i * step with tensor.extract.
  Value result = buildIndexedGeneric(
      b, loc, {}, {}, sizes, inputType.getElementType(),
      [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange) {
        SmallVector<Value> coords;
        for (int64_t d = 0; d < rank; ++d) {
          if (offsets[d] == 0 && steps[d] == 1) {
            coords.push_back(indices[d]);
            continue;
          }
          Value step = arith::ConstantIndexOp::create(nb, nl, steps[d]);
          Value start = arith::ConstantIndexOp::create(nb, nl, offsets[d]);
          coords.push_back(arith::AddIOp::create(
              nb, nl, start, arith::MulIOp::create(nb, nl, indices[d], step).getResult()));
        }
        return tensor::ExtractOp::create(nb, nl, input, coords).getResult();
      });
  node.setResult(index, result, dtype);
}

/// Result `index` is the box (mixed offsets and sizes, positive static steps) of input 0, which
/// has dynamic dims or a box whose bounds are known only at run time.
static void setDynamicSlice(NodeContext &node, unsigned index, ArrayRef<OpFoldResult> offsets,
                            ArrayRef<OpFoldResult> sizes, ArrayRef<int64_t> steps) {
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Value input = node.getInput(0);
  RankedTensorType inputType = node.getInputType(0);
  SmallVector<OpFoldResult> stepAttrs;
  for (int64_t step : steps)
    stepAttrs.push_back(b.getIndexAttr(step));
  Value slice = tensor::ExtractSliceOp::create(b, loc, input, offsets, sizes, stepAttrs);
  Value init = createEmpty(b, loc, sizes, inputType.getElementType());
  node.setResult(index,
                 linalg::CopyOp::create(b, loc, ValueRange{slice}, ValueRange{init}).getResult(0),
                 node.getInputDType(0));
}

/// Slice of a tensor with dynamic dims or run-time bounds (positive steps): ONNX's clamping
/// computed on `index` values.
static LogicalResult importDynamicSlice(NodeContext &node, ArrayRef<OpFoldResult> starts,
                                        ArrayRef<OpFoldResult> ends, ArrayRef<int64_t> axes,
                                        ArrayRef<int64_t> steps) {
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  SmallVector<OpFoldResult> sizes = getMixedSizes(b, loc, node.getInput(0));
  int64_t rank = sizes.size();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<int64_t> strides(rank, 1);
  SmallVector<bool> seen(rank, false);
  OpFoldResult zero = b.getIndexAttr(0);
  for (size_t i = 0; i < axes.size(); ++i) {
    FailureOr<int64_t> axis = normalizeAxis(node, axes[i], rank, "axis");
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return node.emitError() << "axis " << axes[i] << " is repeated";
    seen[*axis] = true;
    if (steps[i] <= 0)
      return node.emitError() << "negative steps need static shapes and bounds; pin the "
                                 "dynamic dims with --input-shape";
    OpFoldResult dim = sizes[*axis];
    // Negative values count from the end; then clamp to [0, dim].
    auto normalize = [&](OpFoldResult v) -> OpFoldResult {
      if (std::optional<int64_t> c = getConstantSize(v)) {
        if (*c < 0)
          return buildIndexOp(b, loc, "Max", buildIndexOp(b, loc, "Add", v, dim), zero);
        return buildIndexOp(b, loc, "Min", v, dim);
      }
      Value value = getIndexValue(b, loc, v);
      Value isNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, value,
                                               arith::ConstantIndexOp::create(b, loc, 0));
      Value wrapped = getIndexValue(b, loc, buildIndexOp(b, loc, "Add", v, dim));
      OpFoldResult picked = arith::SelectOp::create(b, loc, isNegative, wrapped, value).getResult();
      return buildIndexOp(b, loc, "Min", buildIndexOp(b, loc, "Max", picked, zero), dim);
    };
    OpFoldResult start = normalize(starts[i]), end = normalize(ends[i]);
    OpFoldResult extent =
        buildIndexOp(b, loc, "Max", buildIndexOp(b, loc, "Sub", end, start), zero);
    OpFoldResult size = extent;
    if (steps[i] != 1)
      size = buildIndexOp(
          b, loc, "Div",
          buildIndexOp(b, loc, "Add", extent, b.getIndexAttr(steps[i] - 1)),
          b.getIndexAttr(steps[i]));
    // An empty slice starts at 0 (a slice may not start past the end of its dim).
    if (std::optional<int64_t> c = getConstantSize(size); c && *c == 0)
      start = zero;
    offsets[*axis] = start;
    sizes[*axis] = size;
    strides[*axis] = steps[i];
  }
  setDynamicSlice(node, 0, offsets, sizes, strides);
  return success();
}

LogicalResult mlir::sqz::import::importSlice(NodeContext &node) {
  if (node.getOpset() >= 10 &&
      ((!node.getConstantInput(0) && !node.getInputType(0).hasStaticShape()) ||
       node.getSymbolicInput(1) || node.getSymbolicInput(2))) {
    if (failed(node.checkNumInputs(3, 5)))
      return failure();
    FailureOr<SmallVector<OpFoldResult>> starts = getMixedInts(node, 1, "starts");
    FailureOr<SmallVector<OpFoldResult>> ends = getMixedInts(node, 2, "ends");
    if (failed(starts) || failed(ends))
      return failure();
    SmallVector<int64_t> axes, steps;
    if (node.hasInput(3)) {
      FailureOr<SmallVector<int64_t>> axesIn = getConstantInts(node, 3, "axes");
      if (failed(axesIn))
        return failure();
      axes = *axesIn;
    } else {
      axes.assign(llvm::seq<int64_t>(0, starts->size()).begin(),
                  llvm::seq<int64_t>(0, starts->size()).end());
    }
    if (node.hasInput(4)) {
      FailureOr<SmallVector<int64_t>> stepsIn = getConstantInts(node, 4, "steps");
      if (failed(stepsIn))
        return failure();
      steps = *stepsIn;
    } else {
      steps.assign(starts->size(), 1);
    }
    if (ends->size() != starts->size() || axes.size() != starts->size() ||
        steps.size() != starts->size())
      return node.emitError() << "starts, ends, axes and steps must have the same length";
    return importDynamicSlice(node, *starts, *ends, axes, steps);
  }
  SmallVector<int64_t> starts, ends, steps;
  std::optional<SmallVector<int64_t>> axes;
  if (node.getOpset() < 10) {
    if (failed(node.checkNumInputs(1, 1)))
      return failure();
    FailureOr<std::optional<SmallVector<int64_t>>> startsAttr = node.getIntsAttr("starts");
    FailureOr<std::optional<SmallVector<int64_t>>> endsAttr = node.getIntsAttr("ends");
    FailureOr<std::optional<SmallVector<int64_t>>> axesAttr = node.getIntsAttr("axes");
    if (failed(startsAttr) || failed(endsAttr) || failed(axesAttr))
      return failure();
    if (!*startsAttr || !*endsAttr)
      return node.emitError() << "attributes 'starts' and 'ends' are required";
    starts = **startsAttr;
    ends = **endsAttr;
    axes = *axesAttr;
  } else {
    if (failed(node.checkNumInputs(3, 5)))
      return failure();
    FailureOr<SmallVector<int64_t>> startsIn = getConstantInts(node, 1, "starts");
    if (failed(startsIn))
      return failure();
    FailureOr<SmallVector<int64_t>> endsIn = getConstantInts(node, 2, "ends");
    if (failed(endsIn))
      return failure();
    starts = *startsIn;
    ends = *endsIn;
    if (node.hasInput(3)) {
      FailureOr<SmallVector<int64_t>> axesIn = getConstantInts(node, 3, "axes");
      if (failed(axesIn))
        return failure();
      axes = *axesIn;
    }
    if (node.hasInput(4)) {
      FailureOr<SmallVector<int64_t>> stepsIn = getConstantInts(node, 4, "steps");
      if (failed(stepsIn))
        return failure();
      steps = *stepsIn;
    }
  }
  ArrayRef<int64_t> inputShape = node.getInputType(0).getShape();
  int64_t rank = inputShape.size();
  size_t count = starts.size();
  if (ends.size() != count || (axes && axes->size() != count) ||
      (!steps.empty() && steps.size() != count))
    return node.emitError() << "starts, ends, axes and steps must have the same length";
  if (!axes) {
    if (static_cast<int64_t>(count) > rank)
      return node.emitError() << "starts has " << count << " entries but the input has rank "
                              << rank;
    axes.emplace(llvm::seq<int64_t>(0, count).begin(), llvm::seq<int64_t>(0, count).end());
  }
  if (steps.empty())
    steps.assign(count, 1);

  SmallVector<int64_t> offsets(rank, 0), sizes(inputShape), strides(rank, 1);
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < count; ++i) {
    FailureOr<int64_t> axis = normalizeAxis(node, (*axes)[i], rank, "axis");
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return node.emitError() << "axis " << (*axes)[i] << " is repeated";
    seen[*axis] = true;
    int64_t step = steps[i];
    if (step == 0)
      return node.emitError() << "steps must not be 0";
    int64_t dim = inputShape[*axis];
    int64_t start = starts[i], end = ends[i];
    // Negative values count from the end; then clamp (numpy semantics).
    if (start < 0)
      start += dim;
    if (end < 0)
      end += dim;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
    } else {
      start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
      end = std::clamp<int64_t>(end, -1, dim - 1);
    }
    int64_t size;
    if (dim == 0)
      size = 0;
    else if (step > 0)
      size = end > start ? (end - start + step - 1) / step : 0;
    else
      size = start > end ? (start - end - step - 1) / -step : 0;
    offsets[*axis] = size > 0 ? start : 0;
    sizes[*axis] = size;
    strides[*axis] = step;
  }
  setSlice(node, 0, offsets, sizes, strides);
  return success();
}

LogicalResult mlir::sqz::import::importSplit(NodeContext &node) {
  int64_t numOutputs = node.getNode().output_size();
  if (failed(node.checkNumInputs(1, node.getOpset() >= 13 ? 2 : 1)))
    return failure();
  FailureOr<int64_t> axisValue = node.getIntAttr("axis", 0);
  if (failed(axisValue))
    return failure();
  ArrayRef<int64_t> inputShape = node.getInputType(0).getShape();
  int64_t rank = inputShape.size();
  FailureOr<int64_t> axis = normalizeAxis(node, *axisValue, rank, "axis");
  if (failed(axis))
    return failure();
  int64_t dim = inputShape[*axis];
  if (ShapedType::isDynamic(dim))
    return node.emitError() << "cannot split dynamic dim " << *axis
                            << "; pin the dynamic dims with --input-shape";

  SmallVector<int64_t> splits;
  const onnx::AttributeProto *numOutputsAttr =
      node.getOpset() >= 18 ? node.getAttr("num_outputs") : nullptr;
  if (node.getOpset() >= 13 && node.hasInput(1)) {
    if (numOutputsAttr)
      return node.emitError() << "the split input and 'num_outputs' are mutually exclusive";
    FailureOr<SmallVector<int64_t>> values = getConstantInts(node, 1, "split");
    if (failed(values))
      return failure();
    splits = *values;
  } else if (node.getOpset() < 13) {
    FailureOr<std::optional<SmallVector<int64_t>>> attr = node.getIntsAttr("split");
    if (failed(attr))
      return failure();
    if (*attr)
      splits = **attr;
  }
  if (numOutputsAttr) {
    FailureOr<int64_t> n = node.getIntAttr("num_outputs", 0);
    if (failed(n))
      return failure();
    if (*n != numOutputs || *n < 1)
      return node.emitError() << "'num_outputs' is " << *n << " but the node has " << numOutputs
                              << " outputs";
    // ceil(dim / n) each, the last one smaller.
    int64_t chunk = (dim + *n - 1) / *n;
    for (int64_t i = 0, left = dim; i < *n; ++i, left -= chunk)
      splits.push_back(std::clamp<int64_t>(left, 0, chunk));
  } else if (splits.empty()) {
    if (numOutputs < 1 || dim % numOutputs != 0)
      return node.emitError() << "dim " << *axis << " of size " << dim
                              << " does not split evenly into " << numOutputs << " outputs";
    splits.assign(numOutputs, dim / numOutputs);
  }
  if (static_cast<int64_t>(splits.size()) != numOutputs)
    return node.emitError() << "'split' has " << splits.size() << " entries but the node has "
                            << numOutputs << " outputs";
  int64_t total = 0;
  for (int64_t size : splits) {
    if (size < 0)
      return node.emitError() << "split sizes must not be negative";
    total += size;
  }
  if (total != dim)
    return node.emitError() << "split sizes add up to " << total << ", not to the size " << dim
                            << " of dim " << *axis;

  if (!node.getInputType(0).hasStaticShape()) {
    OpBuilder &b = node.getBuilder();
    SmallVector<OpFoldResult> sizes = getMixedSizes(b, node.getLoc(), node.getInput(0));
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    for (int64_t i = 0, start = 0; i < numOutputs; start += splits[i], ++i) {
      offsets[*axis] = b.getIndexAttr(splits[i] > 0 ? start : 0);
      sizes[*axis] = b.getIndexAttr(splits[i]);
      setDynamicSlice(node, i, offsets, sizes, SmallVector<int64_t>(rank, 1));
    }
    return success();
  }
  SmallVector<int64_t> offsets(rank, 0), sizes(inputShape), steps(rank, 1);
  for (int64_t i = 0, start = 0; i < numOutputs; start += splits[i], ++i) {
    // An empty piece starts at 0: a slice may not start at the end of its dim.
    offsets[*axis] = splits[i] > 0 ? start : 0;
    sizes[*axis] = splits[i];
    setSlice(node, i, offsets, sizes, steps);
  }
  return success();
}

LogicalResult mlir::sqz::import::importExpand(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  if (node.getSymbolicInput(1) ||
      (!node.getConstantInput(0) && !node.getInputType(0).hasStaticShape())) {
    FailureOr<SmallVector<OpFoldResult>> target = getMixedInts(node, 1, "shape");
    if (failed(target))
      return failure();
    OpBuilder &b = node.getBuilder();
    Location loc = node.getLoc();
    Value input = node.getInput(0);
    SmallVector<OpFoldResult> inSizes = getMixedSizes(b, loc, input);
    int64_t rank = std::max<int64_t>(inSizes.size(), target->size());
    // numpy broadcasting of the input dims and the target (1s stretch; a dynamic dim meets
    // 1 or its own size).
    SmallVector<OpFoldResult> sizes;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t ti = d - (rank - static_cast<int64_t>(target->size()));
      int64_t ii = d - (rank - static_cast<int64_t>(inSizes.size()));
      OpFoldResult t = ti >= 0 ? (*target)[ti] : OpFoldResult(b.getIndexAttr(1));
      OpFoldResult in = ii >= 0 ? inSizes[ii] : OpFoldResult(b.getIndexAttr(1));
      std::optional<int64_t> tc = getConstantSize(t), ic = getConstantSize(in);
      if (tc && *tc < 0)
        return node.emitError() << "the shape must not have negative dims";
      if (tc && ic && *tc != *ic && *tc != 1 && *ic != 1)
        return node.emitError() << "cannot expand dim " << d << " of size " << *ic << " to "
                                << *tc;
      sizes.push_back(tc && *tc == 1 ? in : (ic && *ic == 1) ? t : ic ? in : t);
    }
    SmallVector<int64_t> shape = getStaticSizes(sizes);
    RankedTensorType inputType = node.getInputType(0);
    Value result = buildElementwise(
        b, loc, {input}, shape, inputType.getElementType(),
        [](OpBuilder &, Location, ValueRange args) { return args[0]; }, sizes);
    node.setResult(0, result, node.getInputDType(0));
    return success();
  }
  FailureOr<SmallVector<int64_t>> target = getConstantInts(node, 1, "shape");
  if (failed(target))
    return failure();
  RankedTensorType inputType = node.getInputType(0);
  for (int64_t dim : *target)
    if (dim < 0)
      return node.emitError() << "the shape must not have negative dims";
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes({inputType.getShape(), ArrayRef<int64_t>(*target)});
  if (!shape)
    return node.emitError() << "cannot expand " << inputType << " to shape ["
                            << llvm::make_range(target->begin(), target->end()) << "]";
  int32_t dtype = node.getInputDType(0);
  if (*shape == inputType.getShape()) {
    node.forwardInput(0, 0);
    return success();
  }
  const HostTensor *data = node.getConstantInput(0);
  if (data && getShapeNumElements(*shape) <= kMaxFoldElements) {
    node.setConstantResult(0, gatherHostElements(*data, *shape, [&](ArrayRef<int64_t> idx) {
                             return getBroadcastSourceIndex(data->shape, idx);
                           }));
    return success();
  }
  Value result = buildElementwise(node.getBuilder(), node.getLoc(), {node.getInput(0)}, *shape,
                                  inputType.getElementType(),
                                  [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importTile(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  FailureOr<SmallVector<int64_t>> repeats = getConstantInts(node, 1, "repeats");
  if (failed(repeats))
    return failure();
  RankedTensorType inputType = node.getInputType(0);
  ArrayRef<int64_t> inputShape = inputType.getShape();
  int64_t rank = inputShape.size();
  if (static_cast<int64_t>(repeats->size()) != rank)
    return node.emitError() << "'repeats' has " << repeats->size()
                            << " entries but the input has rank " << rank;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if ((*repeats)[d] < 0)
      return node.emitError() << "'repeats' must not be negative";
    shape.push_back(inputShape[d] * (*repeats)[d]);
  }
  int32_t dtype = node.getInputDType(0);
  if (shape == inputShape) {
    node.forwardInput(0, 0);
    return success();
  }
  const HostTensor *data = node.getConstantInput(0);
  if (data && getShapeNumElements(shape) <= kMaxFoldElements) {
    SmallVector<int64_t> strides = getRowMajorStrides(inputShape);
    node.setConstantResult(0, gatherHostElements(*data, shape, [&](ArrayRef<int64_t> idx) {
                             int64_t flat = 0;
                             for (int64_t d = 0; d < rank; ++d)
                               flat += (idx[d] % inputShape[d]) * strides[d];
                             return flat;
                           }));
    return success();
  }
  // [d0, d1, ...] -> [1, d0, 1, d1, ...] -> broadcast to [r0, d0, r1, d1, ...] -> collapse.
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  SmallVector<int64_t> interleaved, broadcast;
  for (int64_t d = 0; d < rank; ++d) {
    interleaved.append({1, inputShape[d]});
    broadcast.append({(*repeats)[d], inputShape[d]});
  }
  Value expanded = buildReshape(b, loc, node.getInput(0), interleaved);
  Value tiled = buildElementwise(b, loc, {expanded}, broadcast, inputType.getElementType(),
                                 [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  node.setResult(0, buildReshape(b, loc, tiled, shape), dtype);
  return success();
}

LogicalResult mlir::sqz::import::importConstantOfShape(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  FailureOr<SmallVector<OpFoldResult>> mixedShape = getMixedInts(node, 0, "shape");
  if (failed(mixedShape))
    return failure();
  SmallVector<int64_t> staticShape = getStaticSizes(*mixedShape);
  FailureOr<SmallVector<int64_t>> shape = staticShape;
  for (int64_t dim : *shape)
    if (dim < 0 && !ShapedType::isDynamic(dim))
      return node.emitError() << "the shape must not have negative dims";
  HostTensor value = HostTensor::allocate("", onnx::TensorProto::FLOAT, {1});
  if (const onnx::AttributeProto *attr = node.getAttr("value")) {
    if (attr->type() != onnx::AttributeProto::TENSOR)
      return node.emitError() << "attribute 'value' must be a tensor";
    std::string error;
    FailureOr<HostTensor> read = readTensorProto(attr->t(), error);
    if (failed(read))
      return node.emitError() << error;
    if (read->getNumElements() != 1)
      return node.emitError() << "attribute 'value' must hold one element";
    value = std::move(*read);
  }
  OpBuilder &b = node.getBuilder();
  if (ShapedType::isDynamicShape(*shape)) {
    Type elementType = getElementType(node.getContext(), value.dtype);
    Value scalar = node.createConstant(reshapeHostTensor(value, {}));
    Value empty = createEmpty(b, node.getLoc(), *mixedShape, elementType);
    Value element = tensor::ExtractOp::create(b, node.getLoc(), scalar, ValueRange{});
    node.setResult(0,
                   linalg::FillOp::create(b, node.getLoc(), ValueRange{element},
                                          ValueRange{empty})
                       .getResult(0),
                   value.dtype);
    return success();
  }
  if (getShapeNumElements(*shape) <= kMaxFoldElements) {
    node.setConstantResult(
        0, gatherHostElements(value, *shape, [](ArrayRef<int64_t>) { return int64_t(0); }));
    return success();
  }
  auto scalarType = RankedTensorType::get({}, getElementType(node.getContext(), value.dtype));
  Value scalar = node.createConstant(reshapeHostTensor(value, {}));
  Value result = buildElementwise(b, node.getLoc(), {scalar}, *shape, scalarType.getElementType(),
                                  [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  node.setResult(0, result, value.dtype);
  return success();
}

LogicalResult mlir::sqz::import::importRange(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 3)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  for (unsigned i = 1; i < 3; ++i)
    if (node.getInputDType(i) != dtype)
      return node.emitError() << "start, limit and delta must have the same dtype";
  if (!isFloatDType(dtype) && node.getConstantInput(2) &&
      llvm::all_of(llvm::seq(0u, 2u), [&](unsigned i) {
        return node.getConstantInput(i) || node.getSymbolicInput(i);
      }) &&
      !allInputsConstant(node)) {
    // Integer bounds known as run-time sizes: ceil((limit - start) / delta) elements.
    FailureOr<SmallVector<OpFoldResult>> start = getMixedInts(node, 0, "start");
    FailureOr<SmallVector<OpFoldResult>> limit = getMixedInts(node, 1, "limit");
    if (failed(start) || failed(limit))
      return failure();
    int64_t delta = node.getConstantInput(2)->getInt(0);
    if (start->size() != 1 || limit->size() != 1 || node.getConstantInput(2)->getNumElements() != 1)
      return node.emitError() << "start, limit and delta must be scalars";
    if (delta == 0)
      return node.emitError() << "delta must not be 0";
    OpBuilder &b = node.getBuilder();
    Location loc = node.getLoc();
    OpFoldResult zero = b.getIndexAttr(0);
    OpFoldResult extent = delta > 0 ? buildIndexOp(b, loc, "Sub", (*limit)[0], (*start)[0])
                                    : buildIndexOp(b, loc, "Sub", (*start)[0], (*limit)[0]);
    int64_t step = delta > 0 ? delta : -delta;
    OpFoldResult count = buildIndexOp(
        b, loc, "Div",
        buildIndexOp(b, loc, "Add", buildIndexOp(b, loc, "Max", extent, zero),
                     b.getIndexAttr(step - 1)),
        b.getIndexAttr(step));
    Type elementType = getElementType(node.getContext(), dtype);
    Value first = getIndexValue(b, loc, (*start)[0]);
    Value result = buildIndexedGeneric(
        b, loc, {}, {}, getStaticSizes({count}), elementType,
        [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange) {
          Value offset = arith::MulIOp::create(nb, nl, indices[0],
                                               arith::ConstantIndexOp::create(nb, nl, delta));
          Value value = arith::AddIOp::create(nb, nl, first, offset);
          return arith::IndexCastOp::create(nb, nl, elementType, value).getResult();
        },
        {count});
    node.setResult(0, result, dtype);
    return success();
  }
  if (!allInputsConstant(node))
    return node.emitError() << "start, limit and delta must be import-time constants (the result "
                               "shape depends on them)";
  const HostTensor *operands[3];
  for (unsigned i = 0; i < 3; ++i) {
    operands[i] = node.getConstantInput(i);
    if (operands[i]->getNumElements() != 1)
      return node.emitError() << "start, limit and delta must be scalars";
  }
  HostTensor result;
  if (isFloatDType(dtype)) {
    double start = operands[0]->getDouble(0), limit = operands[1]->getDouble(0),
           delta = operands[2]->getDouble(0);
    if (delta == 0)
      return node.emitError() << "delta must not be 0";
    int64_t count = std::max<int64_t>(static_cast<int64_t>(std::ceil((limit - start) / delta)), 0);
    if (count > kMaxFoldElements)
      return node.emitError() << "the range has " << count << " elements (too many)";
    result = HostTensor::allocate("", dtype, {count});
    for (int64_t i = 0; i < count; ++i)
      result.setDouble(i, start + static_cast<double>(i) * delta);
  } else {
    int64_t start = operands[0]->getInt(0), limit = operands[1]->getInt(0),
            delta = operands[2]->getInt(0);
    if (delta == 0)
      return node.emitError() << "delta must not be 0";
    int64_t count = delta > 0 ? (limit > start ? (limit - start + delta - 1) / delta : 0)
                              : (start > limit ? (start - limit - delta - 1) / -delta : 0);
    if (count > kMaxFoldElements)
      return node.emitError() << "the range has " << count << " elements (too many)";
    result = HostTensor::allocate("", dtype, {count});
    for (int64_t i = 0; i < count; ++i)
      result.setInt(i, start + i * delta);
  }
  node.setConstantResult(0, std::move(result));
  return success();
}
