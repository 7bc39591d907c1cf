// RUN: rm -rf %t && mkdir -p %t
// RUN: not sqz-compile %s --target cuda:sm_70 -o %t/bad 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not sqz-compile %s --target gpu -o %t/bad 2>&1 | FileCheck %s --check-prefix=BAD2
// RUN: not test -e %t/bad
// A dynamic dim: an ABI 3 artifact (sizes read on the host, kernels over them).
// RUN: sqz-compile %S/Inputs/dynamic.mlir --target cuda:sm_80 -o %t/dyn
// RUN: FileCheck %s --check-prefix=DYN < %t/dyn/manifest.json

// BAD: sqz-compile: error: unknown target 'cuda:sm_70' (expected cpu or cuda:<arch> with <arch> one of sm_80, sm_90, sm_90a, e.g. cuda:sm_80)
// BAD2: sqz-compile: error: unknown target 'gpu' (expected cpu or cuda:<arch>
// DYN: "abi_version": 3,
// DYN: "device": "cuda",

func.func @main(%x: tensor<2x16xf32> {sqz.name = "x"}) -> (tensor<2x16xf32> {sqz.name = "y"}) {
  %e = math.exp %x : tensor<2x16xf32>
  return %e : tensor<2x16xf32>
}
