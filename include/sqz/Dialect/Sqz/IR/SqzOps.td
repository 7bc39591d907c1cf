//===- SqzOps.td - sqz operations -------------------------*- tablegen -*-===//
//
// Operations of the sqz dialect.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_DIALECT_SQZ_IR_SQZOPS_TD
#define SQZ_DIALECT_SQZ_IR_SQZOPS_TD

include "sqz/Dialect/Sqz/IR/SqzDialect.td"
include "sqz/Dialect/Sqz/IR/SqzAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Sqz_LinearOp : Sqz_Op<"linear", [Pure]> {
  let summary = "y = x·Wᵀ + b with a constant weight W [out, in]: the unit of compression";
  let description = [{
    Applies a dense linear layer to the last dimension of `input`:
    `result[..., o] = sum_i input[..., i] * weight[o, i] + bias[o]`.

    `weight` must be produced by a constant (an `arith.constant`, usually holding a
    `dense_resource` blob) of static shape `[out, in]`; compression passes rewrite it. `bias` is
    optional, of shape `[out]`. All element types are the same float type. The result has the
    shape of `input` with its last dimension replaced by `out`.

    The optional `sparsity` attribute records an n:m pattern the weight is known to satisfy
    (set by pruning passes); the verifier checks it against the constant.

    ```mlir
    %y = sqz.linear %x, %w, %b : tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    AnyRankedTensor:$weight,
    Optional<AnyRankedTensor>:$bias,
    OptionalAttr<Sqz_SparsityAttr>:$sparsity
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,` type($weight)
    (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getOutFeatures() { return getWeight().getType().getDimSize(0); }
    int64_t getInFeatures() { return getWeight().getType().getDimSize(1); }
  }];
}

def Sqz_ObserveOp : Sqz_Op<"observe", [
    AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "calibration tap on a linear's input";
  let description = [{
    Returns its input unchanged and, when the module is run for calibration, records the
    requested statistics of it, reduced over every dimension but the last (the input channels
    of the linear it feeds): `sumsq` (Σx² per channel), `absmax` (max |x| per channel) and `xtx`
    (XᵀX, [channels, channels]). `tap` names the statistics (usually the linear's location name).
    Taps are erased after calibration (`sqz-strip-observe`, and every lowering pipeline).

    ```mlir
    %t = sqz.observe %x tap "layers.0/mlp/up" stats [sumsq, absmax] : tensor<1x8x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$tap, Sqz_ObserveStatAttr:$stats);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `tap` $tap `stats` $stats attr-dict `:` type($input)";
  let hasVerifier = 1;
}

#endif // SQZ_DIALECT_SQZ_IR_SQZOPS_TD
