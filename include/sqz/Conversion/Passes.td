//===- Passes.td - Conversions out of the sqz dialect -----*- tablegen -*-===//
//
// All conversion passes of Squeeze live in this one file (as in CIRCT).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_CONVERSION_PASSES_TD
#define SQZ_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertSqzToLinalg : Pass<"convert-sqz-to-linalg"> {
  let summary = "Lower sqz.linear and sqz.sparse_linear to linalg on tensors";
  let description = [{
    Lowers each dense `sqz.linear` to a `linalg` contraction over the flattened leading
    dimensions, with the bias broadcast into the accumulator:

    ```mlir
    %y = sqz.linear %x, %w, %b : tensor<2x3x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
    ```
    becomes
    ```mlir
    %x2 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<2x3x16xf32> into tensor<6x16xf32>
    %init = linalg.broadcast ins(%b : tensor<8xf32>) outs(%e : tensor<6x8xf32>) dimensions = [0]
    %y2 = linalg.matmul indexing_maps = [(m, n, k) -> (m, k), (m, n, k) -> (n, k), (m, n, k) -> (m, n)]
            ins(%x2, %w : ...) outs(%init : tensor<6x8xf32>) -> tensor<6x8xf32>
    %y = tensor.expand_shape %y2 [[0, 1], [2]] output_shape [2, 3, 8] : ...
    ```
    Without a bias the accumulator is a zero fill.

    An `sqz.sparse_linear` (compressed n:m weight) first decompresses its weight at run time
    with one `linalg.generic` over the dense [out, in] elements (each reads its group's packed
    indices and picks its kept value or 0; the artifact keeps the compressed constants), then
    contracts exactly as a dense linear (with `transpose-weights`, the generic produces
    [in, out] directly). `sqz.observe` taps must be gone
    (`sqz-strip-observe`); any sqz op left is an error.

    With `transpose-weights`, the constant weight is transposed at compile time to [in, out]
    and the contraction is a `linalg.generic` over (m, k, n) — k a reduction — so that the
    innermost loop runs over contiguous output columns: no loop-carried reduction, which
    the CPU target vectorizes and tiles (`sqz-lower-to-cpu` uses it).
  }];
  let options = [
    Option<"transposeWeights", "transpose-weights", "bool", /*default=*/"false",
           "Transpose constant weights to [in, out] and contract over (m, k, n)">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect"
  ];
}

#endif // SQZ_CONVERSION_PASSES_TD
