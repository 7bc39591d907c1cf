//===- OnnxModel.cpp - The exception boundary to libonnx ------------------===//
//
// Parsing (textual and binary), checking and shape inference of ONNX models. This file is
// compiled with -fexceptions: libonnx reports errors by throwing, and every entry point here
// catches everything and returns the message instead.
//
// The linked libonnx (Debian, 1.12) knows opsets up to 17. Ops the importer supports that are
// newer than that (Gelu, opset 20) get a schema from `ExtendedSchemaRegistry` so that the checker
// and shape inference still see them.
//
//===----------------------------------------------------------------------===//

#include "OnnxModel.h"

#include "onnx/checker.h"
#include "onnx/defs/parser.h"
#include "onnx/defs/schema.h"
#include "onnx/defs/shape_inference.h"
#include "onnx/shape_inference/implementation.h"

#include "google/protobuf/io/coded_stream.h"

#include "llvm/ADT/StringExtras.h"

#include <climits>
#include <exception>
#include <regex>

using namespace mlir::sqz::import;

namespace {

/// libonnx's registry plus the schemas of newer ops the importer supports.
class ExtendedSchemaRegistry final : public onnx::ISchemaRegistry {
public:
  ExtendedSchemaRegistry() {
    gelu.SetName("Gelu")
        .SetDomain(onnx::ONNX_DOMAIN)
        .SinceVersion(20)
        .Attr("approximate", "none or tanh", onnx::AttributeProto::STRING, std::string("none"))
        .Input(0, "X", "input", "T")
        .Output(0, "Y", "output", "T")
        .TypeConstraint("T",
                        {"tensor(float16)", "tensor(float)", "tensor(double)", "tensor(bfloat16)"},
                        "float tensors")
        .TypeAndShapeInferenceFunction(onnx::propagateShapeAndTypeFromFirstInput);
    gelu.Finalize();
  }

  const onnx::OpSchema *GetSchema(const std::string &key, const int maxInclusiveVersion,
                                  const std::string &domain) const override {
    if (const onnx::OpSchema *schema =
            onnx::OpSchemaRegistry::Instance()->GetSchema(key, maxInclusiveVersion, domain))
      return schema;
    bool onnxDomain = domain == onnx::ONNX_DOMAIN || domain == "ai.onnx";
    if (onnxDomain && key == "Gelu" && maxInclusiveVersion >= gelu.SinceVersion())
      return &gelu;
    return nullptr;
  }

private:
  onnx::OpSchema gelu;
};

/// Built on first use; construction may throw, so callers hold a try block.
const ExtendedSchemaRegistry &getRegistry() {
  static ExtendedSchemaRegistry registry;
  return registry;
}

/// Pulls "(line: N column: M)" and the last line out of an OnnxParser error.
OnnxParseError decodeParseError(const std::string &raw) {
  OnnxParseError error;
  std::smatch match;
  static const std::regex position(R"(\(line: (\d+) column: (\d+)\))");
  if (std::regex_search(raw, match, position)) {
    error.line = static_cast<unsigned>(std::stoul(match[1].str()));
    error.column = static_cast<unsigned>(std::stoul(match[2].str()));
  }
  llvm::StringRef text = llvm::StringRef(raw).rtrim();
  size_t lastNewline = text.rfind('\n');
  error.message =
      (lastNewline == llvm::StringRef::npos ? text : text.drop_front(lastNewline + 1)).trim().str();
  if (error.message.empty())
    error.message = raw;
  return error;
}

} // namespace

bool mlir::sqz::import::isTextualOnnx(llvm::StringRef fileName, llvm::StringRef contents) {
  if (fileName.ends_with(".onnxtxt") || fileName.ends_with(".onnxtext"))
    return true;
  if (fileName.ends_with(".onnx"))
    return false;
  // Sniff: textual models start with the `<ir_version: ...>` header.
  while (!contents.empty()) {
    llvm::StringRef line;
    std::tie(line, contents) = contents.split('\n');
    llvm::StringRef trimmed = line.ltrim();
    if (trimmed.empty() || trimmed.starts_with("//") || trimmed.starts_with("#"))
      continue;
    return trimmed.front() == '<';
  }
  return false;
}

