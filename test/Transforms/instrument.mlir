// RUN: sqz-opt --sqz-instrument %s | FileCheck %s --check-prefix=DEFAULT
// RUN: sqz-opt --sqz-instrument="targets=mlp stats=sumsq" %s | FileCheck %s --check-prefix=MLP
// RUN: not sqz-opt --sqz-instrument="stats=mean" %s 2>&1 | FileCheck %s --check-prefix=BADSTAT
// RUN: not sqz-opt --sqz-instrument="targets=(" %s 2>&1 | FileCheck %s --check-prefix=BADREGEX

// By default, the linears inside numbered decoder blocks get taps, named after the layer,
// collecting every statistic; the LM head does not.
// DEFAULT-LABEL: func.func @main
// DEFAULT:         %[[T0:.*]] = sqz.observe %arg0 tap "layers.0/attn/q" stats [sumsq, absmax, xtx]
// DEFAULT:         sqz.linear %[[T0]]
// DEFAULT:         %[[T1:.*]] = sqz.observe %{{.*}} tap "layers.0/mlp/up" stats [sumsq, absmax, xtx]
// DEFAULT:         sqz.linear %[[T1]]
// DEFAULT-NOT:     sqz.observe
// DEFAULT:         sqz.linear %{{.*}}, %{{.*}} : tensor<2x8xf32>, tensor<4x8xf32>

// MLP-COUNT-1:     sqz.observe
// MLP:             tap "layers.0/mlp/up" stats [sumsq]

// BADSTAT: unknown statistic 'mean' (valid: sumsq, absmax, xtx)
// BADREGEX: error: {{.*}}targets{{.*}}(

func.func @main(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %wq = arith.constant dense<1.0> : tensor<8x8xf32>
  %wu = arith.constant dense<2.0> : tensor<8x8xf32>
  %wo = arith.constant dense<3.0> : tensor<4x8xf32>
  %q = sqz.linear %x, %wq : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32> loc("layers.0/attn/q")
  %u = sqz.linear %q, %wu : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32> loc("layers.0/mlp/up")
  %o = sqz.linear %u, %wo : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32> loc("output")
  return %o : tensor<2x4xf32>
}
