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

#endif // SQZ_TARGET_CPU_PASSES_TD
