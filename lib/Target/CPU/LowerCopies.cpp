//===- LowerCopies.cpp - Memref ops the LLVM lowering cannot take ---------===//
//
// `sqz-cpu-legalize-memrefs` (after bufferization):
// - a `memref.copy` between buffers that are not both contiguous lowers in
//   finalize-memref-to-llvm to a call of the `memrefCopy` runtime function, which model.so
//   does not link. Such copies (into a slice of a dynamic concatenation, out of a strided
//   view) become `linalg.copy`, i.e. loops; contiguous copies stay `memref.copy` and become
//   `llvm.memcpy`.
// - a `memref.expand_shape` with dynamic result dims crashes MLIR 22's
//   expand-strided-metadata; one of a buffer with the identity layout becomes the
//   equivalent `memref.reinterpret_cast` (offset 0, the given sizes, row-major strides).
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPULEGALIZEMEMREFS
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;

namespace {
/// Whether finalize-memref-to-llvm lowers a copy of this type to llvm.memcpy.
static bool isContiguous(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && (memref.getLayout().isIdentity() ||
                    memref::isStaticShapeAndContiguousRowMajor(memref));
}

struct SqzCPULegalizeMemrefsPass
    : public mlir::sqz::impl::SqzCPULegalizeMemrefsBase<SqzCPULegalizeMemrefsPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) {
      if (!isContiguous(copy.getSource().getType()) ||
          !isContiguous(copy.getTarget().getType()))
        copies.push_back(copy);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(), copy.getTarget());
    }

    SmallVector<memref::ExpandShapeOp> expands;
    getOperation().walk([&](memref::ExpandShapeOp expand) {
      if (!expand.getResultType().hasStaticShape() &&
          expand.getSrcType().getLayout().isIdentity() &&
          expand.getResultType().getLayout().isIdentity())
        expands.push_back(expand);
    });
    for (memref::ExpandShapeOp expand : expands) {
      rewriter.setInsertionPoint(expand);
      Location loc = expand.getLoc();
      SmallVector<OpFoldResult> sizes = expand.getMixedOutputShape();
      SmallVector<OpFoldResult> strides(sizes.size());
      AffineExpr s0, s1;
      bindSymbols(&getContext(), s0, s1);
      for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d)
        strides[d] = d + 1 == static_cast<int64_t>(sizes.size())
                         ? rewriter.getIndexAttr(1)
                         : affine::makeComposedFoldedAffineApply(
                               rewriter, loc, s0 * s1, {strides[d + 1], sizes[d + 1]});
      rewriter.replaceOpWithNewOp<memref::ReinterpretCastOp>(
          expand, expand.getResultType(), expand.getSrc(), rewriter.getIndexAttr(0), sizes,
          strides);
    }
  }
};
} // namespace
