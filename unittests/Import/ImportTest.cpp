//===- ImportTest.cpp - Unit tests of the ONNX importer --------------------===//
//
// The parts of the importer that are easiest to pin down outside lit: --input-shape parsing,
// numpy broadcasting, HostTensor (TensorProto decoding, f16 rounding, N-D transposes), and
// whole imports of in-memory models, including how many diagnostics a bad model produces.
//
//===----------------------------------------------------------------------===//

#include "GraphImporter.h"
#include "ImportBuilders.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Import/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::sqz;
using namespace mlir::sqz::import;

namespace {

TEST(InputShape, ParsesNamesAndDims) {
  OnnxImportOptions options;
  std::string error;
  ASSERT_TRUE(parseOnnxInputShape("input_ids=1x128", options, error)) << error;
  ASSERT_TRUE(parseOnnxInputShape("a=b=2,3", options, error)) << error; // last '=' splits
  ASSERT_TRUE(parseOnnxInputShape("scalar=", options, error)) << error;
  ASSERT_EQ(options.inputShapes.size(), 3u);
  EXPECT_EQ(options.inputShapes[0].first, "input_ids");
  EXPECT_EQ(options.inputShapes[0].second, (SmallVector<int64_t>{1, 128}));
  EXPECT_EQ(options.inputShapes[1].first, "a=b");
  EXPECT_EQ(options.inputShapes[1].second, (SmallVector<int64_t>{2, 3}));
  EXPECT_TRUE(options.inputShapes[2].second.empty());
}

TEST(InputShape, RejectsBadSpecs) {
  for (const char *spec : {"x", "=1x2", "x=1xa", "x=1x-2", "x=1xx2"}) {
    OnnxImportOptions options;
    std::string error;
    EXPECT_FALSE(parseOnnxInputShape(spec, options, error)) << spec;
    EXPECT_NE(error.find(spec), std::string::npos) << error;
    EXPECT_TRUE(options.inputShapes.empty());
  }
}

TEST(Broadcast, FollowsNumpy) {
  SmallVector<int64_t> a = {4, 1, 8}, b = {3, 1}, c = {5};
  EXPECT_EQ(*broadcastShapes({a, b}), (SmallVector<int64_t>{4, 3, 8}));
  EXPECT_EQ(*broadcastShapes({a, {}}), a);
  EXPECT_FALSE(broadcastShapes({a, c}).has_value());
}

TEST(HostTensor, DecodesTypedFieldsAndRawData) {
  onnx::TensorProto proto;
  proto.set_name("t");
  proto.set_data_type(onnx::TensorProto::INT32);
  proto.add_dims(2);
  proto.add_int32_data(-7);
  proto.add_int32_data(9);
  std::string error;
  FailureOr<HostTensor> tensor = readTensorProto(proto, error);
  ASSERT_TRUE(succeeded(tensor)) << error;
  EXPECT_EQ(tensor->getInt(0), -7);
  EXPECT_EQ(tensor->getInt(1), 9);

  onnx::TensorProto raw;
  raw.set_name("r");
  raw.set_data_type(onnx::TensorProto::FLOAT);
  raw.add_dims(2);
  float values[2] = {1.5f, -2.0f};
  raw.set_raw_data(std::string(reinterpret_cast<const char *>(values), sizeof(values)));
  tensor = readTensorProto(raw, error);
  ASSERT_TRUE(succeeded(tensor)) << error;
  EXPECT_EQ(tensor->getDouble(1), -2.0);
  EXPECT_EQ(tensor->data.data(), raw.raw_data().data()) << "raw data is used in place";
}

TEST(HostTensor, DecodesNewerDTypes) {
  std::string error;
  // uint32/uint64 live in uint64_data; a uint64 above INT64_MAX keeps its bits.
  onnx::TensorProto wide;
  wide.set_name("u");
  wide.set_data_type(onnx::TensorProto::UINT64);
  wide.add_dims(2);
  wide.add_uint64_data(~uint64_t(0));
  wide.add_uint64_data(5);
  FailureOr<HostTensor> tensor = readTensorProto(wide, error);
  ASSERT_TRUE(succeeded(tensor)) << error;
  EXPECT_EQ(tensor->getInt(0), -1);
  EXPECT_EQ(tensor->getDouble(0), 18446744073709551615.0);
  EXPECT_EQ(tensor->getInt(1), 5);
  wide.set_data_type(onnx::TensorProto::UINT32);
  wide.set_uint64_data(0, 4294967295u);
  tensor = readTensorProto(wide, error);
  ASSERT_TRUE(succeeded(tensor)) << error;
  EXPECT_EQ(tensor->getInt(0), 4294967295);

  // int2: four values per byte, lowest bits first, sign-extended (0b01'11'10'00 = 1, -1, -2, 0).
  onnx::TensorProto int2;
  int2.set_name("i");
  int2.set_data_type(kOnnxInt2);
  int2.add_dims(5);
  int2.set_raw_data(std::string("\x78\x03", 2));
  tensor = readTensorProto(int2, error);
  ASSERT_TRUE(succeeded(tensor)) << error;
  std::vector<int64_t> values;
  for (int64_t i = 0; i < 5; ++i)
    values.push_back(tensor->getInt(i));
  EXPECT_EQ(values, (std::vector<int64_t>{0, -2, -1, 1, -1}));

  // float8e4m3fn bit patterns in int32_data decode to their values; float4e2m1 is packed.
  onnx::TensorProto f8;
  f8.set_name("f");
  f8.set_data_type(kOnnxFloat8E4M3FN);
  f8.add_dims(2);
  f8.add_int32_data(0x38); // 1.0
  f8.add_int32_data(0xFE); // -448
  tensor = readTensorProto(f8, error);
  ASSERT_TRUE(succeeded(tensor)) << error;
  EXPECT_EQ(tensor->getDouble(0), 1.0);
  EXPECT_EQ(tensor->getDouble(1), -448.0);
  onnx::TensorProto f4;
  f4.set_name("g");
  f4.set_data_type(kOnnxFloat4E2M1);
  f4.add_dims(3);
  f4.set_raw_data(std::string("\xF1\x07", 2)); // 0.5, -6, 6
  tensor = readTensorProto(f4, error);
  ASSERT_TRUE(succeeded(tensor)) << error;
  EXPECT_EQ(tensor->getDouble(0), 0.5);
  EXPECT_EQ(tensor->getDouble(1), -6.0);
  EXPECT_EQ(tensor->getDouble(2), 6.0);
}

TEST(HostTensor, RejectsBadTensors) {
  std::string error;
  onnx::TensorProto shortData;
  shortData.set_name("w");
  shortData.set_data_type(onnx::TensorProto::FLOAT);
  shortData.add_dims(3);
  shortData.add_float_data(1.0f);
  EXPECT_TRUE(failed(readTensorProto(shortData, error)));
  EXPECT_EQ(error, "tensor 'w' has 1 values, its shape needs 3");

  onnx::TensorProto complex;
  complex.set_name("b");
  complex.set_data_type(onnx::TensorProto::COMPLEX64);
  EXPECT_TRUE(failed(readTensorProto(complex, error)));
  EXPECT_EQ(error, "unsupported ONNX dtype 'complex64' of tensor 'b'");

  // Packed sub-byte tensors need ceil(n / per-byte) bytes: 5 uint2 values fit in 2.
  onnx::TensorProto shortPacked;
  shortPacked.set_name("p");
  shortPacked.set_data_type(kOnnxUInt2);
  shortPacked.add_dims(5);
  shortPacked.set_raw_data(std::string(1, '\x1b'));
  EXPECT_TRUE(failed(readTensorProto(shortPacked, error)));
  EXPECT_EQ(error, "tensor 'p' has 1 packed uint2 bytes, its shape needs 2");

  onnx::TensorProto external;
  external.set_name("e");
  external.set_data_type(onnx::TensorProto::FLOAT);
  external.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_TRUE(failed(readTensorProto(external, error)));
  EXPECT_NE(error.find("external data is not supported yet"), std::string::npos);
}

TEST(HostTensor, RoundsToHalf) {
  HostTensor half = HostTensor::allocate("h", onnx::TensorProto::FLOAT16, {2});
  half.setDouble(0, 0.1);
  half.setDouble(1, 65504.0);
  EXPECT_NEAR(half.getDouble(0), 0.1, 1e-4);
  EXPECT_NE(half.getDouble(0), 0.1); // rounded to f16
  EXPECT_EQ(half.getDouble(1), 65504.0);
}

TEST(HostTensor, TransposesAnyRank) {
  // c[2][3][4] = 100 i + 10 j + k; result = c.transpose(2, 0, 1), shape [4, 2, 3].
  HostTensor c = HostTensor::allocate("c", onnx::TensorProto::INT64, {2, 3, 4});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k)
        c.setInt((i * 3 + j) * 4 + k, 100 * i + 10 * j + k);
  HostTensor t = transposeHostTensor(c, {2, 0, 1});
  ASSERT_EQ(t.shape, (SmallVector<int64_t>{4, 2, 3}));
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        EXPECT_EQ(t.getInt((k * 2 + i) * 3 + j), 100 * i + 10 * j + k);
}

