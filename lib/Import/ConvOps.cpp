//===- ConvOps.cpp - ONNX Conv, pooling, BatchNormalization and Pad -------===//
//
// Conv (1-D/2-D/3-D, groups incl. depthwise, strides, dilations, explicit or
// auto pads, bias), ConvTranspose (as a Conv of the zero-upsampled input with
// the flipped kernel), MaxPool/AveragePool (pads, ceil_mode, dilations,
// count_include_pad), GlobalAveragePool/ GlobalMaxPool, BatchNormalization
// (inference) and Pad (constant/reflect/edge/wrap).
//
// Padding is one `linalg.generic` over the padded shape that `tensor.extract`s
// the source element at a clamped (edge), reflected or wrapped index, or
// selects the pad value out of bounds (no tensor.pad: its bufferization copies
// into a strided subview). Convolutions and pools are then one `linalg.generic`
// each over (batch, [group,] channel, output..., [input channel,] kernel...)
// whose input map reads `o·stride + k·dilation`; groups split the channel dims
// with `tensor.expand_shape` ([N, G, C/G, ...] and [G, M/G, C/G, k...]).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "llvm/ADT/APInt.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::sqz::import;

namespace {
enum class PadMode { Constant, Reflect, Edge, Wrap };
} // namespace

static bool hasOutput(NodeContext &node, int index) {
  return node.getNode().output_size() > index &&
         !node.getNode().output(index).empty();
}

/// `input` padded by `before`/`after` elements per dim (negative values crop),
/// see the file comment. `padValue` is the scalar used outside the input in
/// constant mode.
static Value buildPadded(OpBuilder &b, Location loc, Value input,
                         ArrayRef<int64_t> before, ArrayRef<int64_t> after,
                         PadMode mode, Value padValue) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  bool any = false;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    any |= before[d] != 0 || after[d] != 0;
    shape.push_back(type.getDimSize(d) + before[d] + after[d]);
  }
  if (!any)
    return input;
  return buildIndexedGeneric(
      b, loc, ValueRange{}, {}, shape, type.getElementType(),
      [&](OpBuilder &nb, Location nl, ValueRange idx, ValueRange) -> Value {
        auto cst = [&](int64_t v) {
          return arith::ConstantIndexOp::create(nb, nl, v).getResult();
        };
        SmallVector<Value> src;
        Value inBounds;
        for (int64_t d = 0; d < rank; ++d) {
          int64_t n = type.getDimSize(d);
          if (before[d] == 0 && after[d] <= 0) {
            src.push_back(idx[d]);
            continue;
          }
          Value s = arith::SubIOp::create(nb, nl, idx[d], cst(before[d]));
          bool low = before[d] > 0, high = after[d] > 0;
          if (mode == PadMode::Constant) {
            Value ok;
            if (low)
              ok = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge, s,
                                         cst(0));
            if (high) {
              Value hi = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::slt, s, cst(n));
              ok = ok ? arith::AndIOp::create(nb, nl, ok, hi).getResult() : hi;
            }
            if (ok)
              inBounds =
                  inBounds
                      ? arith::AndIOp::create(nb, nl, inBounds, ok).getResult()
                      : ok;
          } else if (mode == PadMode::Reflect) {
            if (n > 1) {
              // One reflection each side (ONNX requires pads < dim), repeated
              // for safety.
              Value period = cst(2 * (n - 1));
              s = arith::RemSIOp::create(nb, nl, s, period);
              Value neg = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::slt, s, cst(0));
              s = arith::SelectOp::create(
                  nb, nl, neg, arith::AddIOp::create(nb, nl, s, period), s);
              Value big = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::sge, s, cst(n));
              s = arith::SelectOp::create(
                  nb, nl, big, arith::SubIOp::create(nb, nl, period, s), s);
            }
          } else if (mode == PadMode::Wrap) {
            s = arith::RemSIOp::create(nb, nl, s, cst(n));
            Value neg = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt,
                                              s, cst(0));
            s = arith::SelectOp::create(
                nb, nl, neg, arith::AddIOp::create(nb, nl, s, cst(n)), s);
          }
          // Clamp (edge mode, and never read out of bounds otherwise).
          if (low)
            s = arith::MaxSIOp::create(nb, nl, s, cst(0));
          if (high)
            s = arith::MinSIOp::create(nb, nl, s, cst(n - 1));
          src.push_back(s);
        }
        Value v = tensor::ExtractOp::create(nb, nl, input, src);
        if (mode == PadMode::Constant && inBounds)
          v = arith::SelectOp::create(nb, nl, inBounds, v, padValue);
        return v;
      });
}

//===----------------------------------------------------------------------===//
// Window attributes shared by Conv and the pools
//===----------------------------------------------------------------------===//

namespace {
struct Window {
  SmallVector<int64_t> kernel, strides, dilations, padBefore, padAfter, out;
  /// Extra end padding that ceil_mode windows read beyond the padded input.
  SmallVector<int64_t> extra;
};
} // namespace

