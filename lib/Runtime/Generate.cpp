//===- Generate.cpp - Token-by-token decoding of language models ----------===//

#include "Runtime/Generate.h"

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

Status sqz::runtime::matchLMSignature(sqz_model *m, const char *what, LMSignature &sig) {
  size_t nin = sqz_model_num_inputs(m), nout = sqz_model_num_outputs(m);
  for (size_t i = 0; i < nin; ++i) {
    std::string name = sqz_model_input_name(m, i);
    if (name.find("past") != std::string::npos || name.find("cache") != std::string::npos)
      return Status::error(std::string(what) + ": input '" + name +
                           "' looks like a KV cache: decoding with a KV cache needs run-time "
                           "sequence lengths, which static-shape artifacts do not have yet; "
                           "export the model without past_key_values (full recompute)");
  }
  if (nin != 1 || nout < 1)
    return Status::error(std::string(what) +
                         " needs a decoder LM artifact with one input (token ids [1, L]) and "
                         "logits [1, L, vocab] as its first output; this one has " +
                         std::to_string(nin) + " inputs");
  std::string dtype = sqz_model_input_dtype(m, 0);
  const int64_t *in = sqz_model_input_shape(m, 0);
  if ((dtype != "int64" && dtype != "int32") || sqz_model_input_rank(m, 0) != 2 || in[0] != 1)
    return Status::error(std::string(what) + ": input '" + sqz_model_input_name(m, 0) +
                         "' must be int64 or int32 token ids of shape [1, L], not " + dtype +
                         " of rank " + std::to_string(sqz_model_input_rank(m, 0)));
  const int64_t *out = sqz_model_output_shape(m, 0);
  if (std::string(sqz_model_output_dtype(m, 0)) != "float32" ||
      sqz_model_output_rank(m, 0) != 3 || out[0] != 1 || out[1] != in[1] || out[2] < 1)
    return Status::error(std::string(what) + ": output '" + sqz_model_output_name(m, 0) +
                         "' must be float32 logits of shape [1, " + std::to_string(in[1]) +
                         ", vocab]");
  sig.ids64 = dtype == "int64";
  sig.length = in[1];
  sig.vocab = out[2];
  return Status::success();
}

Status sqz::runtime::runLM(sqz_model *m, const LMSignature &sig,
                           const std::vector<int64_t> &ids, std::vector<float> &logits) {
  if (ids.empty() || static_cast<int64_t>(ids.size()) > sig.length)
    return Status::error("runLM: " + std::to_string(ids.size()) + " ids for length " +
                         std::to_string(sig.length));
  std::vector<int64_t> ids64(sig.length, 0);
  std::vector<int32_t> ids32(sig.length, 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    ids64[i] = ids[i];
    ids32[i] = static_cast<int32_t>(ids[i]);
  }
  logits.resize(static_cast<size_t>(sig.length * sig.vocab));
  const void *inputs[] = {sig.ids64 ? static_cast<const void *>(ids64.data()) : ids32.data()};
  // Outputs other than the logits still need buffers.
  size_t nout = sqz_model_num_outputs(m);
  std::vector<std::vector<unsigned char>> extra(nout);
  std::vector<void *> outputs(nout);
  outputs[0] = logits.data();
  for (size_t j = 1; j < nout; ++j) {
    extra[j].resize(sqz_model_output_nbytes(m, j));
    outputs[j] = extra[j].data();
  }
  if (sqz_model_run(m, inputs, outputs.data()) != 0)
    return Status::error(sqz_last_error());
  return Status::success();
}

Status sqz::runtime::generate(sqz_model *m, const std::vector<int64_t> &prompt,
                              int64_t maxNewTokens, const SamplingOptions &options,
                              std::vector<int64_t> &generated, GenerateStats &stats,
                              const std::function<void(int64_t)> &onToken) {
  LMSignature sig;
  if (Status s = matchLMSignature(m, "--generate", sig); !s)
    return s;
  if (prompt.empty())
    return Status::error("--generate needs a non-empty prompt (e.g. the BOS token)");
  if (maxNewTokens < 0)
    return Status::error("the number of tokens to generate must not be negative");
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
  stats = GenerateStats();
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
