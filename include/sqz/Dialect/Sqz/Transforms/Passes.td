//===- Passes.td - sqz dialect transformation passes ------*- tablegen -*-===//
//
// Target-independent passes on the sqz graph IR.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_TD
#define SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SqzStripObserve : Pass<"sqz-strip-observe"> {
  let summary = "Erase calibration taps (sqz.observe), forwarding their inputs";
  let description = [{
    Calibration inserts `sqz.observe` taps; once statistics are collected they carry no meaning.
    This pass replaces every tap by its input. Every lowering pipeline runs it first.

    Before:
    ```mlir
    %t = sqz.observe %x tap "fc1" stats [sumsq] : tensor<4x16xf32>
    %y = sqz.linear %t, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
    ```
    After:
    ```mlir
    %y = sqz.linear %x, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
    ```
  }];
}

def SqzLowerMoE : Pass<"sqz-lower-moe"> {
  let summary = "Lower sqz.moe to routing, top-k, expert FFNs and a weighted combine in linalg";
  let description = [{
    Expands each `sqz.moe` into linalg on tensors: a stable softmax of the router logits, a
    top-k selection mask (rank of each expert's probability among the token's experts, ties
    to the higher index), optional renormalization over the selected experts, the optional
    capacity limit (a token keeps an expert only if fewer than
    ceil(capacity_factor · T · top_k / E) earlier tokens chose it), every expert's FFN as batched
    contractions over the stacked weights, and the gate-weighted sum over experts.

    This is the straightforward dense form: every expert runs on every token and the gates
    zero the unselected ones. It is exact; token-grouped dispatch (only the routed tokens per
    expert) is the MoE issue's job.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"
  ];
}

#endif // SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_TD