/// Reads kernel_shape (or `kernel` when given), strides, dilations,
/// pads/auto_pad and ceil_mode for the spatial dims `inShape`, and computes the
/// output dims.
static LogicalResult getWindow(NodeContext &node, ArrayRef<int64_t> inShape,
                               std::optional<SmallVector<int64_t>> kernel,
                               bool allowCeil, Window &w) {
  int64_t s = inShape.size();
  FailureOr<std::optional<SmallVector<int64_t>>> kAttr =
      node.getIntsAttr("kernel_shape");
  FailureOr<std::optional<SmallVector<int64_t>>> sAttr =
      node.getIntsAttr("strides");
  FailureOr<std::optional<SmallVector<int64_t>>> dAttr =
      node.getIntsAttr("dilations");
  FailureOr<std::optional<SmallVector<int64_t>>> pAttr =
      node.getIntsAttr("pads");
  FailureOr<std::string> autoPad = node.getStringAttr("auto_pad", "NOTSET");
  FailureOr<int64_t> ceilMode = node.getIntAttr("ceil_mode", 0);
  if (failed(kAttr) || failed(sAttr) || failed(dAttr) || failed(pAttr) ||
      failed(autoPad) || failed(ceilMode))
    return failure();
  if (*kAttr)
    w.kernel = **kAttr;
  else if (kernel)
    w.kernel = *kernel;
  else
    return node.emitError() << "the kernel_shape attribute is required";
  if (static_cast<int64_t>(w.kernel.size()) != s)
    return node.emitError()
           << "kernel_shape has " << w.kernel.size() << " dims, expected " << s;
  if (kernel && *kernel != w.kernel)
    return node.emitError()
           << "kernel_shape does not match the weight's spatial dims";
  w.strides = *sAttr ? **sAttr : SmallVector<int64_t>(s, 1);
  w.dilations = *dAttr ? **dAttr : SmallVector<int64_t>(s, 1);
  if (static_cast<int64_t>(w.strides.size()) != s ||
      static_cast<int64_t>(w.dilations.size()) != s)
    return node.emitError()
           << "strides and dilations must have " << s << " values";
  for (int64_t i = 0; i < s; ++i)
    if (w.strides[i] < 1 || w.dilations[i] < 1 || w.kernel[i] < 1)
      return node.emitError()
             << "kernel_shape, strides and dilations must be positive";
  bool ceil = *ceilMode != 0;
  if (ceil && !allowCeil)
    return node.emitError() << "ceil_mode is not supported";
  w.padBefore.assign(s, 0);
  w.padAfter.assign(s, 0);
  w.out.assign(s, 0);
  w.extra.assign(s, 0);
  StringRef ap = *autoPad;
  if (ap == "NOTSET") {
    if (*pAttr) {
      if (static_cast<int64_t>((*pAttr)->size()) != 2 * s)
        return node.emitError() << "pads has " << (*pAttr)->size()
                                << " values, expected " << 2 * s;
      for (int64_t i = 0; i < s; ++i) {
        w.padBefore[i] = (**pAttr)[i];
        w.padAfter[i] = (**pAttr)[i + s];
        if (w.padBefore[i] < 0 || w.padAfter[i] < 0)
          return node.emitError() << "negative pads are not supported";
      }
    }
  } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    for (int64_t i = 0; i < s; ++i) {
      int64_t out = (inShape[i] + w.strides[i] - 1) / w.strides[i];
      int64_t total = std::max<int64_t>(
          0, (out - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 -
                 inShape[i]);
      int64_t small = total / 2;
      w.padBefore[i] = ap == "SAME_UPPER" ? small : total - small;
      w.padAfter[i] = total - w.padBefore[i];
    }
  } else if (ap != "VALID") {
    return node.emitError() << "unsupported auto_pad '" << ap << "'";
  }
  for (int64_t i = 0; i < s; ++i) {
    int64_t padded = inShape[i] + w.padBefore[i] + w.padAfter[i];
    int64_t span = (w.kernel[i] - 1) * w.dilations[i] + 1;
    if (padded < span)
      return node.emitError()
             << "the window (" << span << ") is larger than the padded input ("
             << padded << ") in spatial dim " << i;
    int64_t num = padded - span;
    int64_t out =
        (ceil ? (num + w.strides[i] - 1) / w.strides[i] : num / w.strides[i]) +
        1;
    // A window that would start in the end padding is dropped (PyTorch,
    // onnxruntime).
    if (ceil && (out - 1) * w.strides[i] >= inShape[i] + w.padBefore[i])
      --out;
    w.out[i] = out;
    w.extra[i] = std::max<int64_t>(0, (out - 1) * w.strides[i] + span - padded);
  }
  return success();
}

/// Affine exprs `o·stride + k·dilation` for the spatial dims, given the loop
/// dim positions of the first output and first kernel dim.
static SmallVector<AffineExpr> windowExprs(MLIRContext *ctx, const Window &w,
                                           unsigned outDim, unsigned kDim) {
  SmallVector<AffineExpr> exprs;
  for (size_t i = 0; i < w.kernel.size(); ++i)
    exprs.push_back(getAffineDimExpr(outDim + i, ctx) * w.strides[i] +
                    getAffineDimExpr(kDim + i, ctx) * w.dilations[i]);
  return exprs;
}

static Value addF(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::AddFOp::create(b, loc, x, y);
  return arith::AddIOp::create(b, loc, x, y);
}
static Value mulF(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::MulFOp::create(b, loc, x, y);
  return arith::MulIOp::create(b, loc, x, y);
}

//===----------------------------------------------------------------------===//
// Conv
//===----------------------------------------------------------------------===//

