// RUN: sqz-opt %s --split-input-file --verify-diagnostics

func.func @repeated_index(%x: tensor<3x4xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  // Nibble 0x5 = indices {1, 1}: never valid.
  %i = arith.constant dense<[[5]]> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op indices of row 0, group 0 must be strictly increasing and below 4, got 1 after 1}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x4xf32>, tensor<1x2xf32>, tensor<1x1xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @decreasing(%x: tensor<3x8xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<[[1.0, 2.0, 3.0, 4.0]]> : tensor<1x4xf32>
  // Group 0 is 0x4 = {0, 1}; group 1 is 0x2 = {2, 0}.
  %i = arith.constant dense<[[36]]> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op indices of row 0, group 1 must be strictly increasing and below 4, got 0 after 2}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<1x4xf32>, tensor<1x1xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @out_of_range(%x: tensor<3x3xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<[[1.0]]> : tensor<1x1xf32>
  // 1:3 has 2-bit indices; 3 is out of range.
  %i = arith.constant dense<[[3]]> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op indices of row 0, group 0 must be strictly increasing and below 3, got 3 after -1}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<1:3>} : tensor<3x3xf32>, tensor<1x1xf32>, tensor<1x1xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @padding(%x: tensor<3x4xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  // 0x94: group 0 = 0x4, but the unused high nibble is not 0.
  %i = arith.constant dense<[[-108]]> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op padding bits of indices row 0 must be 0}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x4xf32>, tensor<1x2xf32>, tensor<1x1xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @values_shape(%x: tensor<3x8xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<1.0> : tensor<1x8xf32>
  %i = arith.constant dense<0> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op values must be [1, 4] for 8 input features at sparsity 2:4 (2 groups of 2 kept values + 0 dense tail columns), got 'tensor<1x8xf32>'}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<1x8xf32>, tensor<1x1xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @indices_shape(%x: tensor<3x8xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<1.0> : tensor<1x4xf32>
  %i = arith.constant dense<0> : tensor<1x2xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op indices must be [1, 1] (2-bit indices of 4 kept values per row), got 'tensor<1x2xi8>'}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<1x4xf32>, tensor<1x2xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @indices_type(%x: tensor<3x8xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<1.0> : tensor<1x4xf32>
  %i = arith.constant dense<0> : tensor<1x1xi16>
  // expected-error @+1 {{'sqz.sparse_linear' op indices must be a static 2-D tensor of i8, got 'tensor<1x1xi16>'}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<1x4xf32>, tensor<1x1xi16> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @dynamic_in(%x: tensor<3x?xf32>) -> tensor<3x1xf32> {
  %v = arith.constant dense<1.0> : tensor<1x4xf32>
  %i = arith.constant dense<0> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op input must have a static last dimension (the dense input features), got 'tensor<3x?xf32>'}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x?xf32>, tensor<1x4xf32>, tensor<1x1xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @values_not_constant(%x: tensor<3x8xf32>, %v: tensor<1x4xf32>) -> tensor<3x1xf32> {
  %i = arith.constant dense<0> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op values must be produced by a constant op}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<1x4xf32>, tensor<1x1xi8> -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

func.func @element_type(%x: tensor<3x8xf16>) -> tensor<3x1xf16> {
  %v = arith.constant dense<1.0> : tensor<1x4xf32>
  %i = arith.constant dense<0> : tensor<1x1xi8>
  // expected-error @+1 {{'sqz.sparse_linear' op input, values and result must share one element type, got 'f16', 'f32', 'f16'}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf16>, tensor<1x4xf32>, tensor<1x1xi8> -> tensor<3x1xf16>
  return %y : tensor<3x1xf16>
}
