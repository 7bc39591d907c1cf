//===- OnnxModel.cpp - The exception boundary to libonnx ------------------===//
//
// Parsing (textual and binary), checking and shape inference of ONNX models. This file is
// compiled with -fexceptions: libonnx reports errors by throwing, and every entry point here
// catches everything and returns the message instead.
//
// The linked libonnx (Debian, 1.12) knows opsets up to 17. Ops the importer supports that are
// newer than that (Gelu, opset 20; Attention and RotaryEmbedding, opset 23/24, ...) get a schema
// from `ExtendedSchemaRegistry` so that the checker and shape inference still see them.
//
//===----------------------------------------------------------------------===//

#include "OnnxModel.h"

#include "onnx/checker.h"
#include "onnx/defs/parser.h"
#include "onnx/defs/schema.h"
#include "onnx/defs/shape_inference.h"
#include "onnx/defs/tensor_proto_util.h"
#include "onnx/shape_inference/implementation.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <climits>
#include <exception>
#include <iterator>
#include <regex>

#if defined(__unix__)
#include <sys/mman.h>
#include <unistd.h>
#endif

using namespace mlir::sqz::import;

namespace {

/// Hands the protobuf parser `contents` in chunks. With `dropPages` (`contents` is a file
/// mapping), the kernel is asked to reclaim the pages of chunks the parser is done with
/// (madvise MADV_PAGEOUT, which never changes the contents: clean file pages fault back in from
/// the file if they are read again), so a parsed model does not keep both its bytes and the
/// parsed tensors resident.
class ChunkedInputStream final : public google::protobuf::io::ZeroCopyInputStream {
public:
  ChunkedInputStream(llvm::StringRef contents, bool dropPages)
      : contents(contents), dropPages(dropPages) {}
  ~ChunkedInputStream() override { drop(contents.size()); }

  bool Next(const void **data, int *size) override {
    // The parser may still look at the chunk it has just been given; everything before it is
    // done with.
    drop(previousChunkStart);
    if (position >= contents.size())
      return false;
    size_t length = std::min(kChunkSize, contents.size() - position);
    previousChunkStart = position;
    *data = contents.data() + position;
    *size = static_cast<int>(length);
    position += length;
    return true;
  }
  void BackUp(int count) override { position -= static_cast<size_t>(count); }
  bool Skip(int count) override {
    size_t skipped = std::min(static_cast<size_t>(count), contents.size() - position);
    position += skipped;
    return skipped == static_cast<size_t>(count);
  }
  int64_t ByteCount() const override { return static_cast<int64_t>(position); }

private:
  static constexpr size_t kChunkSize = size_t(16) << 20;

  /// Drops the whole pages of contents[dropped, end).
  void drop(size_t end) {
#if defined(__unix__) && defined(MADV_PAGEOUT)
    if (!dropPages || end <= dropped)
      return;
    static const uintptr_t pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    uintptr_t begin = reinterpret_cast<uintptr_t>(contents.data()) + dropped;
    uintptr_t stop = reinterpret_cast<uintptr_t>(contents.data()) + end;
    begin = (begin + pageSize - 1) & ~(pageSize - 1);
    stop &= ~(pageSize - 1);
    if (stop > begin)
      (void)madvise(reinterpret_cast<void *>(begin), stop - begin, MADV_PAGEOUT);
    dropped = end;
#else
    (void)end;
#endif
  }