/// The convolution of the padded `x` [N, C, ...] with `weight` [M, C/g, k...]
/// (plus `bias` [M] when given) over the window `w` (strides, dilations,
/// kernel, out): see the file comment.
static Value buildGroupedConv(OpBuilder &b, Location loc, Value x,
                              Value weightIn, Value biasIn, int64_t g,
                              const Window &w) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  Type et = xType.getElementType();
  int64_t s = xType.getRank() - 2;
  int64_t n = xType.getDimSize(0), c = xType.getDimSize(1);
  int64_t m = cast<RankedTensorType>(weightIn.getType()).getDimSize(0);
  int64_t cg = c / g, mg = m / g;
  ArrayRef<int64_t> kernel = w.kernel;
  ArrayRef<int64_t> xShape = xType.getShape();
  SmallVector<int64_t> xgShape = {n, g, cg};
  xgShape.append(xShape.begin() + 2, xShape.end());
  x = buildReshape(b, loc, x, xgShape);
  SmallVector<int64_t> wgShape = {g, mg, cg};
  wgShape.append(kernel.begin(), kernel.end());
  Value weight = buildReshape(b, loc, weightIn, wgShape);
  // Loops: n, g, m, o..., c, k...
  unsigned numLoops = 4 + 2 * s;
  unsigned outDim = 3, cDim = 3 + s, kDim = 4 + s;
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineExpr> xExprs = {d(0), d(1), d(cDim)};
  xExprs.append(windowExprs(ctx, w, outDim, kDim));
  SmallVector<AffineExpr> wExprs = {d(1), d(2), d(cDim)};
  SmallVector<AffineExpr> oExprs = {d(0), d(1), d(2)};
  for (int64_t i = 0; i < s; ++i) {
    wExprs.push_back(d(kDim + i));
    oExprs.push_back(d(outDim + i));
  }
  SmallVector<int64_t> outShape = {n, g, mg};
  outShape.append(w.out);
  Value init;
  if (biasIn) {
    Value bias = buildReshape(b, loc, biasIn, {g, mg});
    AffineMap bMap = AffineMap::get(3 + s, 0, {d(1), d(2)}, ctx);
    init = buildIndexedGeneric(b, loc, ValueRange{bias}, {bMap}, outShape, et,
                               [](OpBuilder &, Location, ValueRange,
                                  ValueRange args) { return args[0]; });
  } else {
    init = createFilled(b, loc, outShape, et, b.getFloatAttr(et, 0.0));
  }
  SmallVector<utils::IteratorType> iters(numLoops,
                                         utils::IteratorType::parallel);
  for (unsigned i = cDim; i < numLoops; ++i)
    iters[i] = utils::IteratorType::reduction;
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, xExprs, ctx),
                                 AffineMap::get(numLoops, 0, wExprs, ctx),
                                 AffineMap::get(numLoops, 0, oExprs, ctx)};
  auto conv = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{x, weight},
      ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(
            nb, nl, addF(nb, nl, args[2], mulF(nb, nl, args[0], args[1])));
      });
  SmallVector<int64_t> resultShape = {n, m};
  resultShape.append(w.out);
  return buildReshape(b, loc, conv.getResult(0), resultShape);
}

