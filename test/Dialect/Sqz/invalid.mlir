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
  %y = sqz.quant_linear %x, %c, %s zeros %z {quant = #sqz.quant<format = int4, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32> zeros tensor<2x1xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @quant_codes_not_constant(%x: tensor<4x8xf32>, %c: tensor<2x8xi8>) -> tensor<4x2xf32> {
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.quant_linear' op codes must be produced by a constant op}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @quant_scales_not_constant(%x: tensor<4x8xf32>, %s: tensor<2x1xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<3> : tensor<2x8xi8>
  // expected-error @+1 {{'sqz.quant_linear' op scales and zeros must be produced by constant ops}}
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

// -----

func.func @outlier_columns_order(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<128> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %i = arith.constant dense<[5, 1]> : tensor<2xi64>
  %f = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{'sqz.outlier_linear' op outlier_columns must be strictly increasing and in [0, 8), got 1 at position 1}}
  %y = sqz.outlier_linear %x, %c, %s, %i, %f {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<2xi64>, tensor<2x2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @outlier_column_range(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<128> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %i = arith.constant dense<[8]> : tensor<1xi64>
  %f = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.outlier_linear' op outlier_columns must be strictly increasing and in [0, 8), got 8 at position 0}}
  %y = sqz.outlier_linear %x, %c, %s, %i, %f {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<1xi64>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @outlier_code_not_zero(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<127> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %i = arith.constant dense<[3]> : tensor<1xi64>
  %f = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.outlier_linear' op the code of outlier column 3 in row 0 must be the zero point 128, got 127}}
  %y = sqz.outlier_linear %x, %c, %s, %i, %f {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<1xi64>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @outlier_weights_shape(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<128> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %i = arith.constant dense<[3, 4]> : tensor<2xi64>
  %f = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.outlier_linear' op outlier_weights must be 'tensor<2x2xf32>' ([out, outlier columns] of the input's element type), got 'tensor<2x1xf32>'}}
  %y = sqz.outlier_linear %x, %c, %s, %i, %f {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<2xi64>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @outlier_none(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<128> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %i = arith.constant dense<0> : tensor<0xi64>
  %f = arith.constant dense<1.0> : tensor<2x0xf32>
  // expected-error @+1 {{'sqz.outlier_linear' op needs between 1 and 8 outlier columns, got 0 (without outliers the layer is an sqz.quant_linear)}}
  %y = sqz.outlier_linear %x, %c, %s, %i, %f {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<0xi64>, tensor<2x0xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @outlier_asymmetric(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<128> : tensor<2x8xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %i = arith.constant dense<[3]> : tensor<1xi64>
  %f = arith.constant dense<1.0> : tensor<2x1xf32>
  // expected-error @+1 {{'sqz.outlier_linear' op the quantized part must use a symmetric integer format (int8, int4, int3, int2), got #sqz.quant<format = nf4, group = -1, symmetric = true>}}
  %y = sqz.outlier_linear %x, %c, %s, %i, %f {quant = #sqz.quant<format = nf4, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<1xi64>, tensor<2x1xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @sparse_quant_group(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<8> : tensor<2x8xi8>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<1.0> : tensor<2x8xf32>
  // expected-error @+1 {{'sqz.sparse_linear' op the quantization group (2 dense columns) must be a multiple of m = 4}}
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 2, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x8xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @sparse_quant_scales_shape(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<8> : tensor<2x8xi8>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<1.0> : tensor<2x4xf32>
  // expected-error @+1 {{'sqz.sparse_linear' op scales must be tensor<2x2xf32> (one per row and group), got 'tensor<2x4xf32>'}}
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x4xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @sparse_quant_code_range(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<16> : tensor<2x8xi8>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{'sqz.sparse_linear' op code 16 is out of range for int4 (at most 15)}}
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @sparse_quant_float_values(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<1.0> : tensor<2x8xf32>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{'sqz.sparse_linear' op quantized values must be i8 codes, got 'tensor<2x8xf32>'}}
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xf32>, tensor<2x2xi8> scales tensor<2x2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @sparse_scales_without_quant(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<1.0> : tensor<2x8xf32>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{'sqz.sparse_linear' op scales and zeros need a quant attribute (quantized values)}}
  %y = sqz.sparse_linear %x, %v, %i scales %s {sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xf32>, tensor<2x2xi8> scales tensor<2x2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @sparse_quant_missing_zeros(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<1> : tensor<2x8xi8>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{'sqz.sparse_linear' op an asymmetric scheme needs zero points}}
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 8, symmetric = false>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_unknown_kernel(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 81, 90, 75, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op unknown CPU kernel 'int5' (expected f32, int8, int4, nf4, ternary2, ternary16, sp24_f32, sp24_int4)}}
  %y = sqz.packed_linear %x, %w {kernel = "int5", isa = "avx512"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_unknown_isa(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 81, 90, 75, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op unknown isa 'avx9' (expected generic, avx2, avx512 or avx512vnni for the CPU, sm_80, sm_90 or sm_90a for CUDA)}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx9"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_f16_input(%x: tensor<4x8xf16>) -> tensor<4x2xf16> {
  %w = arith.constant dense<[83, 81, 90, 75, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op input and result must be f32 (the kernels' activations), got 'f16' and 'f16'}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx512"} : tensor<4x8xf16>, tensor<64xi8> -> tensor<4x2xf16>
  return %y : tensor<4x2xf16>
}

// -----

func.func @packed_short_blob(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<0> : tensor<32xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob of 32 bytes cannot hold the 64-byte header}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx512"} : tensor<4x8xf32>, tensor<32xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_bad_magic(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[0, 0, 0, 0, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob is not a packed weight of the CPU kernel ABI version 1 (magic 0x0, expected 0x4B5A5153, version 1)}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx512"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_format_mismatch(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 81, 90, 75, 1, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob holds format 2 but kernel 'int4' reads format 3}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx512"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_k_mismatch(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 81, 90, 75, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob packs a weight [N=2, K=16] but the op has out=2, in=8}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx512"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_offset_outside(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 81, 90, 75, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, -56, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob payload offset 200 is outside its 64 bytes}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx512"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_blob_not_constant(%x: tensor<4x8xf32>, %w: tensor<64xi8>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'sqz.packed_linear' op blob must be produced by a constant op}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx512"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_cuda_unknown_kernel(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 90, 81, 67, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op unknown CUDA kernel 'ternary16' (expected f16, int8, int4, nf4, ternary2, sp24_f16, sp24_int4)}}
  %y = sqz.packed_linear %x, %w {kernel = "ternary16", isa = "sm_80"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_cuda_unknown_arch(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 90, 81, 67, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op unknown isa 'sm_75' (expected generic, avx2, avx512 or avx512vnni for the CPU, sm_80, sm_90 or sm_90a for CUDA)}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "sm_75"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_cuda_cpu_blob(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 81, 90, 75, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob is not a packed weight of the CUDA kernel ABI version 1 (magic 0x4B5A5153, expected 0x43515A53, version 1)}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "sm_90"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_cpu_cuda_blob(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 90, 81, 67, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob is not a packed weight of the CPU kernel ABI version 1 (magic 0x43515A53, expected 0x4B5A5153, version 1)}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "avx2"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @packed_cuda_format_mismatch(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[83, 90, 81, 67, 1, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  // expected-error @+1 {{'sqz.packed_linear' op blob holds format 2 but kernel 'int4' reads format 3}}
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "sm_90a"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
