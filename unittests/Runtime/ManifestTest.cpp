//===- ManifestTest.cpp - Tests for manifest.json parsing -----------------===//

#include "Runtime/CpuFeatures.h"
#include "Runtime/Manifest.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

using namespace sqz::runtime;
using namespace sqz::test;

namespace {

const char kExample[] = R"({
  "format": "sqz-artifact",
  "abi_version": 1,
  "library": "model.so",
  "entry": "sqz_model_invoke",
  "source": "mlp.onnx",
  "inputs":  [{"name": "x", "dtype": "float32", "shape": [4, 16]}],
  "outputs": [{"name": "y", "dtype": "float32", "shape": [4, 8]},
              {"name": "count", "dtype": "int64", "shape": []}]
})";

/// kExample with `from` replaced by `to` (which must occur once).
std::string edited(const std::string &from, const std::string &to) {
  std::string text = kExample;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from;
  if (at != std::string::npos)
    text.replace(at, from.size(), to);
  return text;
}

/// Parses `text` as "m.json", expecting an error equal to "m.json: " +
/// `message`.
void expectError(const std::string &text, const std::string &message) {
  Manifest manifest;
  Status s = parseManifest(text, "m.json", manifest);
  ASSERT_FALSE(s.ok()) << "expected: " << message;
  EXPECT_EQ(s.message(), "m.json: " + message);
}

TEST(ManifestTest, ParsesExample) {
  Manifest m;
  Status s = parseManifest(kExample, "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.abiVersion, 1);
  EXPECT_EQ(m.library, "model.so");
  EXPECT_EQ(m.entry, "sqz_model_invoke");
  EXPECT_EQ(m.source, "mlp.onnx");
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0].name, "x");
  EXPECT_EQ(m.inputs[0].dtype, DType::Float32);
  EXPECT_EQ(m.inputs[0].shape, (std::vector<int64_t>{4, 16}));
  EXPECT_EQ(m.inputs[0].numElements, 64u);
  EXPECT_EQ(m.inputs[0].numBytes, 256u);
  ASSERT_EQ(m.outputs.size(), 2u);
  EXPECT_EQ(m.outputs[0].name, "y");
  EXPECT_EQ(m.outputs[0].numBytes, 128u);
  EXPECT_EQ(m.outputs[1].name, "count");
  EXPECT_EQ(m.outputs[1].dtype, DType::Int64);
  EXPECT_TRUE(m.outputs[1].shape.empty());
  EXPECT_EQ(m.outputs[1].numBytes, 8u);
}

