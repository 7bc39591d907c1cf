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

#endif // SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_TD