  llvm::StringRef contents;
  bool dropPages;
  size_t position = 0;
  size_t previousChunkStart = 0;
  size_t dropped = 0;
};

/// The known value of dim `d` of input `n`, or -1.
int64_t getInputDim(onnx::InferenceContext &ctx, size_t n, int d) {
  if (!onnx::hasInputShape(ctx, n))
    return -1;
  const onnx::TensorShapeProto &shape = onnx::getInputShape(ctx, n);
  if (d >= shape.dim_size() || !shape.dim(d).has_dim_value())
    return -1;
  return shape.dim(d).dim_value();
}

int getInputRank(onnx::InferenceContext &ctx, size_t n) {
  return onnx::hasInputShape(ctx, n) ? onnx::getInputShape(ctx, n).dim_size() : -1;
}

bool hasOptionalInput(onnx::InferenceContext &ctx, size_t n) {
  return ctx.getNumInputs() > n && ctx.getInputType(n) != nullptr;
}

/// Sets output `n` to `dims` (-1: unknown) when it exists and every dim is known.
void setOutputDims(onnx::InferenceContext &ctx, size_t n, std::initializer_list<int64_t> dims) {
  if (ctx.getNumOutputs() <= n)
    return;
  for (int64_t dim : dims)
    if (dim < 0)
      return;
  onnx::TensorShapeProto *shape = onnx::getOutputShape(ctx, n);
  shape->clear_dim();
  for (int64_t dim : dims)
    onnx::appendDim(shape, dim);
}

/// Attention (opset 23/24): Y [B, Hq, Sq, Dv] (3-D: [B, Sq, Hq·Dv]), present_key/value
/// [B, Hkv, P + Skv, D], qk_matmul_output [B, Hq, Sq, P + Skv].
void inferAttention(onnx::InferenceContext &ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  for (size_t i : {1u, 2u, 3u}) {
    if (ctx.getNumOutputs() > i && ctx.getOutputType(i))
      onnx::propagateElemTypeFromInputToOutput(ctx, i == 2 ? 2 : 0, i);
  }
  int rank = getInputRank(ctx, 0);
  if (rank != 3 && rank != 4)
    return;
  int64_t qHeads = onnx::getAttribute(ctx, "q_num_heads", 0);
  int64_t kvHeads = onnx::getAttribute(ctx, "kv_num_heads", 0);
  int64_t batch = getInputDim(ctx, 0, 0);
  int64_t qSeq, kvSeq, headSize, vHeadSize;
  if (rank == 4) {
    qHeads = getInputDim(ctx, 0, 1);
    kvHeads = getInputDim(ctx, 1, 1);
    qSeq = getInputDim(ctx, 0, 2);
    kvSeq = getInputDim(ctx, 1, 2);
    headSize = getInputDim(ctx, 1, 3);
    vHeadSize = getInputDim(ctx, 2, 3);
  } else {
    if (qHeads <= 0 || kvHeads <= 0)
      return;
    qSeq = getInputDim(ctx, 0, 1);
    kvSeq = getInputDim(ctx, 1, 1);
    int64_t kHidden = getInputDim(ctx, 1, 2), vHidden = getInputDim(ctx, 2, 2);
    headSize = kHidden < 0 ? -1 : kHidden / kvHeads;
    vHeadSize = vHidden < 0 ? -1 : vHidden / kvHeads;
  }
  if (rank == 4)
    setOutputDims(ctx, 0, {batch, qHeads, qSeq, vHeadSize});
  else
    setOutputDims(ctx, 0, {batch, qSeq, vHeadSize < 0 ? -1 : qHeads * vHeadSize});
  int64_t pastSeq = 0;
  if (hasOptionalInput(ctx, 4))
    pastSeq = getInputDim(ctx, 4, 2);
  int64_t total = pastSeq < 0 || kvSeq < 0 ? -1 : pastSeq + kvSeq;
  setOutputDims(ctx, 1, {batch, kvHeads, total, headSize});
  setOutputDims(ctx, 2, {batch, kvHeads, total, vHeadSize});
  setOutputDims(ctx, 3, {batch, qHeads, qSeq, total});
}

void buildAttentionSchema(onnx::OpSchema &schema, int sinceVersion) {
  const std::vector<std::string> floats = {"tensor(float16)", "tensor(float)", "tensor(double)",
                                           "tensor(bfloat16)"};
  std::vector<std::string> masks = floats;
  masks.push_back("tensor(bool)");
  schema.SetName("Attention")
      .SetDomain(onnx::ONNX_DOMAIN)
      .SinceVersion(sinceVersion)
      .Attr("is_causal", "causal mask", onnx::AttributeProto::INT, static_cast<int64_t>(0))
      .Attr("kv_num_heads", "kv heads (3-D inputs)", onnx::AttributeProto::INT, false)
      .Attr("q_num_heads", "q heads (3-D inputs)", onnx::AttributeProto::INT, false)
      .Attr("qk_matmul_output_mode", "which scores qk_matmul_output holds",
            onnx::AttributeProto::INT, static_cast<int64_t>(0))
      .Attr("scale", "score scale", onnx::AttributeProto::FLOAT, false)
      .Attr("softcap", "softcap", onnx::AttributeProto::FLOAT, 0.0f)
      .Attr("softmax_precision", "softmax dtype", onnx::AttributeProto::INT, false)
      .Input(0, "Q", "query", "T1")
      .Input(1, "K", "key", "T1")
      .Input(2, "V", "value", "T2")
      .Input(3, "attn_mask", "mask", "U", onnx::OpSchema::Optional)
      .Input(4, "past_key", "past keys", "T1", onnx::OpSchema::Optional)
      .Input(5, "past_value", "past values", "T2", onnx::OpSchema::Optional);
  if (sinceVersion >= 24)
    schema.Input(6, "nonpad_kv_seqlen", "valid kv lengths", "tensor(int64)",
                 onnx::OpSchema::Optional);
  schema.Output(0, "Y", "output", "T1")
      .Output(1, "present_key", "keys", "T1", onnx::OpSchema::Optional)
      .Output(2, "present_value", "values", "T2", onnx::OpSchema::Optional)
      .Output(3, "qk_matmul_output", "scores", "T1", onnx::OpSchema::Optional)
      .TypeConstraint("T1", floats, "float tensors")
      .TypeConstraint("T2", floats, "float tensors")
      .TypeConstraint("U", masks, "mask tensors")
      .TypeAndShapeInferenceFunction(inferAttention);
  schema.Finalize();
}

void buildRotaryEmbeddingSchema(onnx::OpSchema &schema) {
  schema.SetName("RotaryEmbedding")
      .SetDomain(onnx::ONNX_DOMAIN)
      .SinceVersion(23)
      .Attr("interleaved", "interleaved pairs", onnx::AttributeProto::INT, static_cast<int64_t>(0))
      .Attr("num_heads", "heads (3-D input)", onnx::AttributeProto::INT, false)
      .Attr("rotary_embedding_dim", "rotated dims", onnx::AttributeProto::INT,
            static_cast<int64_t>(0))
      .Input(0, "X", "input", "T")
      .Input(1, "cos_cache", "cos", "T")
      .Input(2, "sin_cache", "sin", "T")
      .Input(3, "position_ids", "positions", "M", onnx::OpSchema::Optional)
      .Output(0, "Y", "output", "T")
      .TypeConstraint("T",
                      {"tensor(float16)", "tensor(float)", "tensor(double)", "tensor(bfloat16)"},
                      "float tensors")
      .TypeConstraint("M", {"tensor(int64)"}, "positions")
      .TypeAndShapeInferenceFunction(onnx::propagateShapeAndTypeFromFirstInput);
  schema.Finalize();
}

/// RMSNormalization (opset 23) and onnxruntime's ONNX-domain SimplifiedLayerNormalization:
/// X, scale -> Y (shape and type of X)[, inv_std_var (SimplifiedLayerNormalization only)].
void buildRmsNormSchema(onnx::OpSchema &schema, const char *name, int sinceVersion,
                        bool invStdDevOutput) {
  schema.SetName(name)
      .SetDomain(onnx::ONNX_DOMAIN)
      .SinceVersion(sinceVersion)
      .Attr("axis", "first normalized dim", onnx::AttributeProto::INT, static_cast<int64_t>(-1))
      .Attr("epsilon", "added to the mean square", onnx::AttributeProto::FLOAT, 1e-5f)
      .Attr("stash_type", "type of the statistics", onnx::AttributeProto::INT,
            static_cast<int64_t>(onnx::TensorProto::FLOAT))
      .Input(0, "X", "input", "T")
      .Input(1, "scale", "scale", "V")
      .Output(0, "Y", "output", "V");
  if (invStdDevOutput)
    schema.Output(1, "inv_std_var", "1 / RMS", "U", onnx::OpSchema::Optional)
        .TypeConstraint("U", {"tensor(float)", "tensor(double)"}, "statistics");
  schema
      .TypeConstraint("T",
                      {"tensor(float16)", "tensor(float)", "tensor(double)", "tensor(bfloat16)"},
                      "float tensors")
      .TypeConstraint("V",
                      {"tensor(float16)", "tensor(float)", "tensor(double)", "tensor(bfloat16)"},
                      "float tensors")
      .TypeAndShapeInferenceFunction([](onnx::InferenceContext &ctx) {
        onnx::propagateShapeAndTypeFromFirstInput(ctx);
        if (ctx.getNumOutputs() > 1 && ctx.getOutputType(1))
          ctx.getOutputType(1)->mutable_tensor_type()->set_elem_type(
              static_cast<int32_t>(onnx::getAttribute(ctx, "stash_type",
                                                      onnx::TensorProto::FLOAT)));
      });
  schema.Finalize();
}

/// The reductions whose axes became an input in opset 18 (ReduceSum: 13, which libonnx knows).
const char *const kReduceOps18[] = {"ReduceL1",     "ReduceL2",         "ReduceLogSum",
                                    "ReduceLogSumExp", "ReduceMax",     "ReduceMean",
                                    "ReduceMin",    "ReduceProd",       "ReduceSumSquare"};

/// Output shape of a reduction with a constant axes input (or no axes).
void inferReduce18(onnx::InferenceContext &ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (!onnx::hasInputShape(ctx, 0))
    return;
  const onnx::TensorShapeProto &input = onnx::getInputShape(ctx, 0);
  int rank = input.dim_size();
  bool keepDims = onnx::getAttribute(ctx, "keepdims", 1) != 0;
  bool noop = onnx::getAttribute(ctx, "noop_with_empty_axes", 0) != 0;
  std::vector<bool> reduced(rank, false);
  bool hasAxes = ctx.getNumInputs() > 1 && ctx.getInputType(1) != nullptr;
  if (hasAxes) {
    const onnx::TensorProto *axes = ctx.getInputData(1);
    if (!axes)
      return; // computed axes: shape unknown
    for (int64_t axis : onnx::ParseData<int64_t>(axes)) {
      if (axis < -rank || axis >= rank)
        fail_shape_inference("axis ", axis, " is out of range for rank ", rank);
      reduced[axis < 0 ? axis + rank : axis] = true;
    }
  }
  if (std::find(reduced.begin(), reduced.end(), true) == reduced.end()) {
    if (noop) {
      onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
      return;
    }
    reduced.assign(rank, true);
  }
  onnx::TensorShapeProto *output = onnx::getOutputShape(ctx, 0);
  output->clear_dim();
  for (int d = 0; d < rank; ++d) {
    if (!reduced[d])
      *output->add_dim() = input.dim(d);
    else if (keepDims)
      output->add_dim()->set_dim_value(1);
  }
}

/// ReduceX-18: data, optional axes input; keepdims, noop_with_empty_axes.
void buildReduce18Schema(onnx::OpSchema &schema, const char *name) {
  schema.SetName(name)
      .SetDomain(onnx::ONNX_DOMAIN)
      .SinceVersion(18)
      .Attr("keepdims", "keep the reduced dims", onnx::AttributeProto::INT,
            static_cast<int64_t>(1))
      .Attr("noop_with_empty_axes", "empty axes: identity", onnx::AttributeProto::INT,
            static_cast<int64_t>(0))
      .Input(0, "data", "input", "T")
      .Input(1, "axes", "reduced dims", "tensor(int64)", onnx::OpSchema::Optional)
      .Output(0, "reduced", "output", "T")
      .TypeConstraint("T",
                      {"tensor(float16)", "tensor(float)", "tensor(double)", "tensor(bfloat16)",
                       "tensor(int32)", "tensor(int64)", "tensor(uint32)", "tensor(uint64)",
                       "tensor(int8)", "tensor(uint8)", "tensor(bool)"},
                      "numeric tensors")
      .TypeAndShapeInferenceFunction(inferReduce18);
  schema.Finalize();
}

/// QuantizeLinear/DequantizeLinear from opset 19 (`saturate`; opset 21: `block_size`,
/// `output_dtype`, int16/uint16 codes). libonnx 1.12 knows them up to opset 13.
void buildQdqSchema(onnx::OpSchema &schema, bool quantize) {
  const std::vector<std::string> floats = {"tensor(float)", "tensor(float16)",
                                           "tensor(bfloat16)"};
  const std::vector<std::string> codes = {"tensor(int8)", "tensor(uint8)", "tensor(int16)",
                                          "tensor(uint16)"};
  schema.SetName(quantize ? "QuantizeLinear" : "DequantizeLinear")
      .SetDomain(onnx::ONNX_DOMAIN)
      .SinceVersion(19)
      .Attr("axis", "quantization axis", onnx::AttributeProto::INT, static_cast<int64_t>(1))
      .Attr("block_size", "block size (0: per tensor/axis)", onnx::AttributeProto::INT,
            static_cast<int64_t>(0));
  if (quantize) {
    std::vector<std::string> inputs = floats;
    inputs.push_back("tensor(int32)");
    schema
        .Attr("saturate", "float8 saturation", onnx::AttributeProto::INT, static_cast<int64_t>(1))
        .Attr("output_dtype", "code dtype", onnx::AttributeProto::INT, static_cast<int64_t>(0))
        .Attr("precision", "scale precision", onnx::AttributeProto::INT, static_cast<int64_t>(0))
        .Input(0, "x", "input", "T1")
        .Input(1, "y_scale", "scale", "T2")
        .Input(2, "y_zero_point", "zero point", "T3", onnx::OpSchema::Optional)
        .Output(0, "y", "codes", "T3")
        .TypeConstraint("T1", inputs, "inputs")
        .TypeConstraint("T2", inputs, "scales")
        .TypeConstraint("T3", codes, "codes")
        .TypeAndShapeInferenceFunction([](onnx::InferenceContext &ctx) {
          int32_t dtype = static_cast<int32_t>(onnx::getAttribute(ctx, "output_dtype", 0));
          if (hasOptionalInput(ctx, 2))
            dtype = ctx.getInputType(2)->tensor_type().elem_type();
          if (dtype == 0)
            dtype = onnx::TensorProto::UINT8;
          // int4/uint4 (libonnx 1.12 cannot name them): checked as int8/uint8.
          if (dtype == 22 || dtype == 21)
            dtype = dtype == 22 ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
          ctx.getOutputType(0)->mutable_tensor_type()->set_elem_type(dtype);
          if (onnx::hasInputShape(ctx, 0))
            onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
        });
  } else {
    std::vector<std::string> inputs = codes;
    inputs.push_back("tensor(int32)");
    schema.Input(0, "x", "codes", "T1")
        .Input(1, "x_scale", "scale", "T2")
        .Input(2, "x_zero_point", "zero point", "T1", onnx::OpSchema::Optional)
        .Output(0, "y", "output", "T2")
        .TypeConstraint("T1", inputs, "codes")
        .TypeConstraint("T2", floats, "scales")
        .TypeAndShapeInferenceFunction([](onnx::InferenceContext &ctx) {
          onnx::propagateElemTypeFromInputToOutput(ctx, 1, 0);
          if (onnx::hasInputShape(ctx, 0))
            onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
        });
  }
  schema.Finalize();
}

/// Ops whose signature changed after opset 17, the newest libonnx 1.12 knows, in ways its old
/// schema rejects (Split-18's num_outputs attribute, Pad-18's axes input, Resize-18's antialias,
/// Cast-19's saturate...), with the opset of the change. The importer checks these itself.
struct NewerVersion {
  const char *opType;
  int sinceVersion;
};
const NewerVersion kNewerVersions[] = {
    {"Split", 18},      {"Pad", 18},         {"Resize", 18},         {"ScatterElements", 18},
    {"ScatterND", 18},  {"LpPool", 18},      {"AveragePool", 19},    {"Cast", 19},
    {"CastLike", 19},   {"DFT", 20},         {"GridSample", 20},     {"ConstantOfShape", 20},
    {"IsInf", 20},      {"IsNaN", 20},       {"GroupNormalization", 21},
};

/// libonnx's registry plus the schemas of newer ops the importer supports.
///
/// Two views: the checker's view gives every ONNX-domain op libonnx cannot describe at the
/// model's opset (a newer op, or a newer version from kNewerVersions) a permissive schema (any
/// inputs, outputs and attributes), so that the rest of the graph is still checked; shape
/// inference's view has no schema for them, which makes ONNX shape inference treat them as it
/// treats contrib ops (outputs left untyped, later inference errors not fatal). Such ops are
/// only reachable for ops in the importer's table (scanSupport rejects the others first), and
/// their import functions validate operands and type their results themselves.
class ExtendedSchemaRegistry final : public onnx::ISchemaRegistry {
public:
  explicit ExtendedSchemaRegistry(bool permissiveForNewerOps)
      : permissiveForNewerOps(permissiveForNewerOps) {
    permissive.SetName("SqzPermissive")
        .SetDomain(onnx::ONNX_DOMAIN)
        .SinceVersion(1)
        .AllowUncheckedAttributes()
        .Input(0, "inputs", "any inputs", "T", onnx::OpSchema::Variadic,
               /*is_homogeneous=*/false, /*min_arity=*/0)
        .Output(0, "outputs", "any outputs", "T", onnx::OpSchema::Variadic,
                /*is_homogeneous=*/false, /*min_arity=*/0)
        .TypeConstraint("T", onnx::OpSchema::all_tensor_types_with_bfloat(), "any tensor");
    permissive.Finalize();
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
    buildAttentionSchema(attention23, 23);
    buildAttentionSchema(attention24, 24);
    buildRotaryEmbeddingSchema(rotaryEmbedding);
    buildRmsNormSchema(rmsNormalization, "RMSNormalization", 23, /*invStdDevOutput=*/false);
    buildRmsNormSchema(simplifiedLayerNormalization, "SimplifiedLayerNormalization", 1,
                       /*invStdDevOutput=*/true);
    for (size_t i = 0; i < std::size(kReduceOps18); ++i)
      buildReduce18Schema(reduce18[i], kReduceOps18[i]);
    buildQdqSchema(quantizeLinear19, /*quantize=*/true);
    buildQdqSchema(dequantizeLinear19, /*quantize=*/false);
  }