LogicalResult mlir::sqz::import::importConv(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 3)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "only float Conv is supported";
  RankedTensorType xType = node.getInputType(0), wType = node.getInputType(1);
  int64_t rank = xType.getRank();
  if (rank < 3 || wType.getRank() != rank)
    return node.emitError()
           << "X must be [N, C, spatial...] and W [M, C/group, kernel...]";
  FailureOr<int64_t> groupAttr = node.getIntAttr("group", 1);
  if (failed(groupAttr))
    return failure();
  int64_t g = *groupAttr;
  int64_t c = xType.getDimSize(1), m = wType.getDimSize(0);
  if (g < 1 || c % g != 0 || m % g != 0 || wType.getDimSize(1) != c / g)
    return node.emitError()
           << "group " << g << " does not divide the channels (X has " << c
           << ", W is " << m << "x" << wType.getDimSize(1) << ")";
  Window w;
  SmallVector<int64_t> kernel(wType.getShape().drop_front(2));
  if (failed(getWindow(node, xType.getShape().drop_front(2), kernel,
                       /*allowCeil=*/false, w)))
    return failure();
  if (node.hasInput(2)) {
    RankedTensorType bType = node.getInputType(2);
    if (bType.getRank() != 1 || bType.getDimSize(0) != m)
      return node.emitError() << "the bias must be [" << m << "]";
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type et = xType.getElementType();
  SmallVector<int64_t> before(2, 0), after(2, 0);
  before.append(w.padBefore);
  after.append(w.padAfter);
  Value x = buildPadded(b, loc, node.getInput(0), before, after,
                        PadMode::Constant, createScalar(b, loc, et, 0.0));
  Value bias = node.hasInput(2) ? node.getInput(2) : Value();
  node.setResult(0, buildGroupedConv(b, loc, x, node.getInput(1), bias, g, w),
                 dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// MaxPool, AveragePool
//===----------------------------------------------------------------------===//

static TypedAttr getLowest(OpBuilder &b, Type et, bool isUnsigned) {
  if (auto ft = dyn_cast<FloatType>(et))
    return b.getFloatAttr(ft, -std::numeric_limits<double>::infinity());
  unsigned width = et.getIntOrFloatBitWidth();
  return b.getIntegerAttr(et, isUnsigned ? APInt::getZero(width)
                                         : APInt::getSignedMinValue(width));
}

static LogicalResult importPool(NodeContext &node, bool isMax) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  bool isUnsigned = isUnsignedDType(dtype);
  if (dtype == onnx::TensorProto::BOOL || (!isMax && !isFloatDType(dtype)))
    return node.emitError()
           << "operand dtype '" << getDTypeName(dtype) << "' is not supported";
  bool withIndices = isMax && hasOutput(node, 1);
  int64_t storageOrder = 0;
  if (isMax) {
    FailureOr<int64_t> order = node.getIntAttr("storage_order", 0);
    if (failed(order))
      return failure();
    storageOrder = *order;
  }
  FailureOr<int64_t> includePad = node.getIntAttr("count_include_pad", 0);
  if (failed(includePad))
    return failure();
  RankedTensorType xType = node.getInputType(0);
  int64_t rank = xType.getRank();
  if (rank < 3)
    return node.emitError() << "X must be [N, C, spatial...]";
  int64_t s = rank - 2;
  ArrayRef<int64_t> spatial = xType.getShape().drop_front(2);
  Window w;
  if (failed(getWindow(node, spatial, std::nullopt, /*allowCeil=*/true, w)))
    return failure();

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *ctx = b.getContext();
  Type et = xType.getElementType();
  TypedAttr initAttr =
      isMax ? getLowest(b, et, isUnsigned) : b.getFloatAttr(et, 0.0);
  SmallVector<int64_t> before(2, 0), after(2, 0);
  for (int64_t i = 0; i < s; ++i) {
    before.push_back(w.padBefore[i]);
    after.push_back(w.padAfter[i] + w.extra[i]);
  }
  Value padValue = arith::ConstantOp::create(b, loc, initAttr);
  Value x = buildPadded(b, loc, node.getInput(0), before, after,
                        PadMode::Constant, padValue);

  // Loops: n, c, o..., k...
  unsigned numLoops = 2 + 2 * s, outDim = 2, kDim = 2 + s;
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineExpr> xExprs = {d(0), d(1)};
  xExprs.append(windowExprs(ctx, w, outDim, kDim));
  SmallVector<AffineExpr> kExprs, oExprs = {d(0), d(1)};
  for (int64_t i = 0; i < s; ++i) {
    kExprs.push_back(d(kDim + i));
    oExprs.push_back(d(outDim + i));
  }
  SmallVector<int64_t> outShape = {xType.getDimSize(0), xType.getDimSize(1)};
  outShape.append(w.out);
  Value window = createEmpty(b, loc, w.kernel, et);
  Value init = createFilled(b, loc, outShape, et, initAttr);
  SmallVector<utils::IteratorType> iters(numLoops,
                                         utils::IteratorType::parallel);
  for (unsigned i = kDim; i < numLoops; ++i)
    iters[i] = utils::IteratorType::reduction;
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, xExprs, ctx),
                                 AffineMap::get(numLoops, 0, kExprs, ctx),
                                 AffineMap::get(numLoops, 0, oExprs, ctx)};
  if (withIndices) {
    // MaxPool's Indices: the flat index into X of the first maximum of each
    // window (row-major over the spatial dims, or column-major with
    // storage_order = 1).
    if (!isa<FloatType>(et))
      return node.emitError() << "the Indices output needs a float input";
    Type i64 = b.getI64Type();
    Value indicesInit =
        createFilled(b, loc, outShape, i64, b.getI64IntegerAttr(0));
    maps.push_back(maps.back());
    auto pool = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType(), indicesInit.getType()},
        ValueRange{x, window}, ValueRange{init, indicesInit}, maps, iters,
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value v = args[0], acc = args[2], accIndex = args[3];
          auto cst = [&](int64_t c) {
            return createScalar(nb, nl, i64, static_cast<double>(c));
          };
          auto idx = [&](unsigned dim) {
            return arith::IndexCastOp::create(
                       nb, nl, i64, linalg::IndexOp::create(nb, nl, dim))
                .getResult();
          };
          SmallVector<Value> pos;
          for (int64_t i = 0; i < s; ++i) {
            Value o = arith::MulIOp::create(nb, nl, idx(outDim + i),
                                            cst(w.strides[i]));
            Value k = arith::MulIOp::create(nb, nl, idx(kDim + i),
                                            cst(w.dilations[i]));
            Value p = arith::AddIOp::create(nb, nl, o, k);
            pos.push_back(
                arith::SubIOp::create(nb, nl, p, cst(w.padBefore[i])));
          }
          // ((n·C + c)·spatial...) flattened.
          Value flat = arith::AddIOp::create(
              nb, nl,
              arith::MulIOp::create(nb, nl, idx(0), cst(xType.getDimSize(1))),
              idx(1));
          SmallVector<int64_t> order;
          for (int64_t i = 0; i < s; ++i)
            order.push_back(storageOrder ? s - 1 - i : i);
          for (int64_t i : order)
            flat = arith::AddIOp::create(
                nb, nl, arith::MulIOp::create(nb, nl, flat, cst(spatial[i])),
                pos[i]);
          Value better =
              arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OGT, v, acc);
          linalg::YieldOp::create(
              nb, nl,
              ValueRange{
                  arith::SelectOp::create(nb, nl, better, v, acc).getResult(),
                  arith::SelectOp::create(nb, nl, better, flat, accIndex)
                      .getResult()});
        });
    node.setResult(0, pool.getResult(0), dtype);
    node.setResult(1, pool.getResult(1), onnx::TensorProto::INT64);
    return success();
  }
  auto pool = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{x, window},
      ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value v = args[0], acc = args[2], r;
        if (!isMax)
          r = arith::AddFOp::create(nb, nl, v, acc);
        else if (isa<FloatType>(et))
          r = arith::MaximumFOp::create(nb, nl, v, acc);
        else if (isUnsigned)
          r = arith::MaxUIOp::create(nb, nl, v, acc);
        else
          r = arith::MaxSIOp::create(nb, nl, v, acc);
        linalg::YieldOp::create(nb, nl, r);
      });
  Value result = pool.getResult(0);
  if (!isMax) {
    // The divisor of each output position: the window elements inside the input
    // (or inside the explicitly padded input with count_include_pad), a product
    // over the spatial dims.
    SmallVector<SmallVector<int64_t>> counts(s);
    for (int64_t i = 0; i < s; ++i) {
      int64_t lo = *includePad ? -w.padBefore[i] : 0;
      int64_t hi = spatial[i] + (*includePad ? w.padAfter[i] : 0);
      for (int64_t o = 0; o < w.out[i]; ++o) {
        int64_t count = 0;
        for (int64_t k = 0; k < w.kernel[i]; ++k) {
          int64_t pos = o * w.strides[i] + k * w.dilations[i] - w.padBefore[i];
          count += pos >= lo && pos < hi;
        }
        counts[i].push_back(std::max<int64_t>(count, 1));
      }
    }
    HostTensor divisor =
        HostTensor::allocate(node.getName().str() + ".divisor", dtype, w.out);
    forEachIndex(w.out, [&](int64_t flat, ArrayRef<int64_t> index) {
      double v = 1;
      for (int64_t i = 0; i < s; ++i)
        v *= counts[i][index[i]];
      divisor.setDouble(flat, v);
    });
    Value div = node.createConstant(std::move(divisor));
    result = buildElementwise(
        b, loc, ValueRange{result, div}, outShape, et,
        [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          return arith::DivFOp::create(nb, nl, args[0], args[1]);
        });
  }
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importMaxPool(NodeContext &node) {
  return importPool(node, /*isMax=*/true);
}
LogicalResult mlir::sqz::import::importAveragePool(NodeContext &node) {
  return importPool(node, /*isMax=*/false);
}