/// Imports `text` as a textual model, collecting the error messages.
OwningOpRef<ModuleOp> importText(MLIRContext &context, StringRef text,
                                 std::vector<std::string> &errors,
                                 const OnnxImportOptions &options = {}) {
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error)
      errors.push_back(diag.str());
    return success();
  });
  std::unique_ptr<llvm::MemoryBuffer> buffer =
      llvm::MemoryBuffer::getMemBuffer(text, "model.onnxtxt");
  return importOnnx(*buffer, &context, options);
}

TEST(Import, BuildsLinearFromMatMul) {
  MLIRContext context;
  std::vector<std::string> errors;
  OwningOpRef<ModuleOp> module = importText(context, R"(
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[N,3] x) => (float[N,2] y)
    <float[3,2] w = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}>
    { y = MatMul(x, w) }
  )",
                                            errors, [] {
                                              OnnxImportOptions options;
                                              options.inputShapes.push_back({"x", {5, 3}});
                                              return options;
                                            }());
  ASSERT_TRUE(module) << (errors.empty() ? "" : errors.front());
  auto func = module->lookupSymbol<func::FuncOp>("main");
  ASSERT_TRUE(func);
  EXPECT_EQ(func.getArgAttrOfType<StringAttr>(0, kOnnxNameAttr).getValue(), "x");
  EXPECT_EQ(func.getResultAttrOfType<StringAttr>(0, kOnnxNameAttr).getValue(), "y");
  int linears = 0;
  func.walk([&](sqz::LinearOp op) {
    ++linears;
    EXPECT_EQ(op.getOutFeatures(), 2);
    EXPECT_EQ(op.getInFeatures(), 3);
    EXPECT_EQ(cast<RankedTensorType>(op.getResult().getType()).getShape(),
              (ArrayRef<int64_t>{5, 2}));
  });
  EXPECT_EQ(linears, 1);
}

