// Option errors of sqz-prune.
// RUN: not sqz-opt %s --sqz-prune="sparsity=1.0" 2>&1 | FileCheck %s --check-prefix=ONE
// RUN: not sqz-opt %s --sqz-prune="sparsity=-0.1" 2>&1 | FileCheck %s --check-prefix=NEG
// RUN: not sqz-opt %s --sqz-prune="method=obs" 2>&1 | FileCheck %s --check-prefix=METHOD
// RUN: not sqz-opt %s --sqz-prune="granularity=column" 2>&1 | FileCheck %s --check-prefix=GRAN
// RUN: not sqz-opt %s --sqz-prune="method=sparsegpt granularity=layer stats=x" 2>&1 | FileCheck %s --check-prefix=SGPT-GRAN
// RUN: not sqz-opt %s --sqz-prune="method=wanda" 2>&1 | FileCheck %s --check-prefix=WANDA
// RUN: not sqz-opt %s --sqz-prune="method=sparsegpt" 2>&1 | FileCheck %s --check-prefix=SGPT
// RUN: not sqz-opt %s --sqz-prune="method=wanda stats=%t.missing" 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not sqz-opt %s --sqz-prune="targets=layers.(" 2>&1 | FileCheck %s --check-prefix=REGEX
// RUN: not sqz-opt %s --sqz-prune="ignore=[z-a]" 2>&1 | FileCheck %s --check-prefix=REGEX-IGNORE
// RUN: not sqz-opt %s --sqz-prune="method=sparsegpt block-size=0 stats=x" 2>&1 | FileCheck %s --check-prefix=BLOCK

// ONE: error: sqz-prune: sparsity must be in [0, 1), got 1
// NEG: error: sqz-prune: sparsity must be in [0, 1), got -1.000000e-01
// METHOD: error: sqz-prune: unknown method 'obs' (expected magnitude, wanda or sparsegpt)
// GRAN: error: sqz-prune: unknown granularity 'column' (expected row or layer)
// SGPT-GRAN: error: sqz-prune: granularity does not apply to sparsegpt: its mask is chosen per block of block-size columns over all rows
// WANDA: error: sqz-prune: method 'wanda' needs calibration statistics (stats=<file>, L/sumsq per layer)
// SGPT: error: sqz-prune: method 'sparsegpt' needs calibration statistics (stats=<file>, L/xtx per layer)
// NOFILE: error: sqz-prune: cannot read calibration statistics '{{.*}}.missing': weights file '{{.*}}.missing':
// REGEX: error: sqz-prune: invalid regex 'layers.(' in option 'targets':
// REGEX-IGNORE: error: sqz-prune: invalid regex '[z-a]' in option 'ignore':
// BLOCK: error: sqz-prune: block-size must be positive and damp non-negative, got 0 and 1.000000e-02

func.func @block(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %wq = arith.constant dense<[[1.0, -4.0, 2.0, 3.0], [0.5, 0.25, -8.0, 1.0]]> : tensor<2x4xf32>
  %q = sqz.linear %x, %wq : tensor<3x4xf32>, tensor<2x4xf32> -> tensor<3x2xf32> loc("layers.0/q")
  return %q : tensor<3x2xf32>
}
