// RUN: sqz-opt %s --allow-unregistered-dialect --split-input-file --verify-diagnostics

// expected-error @+1 {{#sqz.quant group must be positive or -1 (one group per output channel), got 0}}
"test.scheme"() {a = #sqz.quant<format = int4, group = 0, symmetric = true>} : () -> ()

// -----

// expected-error @+1 {{#sqz.quant group must be a power of two, got 48}}
"test.scheme"() {a = #sqz.quant<format = int4, group = 48, symmetric = true>} : () -> ()

// -----

// expected-error @+1 {{#sqz.quant format 'nf4' is symmetric by definition}}
"test.scheme"() {a = #sqz.quant<format = nf4, group = 64, symmetric = false>} : () -> ()

// -----

// expected-error @+1 {{#sqz.sparsity needs 1 <= n < m, got 4:4}}
"test.scheme"() {a = #sqz.sparsity<4:4>} : () -> ()

// -----

// expected-error @+1 {{#sqz.sparsity group size m must be in [2, 64], got 1}}
"test.scheme"() {a = #sqz.sparsity<0:1>} : () -> ()

// -----

// expected-error @+2 {{expected ::mlir::sqz::QuantFormat to be one of: int8, int4, int3, int2, nf4, ternary}}
// expected-error @+1 {{failed to parse Sqz_QuantAttr parameter 'format'}}
"test.scheme"() {a = #sqz.quant<format = int5, group = 32, symmetric = true>} : () -> ()