static LogicalResult importGlobalPool(NodeContext &node, bool isMax) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "only float inputs are supported";
  RankedTensorType xType = node.getInputType(0);
  int64_t rank = xType.getRank();
  if (rank < 3)
    return node.emitError() << "X must be [N, C, spatial...]";
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type et = xType.getElementType();
  SmallVector<int64_t> dims;
  int64_t count = 1;
  for (int64_t i = 2; i < rank; ++i) {
    dims.push_back(i);
    count *= xType.getDimSize(i);
  }
  Value r =
      buildReduce(b, loc, node.getInput(0), dims,
                  isMax ? getLowest(b, et, false) : b.getFloatAttr(et, 0.0),
                  [&](OpBuilder &nb, Location nl, Value v, Value acc) -> Value {
                    if (isMax)
                      return arith::MaximumFOp::create(nb, nl, v, acc);
                    return arith::AddFOp::create(nb, nl, v, acc);
                  });
  SmallVector<int64_t> keptShape = {xType.getDimSize(0), xType.getDimSize(1)};
  if (!isMax) {
    Value c = createScalar(b, loc, et, static_cast<double>(count));
    r = buildElementwise(
        b, loc, ValueRange{r}, keptShape, et,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          return arith::DivFOp::create(nb, nl, args[0], c);
        });
  }
  SmallVector<int64_t> shape = keptShape;
  shape.append(rank - 2, 1);
  node.setResult(0, buildReshape(b, loc, r, shape), dtype);
  return success();
}

LogicalResult mlir::sqz::import::importGlobalAveragePool(NodeContext &node) {
  return importGlobalPool(node, /*isMax=*/false);
}
LogicalResult mlir::sqz::import::importGlobalMaxPool(NodeContext &node) {
  return importGlobalPool(node, /*isMax=*/true);
}

