//===- Generate.h - Token-by-token decoding of language models --*- C++ -*-===//
//
// The decode loop behind `sqz-run --generate`: runs a compiled decoder LM one
// token at a time, picking each next token from the last position's logits
// (greedy, or temperature + top-k sampling from a seeded generator), and times
// the prefill (the prompt's forward pass) and the decode steps separately.
//
// Supported artifact signatures (batch 1):
//   full recompute, static   one integer input ids [1, L] and a float32 first
//                   output logits [1, L, V] (e.g. the bundled stories260K):
//                   every step runs the whole sequence, padded with token 0
//                   to the compiled length L. Exact for causal models, whose
//                   logits at position t ignore positions > t.
//   full recompute, dynamic  ids [1, seq] with a dynamic seq dim (ABI 3):
//                   every step runs the whole sequence at its real length.
//   KV cache        inputs past_key_values.<i>.key / .value, [batch, kv_heads,
//                   past, head_dim] with a dynamic past dim, paired with
//                   outputs present.<i>.key / .value [batch, kv_heads,
//                   past + seq, head_dim]: the prefill runs the prompt with
//                   past = 0, then each step runs the new token alone with the
//                   previous step's present tensors as past. The two sets of
//                   KV buffers are allocated once, at the longest length, and
//                   swap roles every step.
// The dynamic forms may also have the inputs attention_mask (int64 or int32
// [batch, past + seq], all ones) and position_ids ([batch, seq], past ..
// past + seq - 1), which the loop fills; the logits output is the one named
// "logits", else the first that is not a present.* tensor. A static model
// with KV-cache inputs cannot decode (its past length is fixed) and is
// rejected with an error that says so.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_GENERATE_H
#define SQZ_RUNTIME_GENERATE_H

#include "Runtime/Status.h"
#include "sqz-c/sqz.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sqz {
namespace runtime {

struct SamplingOptions {
  /// 0: greedy (argmax, the first maximum on ties). Otherwise softmax(logits / temperature).
  float temperature = 0.0f;
  /// Sample among the k most likely tokens only (0: all). Ignored when greedy.
  int64_t topK = 0;
  uint64_t seed = 0;
  /// Stop after generating this token (-1: never), e.g. BOS for llama2.c models.
  int64_t stopToken = -1;
};

struct GenerateStats {
  /// How the model was run: "full recompute, static length", "full recompute, dynamic
  /// length" or "KV cache, <n> layers".
  std::string mode;
  int64_t prefillTokens = 0; ///< prompt tokens processed by the first forward pass
  double prefillSeconds = 0; ///< that pass (it also yields the first new token)
  int64_t decodeTokens = 0;  ///< tokens from later passes
  double decodeSeconds = 0;
};

/// A decoder LM artifact in the full-recompute form: ids [1, length] (int64 or int32) ->
/// logits [1, length, vocab] (float32, the first output), or the same with a dynamic length.
struct LMSignature {
  bool ids64 = true;
  /// The sequence dim is dynamic: runs use the real number of ids.
  bool dynamic = false;
  /// The static length, or the bound of the dynamic one (kUnboundedLength if none).
  int64_t length = 0, vocab = 0;
};

constexpr int64_t kUnboundedLength = INT64_MAX;

/// Checks `m` has the full-recompute form; `what` names the feature in errors
/// ("--generate", "--eval-tokens").
Status matchLMSignature(sqz_model *m, const char *what, LMSignature &sig);

/// Runs `m` on `ids` (1 <= ids.size() <= sig.length; padded with token 0 to sig.length when the
/// length is static) and leaves the logits of every position run in `logits` (resized as
/// needed): sig.length positions, or ids.size() when dynamic.
Status runLM(sqz_model *m, const LMSignature &sig, const std::vector<int64_t> &ids,
             std::vector<float> &logits);

/// Picks the next token from `vocab` logits. Deterministic for a seed.
class Sampler {
public:
  explicit Sampler(const SamplingOptions &options);
  int64_t pick(const float *logits, int64_t vocab);

private:
  double uniform(); // [0, 1), splitmix64-based (the same on every platform)
  SamplingOptions options;
  uint64_t state;
  std::vector<std::pair<float, int64_t>> scratch;
};

/// Generates up to `maxNewTokens` after `prompt` (non-empty) with model `m`,
/// appending them to `generated` and calling `onToken` (may be empty) with
/// each as it is produced. Picks the decode form from the model's inputs (see
/// the top of this file). Errors: an unsupported signature, a prompt plus
/// maxNewTokens longer than the model allows (the compiled sequence length, or
/// the bounds of the dynamic dims), ids outside the vocabulary, a failed run.
Status generate(sqz_model *m, const std::vector<int64_t> &prompt, int64_t maxNewTokens,
                const SamplingOptions &options, std::vector<int64_t> &generated,
                GenerateStats &stats, const std::function<void(int64_t)> &onToken);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_GENERATE_H
