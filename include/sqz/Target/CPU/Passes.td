//===- Passes.td - CPU target passes ----------------------*- tablegen -*-===//
//
// Passes of the CPU target: the C ABI of a compiled model.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CPU_PASSES_TD
#define SQZ_TARGET_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def SqzCPUPrepareEntry : Pass<"sqz-cpu-prepare-entry", "::mlir::ModuleOp"> {
  let summary = "Mark the entry function's inputs read-only; build the output-shape function";
  let description = [{
    The C ABI hands the model caller-owned input buffers that it must not write. This pass
    sets `bufferization.writable = false` on every argument of the entry function so that
    One-Shot Bufferize copies instead of updating an input in place. It also checks that the
    entry function exists and has only ranked tensor arguments and results.

    A model whose entry has only static shapes keeps the artifact ABI 1/2 (bare pointers;
    tensors with no elements are rejected). A model with a dynamic input or output dim
    (`tensor<?x...>`) is compiled for ABI 3: the module is marked `sqz.dynamic_shapes`, dims
    of size 0 are allowed, and the pass adds

    ```c
    void sqz_model_output_shapes(const int64_t *input_shapes, int64_t *output_shapes);
    ```

    built from a clone of the entry: the `tensor.dim`s of its results are resolved with the
    ops' shape reification (`ReifyRankedShapedTypeOpInterface`) and canonicalization into
    integer arithmetic on the input dims, which then read `input_shapes` (every dim of every
    input, concatenated) and write `output_shapes` (likewise). An output dim that still
    depends on anything else (tensor data) is an error naming the output. The same
    arithmetic evaluated on intervals (input dims between 0 and their `sqz.max_shape` bound)
    gives the module attribute `sqz.output_max_shapes` (per output, each dim's bound or -1),
    which sqz-compile writes as the outputs' `max_shape` in the manifest.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "Name of the entry function">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::affine::AffineDialect"];
}

def SqzCPUForwardOutputs : Pass<"sqz-cpu-forward-outputs", "::mlir::ModuleOp"> {
  let summary = "Compute dynamically shaped results in their out-parameters";
  let description = [{
    For models marked `sqz.dynamic_shapes`, after `buffer-results-to-out-params`: a result
    with a dynamic shape is computed into a `memref.alloc` and copied into its out-parameter
    (`hoist-static-allocs` only forwards static allocations). When the allocation is in the
    entry block, has the out-parameter's type, and the copy is the out-parameter's only use,
    the allocation is replaced by the out-parameter and the copy removed. The caller sizes
    output buffers with `sqz_model_output_shapes`, which derives the same dims. Static models
    are left alone.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "Name of the entry function">
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def SqzCPUConvertFuncToLLVM : Pass<"sqz-cpu-convert-func-to-llvm", "::mlir::ModuleOp"> {
  let summary = "Lower func to LLVM with the calling convention of the model's ABI";
  let description = [{
    Runs upstream `convert-func-to-llvm`: with `use-bare-ptr-memref-call-conv` for static
    models (ABI 1/2: one pointer per buffer), with the default memref-descriptor convention
    for models marked `sqz.dynamic_shapes` by `sqz-cpu-prepare-entry` (ABI 3). For those it
    first records the shapes of the entry's memref arguments (inputs, output out-parameters,
    the weights buffer) in the module attribute `sqz.entry_arg_shapes`, which
    `sqz-cpu-emit-c-abi` needs to build the descriptors.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "Name of the entry function">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def SqzCPUEmitCABI : Pass<"sqz-cpu-emit-c-abi", "::mlir::ModuleOp"> {
  let summary = "Add the artifact's C ABI entry points to an LLVM-dialect module";
  let description = [{
    Runs after the entry function was lowered to the LLVM dialect with
    `sqz-cpu-convert-func-to-llvm`. For a static model (bare pointers: one `!llvm.ptr` per
    input, then one per output out-parameter, then the weights) it adds

    ```c
    uint32_t sqz_abi_version(void);        // returns 1, or 2 with a weights file
    void sqz_model_invoke(void **buffers); // inputs, then outputs, manifest order
    ```

    For a dynamic model (`sqz.dynamic_shapes`; the entry takes memref descriptors) it adds
    the ABI 3 entry, which builds each descriptor from the buffer pointer, the dims in
    `shapes` (every dim of every input then output; static dims are compiled in as
    constants) and row-major strides:

    ```c
    uint32_t sqz_abi_version(void);                             // returns 3
    void sqz_model_invoke(void **buffers, const int64_t *shapes);
    ```

    `sqz_model_output_shapes` (from `sqz-cpu-prepare-entry`) must be present. The entry
    function gets internal linkage so it is inlined into the wrapper and does not leak into
    the shared library's symbol table.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "Name of the entry function">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def SqzCPUFuseElementwise : Pass<"sqz-cpu-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuse elementwise producers into consumers, but never into reductions";
  let description = [{
    Upstream `linalg-fuse-elementwise-ops` also fuses an elementwise producer into a consumer
    with reduction loops, which recomputes the producer once per reduction-free loop
    iteration: a GELU feeding a linear would run `out` times per element. This pass applies
    the same fusion patterns (plus their cleanups) with a control that refuses consumers that
    have reduction loops, so elementwise chains fuse among themselves and each contraction
    reads materialized inputs.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::affine::AffineDialect"];
}

def SqzCPUTileContractions : Pass<"sqz-cpu-tile-contractions", "::mlir::func::FuncOp"> {
  let summary = "Parallel, cache and register tiling and vectorization of (m, k, n) contractions";
  let description = [{
    Rewrites every `linalg.generic` with static bounds whose loops are (parallel m, reduction
    k, parallel n) — the form `convert-sqz-to-linalg{transpose-weights}` produces, reading an
    [in, out] weight — into

    ```mlir
    scf.forall (%m, %n) in (M/mp, N/np)        // parallel blocks, one OpenMP task each
      scf.for %kb (step kc)                    // the kc x np weight block stays in cache
        scf.for %mr (step mr), scf.for %nr (step nr)   // register tile
          scf.for %k (step 1)
            acc[mr x nr] += A[mr x 1] * B[1 x nr]   // vector ops; a multiply marked contract
    ```

    `vector-width` is the number of f32 lanes of the target (16 with AVX-512, 8 with AVX2).
    The register tile has mr = the largest divisor of M up to 8 (AVX-512) or 6 rows and nr
    lanes, a multiple of the vector width dividing N (else any divisor of N), with
    mr * nr / vector-width at most 16 (AVX-512) or 12 accumulator registers: 8 x 32 for a
    GEMM, 1 x 256 for a GEMV (each k step then reads a long contiguous run of the weight
    row). Every tile size divides its loop
    bound, so all tiles are static and vectorize without masks. Contractions under
    `min-parallel-work` multiply-adds get sequential `scf.for` blocks instead of the
    `scf.forall`; a body the vectorizer refuses stays a scalar register tile. The multiplies
    and adds of the body get `fastmath<contract>`, which `sqz-cpu-optimize-vectors` turns into
    `vector.fma`.

    A contraction with a dynamic m (rows over a dynamic batch or sequence) and static k and n
    is split into `scf.for` loops over static row blocks: blocks of 16 mr rows (128 with
    AVX-512, 96 otherwise), at most one of 8 mr rows, then mr-row blocks, then at most one
    block each of 4, 2 and 1 rows for the remainder. Each block is a static contraction, tiled
    and vectorized as above, so a dynamic GEMV or GEMM runs the same kernels as a static one.
    For a large weight (k * n at least `min-parallel-work`) the row loops sit inside an
    `scf.forall` over column blocks (one OpenMP fork per contraction) and a loop over k cache
    blocks (each weight block is loaded once for all rows). Contractions with a dynamic k or
    n are left to `convert-linalg-to-loops` (scalar loops).

    Other static f32 contractions (a `linalg.generic` with a multiply-accumulate body and
    projected-permutation maps, one reduction loop, n = the result's last dim and m = the one
    before it, each read by one input; static `linalg.matmul` and `linalg.batch_matmul`,
    generalized first) are batched contractions: attention's Q·Kᵀ and P·V on
    [batch, heads, seq, dim] tensors, with an input broadcast over some batch loops (grouped-
    query K and V). The input holding n is transposed once (`linalg.transpose`) when n is not
    its innermost dim, then an `scf.forall` over the batch loops (`scf.for` below
    `min-parallel-work`) holds a 2-D (m, k, n) contraction on rank-reduced slices, tiled and
    vectorized as above with no `scf.forall` of its own.
  }];
  let options = [
    Option<"tileK", "tile-k", "int64_t", /*default=*/"128", "Largest cache block along k (rows of the [in, out] weight)">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"256", "Largest parallel block along n (output columns)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16", "f32 lanes of one SIMD register">,
    Option<"minParallelWork", "min-parallel-work", "int64_t", /*default=*/"262144",
           "Smallest m*k*n that is split across threads">,
    Option<"parallel", "parallel", "bool", /*default=*/"true", "Emit scf.forall over the parallel blocks">,
    Option<"vectorize", "vectorize", "bool", /*default=*/"true", "Register-tile and vectorize">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
}

def SqzCPUOptimizeVectors : Pass<"sqz-cpu-optimize-vectors", "::mlir::func::FuncOp"> {
  let summary = "Keep the accumulators of vectorized register tiles in registers";
  let description = [{
    Runs after bufferization: hoists loop-invariant code and then the read/write pairs of
    each register tile's accumulator (`vector.transfer_read`/`transfer_write` at the same
    loop-invariant position) out of the k loop, so the loop body is only loads of A and B
    and FMAs.
  }];
  let dependentDialects = ["::mlir::vector::VectorDialect"];
}

def SqzCPULegalizeMemrefs : Pass<"sqz-cpu-legalize-memrefs", "::mlir::func::FuncOp"> {
  let summary = "Rewrite memref ops the LLVM lowering cannot take (strided copies, dynamic expand_shape)";
  let description = [{
    After bufferization, a `memref.copy` whose source or target is not contiguous (a slice of
    a buffer, e.g. one input of a concatenation with a dynamic dim) would lower to a call of
    the `memrefCopy` runtime function, which model.so does not link. This pass rewrites such
    copies into `linalg.copy` (loops after convert-linalg-to-loops). Contiguous copies stay
    `memref.copy` and become `llvm.memcpy`.

    A `memref.expand_shape` with dynamic result dims (from a reshape over a dynamic batch or
    sequence) crashes MLIR 22's `expand-strided-metadata`; when source and result have the
    identity layout it becomes the equivalent `memref.reinterpret_cast` (offset 0, the
    expand's output sizes, row-major strides). Static models are not changed by this part.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::affine::AffineDialect"];
}

def SqzCPUExternalizeWeights : Pass<"sqz-cpu-externalize-weights", "::mlir::ModuleOp"> {
  let summary = "Move large constant weights into the artifact's safetensors file";
  let description = [{
    After bufferization: every constant `memref.global` of at least `min-bytes` bytes that
    only the entry function reads (f32/f16/bf16/f64 or 8/16/32/64-bit integers) is written to
    `weights-file` (safetensors, 64-byte-aligned data section, see lib/Runtime/Safetensors.h)
    and removed from the module. The entry function gets one more argument after its outputs,
    `memref<N x i8> {sqz.name = "__weights__"}` (N: the data section's size), and each read of
    a moved global becomes a `memref.view` of it at the tensor's offset. The module is marked
    `sqz.weights_file`, which makes `sqz-cpu-emit-c-abi` declare ABI version 2. Tensors are
    named after the resource key of their constant (the ONNX initializer, suffixed `.t` when
    the importer transposed it). A global with an `alignment` beyond its element size (the
    microkernels' packed blobs, 64 bytes) is placed at a multiple of it, after a zero padding
    tensor `__sqz_pad__#<i>` where needed. With an empty `weights-file` the pass does nothing.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"", "Entry function">,
    Option<"weightsFile", "weights-file", "std::string", /*default=*/"", "Path of the safetensors file to write (empty: keep weights in the library)">,
    Option<"minBytes", "min-bytes", "int64_t", /*default=*/"1024", "Smallest constant moved to the file">
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect"];
}

def SqzMaterialize : Pass<"sqz-materialize", "::mlir::ModuleOp"> {
  let summary = "Pack the weights of linears into the layouts of the target's microkernels";
  let description = [{
    Target materialization (DESIGN.md, Targets): rewrites linears whose logical weight form
    a microkernel of the target reads into `sqz.packed_linear`, packing the weight at
    compile time with the kernel library (`sqz_uk_can_pack` / `sqz_uk_pack` of
    `lib/Kernels/CPU`, linked into the compiler). Compression passes never know the target;
    this is the one place where the logical codes become a kernel's layout.

    With `target=cpu`, for every linear with f32 input and result:

    | linear | kernel (`formats` name) |
    |---|---|
    | `sqz.quant_linear` int8 | `int8` |
    | `sqz.quant_linear` int4 | `int4` |
    | `sqz.quant_linear` nf4 | `nf4` |
    | `sqz.quant_linear` ternary | `ternary2` (2 bits per weight), else `ternary16` (1.6 bits) |
    | `sqz.sparse_linear` 2:4, f32 values | `sp24_f32` |
    | `sqz.sparse_linear` 2:4 with `quant` (int4 values) | `sp24_int4` |
    | dense f32 `sqz.linear` whose out features padded to a multiple of 64 grow ≤ 1/8 | `f32` |

    By default every kernel but `ternary16` is used (the dense f32 kernel too: it beats the
    generated contractions, docs/Codegen.md). A linear is rewritten when its kernel is in
    `formats` and `sqz_uk_can_pack` accepts the weight (group size, shape...). A quantized or
    sparse linear that stays (a format without a kernel such as int3/int2, 4:8 sparsity, a
    layout the packer refuses, an f16 input...), and an `sqz.outlier_linear`, keep the
    run-time dequantization path of `convert-sqz-to-linalg` with a remark saying why; a dense
    linear that stays gets none. The blob (`<weight blob>.<kernel>`, rounded up to a multiple
    of 64 bytes) replaces the logical constants, which are erased when nothing else reads
    them. `isa` is recorded on each op (`native`: the best level of the host CPU; sqz-compile
    derives it from `--target-cpu`).

    `act` picks the arithmetic of the int8, int4 and nf4 kernels, recorded in each blob
    (`SQZ_UK_FLAG_ACT_INT8`): `f32` dequantizes the weights to fp32 (exact up to fp32
    rounding), `int8` quantizes the activations to int8 per 32 columns and uses integer dot
    products (llama.cpp / onnxruntime accuracy_level 4 style; about 0.4% relative error per
    output; weights whose group the int8 path does not take — not 32, 64, a multiple of the
    format's block or per-channel — or with more than 32768 inputs keep `f32`), `auto` is
    `int8` when the kernels' ISA level is avx512vnni (where it is the faster path,
    docs/performance.md) and `f32` otherwise. The default is `f32`: the end-to-end tests
    compare kernel builds with the dequantizing build at 1e-5.

    With `target=cuda` (and `arch`: `sm_80`, `sm_90` or `sm_90a`) the same logical forms are
    packed for the CUDA kernels (`lib/Kernels/CUDA/CudaKernels.h`, `sqz_cuk_can_pack` /
    `sqz_cuk_pack`) into `sqz.packed_linear`s whose `isa` is `arch`: dense f32 → `f16`
    (fp16 weights on the tensor cores), int8 → `int8`, int4 → `int4`, nf4 → `nf4`, ternary →
    `ternary2`, 2:4 f32 → `sp24_f16`, 2:4 int4 → `sp24_int4` (`formats` takes these names).
    What `sqz_cuk_can_pack` refuses (a group the kernels do not take, weights out of the fp16
    range, ...) stays on the generic path with a remark naming the reason. Blobs are rounded
    up to 256 bytes and aligned to 256 (`sqz-cuda-lower-kernels` launches the kernels).
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "Target whose kernels read the packed weights: cpu or cuda">,
    Option<"arch", "arch", "std::string", /*default=*/"\"sm_80\"",
           "GPU architecture of target cuda: sm_80, sm_90 or sm_90a">,
    ListOption<"formats", "formats", "std::string",
           "Kernels to use (comma-separated): int8, int4, nf4, ternary2, ternary16, sp24_f32, "
           "sp24_int4, f32 (default: all but ternary16)">,
    Option<"isaName", "isa", "std::string", /*default=*/"\"native\"",
           "Kernel ISA level: generic, avx2, avx512, avx512vnni, or native (the host's best)">,
    Option<"act", "act", "std::string", /*default=*/"\"f32\"",
           "Activations of the int8, int4 and nf4 kernels: f32 (the default: weights "
           "dequantized to fp32, exact up to fp32 rounding), int8 (activations quantized to "
           "int8 per 32 columns, integer dot products; docs/Kernels.md), or auto (int8 where it "
           "is the faster path: isa avx512vnni)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SqzCPULowerUKernels : Pass<"sqz-cpu-lower-ukernels", "::mlir::ModuleOp"> {
  let summary = "Lower sqz.packed_linear to parallel calls of its CPU microkernel";
  let description = [{
    Runs on the tensor IR before `convert-sqz-to-linalg` (which takes every other sqz op).
    Each `sqz.packed_linear` becomes, with the input's leading dims collapsed into M rows:

    ```mlir
    %xb = bufferization.to_buffer %x2 read_only      // [M, K], any row stride
    %w  = memref.get_global @<blob>                   // {alignment = 64}
    %yb = memref.alloc(%M) : memref<?xNxf32>
    scf.parallel (%c) = (0) to (C) step (1) {         // OpenMP, like the contractions
      sqz_uk_<kernel>_<isa>(w, x, M, ldx, bias, y, N, c * S, min(c * S + S, N))
    }
    %y = bufferization.to_tensor %yb restrict writable
    ```

    The call is a `func.call` of an external declaration on `!llvm.ptr`s made from
    `memref.extract_aligned_pointer_as_index` (plus the view's offset). Columns are split
    into C chunks of S = 64·b columns (a multiple of SQZ_UK_N_STEP), b chosen so that C is
    about `chunks` (32 by default): every thread of a team of 2..16 gets work when N has at
    least 16 multiples of 64, and each call still streams long runs of the weight. A call
    whose work (M·K·N, or K·N for a dynamic M) is below `min-parallel-work` (2^20, four times
    the generated contractions' threshold: the kernels do the same work in a fraction of the
    time, and an OpenMP fork must pay for itself), or that has one chunk, is made once with
    the whole range and no parallel loop. The blob becomes a
    private constant `memref.global` aligned to 64 bytes (the kernels' contract), which
    `sqz-cpu-externalize-weights` may move into the weights file at a 64-byte-aligned offset.
    The module is marked `sqz.ukernel_isa = "<isa>"` so the driver can add the ISA's CPU
    features to the manifest; `translateToOptimizedLLVMIR` links that ISA's kernel bitcode.
  }];
  let options = [
    Option<"chunks", "chunks", "int64_t", /*default=*/"32",
           "Target number of column chunks of a parallel kernel call">,
    Option<"minParallelWork", "min-parallel-work", "int64_t", /*default=*/"1048576",
           "Smallest m*k*n (k*n for a dynamic m) that is split across threads">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // SQZ_TARGET_CPU_PASSES_TD