//===----------------------------------------------------------------------===//
// BatchNormalization (inference)
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importBatchNormalization(NodeContext &node) {
  if (failed(node.checkNumInputs(5, 5)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "only float inputs are supported";
  FailureOr<float> eps = node.getFloatAttr("epsilon", 1e-5f);
  FailureOr<int64_t> training = node.getIntAttr("training_mode", 0);
  FailureOr<int64_t> spatialAttr = node.getIntAttr("spatial", 1);
  if (failed(eps) || failed(training) || failed(spatialAttr))
    return failure();
  if (*training || hasOutput(node, 1) || hasOutput(node, 2) ||
      hasOutput(node, 3) || hasOutput(node, 4))
    return node.emitError()
           << "only the inference form (training_mode=0, one output) is "
              "supported";
  if (*spatialAttr != 1)
    return node.emitError() << "spatial=0 is not supported";
  RankedTensorType xType = node.getInputType(0);
  int64_t rank = xType.getRank();
  if (rank < 2)
    return node.emitError() << "X must be [N, C, ...]";
  int64_t c = xType.getDimSize(1);
  for (unsigned i = 1; i < 5; ++i) {
    RankedTensorType t = node.getInputType(i);
    if (t.getRank() != 1 || t.getDimSize(0) != c)
      return node.emitError() << "scale, B, mean and var must be [" << c << "]";
  }
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type et = xType.getElementType();
  SmallVector<int64_t> chanShape = {c};
  chanShape.append(rank - 2, 1);
  SmallVector<Value> operands = {node.getInput(0)};
  bool allConst = true;
  for (unsigned i = 1; i < 5; ++i)
    allConst &= node.getConstantInput(i) != nullptr;
  if (allConst) {
    // y = x·a + c with a = scale/sqrt(var + eps), c = B − mean·a folded per
    // channel.
    HostTensor a =
        HostTensor::allocate(node.getName().str() + ".scale", dtype, chanShape);
    HostTensor sh =
        HostTensor::allocate(node.getName().str() + ".shift", dtype, chanShape);
    for (int64_t i = 0; i < c; ++i) {
      double av = node.getConstantInput(1)->getDouble(i) /
                  std::sqrt(node.getConstantInput(4)->getDouble(i) +
                            static_cast<double>(*eps));
      a.setDouble(i, av);
      sh.setDouble(i, node.getConstantInput(2)->getDouble(i) -
                          node.getConstantInput(3)->getDouble(i) * av);
    }
    operands.push_back(node.createConstant(std::move(a)));
    operands.push_back(node.createConstant(std::move(sh)));
    Value y = buildElementwise(
        b, loc, operands, xType.getShape(), et,
        [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value p = arith::MulFOp::create(nb, nl, args[0], args[1]);
          return arith::AddFOp::create(nb, nl, p, args[2]);
        });
    node.setResult(0, y, dtype);
    return success();
  }
  for (unsigned i = 1; i < 5; ++i)
    operands.push_back(buildReshape(b, loc, node.getInput(i), chanShape));
  Value epsValue = createScalar(b, loc, et, *eps);
  Value y = buildElementwise(
      b, loc, operands, xType.getShape(), et,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value xc = arith::SubFOp::create(nb, nl, args[0], args[3]);
        Value ve = arith::AddFOp::create(nb, nl, args[4], epsValue);
        Value sd = math::SqrtOp::create(nb, nl, ve);
        Value nrm = arith::DivFOp::create(nb, nl, xc, sd);
        Value sc = arith::MulFOp::create(nb, nl, nrm, args[1]);
        return arith::AddFOp::create(nb, nl, sc, args[2]);
      });
  node.setResult(0, y, dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importPad(NodeContext &node) {
  bool inputs = node.getOpset() >= 11;
  if (failed(node.checkNumInputs(1, inputs ? 4 : 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  RankedTensorType xType = node.getInputType(0);
  int64_t rank = xType.getRank();
  FailureOr<std::string> modeAttr = node.getStringAttr("mode", "constant");
  if (failed(modeAttr))
    return failure();
  PadMode mode;
  if (*modeAttr == "constant")
    mode = PadMode::Constant;
  else if (*modeAttr == "reflect")
    mode = PadMode::Reflect;
  else if (*modeAttr == "edge")
    mode = PadMode::Edge;
  else if (*modeAttr == "wrap")
    mode = PadMode::Wrap;
  else
    return node.emitError() << "unsupported mode '" << *modeAttr << "'";
  SmallVector<int64_t> pads;
  SmallVector<int64_t> axes;
  double attrValue = 0;
  if (inputs) {
    if (!node.hasInput(1))
      return node.emitError() << "the pads input is required";
    FailureOr<SmallVector<int64_t>> p = getConstantInts(node, 1, "pads");
    if (failed(p))
      return failure();
    pads = *p;
    if (node.getNumInputs() > 3 && node.hasInput(3)) {
      FailureOr<SmallVector<int64_t>> a = getConstantInts(node, 3, "axes");
      if (failed(a))
        return failure();
      for (int64_t axis : *a) {
        FailureOr<int64_t> na = normalizeAxis(node, axis, rank, "axis");
        if (failed(na))
          return failure();
        axes.push_back(*na);
      }
    }
  } else {
    FailureOr<std::optional<SmallVector<int64_t>>> p =
        node.getIntsAttr(node.getOpset() >= 2 ? "pads" : "paddings");
    FailureOr<float> v = node.getFloatAttr("value", 0.0f);
    if (failed(p) || failed(v))
      return failure();
    if (!*p)
      return node.emitError() << "the pads attribute is required";
    pads = **p;
    attrValue = *v;
  }
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  int64_t na = axes.size();
  if (static_cast<int64_t>(pads.size()) != 2 * na)
    return node.emitError()
           << "pads has " << pads.size() << " values, expected " << 2 * na;
  SmallVector<int64_t> before(rank, 0), after(rank, 0);
  for (int64_t i = 0; i < na; ++i) {
    before[axes[i]] = pads[i];
    after[axes[i]] = pads[i + na];
  }
  for (int64_t i = 0; i < rank; ++i) {
    int64_t dim = xType.getDimSize(i);
    if (dim + before[i] + after[i] < 0)
      return node.emitError() << "pads crop more than dim " << i << " holds";
    if (mode != PadMode::Constant && (before[i] > 0 || after[i] > 0) &&
        dim == 0)
      return node.emitError()
             << "cannot pad an empty dim in mode '" << *modeAttr << "'";
    if (mode == PadMode::Reflect && (before[i] >= dim || after[i] >= dim) &&
        dim > 1 && (before[i] > 0 || after[i] > 0))
      return node.emitError()
             << "reflect pads must be smaller than the dim (" << dim << ")";
  }
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type et = xType.getElementType();
  Value padValue;
  if (mode == PadMode::Constant) {
    if (inputs && node.getNumInputs() > 2 && node.hasInput(2)) {
      if (const HostTensor *cv = node.getConstantInput(2)) {
        if (cv->getNumElements() != 1)
          return node.emitError() << "constant_value must be a scalar";
        padValue = isa<FloatType>(et)
                       ? createScalar(b, loc, et, cv->getDouble(0))
                       : arith::ConstantOp::create(
                             b, loc, b.getIntegerAttr(et, cv->getInt(0)))
                             .getResult();
      } else {
        RankedTensorType cvType = node.getInputType(2);
        if (cvType.getNumElements() != 1)
          return node.emitError() << "constant_value must be a scalar";
        SmallVector<Value> zeros(
            cvType.getRank(),
            arith::ConstantIndexOp::create(b, loc, 0).getResult());
        padValue = tensor::ExtractOp::create(b, loc, node.getInput(2), zeros);
      }
    } else {
      padValue = createScalar(b, loc, et, attrValue);
    }
  }
  node.setResult(
      0, buildPadded(b, loc, node.getInput(0), before, after, mode, padValue),
      dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// ConvTranspose
//===----------------------------------------------------------------------===//

// ConvTranspose as a convolution: y[o] = Σ x[i]·w[k] over o + pad_begin =
// i·stride + k·dilation is a stride-1 convolution (dilation kept) of the
// zero-upsampled input, padded by dilation·(K − 1) − pad_begin, with the kernel
// flipped and its channel dims swapped to [M, C/group, k...]. Both are indexed
// generics (tensor.extract), then the Conv generic.
LogicalResult mlir::sqz::import::importConvTranspose(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 3)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "only float ConvTranspose is supported";
  RankedTensorType xType = node.getInputType(0), wType = node.getInputType(1);
  int64_t rank = xType.getRank();
  if (rank < 3 || wType.getRank() != rank)
    return node.emitError()
           << "X must be [N, C, spatial...] and W [C, M/group, kernel...]";
  int64_t s = rank - 2;
  FailureOr<int64_t> groupAttr = node.getIntAttr("group", 1);
  FailureOr<std::optional<SmallVector<int64_t>>> kAttr =
      node.getIntsAttr("kernel_shape");
  FailureOr<std::optional<SmallVector<int64_t>>> sAttr =
      node.getIntsAttr("strides");
  FailureOr<std::optional<SmallVector<int64_t>>> dAttr =
      node.getIntsAttr("dilations");
  FailureOr<std::optional<SmallVector<int64_t>>> pAttr =
      node.getIntsAttr("pads");
  FailureOr<std::optional<SmallVector<int64_t>>> opAttr =
      node.getIntsAttr("output_padding");
  FailureOr<std::optional<SmallVector<int64_t>>> osAttr =
      node.getIntsAttr("output_shape");
  FailureOr<std::string> autoPad = node.getStringAttr("auto_pad", "NOTSET");
  if (failed(groupAttr) || failed(kAttr) || failed(sAttr) || failed(dAttr) ||
      failed(pAttr) || failed(opAttr) || failed(osAttr) || failed(autoPad))
    return failure();
  int64_t g = *groupAttr;
  int64_t n = xType.getDimSize(0), c = xType.getDimSize(1);
  if (g < 1 || c % g != 0 || wType.getDimSize(0) != c)
    return node.emitError()
           << "W must be [" << c << ", M/group, kernel...] with group " << g
           << " dividing " << c;
  int64_t mg = wType.getDimSize(1), m = mg * g, cg = c / g;
  SmallVector<int64_t> kernel(wType.getShape().drop_front(2));
  if (*kAttr && **kAttr != kernel)
    return node.emitError()
           << "kernel_shape does not match the weight's spatial dims";
  auto getList = [&](const std::optional<SmallVector<int64_t>> &attr,
                     int64_t dflt,
                     int64_t size) -> std::optional<SmallVector<int64_t>> {
    if (!attr)
      return SmallVector<int64_t>(size, dflt);
    if (static_cast<int64_t>(attr->size()) != size)
      return std::nullopt;
    return *attr;
  };
  auto strides = getList(*sAttr, 1, s), dilations = getList(*dAttr, 1, s);
  auto outPad = getList(*opAttr, 0, s), pads = getList(*pAttr, 0, 2 * s);
  if (!strides || !dilations || !outPad || !pads)
    return node.emitError()
           << "strides, dilations, output_padding and pads must have one value "
              "per spatial dim (pads two)";
  StringRef ap = *autoPad;
  if (ap != "NOTSET" && ap != "SAME_UPPER" && ap != "SAME_LOWER" &&
      ap != "VALID")
    return node.emitError() << "unsupported auto_pad '" << ap << "'";
  std::optional<SmallVector<int64_t>> outShapeAttr = *osAttr;
  if (outShapeAttr && static_cast<int64_t>(outShapeAttr->size()) == rank)
    outShapeAttr =
        SmallVector<int64_t>(outShapeAttr->begin() + 2, outShapeAttr->end());
  if (outShapeAttr && static_cast<int64_t>(outShapeAttr->size()) != s)
    return node.emitError()
           << "output_shape must have one value per spatial dim";
  Window w;
  w.kernel = kernel;
  w.strides.assign(s, 1);
  w.dilations = *dilations;
  SmallVector<int64_t> padBefore(s), padAfter(s);
  for (int64_t i = 0; i < s; ++i) {
    int64_t in = xType.getDimSize(2 + i), st = (*strides)[i],
            d = (*dilations)[i];
    if (st < 1 || d < 1)
      return node.emitError() << "strides and dilations must be positive";
    int64_t full = st * (in - 1) + (*outPad)[i] + (kernel[i] - 1) * d + 1;
    if (outShapeAttr || ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      int64_t out = outShapeAttr ? (*outShapeAttr)[i] : in * st;
      // A larger output_shape gives negative pads: zeros are appended (floor
      // division, as the ONNX reference).
      int64_t total = full - out;
      int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      padBefore[i] = ap == "SAME_UPPER" ? half : total - half;
      padAfter[i] = total - padBefore[i];
    } else if (ap == "NOTSET") {
      padBefore[i] = (*pads)[i];
      padAfter[i] = (*pads)[i + s];
    }
    w.out.push_back(full - padBefore[i] - padAfter[i]);
    if (w.out.back() < 1 ||
        (!outShapeAttr && (padBefore[i] < 0 || padAfter[i] < 0)))
      return node.emitError()
             << "the output of spatial dim " << i << " would be empty";
  }
  if (node.hasInput(2)) {
    RankedTensorType bType = node.getInputType(2);
    if (bType.getRank() != 1 || bType.getDimSize(0) != m)
      return node.emitError() << "the bias must be [" << m << "]";
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type et = xType.getElementType();
  Value x = node.getInput(0);
  // The upsampled, padded input: z[j] = x[src / stride] where src = j +
  // pad_begin − d·(K − 1) is a non-negative multiple of the stride below
  // stride·in, else 0.
  SmallVector<int64_t> zShape = {n, c};
  for (int64_t i = 0; i < s; ++i)
    zShape.push_back(w.out[i] + (*dilations)[i] * (kernel[i] - 1));
  Value zero = createScalar(b, loc, et, 0.0);
  Value z = buildIndexedGeneric(
      b, loc, ValueRange{}, {}, zShape, et,
      [&](OpBuilder &nb, Location nl, ValueRange idx, ValueRange) -> Value {
        auto cst = [&](int64_t v) {
          return arith::ConstantIndexOp::create(nb, nl, v).getResult();
        };
        SmallVector<Value> src = {idx[0], idx[1]};
        Value ok;
        for (int64_t i = 0; i < s; ++i) {
          int64_t in = xType.getDimSize(2 + i), st = (*strides)[i];
          int64_t shift = padBefore[i] - (*dilations)[i] * (kernel[i] - 1);
          Value p = arith::AddIOp::create(nb, nl, idx[2 + i], cst(shift));
          Value nonNeg = arith::CmpIOp::create(
              nb, nl, arith::CmpIPredicate::sge, p, cst(0));
          Value pc = arith::MaxSIOp::create(nb, nl, p, cst(0));
          Value q = arith::DivUIOp::create(nb, nl, pc, cst(st));
          Value r = arith::RemUIOp::create(nb, nl, pc, cst(st));
          Value aligned = arith::CmpIOp::create(
              nb, nl, arith::CmpIPredicate::eq, r, cst(0));
          Value inside = arith::CmpIOp::create(
              nb, nl, arith::CmpIPredicate::slt, q, cst(in));
          Value dimOk = arith::AndIOp::create(
              nb, nl, nonNeg, arith::AndIOp::create(nb, nl, aligned, inside));
          ok =
              ok ? arith::AndIOp::create(nb, nl, ok, dimOk).getResult() : dimOk;
          src.push_back(arith::MinSIOp::create(nb, nl, q, cst(in - 1)));
        }
        Value v = tensor::ExtractOp::create(nb, nl, x, src);
        return arith::SelectOp::create(nb, nl, ok, v, zero);
      });
  // The flipped kernel in Conv's layout: w2[m, c, k] = W[(m / (M/g))·(C/g) + c,
  // m % (M/g), K − 1 − k].
  SmallVector<int64_t> w2Shape = {m, cg};
  w2Shape.append(kernel);
  Value weight = node.getInput(1);
  Value w2 = buildIndexedGeneric(
      b, loc, ValueRange{}, {}, w2Shape, et,
      [&](OpBuilder &nb, Location nl, ValueRange idx, ValueRange) -> Value {
        auto cst = [&](int64_t v) {
          return arith::ConstantIndexOp::create(nb, nl, v).getResult();
        };
        Value grp = arith::DivUIOp::create(nb, nl, idx[0], cst(mg));
        Value mm = arith::RemUIOp::create(nb, nl, idx[0], cst(mg));
        Value cc = arith::AddIOp::create(
            nb, nl, arith::MulIOp::create(nb, nl, grp, cst(cg)), idx[1]);
        SmallVector<Value> src = {cc, mm};
        for (int64_t i = 0; i < s; ++i)
          src.push_back(
              arith::SubIOp::create(nb, nl, cst(kernel[i] - 1), idx[2 + i]));
        return tensor::ExtractOp::create(nb, nl, weight, src);
      });
  Value bias = node.hasInput(2) ? node.getInput(2) : Value();
  node.setResult(0, buildGroupedConv(b, loc, z, w2, bias, g, w), dtype);
  return success();
}
