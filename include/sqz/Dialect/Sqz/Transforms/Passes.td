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

def SqzExposeTaps : Pass<"sqz-expose-taps", "::mlir::ModuleOp"> {
  let summary = "Turn calibration taps into extra results of the entry function";
  let description = [{
    The calibration build of a model: every `sqz.observe` in the entry function is replaced by
    its input, and that input, flattened to [tokens, channels] (all dimensions but the last
    are tokens), becomes an extra result of the entry named `__tap__/<tap>`
    (`sqz.name`), after the model's own results. Running the compiled artifact then hands the
    calibration driver (lib/Compression/Calibration.cpp, `sqz-compile --calib-data`) every
    tapped activation, from which it accumulates the statistics each tap asks for. Taps
    outside the entry function are an error. Taps with the same name are an error.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"", "Entry function">
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

// Options every compression pass shares: which layers, and where calibration statistics are.
defvar SqzLayerSelectionOptions = [
  ListOption<"targets", "targets", "std::string",
             "ECMAScript regexes searched in each linear's name (its NameLoc); a linear is a "
             "candidate if one matches. Default: every linear inside a numbered block, "
             "(^|[/.])(layers|layer|h|blocks?)[./]\\d+. Quote a regex that contains a comma">,
  ListOption<"ignore", "ignore", "std::string",
             "ECMAScript regexes; a candidate whose name one of them matches is left alone. "
             "Default: embeddings, lm_head and MoE routers "
             "((^|[/._])(lm_head|embed_tokens|embed_in|embed_out|tok_embeddings|embeddings?|"
             "wte|wpe|router)([/._]|$))">,
  Option<"stats", "stats", "std::string", /*default=*/"\"\"",
         "Calibration statistics (a safetensors file with L/sumsq, L/absmax, L/xtx, L/tokens "
         "per linear L, see docs/Compression.md); required by wanda and sparsegpt">
];

def SqzPrune : Pass<"sqz-prune", "::mlir::ModuleOp"> {
  let summary = "Unstructured pruning of selected linears (magnitude, Wanda, SparseGPT)";
  let description = [{
    Zeroes a fraction `sparsity` of the weights of every selected `sqz.linear` (see
    `targets`/`ignore`) and replaces its weight constant by a new `dense_resource` constant
    holding the pruned weights (same type and location). The weight stays dense; this pass
    changes values, not the form of the op.

    - `magnitude`: scores |W|, no calibration.
    - `wanda`: scores |W_ij|·sqrt(Σ x_j²) with `L/sumsq` from `stats`.
    - `sparsegpt`: SparseGPT with the Hessian `L/xtx` from `stats`: per block of
      `block-size` columns, the mask is chosen over all rows × the block on the
      already-updated weights, and the kept weights absorb the OBS compensation. The Hessian
      is damped by `damp`·mean(diag H); dead inputs (H_jj = 0) have their weights zeroed; if
      the damped Hessian is not positive definite, the layer is pruned without compensation
      and a warning says so.

    Magnitude and Wanda prune exactly floor(count · sparsity) weights of each comparison group:
    each output row (`granularity=row`, the default, Wanda's group) or the whole matrix
    (`granularity=layer`, global magnitude; with Wanda it is the per-layer comparison group of
    the Wanda paper's ablation). SparseGPT's group is fixed (rows × block-size columns), so it
    takes no `granularity`. The reference implementations compare with `<=` a threshold and
    prune one more weight per group when there are no ties; we prune the exact count.

    A selected linear that already carries `sparsity = #sqz.sparsity<n:m>` keeps it while the
    pruned weights still satisfy it (SparseGPT's updates may break it; then it is dropped).

    Errors: sparsity outside [0, 1), an unknown method or granularity, wanda/sparsegpt without
    `stats`, a selected linear missing from the statistics (the diagnostic names it), a bad
    regex.

    ```mlir
    // sqz-opt --sqz-prune="method=wanda sparsity=0.5 stats=calib.safetensors targets=mlp"
    ```
  }];
  let options = !listconcat([
    Option<"method", "method", "std::string", /*default=*/"\"magnitude\"",
           "How weights are scored: magnitude, wanda or sparsegpt">,
    Option<"sparsity", "sparsity", "double", /*default=*/"0.5",
           "Fraction of the weights to prune, in [0, 1)">,
    Option<"granularity", "granularity", "std::string", /*default=*/"\"row\"",
           "Comparison group of magnitude and wanda: row (each output row) or layer (the "
           "whole matrix); sparsegpt accepts only the default">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "SparseGPT: columns per lazy-update block (also its mask's comparison group)">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "SparseGPT: Hessian damping, as a fraction of the mean diagonal">
  ], SqzLayerSelectionOptions);
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SqzQuantize : Pass<"sqz-quantize", "::mlir::ModuleOp"> {
  let summary = "Quantize selected linears (RTN, GPTQ, AWQ, NF4, ternary) into sqz.quant_linear";
  let description = [{
    Replaces every selected `sqz.linear` by an `sqz.quant_linear` holding one code per weight,
    scales per output row and group of `group` input columns (-1: one group per row) and, for
    asymmetric schemes, zero points. The math is lib/Compression/Quantization.h:

    - `rtn`: round to nearest. `symmetric=true` (default) is GPTQ's symmetric grid
      (scale 2·absmax/(2^bits − 1), zero 2^(bits−1)); `symmetric=false` the min/max grid with
      a zero point.
    - `gptq`: GPTQ on the Hessian `L/xtx` from `stats` (damped by `damp`·mean diag, lazy
      blocks of `block-size` columns, error feedback); `act-order` processes columns by
      decreasing Hessian diagonal with static groups (groups stay contiguous).
    - `awq`: AWQ's per-input-channel scale search (s = rms(x)^α, α on a grid of 20, error
      measured on `L/xtx`) and clip search; the linears that share an input are searched
      together, their quantized weights hold W·diag(s) and the shared input is multiplied by
      1/s (an elementwise op before them).
    - `nf4`: NormalFloat-4 of QLoRA, absmax blocks of `group` (default 64 when group = -1 is
      not asked for explicitly: use group=64), nearest table value.
    - `ternary`: BitNet b1.58, codes {−1, 0, 1}, absmean scale per output row (`group` must
      be -1).

    `bits` is 8, 4, 3 or 2 for rtn/gptq/awq (nf4 is 4, ternary 2). `group` is -1 or a power of
    two. Errors: an unknown method, bits or group, gptq/awq without `stats`, a selected linear
    missing from the statistics (named), a bad regex.

    A selected `sqz.sparse_linear` (n:m, from `sqz-sparsify-nm`) keeps its n:m form: its kept
    values become codes with the `quant` attribute, scales (and zeros) over groups of `group`
    dense input columns (a multiple of m, or -1). `rtn` and `nf4` quantize the kept values
    (the pruned zeros do not change a group's parameters); `gptq` runs with the mask fixed
    (pruned weights stay exactly 0, their error is fed back, SparseGPT's joint mode with the
    given mask). `awq` and `ternary` do not take sparse linears (an error naming the layer).

    ```mlir
    // sqz-opt --sqz-quantize="method=gptq bits=4 group=32 stats=calib.safetensors"
    ```
  }];
  let options = !listconcat([
    Option<"method", "method", "std::string", /*default=*/"\"rtn\"",
           "rtn, gptq, awq, nf4 or ternary">,
    Option<"bits", "bits", "int64_t", /*default=*/"4", "Bits per code for rtn/gptq/awq: 8, 4, 3 or 2">,
    Option<"group", "group", "int64_t", /*default=*/"128",
           "Input columns per scale (a power of two), or -1 for one group per output row">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"true",
           "rtn/gptq/awq: symmetric grid (no zero points) or min/max with zero points">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "gptq: process columns by decreasing Hessian diagonal (static groups)">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "gptq: Hessian damping, as a fraction of the mean diagonal">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "gptq: columns per lazy-update block">
  ], SqzLayerSelectionOptions);
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SqzQuantizeOutliers : Pass<"sqz-quantize-outliers", "::mlir::ModuleOp"> {
  let summary = "LLM.int8() decomposition: int8 weights plus float outlier columns";
  let description = [{
    For every selected `sqz.linear`, the input channels whose calibration absmax
    (`L/absmax` from `stats`) is >= `threshold` are outliers: their weight columns stay in
    float, and the other columns are quantized to int8 with one absmax/127 scale per output
    row (vector-wise, over the non-outlier columns; codes within ±127). The linear becomes an
    `sqz.outlier_linear`; a linear without outlier channels becomes an int8 per-row
    `sqz.quant_linear`. The lowering dequantizes the int8 part at run time and computes in
    float: activations are not quantized (LLM.int8()'s per-token int8 activations belong to
    an int8 kernel).

    Errors: threshold <= 0, no `stats` (outliers come from calibration), a selected linear
    without `L/absmax` (named), a bad regex.

    ```mlir
    // sqz-opt --sqz-quantize-outliers="threshold=6.0 stats=calib.safetensors"
    ```
  }];
  let options = !listconcat([
    Option<"threshold", "threshold", "double", /*default=*/"6.0",
           "Input channels whose calibration absmax is >= threshold stay in float (> 0)">
  ], SqzLayerSelectionOptions);
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SqzSparsifyNM : Pass<"sqz-sparsify-nm", "::mlir::ModuleOp"> {
  let summary = "Prune selected linears to n:m and store them compressed (sqz.sparse_linear)";
  let description = [{
    Prunes every selected `sqz.linear` so that each aligned group of `m` consecutive weights
    along the input dimension keeps its `n` best-scored weights (magnitude, Wanda on
    `L/sumsq`, or SparseGPT on `L/xtx` with its n:m mask and compensation), then replaces the
    linear by an `sqz.sparse_linear` holding the kept values [out, in·n/m] and their
    positions packed in i8 (the bit layout is in the op's description and
    docs/Compression.md; for 2:4, one nibble per group with the first kept index in the low
    2 bits). Ties are broken by position (the lower column is pruned).

    When m does not divide the input dimension, `tail=error` (the default) is a diagnostic
    naming the layer; `tail=dense` keeps the last `in mod m` columns unpruned and stores them
    densely after the kept values. (The reference code prunes a partial group entirely.)

    Errors: n < 1 or n >= m, m > 64, an unknown method or tail policy, a SparseGPT
    `block-size` that is not a multiple of m, wanda/sparsegpt without `stats`, a selected
    linear missing from the statistics, a bad regex.

    ```mlir
    %y = sqz.linear %x, %w : tensor<4x8xf32>, tensor<2x8xf32> -> tensor<4x2xf32> loc("layers.0/q")
    // sqz-opt --sqz-sparsify-nm="n=2 m=4"
    %y = sqz.sparse_linear %x, %vals, %idx {sparsity = #sqz.sparsity<2:4>}
           : tensor<4x8xf32>, tensor<2x4xf32>, tensor<2x1xi8> -> tensor<4x2xf32> loc("layers.0/q")
    ```
  }];
  let options = !listconcat([
    Option<"n", "n", "int64_t", /*default=*/"2", "Weights kept per group">,
    Option<"m", "m", "int64_t", /*default=*/"4",
           "Group size along the input dimension (2..64)">,
    Option<"method", "method", "std::string", /*default=*/"\"magnitude\"",
           "How weights are scored: magnitude, wanda or sparsegpt">,
    Option<"tail", "tail", "std::string", /*default=*/"\"error\"",
           "When m does not divide the input dimension: error, or dense (keep the tail)">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "SparseGPT: columns per lazy-update block, a multiple of m">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "SparseGPT: Hessian damping, as a fraction of the mean diagonal">
  ], SqzLayerSelectionOptions);
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SqzPruneStructured : Pass<"sqz-prune-structured", "::mlir::ModuleOp"> {
  let summary = "Structured pruning: remove whole FFN neurons or attention heads, shrinking "
                "the weights";
  let description = [{
    Physically shrinks the selected FFN blocks: no zeros are stored and no sparse kernel is
    needed, the linears simply get smaller. An FFN block is found behind each selected
    `sqz.linear` (the down projection, weight [H, I]) whose input is computed by elementwise
    ops only (`linalg.generic` with parallel loops and no `linalg.index`, `arith`/`math` ops on
    tensors) from one or more producer linears (gate/up, weight [I, H'], optional bias [I])
    that all read the same value, with nothing else using the intermediate values. Selection
    (`targets`/`ignore`) applies to the down projection's name.

    Each of the I neurons is scored and the floor(I · `ratio`) lowest of each block are removed
    (ties: the lower index first): the producers lose those rows (and bias entries), the down
    projection loses those columns, and every tensor between them shrinks from I to I' along
    its last dimension (fresh `tensor.empty` inits, resized splat constants).

    - `score=l2`: Σ W² over the neuron's producer rows and down-projection column.
    - `score=activation`: Σ_o |W_down[o, i]| · sqrt(Σ x_i²), the Wanda score of the neuron's
      down-projection column, with `L/sumsq` of the down projection L from `stats` (Σ x² of
      the intermediate activation); the producer rows do not enter.

    A selected linear whose input reaches a linear through elementwise or shape ops but not
    in the supported form (a reshape, a reduction across I, another user of the intermediate,
    producers reading different inputs, a non-constant weight) is left alone with a warning
    naming it and the reason; other linears (attention projections, ...) are skipped silently.

    `unit=attention-head` removes whole heads behind each selected output projection (the
    consumer, weight [H, G·w]): the q/k/v linears found by walking back from its input are
    the producers, and the group axis is propagated from their outputs through every
    reshape, slice, transpose and linalg op (elementwise, rotary, GQA repeat, batched
    matmuls, softmax, values captured by linalg bodies) to the output projection, checking
    that no op mixes heads. The unit is a GQA group (a KV head and the query heads sharing
    it; a head without GQA): G is the largest count for which the propagation succeeds.
    floor(G · `ratio`) groups are removed: their q/k/v rows and output-projection columns,
    and the heads dimension of every tensor in between (reshape shapes, slice sizes, fresh
    inits). Scores: `l2` sums W² over the group's q/k/v rows and output columns,
    `activation` is the Wanda score of its output-projection columns (`L/sumsq` of the output
    projection L). An attention whose pattern is not followed (a per-head constant, a head
    read at another head's index, the heads reaching a function result) is left alone with a
    warning naming the output projection and the op; other linears are skipped silently.

    Errors: ratio outside [0, 1), an unknown unit or score, score=activation without `stats`,
    a down projection missing from the statistics, a bad regex.

    ```mlir
    // sqz-opt --sqz-prune-structured="unit=ffn-neuron ratio=0.25 targets=/w2$"
    ```
  }];
  let options = !listconcat([
    Option<"unit", "unit", "std::string", /*default=*/"\"ffn-neuron\"",
           "What is removed: ffn-neuron or attention-head (whole GQA groups)">,
    Option<"ratio", "ratio", "double", /*default=*/"0.25",
           "Fraction of the units of each block to remove, in [0, 1)">,
    Option<"score", "score", "std::string", /*default=*/"\"l2\"",
           "How units are scored: l2 (weights only) or activation (needs stats)">
  ], SqzLayerSelectionOptions);
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

def SqzInstrument : Pass<"sqz-instrument", "::mlir::ModuleOp"> {
  let summary = "Insert calibration taps on the inputs of the selected linears";
  let description = [{
    Puts an `sqz.observe` on the input of every selected `sqz.linear`, named after the layer
    (its location name) and asking for the statistics in `stats`. Selection as in every
    compression pass (`targets`/`ignore` regexes searched in the layer name; default: the
    linears inside numbered decoder blocks, never embeddings or the LM head; see
    docs/Compression.md). A linear that already has a tap keeps it. `sqz-expose-taps` then
    makes the taps outputs of the calibration build.
  }];
  let options = [
    ListOption<"targets", "targets", "std::string", "Regexes selecting layers by name (default: decoder-block linears)">,
    ListOption<"ignore", "ignore", "std::string", "Regexes of layers to leave alone (default: embeddings, LM head, routers)">,
    ListOption<"stats", "stats", "std::string", "Statistics to collect: sumsq, absmax, xtx (default: all three)">
  ];
}

#endif // SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_TD