TEST(ManifestTest, OptionalAndUnknownKeys) {
  Manifest m;
  // "source" may be absent; keys this runtime does not know are ignored.
  std::string text = edited("\"source\": \"mlp.onnx\",",
                            "\"target\": {\"cpu\": \"x86-64-v3\"},");
  Status s = parseManifest(text, "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.source, "");
  // No inputs at all is fine too (a model of constants).
  s = parseManifest(
      edited(R"([{"name": "x", "dtype": "float32", "shape": [4, 16]}])", "[]"),
      "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(m.inputs.empty());
}

TEST(ManifestTest, EveryDType) {
  for (DType type : kAllDTypes) {
    Manifest m;
    std::string text = edited(R"("dtype": "float32", "shape": [4, 16])",
                              std::string("\"dtype\": \"") + dtypeName(type) +
                                  "\", \"shape\": [3]");
    ASSERT_TRUE(parseManifest(text, "m.json", m).ok()) << dtypeName(type);
    EXPECT_EQ(m.inputs[0].dtype, type);
    EXPECT_EQ(m.inputs[0].numBytes, 3 * dtypeSize(type));
  }
}

TEST(ManifestTest, OnnxDType) {
  // "onnx_dtype" names the ONNX dtype a widened or bit-pattern dtype carries.
  Manifest m;
  std::string text =
      edited(R"("dtype": "float32", "shape": [4, 16])",
             R"("dtype": "int8", "shape": [4], "onnx_dtype": "int4")");
  Status s = parseManifest(text, "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.inputs[0].dtype, DType::Int8);
  EXPECT_EQ(m.inputs[0].onnxDType, "int4");
  EXPECT_EQ(m.outputs[0].onnxDType, "");
  expectError(edited(R"("shape": [4, 16])", R"("shape": [4, 16], "onnx_dtype": 4)"),
              "'inputs[0].onnx_dtype': expected string, got integer");
}

TEST(ManifestTest, JsonErrorsNameFileAndOffset) {
  expectError(edited("\"abi_version\": 1,", "\"abi_version\": 1"),
              "invalid JSON at offset 51 (line 4, column 3): unexpected "
              "'\"', expected ',' or '}' in object");
  expectError("", "invalid JSON at offset 0 (line 1, column 1): unexpected "
                  "end of input, expected a JSON value");
}

TEST(ManifestTest, FormatAndVersion) {
  expectError("[]", "expected a JSON object, got array");
  expectError(edited("\"format\": \"sqz-artifact\",", ""),
              "missing required key \"format\"");
  expectError(edited("\"sqz-artifact\"", "\"onnx\""),
              "'format': expected \"sqz-artifact\", got \"onnx\"");
  expectError(edited("\"abi_version\": 1", "\"abi_version\": 4"),
              "'abi_version': artifact ABI version 4 is not supported by this runtime (it "
              "supports 1 to 3); recompile the model or use a matching sqz-run");
  expectError(edited("\"abi_version\": 1", "\"abi_version\": 0"),
              "'abi_version': artifact ABI version 0 is not supported by this runtime (it "
              "supports 1 to 3); recompile the model or use a matching sqz-run");
  // ABI 2 needs the weights entry; ABI 1 must not have one.
  expectError(edited("\"abi_version\": 1", "\"abi_version\": 2"),
              "missing required key \"weights\"");
  expectError(edited("\"abi_version\": 1", "\"abi_version\": 1, \"weights\": {}"),
              "'weights': a weights file needs abi_version 2");
  expectError(edited("\"abi_version\": 1",
                     "\"abi_version\": 2, \"weights\": {\"file\": \"../w\", \"bytes\": 0, "
                     "\"tensors\": []}"),
              "'weights.file': must be a relative path inside the artifact directory, got "
              "\"../w\"");
  {
    Manifest m;
    Status st = parseManifest(
        edited("\"abi_version\": 1",
               "\"abi_version\": 2, \"weights\": {\"file\": \"model.safetensors\", "
               "\"bytes\": 64, \"tensors\": [{\"name\": \"w\", \"dtype\": \"F32\", "
               "\"shape\": [4, 4], \"offset\": 0}]}"),
        "m.json", m);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(m.weightsFile, "model.safetensors");
    EXPECT_EQ(m.weightsBytes, 64u);
    ASSERT_EQ(m.weights.size(), 1u);
    EXPECT_EQ(m.weights[0].shape, (std::vector<int64_t>{4, 4}));
  }
  expectError(edited("\"abi_version\": 1", "\"abi_version\": \"1\""),
              "'abi_version': expected integer, got string");
  expectError(edited("\"abi_version\": 1", "\"abi_version\": 1.0"),
              "'abi_version': expected integer, got number");
}

TEST(ManifestTest, LibraryAndEntry) {
  expectError(edited("\"model.so\"", "\"/abs/model.so\""),
              "'library': must be a non-empty path relative to the artifact "
              "directory, got \"/abs/model.so\"");
  expectError(edited("\"model.so\"", "\"\""),
              "'library': must be a non-empty path relative to the artifact "
              "directory, got \"\"");
  expectError(edited("\"model.so\"", "3"),
              "'library': expected string, got integer");
  expectError(edited("\"entry\": \"sqz_model_invoke\",", ""),
              "missing required key \"entry\"");
  expectError(edited("\"sqz_model_invoke\"", "\"\""),
              "'entry': entry symbol name is empty");
  expectError(edited("\"mlp.onnx\"", "null"),
              "'source': expected string, got null");
}

TEST(ManifestTest, TensorErrors) {
  expectError(edited("\"inputs\": ", "\"inputz\": "),
              "missing required key \"inputs\"");
  expectError(edited(R"([{"name": "x", "dtype": "float32", "shape": [4, 16]}])",
                     "{}"),
              "'inputs': expected array, got object");
  expectError(edited(R"([{"name": "x", "dtype": "float32", "shape": [4, 16]}])",
                     "[1]"),
              "'inputs[0]': expected object, got integer");
  expectError(edited(R"("name": "x", )", ""),
              "'inputs[0]': missing required key \"name\"");
  expectError(edited(R"("name": "x")", R"("name": "")"),
              "'inputs[0].name': name is empty");
  expectError(edited(R"("name": "x")", R"("name": "a\u0000b")"),
              "'inputs[0].name': string contains a NUL character");
  expectError(edited(R"("name": "count")", R"("name": "y")"),
              "'outputs[1].name': duplicate outputs name \"y\"");
  expectError(edited(R"("dtype": "float32", "shape": [4, 16])",
                     R"("dtype": "complex64", "shape": [4, 16])"),
              "'inputs[0].dtype': unknown dtype \"complex64\" (expected one "
              "of float16, float32, float64, int8, int16, int32, int64, "
              "uint8, uint16, uint32, uint64, bool)");
  expectError(edited("[4, 16]", "[4, -1]"),
              "'inputs[0].shape[1]': dimension -1 is negative (shapes must "
              "be static)");
  expectError(edited("[4, 16]", "[4, 1.5]"),
              "'inputs[0].shape[1]': expected integer, got number");
  expectError(edited("[4, 16]", "[4, \"n\"]"),
              "'inputs[0].shape[1]': expected integer, got string");
  expectError(edited("[4, 16]", "4"),
              "'inputs[0].shape': expected array, got integer");
  expectError(edited("[4, 16]", "[4294967296, 4294967296]"),
              "'inputs[0].shape': tensor float32[4294967296,4294967296] is "
              "too large");
}

/// kExample at ABI 3 with input x's shape entry replaced by `shape`.
std::string dynamicExample(const std::string &shape) {
  std::string text = edited("[4, 16]", shape);
  size_t at = text.find("\"abi_version\": 1");
  text.replace(at, 16, "\"abi_version\": 3");
  return text;
}

TEST(ManifestTest, DynamicDims) {
  Manifest m;
  Status s = parseManifest(
      dynamicExample(R"([-1, -1, 16], "dim_names": ["batch", "seq", ""],
                        "max_shape": [-1, 256, 16])"),
      "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.abiVersion, 3);
  EXPECT_TRUE(m.dynamic);
  EXPECT_TRUE(m.weightsFile.empty()); // optional in ABI 3
  const TensorSpec &x = m.inputs[0];
  EXPECT_TRUE(x.dynamic);
  EXPECT_EQ(x.shape, (std::vector<int64_t>{-1, -1, 16}));
  EXPECT_EQ(x.maxShape, (std::vector<int64_t>{-1, 256, 16}));
  EXPECT_EQ(x.dimNames, (std::vector<std::string>{"batch", "seq", ""}));
  EXPECT_EQ(x.numBytes, 0u);
  EXPECT_FALSE(m.outputs[0].dynamic);
  EXPECT_EQ(m.outputs[0].maxShape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(m.outputs[0].dimNames, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(m.outputs[0].numBytes, 128u);

  // dim_names and max_shape are optional; without max_shape dynamic dims are unbounded.
  s = parseManifest(dynamicExample("[-1, 0]"), "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.inputs[0].maxShape, (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(m.inputs[0].dimNames, (std::vector<std::string>{"", ""}));

  // ABI 3 with every shape static is still ABI 3 (not dynamic), and may have weights.
  s = parseManifest(edited("\"abi_version\": 1",
                           "\"abi_version\": 3, \"weights\": {\"file\": \"w.safetensors\", "
                           "\"bytes\": 0, \"tensors\": []}"),
                    "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(m.dynamic);
  EXPECT_EQ(m.weightsFile, "w.safetensors");
}

TEST(ManifestTest, DynamicDimErrors) {
  // -1 needs ABI 3 (the ABI 1/2 error is unchanged); other negative dims never work.
  expectError(edited("[4, 16]", "[4, -1]"),
              "'inputs[0].shape[1]': dimension -1 is negative (shapes must be static)");
  expectError(dynamicExample("[4, -2]"),
              "'inputs[0].shape[1]': dimension -2 is invalid (expected a size >= 0, or -1 "
              "for a dynamic dim)");
  expectError(dynamicExample(R"([-1, 16], "dim_names": "batch")"),
              "'inputs[0].dim_names': expected array, got string");
  expectError(dynamicExample(R"([-1, 16], "dim_names": ["batch"])"),
              "'inputs[0].dim_names': has 1 entries, but the shape has 2 dims");
  expectError(dynamicExample(R"([-1, 16], "dim_names": ["batch", 3])"),
              "'inputs[0].dim_names[1]': expected string, got integer");
  expectError(dynamicExample(R"([-1, 16], "dim_names": ["a\u0000b", ""])"),
              "'inputs[0].dim_names[0]': string contains a NUL character");
  expectError(dynamicExample(R"([-1, 16], "max_shape": {})"),
              "'inputs[0].max_shape': expected array, got object");
  expectError(dynamicExample(R"([-1, 16], "max_shape": [8, 16, 1])"),
              "'inputs[0].max_shape': has 3 entries, but the shape has 2 dims");
  expectError(dynamicExample(R"([-1, 16], "max_shape": [8, "16"])"),
              "'inputs[0].max_shape[1]': expected integer, got string");
  expectError(dynamicExample(R"([-1, 16], "max_shape": [8, 32])"),
              "'inputs[0].max_shape[1]': is 32, but dim 1 is static with size 16 (static "
              "dims repeat their size)");
  expectError(dynamicExample(R"([-1, 16], "max_shape": [-5, 16])"),
              "'inputs[0].max_shape[0]': bound -5 is invalid (expected a size >= 0, or -1 "
              "for no bound)");
  // Static parts are still checked for size.
  expectError(dynamicExample("[4294967296, 4294967296]"),
              "'inputs[0].shape': tensor float32[4294967296,4294967296] is too large");
}

TEST(ManifestTest, InputAndOutputMayShareAName) {
  // ONNX lets a graph output be a graph input; the sets are separate.
  Manifest m;
  Status s = parseManifest(edited(R"("name": "y")", R"("name": "x")"),
                           "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
}

TEST(ManifestTest, ReadsFile) {
  TempDir dir;
  writeFile(dir.file("manifest.json"), kExample);
  Manifest m;
  Status s = readManifestFile(dir.file("manifest.json"), m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.outputs.size(), 2u);

  s = readManifestFile(dir.file("nope.json"), m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "cannot open manifest '" + dir.file("nope.json") +
                             "': No such file or directory");

  writeFile(dir.file("bad.json"), "{\"format\": }");
  s = readManifestFile(dir.file("bad.json"), m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), dir.file("bad.json") +
                             ": invalid JSON at offset 11 (line 1, column 12): "
                             "unexpected '}', expected a JSON value");
}

} // namespace

namespace {

TEST(ManifestTest, CpuFeatures) {
  Manifest m;
  std::string text = edited("\"source\": \"mlp.onnx\",",
                            R"("target_cpu": "x86-64-v4", "cpu_features": ["avx2", "avx512f"],)");
  Status s = parseManifest(text, "m.json", m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.targetCPU, "x86-64-v4");
  EXPECT_EQ(m.cpuFeatures, (std::vector<std::string>{"avx2", "avx512f"}));
  expectError(edited("\"source\": \"mlp.onnx\",", R"("cpu_features": "avx2",)"),
              "'cpu_features': expected array, got string");
  expectError(edited("\"source\": \"mlp.onnx\",", R"("cpu_features": ["avx2", 3],)"),
              "'cpu_features[1]': expected string, got integer");
  expectError(edited("\"source\": \"mlp.onnx\",", R"("target_cpu": 3,)"),
              "'target_cpu': expected string, got integer");
}

bool noAvx512(const std::string &feature) { return feature.rfind("avx512", 0) != 0; }

TEST(CpuFeaturesTest, MissingFeatures) {
#if defined(__x86_64__)
  // A host without AVX-512 lacks exactly the AVX-512 features; unknown names are not checked.
  EXPECT_EQ(missingCpuFeatures({"avx2", "avx512f", "avx512vnni", "frobnicate"}, noAvx512),
            (std::vector<std::string>{"avx512f", "avx512vnni"}));
  EXPECT_TRUE(isCheckableCpuFeature("avx512bw"));
  EXPECT_FALSE(isCheckableCpuFeature("frobnicate"));
  // The host check agrees with the compiler's own builtin.
  EXPECT_EQ(hostHasCpuFeature("avx2"), __builtin_cpu_supports("avx2") != 0);
  EXPECT_FALSE(hostHasCpuFeature("frobnicate"));
#else
  EXPECT_TRUE(missingCpuFeatures({"avx2", "avx512f"}).empty());
#endif
}

} // namespace
