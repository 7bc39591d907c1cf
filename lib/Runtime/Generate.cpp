//===- Generate.cpp - Token-by-token decoding of language models ----------===//

#include "Runtime/Generate.h"

#include "Runtime/AlignedBuffer.h"
#include "Runtime/DType.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

using namespace sqz::runtime;

Sampler::Sampler(const SamplingOptions &options)
    : options(options), state(options.seed ^ 0x5351'5A5F'4745'4E00ull) {}

double Sampler::uniform() {
  // splitmix64
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int64_t Sampler::pick(const float *logits, int64_t vocab) {
  if (options.temperature <= 0.0f) {
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best])
        best = i;
    return best;
  }
  scratch.clear();
  for (int64_t i = 0; i < vocab; ++i)
    scratch.emplace_back(logits[i], i);
  int64_t keep = options.topK > 0 ? std::min(options.topK, vocab) : vocab;
  // Largest first; ties by lower id, so the order is fully determined.
  auto larger = [](const std::pair<float, int64_t> &a, const std::pair<float, int64_t> &b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::partial_sort(scratch.begin(), scratch.begin() + keep, scratch.end(), larger);
  scratch.resize(keep);
  double top = scratch.front().first, total = 0;
  std::vector<double> weights(keep);
  for (int64_t i = 0; i < keep; ++i)
    total += weights[i] = std::exp((scratch[i].first - top) / options.temperature);
  double r = uniform() * total;
  for (int64_t i = 0; i < keep; ++i) {
    r -= weights[i];
    if (r < 0)
      return scratch[i].second;
  }
  return scratch[keep - 1].second;
}

namespace {
/// One input or output as the C API describes it (shape -1 for a dynamic dim, bounds, dim
/// names), read once so the matching code below can treat inputs and outputs alike.
struct TensorView {
  std::string name, dtype;
  std::vector<int64_t> shape, maxShape;
  std::vector<std::string> dimNames;

  TensorView(sqz_model *m, size_t i, bool output) {
    size_t rank = output ? sqz_model_output_rank(m, i) : sqz_model_input_rank(m, i);
    const int64_t *dims = output ? sqz_model_output_shape(m, i) : sqz_model_input_shape(m, i);
    const int64_t *bounds =
        output ? sqz_model_output_max_shape(m, i) : sqz_model_input_max_shape(m, i);
    name = output ? sqz_model_output_name(m, i) : sqz_model_input_name(m, i);
    dtype = output ? sqz_model_output_dtype(m, i) : sqz_model_input_dtype(m, i);
    shape.assign(dims, dims + rank);
    maxShape.assign(bounds, bounds + rank);
    for (size_t d = 0; d < rank; ++d)
      dimNames.push_back(output ? sqz_model_output_dim_name(m, i, d)
                                : sqz_model_input_dim_name(m, i, d));
  }
  bool isDynamic(size_t d) const { return shape[d] < 0; }
  /// "[batch, seq, 512]": how a signature is shown in errors.
  std::string format() const {
    std::string text = "[";
    for (size_t d = 0; d < shape.size(); ++d) {
      text += d ? ", " : "";
      text += shape[d] >= 0        ? std::to_string(shape[d])
              : dimNames[d].empty() ? std::string("?")
                                    : dimNames[d];
    }
    return text + "]";
  }
};

/// Output buffers sized from the output shapes of each run; they grow when a run needs more
/// room and are reused otherwise, so a decode loop allocates only while lengths grow.
/// Outputs given an external buffer (setExternal) are not allocated here.
class OutputSet {
public:
  explicit OutputSet(sqz_model *m) : model(m) {
    size_t n = sqz_model_num_outputs(m);
    shapes.resize(n);
    shapePtrs.resize(n);
    buffers.resize(n);
    pointers.assign(n, nullptr);
    external.assign(n, false);
    for (size_t j = 0; j < n; ++j) {
      shapes[j].resize(sqz_model_output_rank(m, j));
      shapePtrs[j] = shapes[j].data();
      elementSizes.push_back(dtypeSize(*parseDTypeName(sqz_model_output_dtype(m, j))));
    }
  }

  void setExternal(size_t j, void *data) {
    external[j] = true;
    pointers[j] = data;
  }

  /// Infers the output shapes for `inputShapes` and makes room for every output that has no
  /// external buffer.
  Status prepare(const int64_t *const *inputShapes) {
    if (Status s = prepareShapesOnly(inputShapes); !s)
      return s;
    for (size_t j = 0; j < shapes.size(); ++j) {
      if (external[j])
        continue;
      size_t count = 1;
      for (int64_t d : shapes[j])
        count *= static_cast<size_t>(d); // the runtime checked it fits
      if (!buffers[j].resize(count * elementSizes[j]))
        return Status::error(std::string("out of memory allocating output '") +
                             sqz_model_output_name(model, j) + "'");
      pointers[j] = buffers[j].data();
    }
    return Status::success();
  }

  /// Only infers the output shapes (shape() gives them), allocating nothing.
  Status prepareShapesOnly(const int64_t *const *inputShapes) {
    if (sqz_model_infer_output_shapes(model, inputShapes, shapePtrs.data()) != 0)
      return Status::error(sqz_last_error());
    return Status::success();
  }

  const std::vector<int64_t> &shape(size_t j) const { return shapes[j]; }
  void *const *data() const { return pointers.data(); }

private:
  sqz_model *model;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t *> shapePtrs;
  std::vector<size_t> elementSizes;
  std::vector<AlignedBuffer> buffers;
  std::vector<void *> pointers;
  std::vector<bool> external;
};
} // namespace

static bool isIntegerIds(const std::string &dtype) { return dtype == "int64" || dtype == "int32"; }

Status sqz::runtime::matchLMSignature(sqz_model *m, const char *what, LMSignature &sig) {
  size_t nin = sqz_model_num_inputs(m), nout = sqz_model_num_outputs(m);
  bool dynamic = sqz_model_is_dynamic(m);
  for (size_t i = 0; i < nin; ++i) {
    std::string name = sqz_model_input_name(m, i);
    if (name.find("past") != std::string::npos || name.find("cache") != std::string::npos)
      return Status::error(
          std::string(what) + ": input '" + name + "' looks like a KV cache: " +
          (dynamic ? std::string("this mode needs a full-recompute model (token ids only)")
                   : std::string("decoding with a KV cache needs a dynamic past length, which "
                                 "this static-shape artifact does not have; compile with "
                                 "--dynamic-dim (or keep the ONNX dim_params), or export the "
                                 "model without past_key_values (full recompute)")));
  }
  if (nin != 1 || nout < 1)
    return Status::error(std::string(what) +
                         " needs a decoder LM artifact with one input (token ids [1, L]) and "
                         "logits [1, L, vocab] as its first output; this one has " +
                         std::to_string(nin) + " inputs");
  TensorView ids(m, 0, false), logits(m, 0, true);
  if (!isIntegerIds(ids.dtype) || ids.shape.size() != 2 ||
      !(ids.shape[0] == 1 || (ids.isDynamic(0) && ids.maxShape[0] != 0)) ||
      (ids.isDynamic(1) && ids.maxShape[1] == 0))
    return Status::error(std::string(what) + ": input '" + ids.name +
                         "' must be int64 or int32 token ids of shape [1, L], not " + ids.dtype +
                         " " + ids.format());
  sig.ids64 = ids.dtype == "int64";
  sig.dynamic = ids.isDynamic(1);
  sig.length = !sig.dynamic ? ids.shape[1]
               : ids.maxShape[1] < 0 ? kUnboundedLength
                                     : ids.maxShape[1];
  // The logits shape for one position tells the vocabulary (and checks the layout).
  std::vector<int64_t> out = logits.shape;
  if (dynamic) {
    int64_t one[2] = {1, sig.dynamic ? 1 : sig.length};
    const int64_t *inShapes[] = {one};
    OutputSet outputs(m);
    if (Status s = outputs.prepare(inShapes); !s)
      return s.withContext(what);
    out = outputs.shape(0);
    out[1] = sig.dynamic ? -1 : out[1];
  }
  if (logits.dtype != "float32" || out.size() != 3 || out[0] != 1 ||
      (sig.dynamic ? !logits.isDynamic(1) : out[1] != sig.length) || out[2] < 1)
    return Status::error(std::string(what) + ": output '" + logits.name +
                         "' must be float32 logits of shape [1, " +
                         (!sig.dynamic              ? std::to_string(sig.length)
                          : ids.dimNames[1].empty() ? std::string("seq")
                                                    : ids.dimNames[1]) +
                         ", vocab], not " + logits.dtype + " " + logits.format());
  sig.vocab = out[2];
  return Status::success();
}

Status sqz::runtime::runLM(sqz_model *m, const LMSignature &sig,
                           const std::vector<int64_t> &ids, std::vector<float> &logits) {
  if (ids.empty() || static_cast<int64_t>(ids.size()) > sig.length)
    return Status::error("runLM: " + std::to_string(ids.size()) + " ids for length " +
                         std::to_string(sig.length));
  int64_t length = sig.dynamic ? static_cast<int64_t>(ids.size()) : sig.length;
  std::vector<int64_t> ids64(length, 0);
  std::vector<int32_t> ids32(length, 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    ids64[i] = ids[i];
    ids32[i] = static_cast<int32_t>(ids[i]);
  }
  logits.resize(static_cast<size_t>(length * sig.vocab));
  const void *inputs[] = {sig.ids64 ? static_cast<const void *>(ids64.data()) : ids32.data()};
  int64_t shape[2] = {1, length};
  const int64_t *inShapes[] = {shape};
  // Outputs other than the logits still need buffers.
  OutputSet outputs(m);
  outputs.setExternal(0, logits.data());
  if (Status s = outputs.prepare(inShapes); !s)
    return s;
  if (sqz_model_run_shaped(m, inShapes, inputs, outputs.data()) != 0)
    return Status::error(sqz_last_error());
  return Status::success();
}

namespace {
/// A decoder LM with run-time sequence lengths: the dynamic full-recompute form (no layers)
/// or the KV-cache form (see Generate.h).
struct DecoderModel {
  struct Layer {
    int64_t index = -1;
    size_t pastKey = SIZE_MAX, pastValue = SIZE_MAX;
    size_t presentKey = SIZE_MAX, presentValue = SIZE_MAX;
    int64_t heads = 0, headDim = 0;
    size_t elementSize = 0;
  };
  size_t ids = 0;
  bool ids64 = true;
  /// Optional inputs (SIZE_MAX when absent).
  size_t mask = SIZE_MAX, positions = SIZE_MAX;
  bool mask64 = true, positions64 = true;
  size_t logits = 0;
  /// The ids take one token at a time (a static sequence dim of 1): the prefill runs the
  /// prompt token by token.
  bool singleToken = false;
  std::vector<Layer> layers;
};

/// "past_key_values.<i>.key" -> (i, true), ".value" -> (i, false).
bool parseCacheName(const std::string &name, const std::string &prefix, int64_t &index,
                    bool &isKey) {
  if (name.compare(0, prefix.size(), prefix) != 0)
    return false;
  size_t at = prefix.size(), digits = at;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9')
    ++digits;
  if (digits == at || digits - at > 9)
    return false;
  std::string rest = name.substr(digits);
  if (rest != ".key" && rest != ".value")
    return false;
  index = std::stoll(name.substr(at, digits - at));
  isKey = rest == ".key";
  return true;
}

/// Recognizes the dynamic decoder forms; errors name the input or output that does not fit.
Status matchDecoder(sqz_model *m, DecoderModel &model) {
  const char *what = "--generate";
  size_t nin = sqz_model_num_inputs(m), nout = sqz_model_num_outputs(m);
  model = DecoderModel();
  std::vector<size_t> unknown;
  for (size_t i = 0; i < nin; ++i) {
    TensorView t(m, i, false);
    int64_t index;
    bool isKey;
    if (parseCacheName(t.name, "past_key_values.", index, isKey)) {
      if (t.dtype != "float32" && t.dtype != "float16" && t.dtype != "float64" &&
          t.dtype != "uint16")
        return Status::error(std::string(what) + ": KV-cache input '" + t.name +
                             "' must be a floating-point tensor, not " + t.dtype);
      if (t.shape.size() != 4 || !t.isDynamic(2) || t.isDynamic(1) || t.isDynamic(3) ||
          !(t.shape[0] == 1 || t.isDynamic(0)))
        return Status::error(
            std::string(what) + ": KV-cache input '" + t.name + "' is " + t.format() +
            "; the decode loop needs [batch, kv_heads, past, head_dim] with a dynamic past "
            "dim (2) and static kv_heads and head_dim" +
            (t.shape.size() == 4 && !t.isDynamic(2)
                 ? " (compile with a dynamic past length: --dynamic-dim " + t.name + ":2)"
                 : std::string()));
      DecoderModel::Layer *layer = nullptr;
      for (DecoderModel::Layer &l : model.layers)
        if (l.index == index)
          layer = &l;
      if (!layer) {
        model.layers.emplace_back();
        layer = &model.layers.back();
        layer->index = index;
        layer->heads = t.shape[1];
        layer->headDim = t.shape[3];
        layer->elementSize = dtypeSize(*parseDTypeName(t.dtype));
      } else if (layer->heads != t.shape[1] || layer->headDim != t.shape[3] ||
                 layer->elementSize != dtypeSize(*parseDTypeName(t.dtype))) {
        return Status::error(std::string(what) + ": KV-cache inputs 'past_key_values." +
                             std::to_string(index) +
                             ".key' and '.value' differ in kv_heads, head_dim or dtype");
      }
      (isKey ? layer->pastKey : layer->pastValue) = i;
    } else if (t.name == "attention_mask" || t.name == "position_ids") {
      bool mask = t.name == "attention_mask";
      if (!isIntegerIds(t.dtype) || t.shape.size() != 2 ||
          !(t.shape[0] == 1 || t.isDynamic(0)))
        return Status::error(std::string(what) + ": input '" + t.name +
                             "' must be int64 or int32 of shape [batch, " +
                             (mask ? "past + seq" : "seq") + "], not " + t.dtype + " " +
                             t.format());
      (mask ? model.mask : model.positions) = i;
      (mask ? model.mask64 : model.positions64) = t.dtype == "int64";
    } else {
      unknown.push_back(i);
    }
  }
  // The token ids: 'input_ids', else the one other input.
  size_t idsAt = unknown.size();
  for (size_t k = 0; k < unknown.size(); ++k)
    if (std::string(sqz_model_input_name(m, unknown[k])) == "input_ids")
      idsAt = k;
  if (idsAt == unknown.size() && !unknown.empty())
    idsAt = 0;
  for (size_t k = 0; k < unknown.size(); ++k)
    if (k != idsAt)
      return Status::error(
          std::string(what) + ": the model has an input '" + sqz_model_input_name(m, unknown[k]) +
          "' the decode loop cannot fill (it fills the token ids, attention_mask, position_ids "
          "and past_key_values.<i>.key/value)");
  if (idsAt == unknown.size())
    return Status::error(std::string(what) + ": the model has no token-ids input");
  model.ids = unknown[idsAt];
  TensorView ids(m, model.ids, false);
  if (!isIntegerIds(ids.dtype) || ids.shape.size() != 2 ||
      !(ids.shape[0] == 1 || ids.isDynamic(0)) ||
      !(ids.isDynamic(1) || (ids.shape[1] == 1 && !model.layers.empty())))
    return Status::error(std::string(what) + ": input '" + ids.name +
                         "' must be int64 or int32 token ids of shape [batch, seq] with a "
                         "dynamic seq dim" +
                         (model.layers.empty() ? "" : " (or a static one of 1)") + ", not " +
                         ids.dtype + " " + ids.format());
  model.ids64 = ids.dtype == "int64";
  model.singleToken = !ids.isDynamic(1);

  // Outputs: present.<i>.key/value for each layer, and the logits.
  std::vector<bool> isPresent(nout, false);
  for (size_t j = 0; j < nout; ++j) {
    int64_t index;
    bool isKey;
    std::string name = sqz_model_output_name(m, j);
    if (!parseCacheName(name, "present.", index, isKey))
      continue;
    isPresent[j] = true;
    for (DecoderModel::Layer &l : model.layers)
      if (l.index == index)
        (isKey ? l.presentKey : l.presentValue) = j;
  }
  std::sort(model.layers.begin(), model.layers.end(),
            [](const DecoderModel::Layer &a, const DecoderModel::Layer &b) {
              return a.index < b.index;
            });
  for (const DecoderModel::Layer &l : model.layers) {
    std::string base = std::to_string(l.index);
    if (l.pastKey == SIZE_MAX || l.pastValue == SIZE_MAX)
      return Status::error(std::string(what) + ": the model has KV-cache input 'past_key_values." +
                           base + (l.pastKey == SIZE_MAX ? ".value" : ".key") +
                           "' but no 'past_key_values." + base +
                           (l.pastKey == SIZE_MAX ? ".key'" : ".value'"));
    for (bool key : {true, false}) {
      size_t present = key ? l.presentKey : l.presentValue;
      std::string past = "past_key_values." + base + (key ? ".key" : ".value");
      std::string want = "present." + base + (key ? ".key" : ".value");
      if (present == SIZE_MAX)
        return Status::error(std::string(what) + ": KV-cache input '" + past +
                             "' has no matching output '" + want + "'");
      if (std::string(sqz_model_output_dtype(m, present)) !=
              sqz_model_input_dtype(m, key ? l.pastKey : l.pastValue) ||
          sqz_model_output_rank(m, present) != 4)
        return Status::error(std::string(what) + ": output '" + want +
                             "' must have the dtype and rank of '" + past + "'");
    }
  }
  size_t logits = nout;
  for (size_t j = 0; j < nout && logits == nout; ++j)
    if (std::string(sqz_model_output_name(m, j)) == "logits")
      logits = j;
  for (size_t j = 0; j < nout && logits == nout; ++j)
    if (!isPresent[j])
      logits = j;
  if (logits == nout)
    return Status::error(std::string(what) + ": the model has no logits output");
  TensorView out(m, logits, true);
  if (out.dtype != "float32" || out.shape.size() != 3)
    return Status::error(std::string(what) + ": output '" + out.name +
                         "' must be float32 logits of shape [batch, seq, vocab], not " +
                         out.dtype + " " + out.format());
  model.logits = logits;
  return Status::success();
}

/// Runs a DecoderModel step by step: feeds tokens with their past length, wires the KV
/// double buffers, and keeps every buffer across steps.
class Decoder {
public:
  Decoder(sqz_model *m, const DecoderModel &model) : m(m), model(model), outputs(m) {
    size_t nin = sqz_model_num_inputs(m);
    inputShapes.resize(nin);
    inputShapePtrs.resize(nin);
    inputPtrs.assign(nin, nullptr);
    for (size_t i = 0; i < nin; ++i) {
      inputShapes[i].resize(sqz_model_input_rank(m, i));
      inputShapePtrs[i] = inputShapes[i].data();
    }
  }

  /// Allocates the buffers for runs of up to `maxSeq` tokens and a present length of up to
  /// `maxTotal`.
  Status allocate(int64_t maxSeq, int64_t maxTotal) {
    if (!ids.allocate(maxSeq * 8) ||
        (model.mask != SIZE_MAX && !mask.allocate(maxTotal * 8)) ||
        (model.positions != SIZE_MAX && !positions.allocate(maxSeq * 8)))
      return Status::error("out of memory allocating the decode inputs");
    for (int set = 0; set < 2; ++set) {
      cache[set].resize(model.layers.size() * 2);
      for (size_t l = 0; l < model.layers.size(); ++l) {
        const DecoderModel::Layer &layer = model.layers[l];
        size_t bytes = static_cast<size_t>(layer.heads * maxTotal * layer.headDim) *
                       layer.elementSize;
        if (!cache[set][2 * l].allocate(bytes) || !cache[set][2 * l + 1].allocate(bytes))
          return Status::error("out of memory allocating the KV cache (" +
                               std::to_string(model.layers.size()) + " layers of " +
                               std::to_string(bytes) + " bytes, twice)");
      }
    }
    return Status::success();
  }

  /// Sets the input shapes for `n` new tokens after `past` cached ones.
  void setShapes(int64_t n, int64_t past) {
    inputShapes[model.ids] = {1, n};
    if (model.mask != SIZE_MAX)
      inputShapes[model.mask] = {1, past + n};
    if (model.positions != SIZE_MAX)
      inputShapes[model.positions] = {1, n};
    for (const DecoderModel::Layer &layer : model.layers)
      for (size_t input : {layer.pastKey, layer.pastValue})
        inputShapes[input] = {1, layer.heads, past, layer.headDim};
    for (size_t i = 0; i < inputShapes.size(); ++i)
      inputShapePtrs[i] = inputShapes[i].data();
  }

  /// Infers the output shapes for `n` new tokens after `past` (no run); for the checks before
  /// decoding. Gives the vocabulary.
  Status check(int64_t n, int64_t past, int64_t &vocab) {
    setShapes(n, past);
    if (Status s = outputs.prepareShapesOnly(inputShapePtrs.data()); !s)
      return s;
    return checkOutputs(n, past, vocab);
  }

  /// Runs `n` tokens after `past` cached ones (the cache holds them from the previous run) and
  /// returns the logits of the last position.
  Status run(const int64_t *tokens, int64_t n, int64_t past, const float *&lastLogits) {
    setShapes(n, past);
    for (int64_t t = 0; t < n; ++t) {
      if (model.ids64)
        reinterpret_cast<int64_t *>(ids.data())[t] = tokens[t];
      else
        reinterpret_cast<int32_t *>(ids.data())[t] = static_cast<int32_t>(tokens[t]);
    }
    inputPtrs[model.ids] = ids.data();
    if (model.mask != SIZE_MAX) {
      for (int64_t t = 0; t < past + n; ++t) {
        if (model.mask64)
          reinterpret_cast<int64_t *>(mask.data())[t] = 1;
        else
          reinterpret_cast<int32_t *>(mask.data())[t] = 1;
      }
      inputPtrs[model.mask] = mask.data();
    }
    if (model.positions != SIZE_MAX) {
      for (int64_t t = 0; t < n; ++t) {
        if (model.positions64)
          reinterpret_cast<int64_t *>(positions.data())[t] = past + t;
        else
          reinterpret_cast<int32_t *>(positions.data())[t] = static_cast<int32_t>(past + t);
      }
      inputPtrs[model.positions] = positions.data();
    }
    // The past is what the previous run wrote as present; this run writes the other set.
    std::vector<AlignedBuffer> &pastSet = cache[current], &presentSet = cache[1 - current];
    for (size_t l = 0; l < model.layers.size(); ++l) {
      const DecoderModel::Layer &layer = model.layers[l];
      inputPtrs[layer.pastKey] = pastSet[2 * l].data();
      inputPtrs[layer.pastValue] = pastSet[2 * l + 1].data();
      outputs.setExternal(layer.presentKey, presentSet[2 * l].data());
      outputs.setExternal(layer.presentValue, presentSet[2 * l + 1].data());
    }
    if (Status s = outputs.prepare(inputShapePtrs.data()); !s)
      return s;
    int64_t vocab;
    if (Status s = checkOutputs(n, past, vocab); !s)
      return s;
    if (sqz_model_run_shaped(m, inputShapePtrs.data(), inputPtrs.data(), outputs.data()) != 0)
      return Status::error(sqz_last_error());
    current = 1 - current;
    const std::vector<int64_t> &shape = outputs.shape(model.logits);
    lastLogits = static_cast<const float *>(outputs.data()[model.logits]) +
                 (shape[1] - 1) * shape[2];
    return Status::success();
  }

private:
  /// The present tensors must be [1, kv_heads, past + n, head_dim] (they fill the cache
  /// buffers) and the logits [1, n or 1, vocab].
  Status checkOutputs(int64_t n, int64_t past, int64_t &vocab) {
    for (const DecoderModel::Layer &layer : model.layers)
      for (size_t present : {layer.presentKey, layer.presentValue}) {
        const std::vector<int64_t> &got = outputs.shape(present);
        int64_t want[4] = {1, layer.heads, past + n, layer.headDim};
        if (!std::equal(got.begin(), got.end(), want))
          return Status::error(std::string("--generate: output '") +
                               sqz_model_output_name(m, present) + "' has shape " +
                               formatShape(got) + " for " + std::to_string(n) +
                               " tokens after " + std::to_string(past) +
                               "; a KV-cache present tensor must be " +
                               formatShape(std::vector<int64_t>(want, want + 4)));
      }
    const std::vector<int64_t> &logits = outputs.shape(model.logits);
    if (logits[0] != 1 || (logits[1] != n && logits[1] != 1) || logits[2] < 1)
      return Status::error(std::string("--generate: output '") +
                           sqz_model_output_name(m, model.logits) + "' has shape " +
                           formatShape(logits) + " for " + std::to_string(n) +
                           " tokens; logits must be [1, " + std::to_string(n) + ", vocab]");
    vocab = logits[2];
    return Status::success();
  }

  static std::string formatShape(const std::vector<int64_t> &shape) {
    std::string text = "[";
    for (size_t d = 0; d < shape.size(); ++d)
      text += (d ? ", " : "") + std::to_string(shape[d]);
    return text + "]";
  }

  sqz_model *m;
  const DecoderModel &model;
  OutputSet outputs;
  std::vector<std::vector<int64_t>> inputShapes;
  std::vector<const int64_t *> inputShapePtrs;
  std::vector<const void *> inputPtrs;
  AlignedBuffer ids, mask, positions;
  /// Two sets of [key, value] buffers per layer; cache[current] holds the past.
  std::vector<AlignedBuffer> cache[2];
  int current = 0;
};
} // namespace

/// `generate` for the dynamic forms (DecoderModel).
static Status generateDynamic(sqz_model *m, const std::vector<int64_t> &prompt,
                              int64_t maxNewTokens, const SamplingOptions &options,
                              std::vector<int64_t> &generated, GenerateStats &stats,
                              const std::function<void(int64_t)> &onToken) {
  DecoderModel model;
  if (Status s = matchDecoder(m, model); !s)
    return s;
  bool cached = !model.layers.empty();
  stats.mode = cached ? "KV cache, " + std::to_string(model.layers.size()) +
                           (model.layers.size() == 1 ? " layer" : " layers")
                      : std::string("full recompute, dynamic length");
  int64_t promptLength = static_cast<int64_t>(prompt.size());
  if (maxNewTokens == 0)
    return Status::success();
  // The longest run and the longest sequence (past + new) any run sees.
  int64_t maxTotal = promptLength + maxNewTokens - 1;
  int64_t prefillChunk = model.singleToken ? 1 : promptLength;
  int64_t maxSeq = cached ? prefillChunk : maxTotal;
  Decoder decoder(m, model);
  // Check the first and the last run's shapes against the model's bounds before running.
  int64_t vocab = 0, lastVocab = 0;
  auto fits = [&](int64_t n, int64_t past, int64_t &v) -> Status {
    Status s = decoder.check(n, past, v);
    if (s)
      return s;
    return Status::error("--generate: the prompt (" + std::to_string(promptLength) +
                         " tokens) plus " + std::to_string(maxNewTokens) +
                         " new tokens do not fit the model: " + s.message());
  };
  if (Status s = cached ? fits(prefillChunk, 0, vocab) : fits(promptLength, 0, vocab); !s)
    return s;
  if (maxNewTokens > 1)
    if (Status s = cached ? fits(1, maxTotal - 1, lastVocab) : fits(maxTotal, 0, lastVocab); !s)
      return s;
  for (int64_t id : prompt)
    if (id < 0 || id >= vocab)
      return Status::error("prompt token " + std::to_string(id) + " is outside the vocabulary [0, " +
                           std::to_string(vocab) + ")");
  if (Status s = decoder.allocate(maxSeq, maxTotal); !s)
    return s;

  std::vector<int64_t> sequence(prompt);
  sequence.reserve(maxTotal + 1);
  Sampler sampler(options);
  using Clock = std::chrono::steady_clock;
  const float *logits = nullptr;
  int64_t past = 0;
  for (int64_t step = 0; step < maxNewTokens; ++step) {
    Clock::time_point start = Clock::now();
    if (!cached) {
      if (Status s = decoder.run(sequence.data(), static_cast<int64_t>(sequence.size()), 0,
                                 logits);
          !s)
        return s;
    } else if (step == 0) {
      for (; past < promptLength; past += prefillChunk)
        if (Status s = decoder.run(sequence.data() + past, prefillChunk, past, logits); !s)
          return s;
    } else {
      if (Status s = decoder.run(&sequence.back(), 1, past, logits); !s)
        return s;
      past += 1;
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (step == 0) {
      stats.prefillTokens = promptLength;
      stats.prefillSeconds = seconds;
    } else {
      stats.decodeTokens += 1;
      stats.decodeSeconds += seconds;
    }
    int64_t next = sampler.pick(logits, vocab);
    generated.push_back(next);
    if (onToken)
      onToken(next);
    if (next == options.stopToken)
      break;
    sequence.push_back(next);
  }
  return Status::success();
}

Status sqz::runtime::generate(sqz_model *m, const std::vector<int64_t> &prompt,
                              int64_t maxNewTokens, const SamplingOptions &options,
                              std::vector<int64_t> &generated, GenerateStats &stats,
                              const std::function<void(int64_t)> &onToken) {
  stats = GenerateStats();
  if (prompt.empty())
    return Status::error("--generate needs a non-empty prompt (e.g. the BOS token)");
  if (maxNewTokens < 0)
    return Status::error("the number of tokens to generate must not be negative");
  // A static sequence length runs padded (below); a dynamic one at its real length, and a
  // KV cache needs a dynamic past length.
  LMSignature sig;
  Status matched = matchLMSignature(m, "--generate", sig);
  if (sqz_model_is_dynamic(m) && (!matched || sig.dynamic))
    return generateDynamic(m, prompt, maxNewTokens, options, generated, stats, onToken);
  if (!matched)
    return matched;
  stats.mode = "full recompute, static length";
  int64_t needed = static_cast<int64_t>(prompt.size()) + maxNewTokens - 1;
  if (static_cast<int64_t>(prompt.size()) > sig.length || needed > sig.length)
    return Status::error("the prompt (" + std::to_string(prompt.size()) + " tokens) plus " +
                         std::to_string(maxNewTokens) + " new tokens needs a sequence length of " +
                         std::to_string(std::max<int64_t>(needed, prompt.size())) +
                         ", but the artifact was compiled for " + std::to_string(sig.length) +
                         " (recompile with --input-shape <ids>=1x" +
                         std::to_string(std::max<int64_t>(needed, prompt.size())) + ")");
  for (int64_t id : prompt)
    if (id < 0 || id >= sig.vocab)
      return Status::error("prompt token " + std::to_string(id) + " is outside the vocabulary [0, " +
                           std::to_string(sig.vocab) + ")");

  std::vector<float> logits;
  std::vector<int64_t> sequence(prompt);
  Sampler sampler(options);
  using Clock = std::chrono::steady_clock;
  for (int64_t step = 0; step < maxNewTokens; ++step) {
    Clock::time_point start = Clock::now();
    if (Status s = runLM(m, sig, sequence, logits); !s)
      return s;
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (step == 0) {
      stats.prefillTokens = static_cast<int64_t>(sequence.size());
      stats.prefillSeconds = seconds;
    } else {
      stats.decodeTokens += 1;
      stats.decodeSeconds += seconds;
    }
    int64_t last = static_cast<int64_t>(sequence.size()) - 1;
    int64_t next = sampler.pick(logits.data() + last * sig.vocab, sig.vocab);
    generated.push_back(next);
    if (onToken)
      onToken(next);
    if (next == options.stopToken)
      break;
    sequence.push_back(next);
  }
  return Status::success();
}
