//===- MiscOps.cpp - ONNX Einsum and TopK ---------------------------------===//
//
// Einsum: one `linalg.generic` built from the equation: a loop per label
// (output labels first, parallel; the summed labels after them, reductions),
// each operand read through the map of its labels (a repeated label is a
// diagonal; `...` broadcasts numpy-style, size-1 dims read index 0), the
// product of the operands added to a zero-filled result.
//
// TopK (constant k): a rank-counting `linalg.generic` (the rank of x[i] along
// the axis is the number of elements that precede it: larger, or equal with a
// smaller index; smaller for largest=0), then a selection `linalg.generic`
// whose r-th output reads the element of rank r. O(n²) along the axis: meant
// for small rows (vocabulary-sized rows work but are slow).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace mlir::sqz::import;

//===----------------------------------------------------------------------===//
// Einsum
//===----------------------------------------------------------------------===//

/// Parses one einsum term into labels: letters map to their char code, the dims
/// of `...` to 1000 + k where k counts from the left of the broadcast ellipsis
/// dims (right-aligned across operands, `ellRank` of them in total). Returns
/// false on a malformed term.
static bool parseTerm(StringRef term, int64_t rank, int64_t &ellipsisDims,
                      SmallVector<int64_t> &labels, int64_t maxEll) {
  labels.clear();
  size_t dots = term.find("...");
  int64_t letters = 0;
  for (char ch : term)
    if (ch != '.') {
      if (!llvm::isAlpha(ch))
        return false;
      ++letters;
    }
  if (dots == StringRef::npos) {
    if (term.contains('.'))
      return false;
    ellipsisDims = 0;
  } else {
    if (term.substr(dots + 3).contains('.') ||
        term.substr(0, dots).contains('.'))
      return false;
    ellipsisDims = rank < 0 ? maxEll : rank - letters;
    if (ellipsisDims < 0)
      return false;
  }
  for (size_t i = 0; i < term.size(); ++i) {
    if (i == dots) {
      for (int64_t k = 0; k < ellipsisDims; ++k)
        labels.push_back(1000 + (maxEll - ellipsisDims) + k);
      i += 2;
      continue;
    }
    labels.push_back(static_cast<unsigned char>(term[i]));
  }
  return rank < 0 || static_cast<int64_t>(labels.size()) == rank;
}

