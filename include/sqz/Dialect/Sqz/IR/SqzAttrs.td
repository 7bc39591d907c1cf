//===- SqzAttrs.td - Compression scheme attributes --------*- tablegen -*-===//
//
// #sqz.quant<...> describes a weight quantization scheme, #sqz.sparsity<n:m> an n:m sparsity
// pattern. The quantized and n:m-sparse linear forms (Compression I/II) carry them.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_DIALECT_SQZ_IR_SQZATTRS_TD
#define SQZ_DIALECT_SQZ_IR_SQZATTRS_TD

include "sqz/Dialect/Sqz/IR/SqzDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Sqz_QuantFormat : I32EnumAttr<"QuantFormat", "weight quantization format", [
    I32EnumAttrCase<"Int8", 0, "int8">,
    I32EnumAttrCase<"Int4", 1, "int4">,
    I32EnumAttrCase<"Int3", 2, "int3">,
    I32EnumAttrCase<"Int2", 3, "int2">,
    I32EnumAttrCase<"NF4", 4, "nf4">,
    I32EnumAttrCase<"Ternary", 5, "ternary">
  ]> {
  let cppNamespace = "::mlir::sqz";
  let genSpecializedAttr = 0;
}

def Sqz_QuantAttr : AttrDef<Sqz_Dialect, "Quant"> {
  let mnemonic = "quant";
  let summary = "weight quantization scheme";
  let description = [{
    Describes how the weight of a linear is quantized: the code format, the group size along the
    input dimension (`-1` means one group per output channel) and whether codes are symmetric
    (no zero point). NF4 and ternary are symmetric by definition.

    Example: `#sqz.quant<format = int4, group = 32, symmetric = true>`
  }];
  let parameters = (ins
    EnumParameter<Sqz_QuantFormat>:$format,
    "int64_t":$group,
    "bool":$symmetric
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Bits per stored code (ternary is stored in 2-bit codes; denser packings are a layout
    /// choice of the target materialization, not of the scheme).
    unsigned getBits() const;
  }];
}

def Sqz_SparsityAttr : AttrDef<Sqz_Dialect, "Sparsity"> {
  let mnemonic = "sparsity";
  let summary = "n:m structured sparsity pattern";
  let description = [{
    At most `n` nonzeros in every group of `m` consecutive weights along the input (reduction)
    dimension. `#sqz.sparsity<2:4>` is the pattern sparse tensor cores accelerate.
  }];
  let parameters = (ins "int64_t":$n, "int64_t":$m);
  let assemblyFormat = "`<` $n `` `:` `` $m `>`";
  let genVerifyDecl = 1;
}

def Sqz_MoEActivation : I32EnumAttr<"MoEActivation", "expert FFN activation", [
    I32EnumAttrCase<"Identity", 0, "identity">,
    I32EnumAttrCase<"Relu", 1, "relu">,
    I32EnumAttrCase<"Gelu", 2, "gelu">,
    I32EnumAttrCase<"GeluTanh", 3, "gelu_tanh">,
    I32EnumAttrCase<"Silu", 4, "silu">
  ]> {
  let cppNamespace = "::mlir::sqz";
  let genSpecializedAttr = 0;
}

def Sqz_MoEActivationAttr : EnumAttr<Sqz_Dialect, Sqz_MoEActivation, "moe_activation">;

def Sqz_ObserveStat : I32BitEnumAttr<"ObserveStat", "calibration statistics of a tap", [
    I32BitEnumAttrCaseBit<"SumSq", 0, "sumsq">,
    I32BitEnumAttrCaseBit<"AbsMax", 1, "absmax">,
    I32BitEnumAttrCaseBit<"XtX", 2, "xtx">
  ]> {
  let cppNamespace = "::mlir::sqz";
  let genSpecializedAttr = 0;
  let separator = ", ";
}

def Sqz_ObserveStatAttr : EnumAttr<Sqz_Dialect, Sqz_ObserveStat, "stats"> {
  let assemblyFormat = "`[` $value `]`";
}

#endif // SQZ_DIALECT_SQZ_IR_SQZATTRS_TD