  const onnx::OpSchema *GetSchema(const std::string &key, const int maxInclusiveVersion,
                                  const std::string &domain) const override {
    const onnx::OpSchema *schema = getKnownSchema(key, maxInclusiveVersion, domain);
    bool onnxDomain = domain == onnx::ONNX_DOMAIN || domain == "ai.onnx";
    if (!onnxDomain)
      return schema;
    bool newer = !schema;
    for (const NewerVersion &version : kNewerVersions)
      if (key == version.opType && maxInclusiveVersion >= version.sinceVersion)
        newer = true;
    if (!newer)
      return schema;
    return permissiveForNewerOps ? &permissive : nullptr;
  }

private:
  const onnx::OpSchema *getKnownSchema(const std::string &key, const int maxInclusiveVersion,
                                       const std::string &domain) const {
    // Newer versions of ops libonnx knows in an older form.
    if ((domain == onnx::ONNX_DOMAIN || domain == "ai.onnx") && maxInclusiveVersion >= 19) {
      if (key == "QuantizeLinear")
        return &quantizeLinear19;
      if (key == "DequantizeLinear")
        return &dequantizeLinear19;
    }
    if ((domain == onnx::ONNX_DOMAIN || domain == "ai.onnx") && maxInclusiveVersion >= 18)
      for (size_t i = 0; i < std::size(kReduceOps18); ++i)
        if (key == kReduceOps18[i])
          return &reduce18[i];
    if (const onnx::OpSchema *schema =
            onnx::OpSchemaRegistry::Instance()->GetSchema(key, maxInclusiveVersion, domain))
      return schema;
    bool onnxDomain = domain == onnx::ONNX_DOMAIN || domain == "ai.onnx";
    if (onnxDomain && key == "Gelu" && maxInclusiveVersion >= gelu.SinceVersion())
      return &gelu;
    if (onnxDomain && key == "Attention" && maxInclusiveVersion >= 23)
      return maxInclusiveVersion >= 24 ? &attention24 : &attention23;
    if (onnxDomain && key == "RotaryEmbedding" && maxInclusiveVersion >= 23)
      return &rotaryEmbedding;
    if (onnxDomain && key == "RMSNormalization" && maxInclusiveVersion >= 23)
      return &rmsNormalization;
    if (onnxDomain && key == "SimplifiedLayerNormalization")
      return &simplifiedLayerNormalization;
    // onnxruntime's ONNX-domain LayerNormalization contrib op (exported before opset 17) has
    // the semantics of LayerNormalization-17.
    if (onnxDomain && key == "LayerNormalization" && maxInclusiveVersion < 17)
      return onnx::OpSchemaRegistry::Instance()->GetSchema(key, 17, domain);
    return nullptr;
  }