LogicalResult mlir::sqz::import::importEinsum(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 16)))
    return failure();
  FailureOr<std::string> eqAttr = node.getStringAttr("equation", "");
  if (failed(eqAttr))
    return failure();
  std::string eq;
  for (char ch : *eqAttr)
    if (ch != ' ')
      eq.push_back(ch);
  int32_t dtype = node.getInputDType(0);
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "bool Einsum is not supported";
  unsigned numInputs = node.getNumInputs();
  for (unsigned i = 1; i < numInputs; ++i)
    if (node.getInputDType(i) != dtype)
      return node.emitError() << "all operands must have the same dtype";
  StringRef eqRef(eq);
  auto [lhs, rhs] = eqRef.split("->");
  bool explicitOut = eqRef.contains("->");
  SmallVector<StringRef> terms;
  lhs.split(terms, ',');
  if (terms.size() != numInputs)
    return node.emitError()
           << "equation '" << *eqAttr << "' has " << terms.size()
           << " operand terms for " << numInputs << " inputs";
  // Ellipsis dims: the most any operand has.
  int64_t maxEll = 0;
  for (unsigned i = 0; i < numInputs; ++i) {
    size_t dots = terms[i].find("...");
    if (dots != StringRef::npos) {
      int64_t letters = terms[i].size() - 3;
      maxEll = std::max(maxEll, node.getInputType(i).getRank() - letters);
    }
  }
  SmallVector<SmallVector<int64_t>> opLabels(numInputs);
  std::map<int64_t, int64_t> sizes, counts;
  SmallVector<int64_t> order; // labels in order of first appearance
  for (unsigned i = 0; i < numInputs; ++i) {
    RankedTensorType t = node.getInputType(i);
    int64_t ell;
    if (!parseTerm(terms[i], t.getRank(), ell, opLabels[i], maxEll))
      return node.emitError() << "cannot parse einsum term '" << terms[i]
                              << "' for a rank-" << t.getRank() << " operand";
    for (auto [k, label] : llvm::enumerate(opLabels[i])) {
      int64_t dim = t.getDimSize(k);
      auto it = sizes.find(label);
      if (it == sizes.end()) {
        sizes[label] = dim;
        order.push_back(label);
      } else if (it->second != dim) {
        if (it->second == 1 && label >= 1000)
          it->second = dim;
        else if (!(dim == 1 && label >= 1000))
          return node.emitError()
                 << "label '"
                 << (label < 1000 ? std::string(1, char(label))
                                  : std::string("..."))
                 << "' has sizes " << it->second << " and " << dim;
      }
      ++counts[label];
    }
  }
  SmallVector<int64_t> outLabels;
  if (explicitOut) {
    int64_t ell;
    if (!parseTerm(rhs, -1, ell, outLabels, maxEll))
      return node.emitError()
             << "cannot parse the einsum output '" << rhs << "'";
    if (!rhs.contains("...") && maxEll > 0) {
      // Ellipsis dims not in the output are summed (they must appear explicitly
      // to be kept).
    }
    for (int64_t label : outLabels)
      if (!sizes.count(label))
        return node.emitError() << "output label '" << char(label)
                                << "' does not appear in the inputs";
    for (size_t i = 0; i < outLabels.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (outLabels[i] == outLabels[j])
          return node.emitError()
                 << "output label '" << char(outLabels[i]) << "' repeats";
  } else {
    for (int64_t k = 0; k < maxEll; ++k)
      outLabels.push_back(1000 + k);
    SmallVector<int64_t> once;
    for (auto [label, count] : counts)
      if (label < 1000 && count == 1)
        once.push_back(label);
    llvm::sort(once);
    outLabels.append(once);
  }
  // Loops: output labels, then the summed ones.
  SmallVector<int64_t> loops = outLabels;
  for (int64_t label : order)
    if (!llvm::is_contained(loops, label))
      loops.push_back(label);
  int64_t numLoops = loops.size();
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *ctx = b.getContext();
  auto loopOf = [&](int64_t label) {
    return static_cast<unsigned>(llvm::find(loops, label) - loops.begin());
  };
  SmallVector<AffineMap> maps;
  SmallVector<Value> operands;
  for (unsigned i = 0; i < numInputs; ++i) {
    RankedTensorType t = node.getInputType(i);
    SmallVector<AffineExpr> exprs;
    for (auto [k, label] : llvm::enumerate(opLabels[i])) {
      if (t.getDimSize(k) == 1 && sizes[label] != 1)
        exprs.push_back(getAffineConstantExpr(0, ctx));
      else
        exprs.push_back(getAffineDimExpr(loopOf(label), ctx));
    }
    maps.push_back(AffineMap::get(numLoops, 0, exprs, ctx));
    operands.push_back(node.getInput(i));
  }
  SmallVector<int64_t> outShape;
  SmallVector<AffineExpr> outExprs;
  for (int64_t label : outLabels) {
    outShape.push_back(sizes[label]);
    outExprs.push_back(getAffineDimExpr(loopOf(label), ctx));
  }
  maps.push_back(AffineMap::get(numLoops, 0, outExprs, ctx));
  Type et = node.getInputType(0).getElementType();
  bool isFloat = isa<FloatType>(et);
  Value init = createFilled(b, loc, outShape, et,
                            isFloat ? TypedAttr(b.getFloatAttr(et, 0.0))
                                    : TypedAttr(b.getIntegerAttr(et, 0)));
  SmallVector<utils::IteratorType> iters(numLoops,
                                         utils::IteratorType::parallel);
  for (int64_t i = outLabels.size(); i < numLoops; ++i)
    iters[i] = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, operands, ValueRange{init}, maps,
      iters, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value p = args[0];
        for (unsigned i = 1; i < numInputs; ++i)
          p = isFloat ? arith::MulFOp::create(nb, nl, p, args[i]).getResult()
                      : arith::MulIOp::create(nb, nl, p, args[i]).getResult();
        Value acc = args[numInputs];
        Value r = isFloat ? arith::AddFOp::create(nb, nl, acc, p).getResult()
                          : arith::AddIOp::create(nb, nl, acc, p).getResult();
        linalg::YieldOp::create(nb, nl, r);
      });
  node.setResult(0, generic.getResult(0), dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// TopK
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importTopK(NodeContext &node) {
  bool kInput = node.getOpset() >= 10;
  if (failed(node.checkNumInputs(kInput ? 2 : 1, kInput ? 2 : 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "bool TopK is not supported";
  bool isFloat = isFloatDType(dtype), isUnsigned = isUnsignedDType(dtype);
  FailureOr<int64_t> axisAttr = node.getIntAttr("axis", -1);
  FailureOr<int64_t> largestAttr = node.getIntAttr("largest", 1);
  FailureOr<int64_t> sortedAttr = node.getIntAttr("sorted", 1);
  if (failed(axisAttr) || failed(largestAttr) || failed(sortedAttr))
    return failure();
  RankedTensorType xType = node.getInputType(0);
  int64_t rank = xType.getRank();
  FailureOr<int64_t> axisOr = normalizeAxis(node, *axisAttr, rank, "axis");
  if (failed(axisOr))
    return failure();
  int64_t axis = *axisOr;
  int64_t k;
  if (kInput) {
    const HostTensor *kt = node.getConstantInput(1);
    if (!kt)
      return node.emitError()
             << "k must be an import-time constant (the result shape depends "
                "on it)";
    if (kt->getNumElements() != 1)
      return node.emitError() << "k must have one element";
    k = kt->getInt(0);
  } else {
    FailureOr<int64_t> kAttr = node.getIntAttr("k", -1);
    if (failed(kAttr))
      return failure();
    k = *kAttr;
  }
  int64_t n = xType.getDimSize(axis);
  if (k < 0 || k > n)
    return node.emitError()
           << "k = " << k << " is out of range for an axis of " << n;
  bool largest = *largestAttr != 0;

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *ctx = b.getContext();
  Type et = xType.getElementType();
  Type i64 = b.getI64Type();
  Value x = node.getInput(0);
  // Ranks: loops = x dims + j (reduction).
  int64_t numLoops = rank + 1;
  SmallVector<AffineExpr> iExprs, jExprs;
  for (int64_t d = 0; d < rank; ++d) {
    iExprs.push_back(getAffineDimExpr(d, ctx));
    jExprs.push_back(getAffineDimExpr(d == axis ? rank : d, ctx));
  }
  Value zeros =
      createFilled(b, loc, xType.getShape(), i64, b.getI64IntegerAttr(0));
  SmallVector<utils::IteratorType> iters(numLoops,
                                         utils::IteratorType::parallel);
  iters[rank] = utils::IteratorType::reduction;
  auto ranks = linalg::GenericOp::create(
      b, loc, TypeRange{zeros.getType()}, ValueRange{x, x}, ValueRange{zeros},
      ArrayRef<AffineMap>{AffineMap::get(numLoops, 0, iExprs, ctx),
                          AffineMap::get(numLoops, 0, jExprs, ctx),
                          AffineMap::get(numLoops, 0, iExprs, ctx)},
      iters, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value xi = args[0], xj = args[1], acc = args[2];
        Value before, equal;
        if (isFloat) {
          before = arith::CmpFOp::create(nb, nl,
                                         largest ? arith::CmpFPredicate::OGT
                                                 : arith::CmpFPredicate::OLT,
                                         xj, xi);
          equal =
              arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, xj, xi);
        } else {
          arith::CmpIPredicate p =
              largest ? (isUnsigned ? arith::CmpIPredicate::ugt
                                    : arith::CmpIPredicate::sgt)
                      : (isUnsigned ? arith::CmpIPredicate::ult
                                    : arith::CmpIPredicate::slt);
          before = arith::CmpIOp::create(nb, nl, p, xj, xi);
          equal =
              arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, xj, xi);
        }
        Value i = linalg::IndexOp::create(nb, nl, axis);
        Value j = linalg::IndexOp::create(nb, nl, rank);
        Value jFirst =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, j, i);
        Value tie = arith::AndIOp::create(nb, nl, equal, jFirst);
        Value precedes = arith::OrIOp::create(nb, nl, before, tie);
        Value one = arith::ExtUIOp::create(nb, nl, i64, precedes);
        linalg::YieldOp::create(
            nb, nl, arith::AddIOp::create(nb, nl, acc, one).getResult());
      });
  // Selection: loops = result dims + i (reduction over the axis).
  SmallVector<int64_t> outShape(xType.getShape());
  outShape[axis] = k;
  SmallVector<AffineExpr> srcExprs, outExprs;
  for (int64_t d = 0; d < rank; ++d) {
    srcExprs.push_back(getAffineDimExpr(d == axis ? rank : d, ctx));
    outExprs.push_back(getAffineDimExpr(d, ctx));
  }
  Value valuesInit = createFilled(b, loc, outShape, et,
                                  isFloat ? TypedAttr(b.getFloatAttr(et, 0.0))
                                          : TypedAttr(b.getIntegerAttr(et, 0)));
  Value indicesInit =
      createFilled(b, loc, outShape, i64, b.getI64IntegerAttr(0));
  AffineMap srcMap = AffineMap::get(numLoops, 0, srcExprs, ctx);
  AffineMap outMap = AffineMap::get(numLoops, 0, outExprs, ctx);
  auto select = linalg::GenericOp::create(
      b, loc, TypeRange{valuesInit.getType(), indicesInit.getType()},
      ValueRange{x, ranks.getResult(0)}, ValueRange{valuesInit, indicesInit},
      ArrayRef<AffineMap>{srcMap, srcMap, outMap, outMap}, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r = arith::IndexCastOp::create(
            nb, nl, i64, linalg::IndexOp::create(nb, nl, axis));
        Value i = arith::IndexCastOp::create(
            nb, nl, i64, linalg::IndexOp::create(nb, nl, rank));
        Value hit =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, args[1], r);
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{
                arith::SelectOp::create(nb, nl, hit, args[0], args[2])
                    .getResult(),
                arith::SelectOp::create(nb, nl, hit, i, args[3]).getResult()});
      });
  node.setResult(0, select.getResult(0), dtype);
  node.setResult(1, select.getResult(1), onnx::TensorProto::INT64);
  return success();
}

