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

def Sqz_SparseLinearOp : Sqz_Op<"sparse_linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "y = x·Wᵀ + b with W [out, in] stored in compressed n:m form";
  let description = [{
    The compressed form of an n:m-sparse `sqz.linear` (produced by `sqz-sparsify-nm`): it
    computes `result[..., o] = sum_i input[..., i] * W[o, i] + bias[o]` where the dense weight
    W [out, in] is given by its kept values and their positions. With
    `sparsity = #sqz.sparsity<n:m>`, `in` the (static) last dimension of `input`,
    `G = in floordiv m` full groups and a tail of `t = in mod m` columns:

    - `values` [out, G·n + t], a constant of the input's float type: row o holds, for each
      group g in order, the n kept weights of columns [g·m, g·m + m) in increasing column order,
      then the t tail weights (columns G·m .. in-1) densely. Kept weights may themselves be 0.
    - `indices` [out, ceil(G·n·b / 8)] i8, a constant: with b = ceil(log2 m) bits per index,
      kept value k = g·n + r of a row (0 <= r < n) has its position within its group,
      `i(k)` in [0, m), stored in bits [k·b, k·b + b) of that row's bytes, little-endian: bit
      p of the row is bit (p mod 8) of byte (p floordiv 8), and an index's low bit comes
      first. Unused high bits of the last byte of a row are 0. Then
      `W[o, g·m + i(g·n + r)] = values[o, g·n + r]` and every other W[o, g·m + j] is 0.

    For 2:4 (b = 2) each group is one nibble, the low 2 bits being the first kept index and the
    high 2 bits the second, and byte j holds group 2j in its low nibble and group 2j + 1 in
    its high nibble: keeping columns 1 and 2 of a group gives nibble 0x9, keeping 0 and 1
    gives 0x4 (the `mma.sp` metadata nibble of sparse tensor cores, before any hardware tile
    reordering). For 4:8, b = 3 and an index may straddle two bytes.

    **Quantized kept values** (joint n:m + quantization, produced by `sqz-quantize` on a
    sparse linear): with `quant = #sqz.quant<format = F, group = G, symmetric = S>`, `values`
    holds i8 codes (read as unsigned, one per byte, below 2^bits) instead of floats, in the
    same positions, and `scales` [out, groups] f32 (plus `zeros` [out, groups] i8 when
    asymmetric) are given. Groups are measured in DENSE input columns: G' = (G == -1 ? in : G),
    `groups = ceil(in / G')`, G' a multiple of m, and the kept value (or tail value) of dense
    column j uses group j floordiv G'. Its weight is the `sqz.quant_linear` dequantization of
    its code with that group's scale (and zero point); pruned weights are exactly 0. For 2:4
    int4 this is the SP24_INT4 logical form of lib/Kernels/CPU/Microkernels.h.

    The verifier checks the shapes and, when the constants are readable, that the indices of
    each group are strictly increasing and below m and that the padding bits are 0 (and the
    codes' range when quantized).

    ```mlir
    %y = sqz.sparse_linear %x, %vals, %idx, %b {sparsity = #sqz.sparsity<2:4>}
           : tensor<4x16xf32>, tensor<8x8xf32>, tensor<8x2xi8>, tensor<8xf32> -> tensor<4x8xf32>
    %q = sqz.sparse_linear %x, %codes, %idx scales %s, %b
           {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>}
           : tensor<4x16xf32>, tensor<8x8xi8>, tensor<8x2xi8> scales tensor<8x2xf32>, tensor<8xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    AnyRankedTensor:$values,
    AnyRankedTensor:$indices,
    Optional<AnyRankedTensor>:$scales,
    Optional<AnyRankedTensor>:$zeros,
    Optional<AnyRankedTensor>:$bias,
    Sqz_SparsityAttr:$sparsity,
    OptionalAttr<Sqz_QuantAttr>:$quant
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $values `,` $indices (`scales` $scales^)? (`zeros` $zeros^)? (`,` $bias^)? attr-dict
    `:` type($input) `,` type($values) `,` type($indices) (`scales` type($scales)^)?
    (`zeros` type($zeros)^)? (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getOutFeatures() { return getValues().getType().getDimSize(0); }
    /// The dense input dimension (the last dimension of the input, static).
    int64_t getInFeatures() {
      return getInput().getType().getDimSize(getInput().getType().getRank() - 1);
    }

    /// The compressed layout of an n:m weight with `in` input columns (see the description).
    struct Layout {
      int64_t n, m, in;
      int64_t groups() const { return in / m; }
      int64_t tail() const { return in % m; }
      /// Bits per index: ceil(log2 m).
      int64_t indexBits() const;
      /// Columns of `values`: groups·n kept values, then the dense tail.
      int64_t valuesPerRow() const { return groups() * n + tail(); }
      /// Columns (bytes) of `indices`.
      int64_t indexBytesPerRow() const { return (groups() * n * indexBits() + 7) / 8; }
      /// Index of kept value k of a row, read from that row's bytes.
      int64_t readIndex(const uint8_t *row, int64_t k) const;
      /// Stores index `i` of kept value k into a zero-initialized row.
      void writeIndex(uint8_t *row, int64_t k, int64_t i) const;
    };
    Layout getLayout() {
      return Layout{getSparsity().getN(), getSparsity().getM(), getInFeatures()};
    }
    /// With `quant`: the group size in dense input columns (G' above) and the group count.
    int64_t getGroupSize() {
      return !getQuant() || getQuant()->getGroup() < 0 ? getInFeatures() : getQuant()->getGroup();
    }
    int64_t getNumGroups() {
      return (getInFeatures() + getGroupSize() - 1) / getGroupSize();
    }
  }];
}

def Sqz_QuantLinearOp : Sqz_Op<"quant_linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "y = x·Ŵᵀ + b with Ŵ [out, in] stored as quantization codes and scales";
  let description = [{
    The quantized form of a `sqz.linear` (produced by `sqz-quantize`). With
    `quant = #sqz.quant<format = F, group = G, symmetric = S>`, `in` the (static) last
    dimension of `input`, G' = (G == -1 ? in : G) and `groups = ceil(in / G')` (the last group
    may be shorter):

    - `codes` [out, in] i8, a constant: one stored code per weight, read as **unsigned**
      (0..2^bits − 1; bits = 8, 4, 3, 2 for int8/int4/int3/int2, 4 for nf4, 2 for ternary).
      Codes are logical, one per byte; packing them for kernels is the target
      materialization's job.
    - `scales` [out, groups] f32, a constant.
    - `zeros` [out, groups] i8 (unsigned), a constant, present exactly when the scheme is
      asymmetric (`symmetric = false`).

    The dequantized weight of row o, column i (group g = i floordiv G') is

    - int formats: `scales[o, g] · (codes[o, i] − z)`, z = `zeros[o, g]` when asymmetric,
      else 2^(bits−1);
    - ternary: `scales[o, g] · (codes[o, i] − 1)` (codes 0, 1, 2 = −1, 0, +1);
    - nf4: `scales[o, g] · NF4[codes[o, i]]`, NF4 the 16 NormalFloat values of QLoRA
      (lib/Compression/Quantization.h).

    and `result[..., o] = sum_i input[..., i] · Ŵ[o, i] + bias[o]`. The verifier checks the
    shapes and, when the constants are readable, that every code is below 2^bits.

    ```mlir
    %y = sqz.quant_linear %x, %codes, %scales bias %b {quant = #sqz.quant<format = int4, group = 32, symmetric = true>}
           : tensor<4x64xf32>, tensor<8x64xi8>, tensor<8x2xf32>, tensor<8xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    AnyRankedTensor:$codes,
    AnyRankedTensor:$scales,
    Optional<AnyRankedTensor>:$zeros,
    Optional<AnyRankedTensor>:$bias,
    Sqz_QuantAttr:$quant
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $codes `,` $scales (`zeros` $zeros^)? (`bias` $bias^)? attr-dict `:`
    type($input) `,` type($codes) `,` type($scales) (`zeros` type($zeros)^)? (`,` type($bias)^)?
    `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getOutFeatures() { return getCodes().getType().getDimSize(0); }
    int64_t getInFeatures() { return getCodes().getType().getDimSize(1); }
    /// The group size along the input features (G' above).
    int64_t getGroupSize() {
      return getQuant().getGroup() < 0 ? getInFeatures() : getQuant().getGroup();
    }
    int64_t getNumGroups() {
      return (getInFeatures() + getGroupSize() - 1) / getGroupSize();
    }
  }];
}

def Sqz_OutlierLinearOp : Sqz_Op<"outlier_linear", [Pure]> {
  let summary = "y = x·Ŵᵀ + x[:, cols]·Fᵀ + b: a low-bit weight plus a few float columns (LLM.int8)";
  let description = [{
    The outlier-split form of a `sqz.linear` (produced by `sqz-quantize-outliers`, LLM.int8()'s
    decomposition): the weight's input columns listed in `outlier_columns` (the input channels
    with large calibration activations) are kept in float, every other column is quantized.
    With `quant = #sqz.quant<format = F, group = G, symmetric = true>` (an integer format,
    symmetric: `sqz-quantize-outliers` uses int8 with one scale per output row, G = -1), `in`
    the (static) last dimension of `input`, G' and `groups` as for `sqz.quant_linear`:

    - `codes` [out, in] i8 and `scales` [out, groups] f32, constants: the quantized part with
      the semantics of `sqz.quant_linear` (Ŵ[o, i] = scales[o, g]·(codes[o, i] − 2^(bits−1))).
      The codes of the outlier columns are the zero point 2^(bits−1) (Ŵ = 0 there).
    - `outlier_columns` [n] i64, a constant: 1 <= n <= in strictly increasing column indices.
    - `outlier_weights` [out, n], a constant of the input's float type: column k holds the
      float weights of input column `outlier_columns[k]`.

    `result[..., o] = sum_i input[..., i]·Ŵ[o, i] + sum_k input[..., cols[k]]·F[o, k] + bias[o]`.
    The verifier checks the shapes and, when the constants are readable, the column indices,
    the codes' range and that outlier columns hold the zero point.

    ```mlir
    %y = sqz.outlier_linear %x, %codes, %scales, %cols, %fp bias %b
           {quant = #sqz.quant<format = int8, group = -1, symmetric = true>}
           : tensor<4x64xf32>, tensor<8x64xi8>, tensor<8x1xf32>, tensor<2xi64>, tensor<8x2xf32>,
             tensor<8xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    AnyRankedTensor:$codes,
    AnyRankedTensor:$scales,
    AnyRankedTensor:$outlier_columns,
    AnyRankedTensor:$outlier_weights,
    Optional<AnyRankedTensor>:$bias,
    Sqz_QuantAttr:$quant
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $codes `,` $scales `,` $outlier_columns `,` $outlier_weights (`bias` $bias^)?
    attr-dict `:` type($input) `,` type($codes) `,` type($scales) `,` type($outlier_columns)
    `,` type($outlier_weights) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getOutFeatures() { return getCodes().getType().getDimSize(0); }
    int64_t getInFeatures() { return getCodes().getType().getDimSize(1); }
    int64_t getNumOutliers() { return getOutlierColumns().getType().getDimSize(0); }
    /// The group size along the input features (G' of sqz.quant_linear).
    int64_t getGroupSize() {
      return getQuant().getGroup() < 0 ? getInFeatures() : getQuant().getGroup();
    }
    int64_t getNumGroups() {
      return (getInFeatures() + getGroupSize() - 1) / getGroupSize();
    }
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

def Sqz_MoEOp : Sqz_Op<"moe", [Pure, AttrSizedOperandSegments]> {
  let summary = "a whole mixture-of-experts FFN: routing, top-k, experts, weighted combine";
  let description = [{
    Computes, for every token row t of `input` (all dimensions but the last are tokens):

    ```
    p[t, :]   = softmax(router_logits[t, :])                 over the E experts
    sel[t, e] = e is among the top_k largest p[t, :]         (ties: the higher index wins)
    g[t, e]   = sel ? p[t, e] : 0,  divided by sum_e g[t, e] when normalize_routing
    h_e(x)    = act(x·fc1[e]ᵀ + fc1_bias[e])  ⊙ (x·fc3[e]ᵀ + fc3_bias[e])   (fc3: gated FFN)
    y[t]      = sum_e g[t, e] · (h_e(x[t])·fc2[e]ᵀ + fc2_bias[e])
    ```

    Expert weights are stacked constants in the [out, in] convention of `sqz.linear`:
    `fc1` [E, I, H], optional `fc3` [E, I, H] (the gate of a SwiGLU/GeGLU expert), `fc2` [E, H, I];
    biases [E, I], [E, I], [E, H]. The router itself (a linear producing `router_logits`
    [T, E]) stays an `sqz.linear`, so it is compressed like any other layer.
    `capacity_factor` > 0 bounds the tokens an expert takes to
    ceil(capacity_factor · T · top_k / E) (dropped tokens get no contribution from it);
    0 means dropless. `sqz-lower-moe` lowers the op.

    ```mlir
    %y = sqz.moe %x, %logits, %w1, %w2 fc3 %w3 {top_k = 2, activation = silu, normalize_routing}
           : (tensor<4x16xf32>, tensor<4x8xf32>, tensor<8x32x16xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> tensor<4x16xf32>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    AnyRankedTensor:$router_logits,
    AnyRankedTensor:$fc1,
    AnyRankedTensor:$fc2,
    Optional<AnyRankedTensor>:$fc3,
    Optional<AnyRankedTensor>:$fc1_bias,
    Optional<AnyRankedTensor>:$fc2_bias,
    Optional<AnyRankedTensor>:$fc3_bias,
    ConfinedAttr<I64Attr, [IntMinValue<1>]>:$top_k,
    Sqz_MoEActivationAttr:$activation,
    UnitAttr:$normalize_routing,
    DefaultValuedAttr<F64Attr, "0.0">:$capacity_factor
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $router_logits `,` $fc1 `,` $fc2
    (`fc3` $fc3^)? (`fc1_bias` $fc1_bias^)? (`fc2_bias` $fc2_bias^)? (`fc3_bias` $fc3_bias^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumExperts() { return getFc1().getType().getDimSize(0); }
    int64_t getHiddenSize() { return getFc1().getType().getDimSize(2); }
    int64_t getInterSize() { return getFc1().getType().getDimSize(1); }
  }];
}

def Sqz_PackedLinearOp : Sqz_Op<"packed_linear", [Pure]> {
  let summary = "y = x·Wᵀ + b with W packed for a CPU microkernel (target materialization)";
  let description = [{
    A linear whose weight W [out, in] is one packed blob that a CPU microkernel reads
    (`lib/Kernels/CPU/Microkernels.h`): `sqz-materialize{target=cpu}` produces it from an
    `sqz.linear` (kernel `f32`), an `sqz.quant_linear` (`int8`, `int4`, `nf4`, `ternary2`,
    `ternary16`) or a 2:4 `sqz.sparse_linear` (`sp24_f32`, `sp24_int4`) with the kernel
    library's `sqz_uk_pack`. It computes
    `result[..., o] = sum_i input[..., i] · W[o, i] + bias[o]`, W the weight the blob was
    packed from (the logical form's semantics: dequantized or decompressed).

    - `blob`: a 1-D i8 constant (a `dense_resource`): the 64-byte `sqz_uk_header` (magic
      "SQZK", version, format, N = out, K = in, group, flags, payload offsets) and the payload
      whose layout belongs to the format's kernel (docs/Kernels.md). The blob is
      target-specific but ISA-independent.
    - `kernel`: the format, one of `f32`, `int8`, `int4`, `nf4`, `ternary2`, `ternary16`,
      `sp24_f32`, `sp24_int4`; `isa`: the instruction-set level of the kernel to call,
      `generic`, `avx2`, `avx512` or `avx512vnni`. The CPU lowering calls
      `sqz_uk_<kernel>_<isa>`, whose bitcode is linked into the model.
    - `input`: f32 with a static last dim `in`; the leading dims (any, dynamic allowed) are
      the rows M of the kernel call. `bias` (optional): f32 [out]. The result has the input's
      shape with the last dim replaced by `out`.

    The verifier checks the types and, when the blob's bytes are readable (not elided), its
    header: magic, version, that its format is `kernel`'s, N = out, K = in, a group in
    [1, K] for the quantized formats, and payload offsets inside the blob.

    CUDA blobs (`sqz-materialize{target=cuda}`, `lib/Kernels/CUDA/CudaKernels.h`): `isa` is
    the GPU architecture, `sm_80`, `sm_90` or `sm_90a`; `kernel` one of `f16`, `int8`,
    `int4`, `nf4`, `ternary2`, `sp24_f16`, `sp24_int4`; the header's magic is "SQZC". The same
    checks apply. `sqz-cuda-lower-kernels` launches `sqz_cuk_<kernel>_<gemv|gemm>_sm<80|90>`.

    ```mlir
    %y = sqz.packed_linear %x, %blob, %b {kernel = "int4", isa = "avx512"}
           : tensor<1x64xf32>, tensor<1344xi8>, tensor<32xf32> -> tensor<1x32xf32>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    AnyRankedTensor:$blob,
    Optional<AnyRankedTensor>:$bias,
    StrAttr:$kernel,
    StrAttr:$isa
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $blob (`,` $bias^)? attr-dict `:` type($input) `,` type($blob)
    (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getOutFeatures() {
      return getResult().getType().getDimSize(getResult().getType().getRank() - 1);
    }
    int64_t getInFeatures() {
      return getInput().getType().getDimSize(getInput().getType().getRank() - 1);
    }
    /// The sqz_uk_format number of a kernel name ("int4" -> SQZ_UK_INT4), 0 if unknown.
    static int32_t getKernelFormat(llvm::StringRef kernel);
    /// The sqz_uk_isa number of an ISA name ("avx512" -> SQZ_UK_ISA_AVX512), -1 if unknown.
    static int32_t getISALevel(llvm::StringRef isa);
    /// The sqz_cuk_format number of a CUDA kernel name ("int4" -> SQZ_CUK_INT4), 0 if unknown.
    static int32_t getCUDAKernelFormat(llvm::StringRef kernel);
    /// The SM level of a CUDA target ("sm_80" -> 80, "sm_90"/"sm_90a" -> 90), -1 if unknown.
    static int32_t getCUDAArch(llvm::StringRef isa);
    /// Whether the blob is for the CUDA kernels (`isa` names a GPU architecture).
    bool isCUDA() { return getIsa().starts_with("sm_"); }
  }];
}

#endif // SQZ_DIALECT_SQZ_IR_SQZOPS_TD