  bool permissiveForNewerOps;
  onnx::OpSchema permissive;
  onnx::OpSchema gelu;
  onnx::OpSchema attention23, attention24, rotaryEmbedding;
  onnx::OpSchema rmsNormalization, simplifiedLayerNormalization;
  onnx::OpSchema reduce18[std::size(kReduceOps18)];
  onnx::OpSchema quantizeLinear19, dequantizeLinear19;
};

/// Built on first use; construction may throw, so callers hold a try block.
const ExtendedSchemaRegistry &getCheckerRegistry() {
  static ExtendedSchemaRegistry registry(/*permissiveForNewerOps=*/true);
  return registry;
}
const ExtendedSchemaRegistry &getInferenceRegistry() {
  static ExtendedSchemaRegistry registry(/*permissiveForNewerOps=*/false);
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
                                        std::string &error, bool dropParsedPages) {
  if (contents.size() > static_cast<size_t>(INT_MAX)) {
    error = "models of 2 GiB or more must keep their weights in external data files";
    return false;
  }
  try {
    ChunkedInputStream chunks(contents, dropParsedPages);
    google::protobuf::io::CodedInputStream stream(&chunks);
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

bool mlir::sqz::import::checkOnnxModel(const onnx::ModelProto &model, std::string &error,
                                       const std::string &modelDir) {
  // onnx::checker::check_model(ModelProto) cannot take a schema registry, so this mirrors its
  // model-level checks and then checks the graph with the extended registry.
  try {
    if (!model.has_ir_version() || model.ir_version() <= 0) {
      error = "the model does not have an ir_version set properly";
      return false;
    }
    onnx::checker::CheckerContext ctx;
    ctx.set_schema_registry(&getCheckerRegistry());
    int64_t irVersion = std::min<int64_t>(model.ir_version(), onnx::IR_VERSION);
    ctx.set_ir_version(static_cast<int>(irVersion));
    // The checker looks for the files of external tensors relative to this folder (the importer
    // has already checked and mapped them, see GraphImporter.cpp).
    if (!modelDir.empty())
      ctx.set_model_dir(modelDir);
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
    onnx::shape_inference::InferShapes(model, &getInferenceRegistry(), options);
    return true;
  } catch (const std::exception &e) {
    error = e.what();
  } catch (...) {
    error = "unknown error in ONNX shape inference";
  }
  return false;
}