//===----------------------------------------------------------------------===//
// Resize
//===----------------------------------------------------------------------===//

// Resize (nearest / linear) with constant scales or sizes: the source
// coordinate of every output index is computed on the host per dim
// (coordinate_transformation_mode, nearest_mode), giving per-dim tables
// (nearest: one index; linear: two clamped indices and a weight) that a
// `linalg.generic` over the output reads through 1-D maps; the body
// `tensor.extract`s the 1 (nearest) or 2^r (linear, r resized dims) source
// elements.

LogicalResult mlir::sqz::import::importResize(NodeContext &node) {
  bool v10 = node.getOpset() < 11;
  if (failed(node.checkNumInputs(v10 ? 2 : 1, v10 ? 2 : 4)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "only float Resize is supported";
  FailureOr<std::string> modeAttr = node.getStringAttr("mode", "nearest");
  FailureOr<std::string> ctmAttr = node.getStringAttr(
      "coordinate_transformation_mode", v10 ? "asymmetric" : "half_pixel");
  FailureOr<std::string> nearestAttr =
      node.getStringAttr("nearest_mode", v10 ? "floor" : "round_prefer_floor");
  FailureOr<int64_t> antialias = node.getIntAttr("antialias", 0);
  FailureOr<std::string> policy =
      node.getStringAttr("keep_aspect_ratio_policy", "stretch");
  FailureOr<std::optional<SmallVector<int64_t>>> axesAttr =
      node.getIntsAttr("axes");
  if (failed(modeAttr) || failed(ctmAttr) || failed(nearestAttr) ||
      failed(antialias) || failed(policy) || failed(axesAttr))
    return failure();
  StringRef mode = *modeAttr, ctm = *ctmAttr, nearest = *nearestAttr;
  if (mode != "nearest" && mode != "linear")
    return node.emitError()
           << "unsupported mode '" << mode << "' (nearest and linear are)";
  if (ctm != "half_pixel" && ctm != "asymmetric" && ctm != "align_corners" &&
      ctm != "pytorch_half_pixel" && ctm != "tf_half_pixel_for_nn" &&
      ctm != "half_pixel_symmetric")
    return node.emitError()
           << "unsupported coordinate_transformation_mode '" << ctm << "'";
  if (nearest != "round_prefer_floor" && nearest != "round_prefer_ceil" &&
      nearest != "floor" && nearest != "ceil")
    return node.emitError() << "unsupported nearest_mode '" << nearest << "'";
  if (*antialias)
    return node.emitError() << "antialias is not supported";
  if (*policy != "stretch")
    return node.emitError()
           << "keep_aspect_ratio_policy '" << *policy << "' is not supported";
  RankedTensorType xType = node.getInputType(0);
  int64_t rank = xType.getRank();
  SmallVector<int64_t> axes;
  if (*axesAttr) {
    for (int64_t a : **axesAttr) {
      FailureOr<int64_t> na = normalizeAxis(node, a, rank, "axis");
      if (failed(na))
        return failure();
      axes.push_back(*na);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  // Scales and output sizes per dim.
  SmallVector<double> scales(rank, 1.0);
  SmallVector<int64_t> outShape(xType.getShape());
  unsigned scalesIndex = v10 ? 1 : 2;
  bool hasSizes = !v10 && node.getNumInputs() > 3 && node.hasInput(3);
  bool hasScales = node.getNumInputs() > scalesIndex &&
                   node.hasInput(scalesIndex) &&
                   node.getInputType(scalesIndex).getNumElements() > 0;
  if (hasSizes == hasScales)
    return node.emitError() << "exactly one of scales and sizes must be given";
  unsigned which = hasSizes ? 3 : scalesIndex;
  const HostTensor *t = node.getConstantInput(which);
  if (!t)
    return node.emitError()
           << "the " << (hasSizes ? "sizes" : "scales")
           << " input must be an import-time constant (the result shape "
              "depends on it)";
  if (t->getNumElements() != static_cast<int64_t>(axes.size()))
    return node.emitError()
           << (hasSizes ? "sizes" : "scales") << " has " << t->getNumElements()
           << " values, expected " << axes.size();
  for (auto [i, axis] : llvm::enumerate(axes)) {
    int64_t in = xType.getDimSize(axis);
    if (hasSizes) {
      outShape[axis] = t->getInt(i);
      scales[axis] = in ? static_cast<double>(outShape[axis]) / in : 1.0;
    } else {
      scales[axis] = t->getDouble(i);
      outShape[axis] = static_cast<int64_t>(std::floor(in * scales[axis]));
    }
    if (outShape[axis] < 1 || scales[axis] <= 0)
      return node.emitError() << "the output dim " << axis << " would be empty";
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *ctx = b.getContext();
  Type et = xType.getElementType();
  bool linear = mode == "linear";
  // Host tables per resized dim.
  SmallVector<int64_t> resized;
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t in = xType.getDimSize(d), out = outShape[d];
    if (in == out && scales[d] == 1.0)
      continue;
    resized.push_back(d);
    HostTensor i0 = HostTensor::allocate("", onnx::TensorProto::INT64, {out});
    HostTensor i1 = HostTensor::allocate("", onnx::TensorProto::INT64, {out});
    HostTensor wt = HostTensor::allocate("", dtype, {out});
    for (int64_t o = 0; o < out; ++o) {
      double s = scales[d], x;
      double outLen = hasSizes ? static_cast<double>(out) : in * s;
      if (ctm == "half_pixel")
        x = (o + 0.5) / s - 0.5;
      else if (ctm == "half_pixel_symmetric") {
        double adj = static_cast<double>(out) / (s * in);
        double center = in / 2.0, offset = center * (1 - adj);
        x = offset + (o + 0.5) / s - 0.5;
      } else if (ctm == "asymmetric")
        x = o / s;
      else if (ctm == "align_corners")
        // With scales, the reference divides by the unrounded output length
        // in·scale.
        x = outLen == 1 ? 0 : o * static_cast<double>(in - 1) / (outLen - 1);
      else if (ctm == "pytorch_half_pixel")
        x = out > 1 ? (o + 0.5) / s - 0.5 : 0;
      else // tf_half_pixel_for_nn
        x = (o + 0.5) / s;
      auto clamp = [&](int64_t v) {
        return std::min<int64_t>(std::max<int64_t>(v, 0), in - 1);
      };
      if (linear) {
        x = std::min(std::max(x, 0.0), static_cast<double>(in - 1));
        int64_t f = static_cast<int64_t>(std::floor(x));
        i0.setInt(o, clamp(f));
        i1.setInt(o, clamp(f + 1));
        wt.setDouble(o, x - f);
      } else {
        double r;
        if (nearest == "floor")
          r = std::floor(x);
        else if (nearest == "ceil")
          r = std::ceil(x);
        else if (x == std::floor(x) + 0.5)
          r = nearest == "round_prefer_floor" ? std::floor(x) : std::ceil(x);
        else
          r = std::round(x);
        i0.setInt(o, clamp(static_cast<int64_t>(r)));
      }
    }
    AffineMap map = AffineMap::get(rank, 0, {getAffineDimExpr(d, ctx)}, ctx);
    operands.push_back(node.createConstant(std::move(i0)));
    maps.push_back(map);
    if (linear) {
      operands.push_back(node.createConstant(std::move(i1)));
      operands.push_back(node.createConstant(std::move(wt)));
      maps.push_back(map);
      maps.push_back(map);
    }
  }
  if (resized.empty()) {
    node.forwardInput(0, 0);
    return success();
  }
  Value x = node.getInput(0);
  int64_t per = linear ? 3 : 1, r = resized.size();
  Value result = buildIndexedGeneric(
      b, loc, operands, maps, outShape, et,
      [&](OpBuilder &nb, Location nl, ValueRange idx,
          ValueRange args) -> Value {
        SmallVector<Value> base(idx.begin(), idx.end());
        if (!linear) {
          for (int64_t k = 0; k < r; ++k)
            base[resized[k]] = castToIndex(nb, nl, args[k]);
          return tensor::ExtractOp::create(nb, nl, x, base);
        }
        SmallVector<Value> lo, hi, w;
        for (int64_t k = 0; k < r; ++k) {
          lo.push_back(castToIndex(nb, nl, args[per * k]));
          hi.push_back(castToIndex(nb, nl, args[per * k + 1]));
          w.push_back(args[per * k + 2]);
        }
        Value one = createScalar(nb, nl, et, 1.0);
        Value acc;
        for (int64_t corner = 0; corner < (int64_t(1) << r); ++corner) {
          SmallVector<Value> at = base;
          Value weight;
          for (int64_t k = 0; k < r; ++k) {
            bool upper = (corner >> k) & 1;
            at[resized[k]] = upper ? hi[k] : lo[k];
            Value f =
                upper ? w[k]
                      : arith::SubFOp::create(nb, nl, one, w[k]).getResult();
            weight = weight
                         ? arith::MulFOp::create(nb, nl, weight, f).getResult()
                         : f;
          }
          Value v = tensor::ExtractOp::create(nb, nl, x, at);
          Value term = arith::MulFOp::create(nb, nl, v, weight);
          acc =
              acc ? arith::AddFOp::create(nb, nl, acc, term).getResult() : term;
        }
        return acc;
      });
  node.setResult(0, result, dtype);
  return success();
}