bool mlir::sqz::import::parseTextualOnnx(llvm::StringRef contents, onnx::ModelProto &model,
                                         OnnxParseError &error) {
  // Blank `//` comment lines, keeping the newlines so that positions stay those of the file.
  std::string text;
  text.reserve(contents.size());
  while (!contents.empty()) {
    llvm::StringRef line;
    std::tie(line, contents) = contents.split('\n');
    if (!line.ltrim().starts_with("//"))
      text.append(line.begin(), line.end());
    text.push_back('\n');
  }
  if (text.find('\0') != std::string::npos) {
    error.message = "textual ONNX must not contain NUL characters";
    return false;
  }
  try {
    onnx::OnnxParser parser(text.c_str());
    onnx::Common::Status status = parser.Parse(model);
    if (!status.IsOK()) {
      error = decodeParseError(status.ErrorMessage());
      return false;
    }
    if (!parser.EndOfInput()) {
      error.message = "unexpected text after the model";
      return false;
    }
    return true;
  } catch (const std::exception &e) {
    error = decodeParseError(e.what());
  } catch (...) {
    error.message = "unknown error in the ONNX text parser";
  }
  return false;
}

bool mlir::sqz::import::parseBinaryOnnx(llvm::StringRef contents, onnx::ModelProto &model,
                                        std::string &error) {
  if (contents.size() > static_cast<size_t>(INT_MAX)) {
    error = "models of 2 GiB or more must keep their weights in external data files";
    return false;
  }
  try {
    google::protobuf::io::CodedInputStream stream(
        reinterpret_cast<const uint8_t *>(contents.data()), static_cast<int>(contents.size()));
    stream.SetTotalBytesLimit(INT_MAX);
    if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
      error = "not a valid ONNX ModelProto (protobuf parse error)";
      return false;
    }
    return true;
  } catch (const std::exception &e) {
    error = e.what();
  } catch (...) {
    error = "unknown error in the protobuf parser";
  }
  return false;
}

int64_t mlir::sqz::import::maxCheckedIrVersion() { return onnx::IR_VERSION; }

bool mlir::sqz::import::checkOnnxModel(const onnx::ModelProto &model, std::string &error) {
  // onnx::checker::check_model(ModelProto) cannot take a schema registry, so this mirrors its
  // model-level checks and then checks the graph with the extended registry.
  try {
    if (!model.has_ir_version() || model.ir_version() <= 0) {
      error = "the model does not have an ir_version set properly";
      return false;
    }
    onnx::checker::CheckerContext ctx;
    ctx.set_schema_registry(&getRegistry());
    int64_t irVersion = std::min<int64_t>(model.ir_version(), onnx::IR_VERSION);
    ctx.set_ir_version(static_cast<int>(irVersion));
    std::unordered_map<std::string, int> opsets;
    for (const onnx::OperatorSetIdProto &opset : model.opset_import())
      opsets[opset.domain()] = static_cast<int>(opset.version());
    if (irVersion >= 3 && opsets.empty()) {
      error = "a model with IR version >= 3 must import an ONNX opset (opset_import)";
      return false;
    }
    if (opsets.empty())
      opsets[onnx::ONNX_DOMAIN] = 1;
    ctx.set_opset_imports(opsets);
    onnx::checker::LexicalScopeContext lexicalScope;
    onnx::checker::check_graph(model.graph(), ctx, lexicalScope);
    if (irVersion >= 8)
      onnx::checker::check_model_local_functions(model, ctx, lexicalScope);
    return true;
  } catch (const std::exception &e) {
    error = e.what();
  } catch (...) {
    error = "unknown error in the ONNX checker";
  }
  return false;
}

bool mlir::sqz::import::inferOnnxShapes(onnx::ModelProto &model, std::string &error) {
  try {
    onnx::ShapeInferenceOptions options(/*check_type_val=*/true, /*strict_mode_val=*/1,
                                        /*data_prop_val=*/false);
    onnx::shape_inference::InferShapes(model, &getRegistry(), options);
    return true;
  } catch (const std::exception &e) {
    error = e.what();
  } catch (...) {
    error = "unknown error in ONNX shape inference";
  }
  return false;
}
