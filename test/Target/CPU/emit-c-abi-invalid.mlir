// RUN: sqz-opt %s --split-input-file --sqz-cpu-emit-c-abi --verify-diagnostics

// expected-error @+1 {{entry function 'main' was not lowered to the LLVM dialect}}
module {
  func.func @main() {
    return
  }
}

// -----

module {
  // expected-error @+1 {{entry function must take only bare pointers and return nothing}}
  llvm.func @main(%a: !llvm.ptr) -> !llvm.ptr {
    llvm.return %a : !llvm.ptr
  }
}

// -----

// expected-error @+1 {{module already defines the C ABI symbols}}
module {
  llvm.func @main(%a: !llvm.ptr) {
    llvm.return
  }
  llvm.func @sqz_model_invoke(%a: !llvm.ptr) {
    llvm.return
  }
}
