// Option and layer errors of sqz-sparsify-nm.
// RUN: not sqz-opt %s --sqz-sparsify-nm="n=4 m=4" 2>&1 | FileCheck %s --check-prefix=NM
// RUN: not sqz-opt %s --sqz-sparsify-nm="n=0 m=4" 2>&1 | FileCheck %s --check-prefix=N0
// RUN: not sqz-opt %s --sqz-sparsify-nm="n=2 m=128" 2>&1 | FileCheck %s --check-prefix=M128
// RUN: not sqz-opt %s --sqz-sparsify-nm="method=random" 2>&1 | FileCheck %s --check-prefix=METHOD
// RUN: not sqz-opt %s --sqz-sparsify-nm="tail=drop" 2>&1 | FileCheck %s --check-prefix=TAILPOL
// RUN: not sqz-opt %s --sqz-sparsify-nm="n=1 m=3 method=sparsegpt stats=x" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not sqz-opt %s --sqz-sparsify-nm="method=wanda" 2>&1 | FileCheck %s --check-prefix=STATS
// RUN: not sqz-opt %s --sqz-sparsify-nm="targets=(?<x" 2>&1 | FileCheck %s --check-prefix=REGEX
// m not dividing the input dimension, with the default tail=error:
// RUN: not sqz-opt %s --sqz-sparsify-nm 2>&1 | FileCheck %s --check-prefix=TAIL
// RUN: not sqz-opt %s --sqz-sparsify-nm="n=4 m=8 targets=w2" 2>&1 | FileCheck %s --check-prefix=TAIL48
// A selected layer missing from the statistics:
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calib_stats.py %t/s.safetensors --diag layers.0/q=1,1,1,1,1,1,1,1
// RUN: not sqz-opt %s --sqz-sparsify-nm="method=sparsegpt stats=%t/s.safetensors tail=dense" 2>&1 | FileCheck %s --check-prefix=MISSING

// NM: error: sqz-sparsify-nm: n:m needs 1 <= n < m <= 64, got 4:4
// N0: error: sqz-sparsify-nm: n:m needs 1 <= n < m <= 64, got 0:4
// M128: error: sqz-sparsify-nm: n:m needs 1 <= n < m <= 64, got 2:128
// METHOD: error: sqz-sparsify-nm: unknown method 'random' (expected magnitude, wanda or sparsegpt)
// TAILPOL: error: sqz-sparsify-nm: unknown tail policy 'drop' (expected error or dense)
// BLOCK: error: sqz-sparsify-nm: block-size must be a positive multiple of m = 3, got 128
// STATS: error: sqz-sparsify-nm: method 'wanda' needs calibration statistics (stats=<file>, L/sumsq per layer)
// REGEX: error: sqz-sparsify-nm: invalid regex '(?<x' in option 'targets':
// TAIL: error: {{.*}}layer 'layers.0/w2': 6 input columns do not split into groups of 4 (the last group has 2); use tail=dense or exclude the layer (ignore=...)
// TAIL48: error: {{.*}}layer 'layers.0/w2': 6 input columns do not split into groups of 8 (the last group has 6); use tail=dense or exclude the layer (ignore=...)
// MISSING: error: {{.*}}layer 'layers.0/w2' has no statistics in '{{.*}}s.safetensors' (no 'layers.0/w2/tokens')

func.func @block(%x: tensor<3x8xf32>, %x6: tensor<3x6xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>) {
  %wq = arith.constant dense<[[1.0, -4.0, 2.0, 3.0, 0.5, 0.25, -8.0, 1.0], [5.0, 6.0, -7.0, 8.0, 0.1, 0.2, 0.3, -0.4]]> : tensor<2x8xf32>
  %q = sqz.linear %x, %wq : tensor<3x8xf32>, tensor<2x8xf32> -> tensor<3x2xf32> loc("layers.0/q")
  %w2 = arith.constant dense<[[1.0, -4.0, 2.0, 3.0, 0.5, 0.25], [5.0, 6.0, -7.0, 8.0, 0.1, 0.2]]> : tensor<2x6xf32>
  %d = sqz.linear %x6, %w2 : tensor<3x6xf32>, tensor<2x6xf32> -> tensor<3x2xf32> loc("layers.0/w2")
  return %q, %d : tensor<3x2xf32>, tensor<3x2xf32>
}