TEST(Import, ReportsEveryDistinctProblemOnce) {
  MLIRContext context;
  std::vector<std::string> errors;
  OwningOpRef<ModuleOp> module = importText(context, R"(
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[4] x) => (float[4] y)
    {
      a = StringNormalizer(x)
      b = StringNormalizer(x)
      c = TfIdfVectorizer(x)
      y = Relu(x)
    }
  )",
                                            errors);
  EXPECT_FALSE(module);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "unsupported ONNX op 'StringNormalizer' (domain '', opset 17) at node "
                       "'StringNormalizer_0' (and 1 more node)");
  EXPECT_EQ(errors[1], "unsupported ONNX op 'TfIdfVectorizer' (domain '', opset 17) at node "
                       "'TfIdfVectorizer_2'");
}

TEST(Import, NeverThrowsOnGarbage) {
  MLIRContext context;
  for (StringRef text : {StringRef("<"), StringRef("<ir_version: -"), StringRef("<ir_version: 8>"),
                         StringRef("<ir_version: 8, opset_import: [\"\" : 17]> g (float[2] x) => "
                                   "(float[2] y) { y = Reshape(x, x) }")}) {
    std::vector<std::string> errors;
    EXPECT_FALSE(importText(context, text, errors)) << text.str();
    EXPECT_FALSE(errors.empty()) << text.str();
  }
}

} // namespace
