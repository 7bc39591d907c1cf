//===- Passes.td - CPU target passes ----------------------*- tablegen -*-===//
//
// Passes of the CPU target: the C ABI of a compiled model.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CPU_PASSES_TD
#define SQZ_TARGET_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def SqzCPUPrepareEntry : Pass<"sqz-cpu-prepare-entry", "::mlir::ModuleOp"> {
  let summary = "Mark the entry function's inputs read-only before bufferization";
  let description = [{
    The C ABI hands the model caller-owned input buffers that it must not write. This pass
    sets `bufferization.writable = false` on every argument of the entry function so that
    One-Shot Bufferize copies instead of updating an input in place. It also checks that the
    entry function exists and has only statically shaped tensor arguments and results.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "Name of the entry function">
  ];
}

def SqzCPUEmitCABI : Pass<"sqz-cpu-emit-c-abi", "::mlir::ModuleOp"> {
  let summary = "Add the artifact's C ABI (v1) entry points to an LLVM-dialect module";
  let description = [{
    Runs after the entry function was lowered to the LLVM dialect with the bare-pointer
    calling convention (one `!llvm.ptr` per input, then one per output out-parameter). Adds

    ```c
    uint32_t sqz_abi_version(void);        // returns 1
    void sqz_model_invoke(void **buffers); // inputs, then outputs, manifest order
    ```

    and gives the entry function internal linkage so it is inlined into the wrapper and does
    not leak into the shared library's symbol table.
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
  let summary = "Cache-block (m, k, n) contractions for the CPU";
  let description = [{
    Tiles every `linalg.generic` whose loops are (parallel m, reduction k, parallel n) — the
    form `convert-sqz-to-linalg{transpose-weights}` produces — into blocks of `tile-k` × `tile-n`
    of the [in, out] weight, with the n-block loop outermost. Each weight block is then reused
    from cache by every row m, and each output block is finished before the next starts. The
    innermost loop stays the contiguous n loop, which LLVM vectorizes.

    ```mlir
    %y = linalg.generic {iterator_types = ["parallel", "reduction", "parallel"], ...}
           ins(%x, %wt : tensor<128x4096xf32>, tensor<4096x4096xf32>) ...
    ```
    becomes `scf.for %n` (step tile-n) { `scf.for %k` (step tile-k) { the same generic on
    `tensor.extract_slice`s } }.
  }];
  let options = [
    Option<"tileK", "tile-k", "int64_t", /*default=*/"128", "Block size along k (rows of the [in, out] weight)">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"256", "Block size along n (output columns)">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect"];
}

#endif // SQZ_TARGET_CPU_PASSES_TD
