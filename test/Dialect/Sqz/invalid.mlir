// RUN: sqz-opt %s --split-input-file --verify-diagnostics

func.func @weight_not_constant(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'sqz.linear' op weight must be produced by a constant op (e.g. arith.constant), not a runtime value}}
  %y = sqz.linear %x, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @in_mismatch(%x: tensor<4x15xf32>) -> tensor<4x8xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  // expected-error @+1 {{'sqz.linear' op input feature size 15 does not match weight [out=8, in=16]}}
  %y = sqz.linear %x, %w : tensor<4x15xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @weight_rank(%x: tensor<4x16xf32>) -> tensor<4x8xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16x1xf32>
  // expected-error @+1 {{'sqz.linear' op weight must be a static 2-D tensor [out, in], got 'tensor<8x16x1xf32>'}}
  %y = sqz.linear %x, %w : tensor<4x16xf32>, tensor<8x16x1xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @bias_shape(%x: tensor<4x16xf32>) -> tensor<4x8xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  %b = arith.constant dense<1.0> : tensor<7xf32>
  // expected-error @+1 {{'sqz.linear' op bias must be a 1-D tensor of 8 elements, got 'tensor<7xf32>'}}
  %y = sqz.linear %x, %w, %b : tensor<4x16xf32>, tensor<8x16xf32>, tensor<7xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @bias_type(%x: tensor<4x16xf32>) -> tensor<4x8xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  %b = arith.constant dense<1.0> : tensor<8xf16>
  // expected-error @+1 {{'sqz.linear' op bias element type 'f16' differs from weight element type 'f32'}}
  %y = sqz.linear %x, %w, %b : tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf16> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @elt_mismatch(%x: tensor<4x16xf16>) -> tensor<4x8xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  // expected-error @+1 {{'sqz.linear' op input, weight and result must share one element type, got 'f16', 'f32', 'f32'}}
  %y = sqz.linear %x, %w : tensor<4x16xf16>, tensor<8x16xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @int_weight(%x: tensor<4x16xi8>) -> tensor<4x8xi8> {
  %w = arith.constant dense<1> : tensor<8x16xi8>
  // expected-error @+1 {{'sqz.linear' op weight element type must be a float type, got 'i8'}}
  %y = sqz.linear %x, %w : tensor<4x16xi8>, tensor<8x16xi8> -> tensor<4x8xi8>
  return %y : tensor<4x8xi8>
}

// -----

func.func @result_last_dim(%x: tensor<4x16xf32>) -> tensor<4x9xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  // expected-error @+1 {{'sqz.linear' op result last dim must be out=8, got 9}}
  %y = sqz.linear %x, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x9xf32>
  return %y : tensor<4x9xf32>
}

// -----

func.func @result_lead_dim(%x: tensor<4x16xf32>) -> tensor<5x8xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  // expected-error @+1 {{'sqz.linear' op result dim 0 (5) differs from input dim (4)}}
  %y = sqz.linear %x, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<5x8xf32>
  return %y : tensor<5x8xf32>
}

// -----

func.func @result_rank(%x: tensor<4x16xf32>) -> tensor<1x4x8xf32> {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  // expected-error @+1 {{'sqz.linear' op result rank 3 differs from input rank 2}}
  %y = sqz.linear %x, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<1x4x8xf32>
  return %y : tensor<1x4x8xf32>
}

// -----

func.func @sparsity_violated(%x: tensor<4xf32>) -> tensor<2xf32> {
  %w = arith.constant dense<[[1.0, 5.0, 2.0, 0.0], [0.0, 3.0, 0.0, 4.0]]> : tensor<2x4xf32>
  // expected-error @+1 {{'sqz.linear' op weight row 0 has 3 nonzeros in input columns [0, 4), which violates sparsity 2:4}}
  %y = sqz.linear %x, %w {sparsity = #sqz.sparsity<2:4>} : tensor<4xf32>, tensor<2x4xf32> -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

func.func @sparsity_indivisible(%x: tensor<6xf32>) -> tensor<1xf32> {
  %w = arith.constant dense<0.0> : tensor<1x6xf32>
  // expected-error @+1 {{'sqz.linear' op sparsity 2:4 needs the input features (6) to be a multiple of 4}}
  %y = sqz.linear %x, %w {sparsity = #sqz.sparsity<2:4>} : tensor<6xf32>, tensor<1x6xf32> -> tensor<1xf32>
  return %y : tensor<1xf32>
}

// -----

func.func @sparsity_splat(%x: tensor<4xf32>) -> tensor<1xf32> {
  %w = arith.constant dense<1.0> : tensor<1x4xf32>
  // expected-error @+1 {{'sqz.linear' op weight row 0 has 4 nonzeros in input columns [0, 4), which violates sparsity 2:4}}
  %y = sqz.linear %x, %w {sparsity = #sqz.sparsity<2:4>} : tensor<4xf32>, tensor<1x4xf32> -> tensor<1xf32>
  return %y : tensor<1xf32>
}

// -----

func.func @observe_int(%x: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{'sqz.observe' op can only observe float tensors, got 'tensor<4xi32>'}}
  %t = sqz.observe %x tap "t" stats [sumsq] : tensor<4xi32>
  return %t : tensor<4xi32>
}

// -----

func.func @observe_scalar(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{'sqz.observe' op observed tensor must have rank >= 1 (the last dimension is the channel dimension)}}
  %t = sqz.observe %x tap "t" stats [sumsq] : tensor<f32>
  return %t : tensor<f32>
}

// -----

func.func @observe_empty_tap(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'sqz.observe' op tap name must not be empty}}
  %t = sqz.observe %x tap "" stats [sumsq] : tensor<4xf32>
  return %t : tensor<4xf32>
}

// -----

func.func @observe_xtx_dynamic(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
  // expected-error @+1 {{'sqz.observe' op xtx needs a static channel dimension}}
  %t = sqz.observe %x tap "t" stats [xtx] : tensor<4x?xf32>
  return %t : tensor<4x?xf32>
}

// -----

func.func @quant_code_range(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<16> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.quant_linear' op code 16 is out of range for int4 (at most 15)}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @quant_ternary_range(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<3> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.quant_linear' op code 3 is out of range for ternary (at most 2)}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = ternary, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @quant_scales_shape(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<1> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.quant_linear' op scales must be tensor<2x2xf32> (one per row and group), got 'tensor<2x1xf32>'}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 4, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @quant_symmetric_zeros(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<1> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %z = arith.constant dense<8> : tensor<2x1xi8>
  // expected-error @+1 {{'sqz.quant_linear' op a symmetric scheme has no zero points}}
  %y = sqz.quant_linear %x, %c, %s zeros %z {quant = #sqz.quant<format = int4, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<2x1xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @quant_codes_not_constant(%x: tensor<4x8xf32>, %c: tensor<2x8xi8>) -> tensor<4x2xf32> {
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.quant_linear' op codes, scales and zeros must be produced by constant ops}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @quant_result(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {
  %c = arith.constant dense<1> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.quant_linear' op result last dim must be out=2, got 3}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32> -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}
