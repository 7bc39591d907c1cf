//===- Evaluate.cpp - Language-model quality metrics ----------------------===//

#include "Runtime/Evaluate.h"

#include "Runtime/Generate.h"

#include <algorithm>
#include <cmath>
#include <string>

using namespace sqz::runtime;

/// log-softmax of `logits[0, vocab)` into `out` (double).
static void logSoftmax(const float *logits, int64_t vocab, std::vector<double> &out) {
  out.resize(vocab);
  double top = logits[0];
  for (int64_t i = 1; i < vocab; ++i)
    top = std::max<double>(top, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += std::exp(logits[i] - top);
  double logSum = top + std::log(sum);
  for (int64_t i = 0; i < vocab; ++i)
    out[i] = logits[i] - logSum;
}

static int64_t argmax(const float *logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best])
      best = i;
  return best;
}

Status sqz::runtime::evaluateLM(sqz_model *m, sqz_model *reference,
                                const std::vector<int64_t> &tokens, int64_t rows,
                                int64_t length, int64_t window, EvalResult &result) {
  result = EvalResult();
  LMSignature sig, refSig;
  if (Status s = matchLMSignature(m, "--eval-tokens", sig); !s)
    return s;
  if (reference) {
    if (Status s = matchLMSignature(reference, "--compare-to", refSig); !s)
      return s;
    if (refSig.vocab != sig.vocab)
      return Status::error("--compare-to: the reference has a vocabulary of " +
                           std::to_string(refSig.vocab) + ", the model " +
                           std::to_string(sig.vocab));
  }
  if (window < 2)
    return Status::error("--window must be at least 2 (a window predicts its tokens 2..W)");
  for (const LMSignature *s : {&sig, reference ? &refSig : &sig})
    if (window > s->length)
      return Status::error(
          "--window " + std::to_string(window) + " is longer than " +
          (s->dynamic ? "the bound " + std::to_string(s->length) +
                            " of the dynamic sequence length" +
                            std::string(s == &refSig ? " of the reference" : "") +
                            " (recompile with a larger bound in --dynamic-dim)"
                      : "the compiled sequence length " + std::to_string(s->length) +
                            std::string(s == &refSig ? " of the reference" : "") +
                            " (recompile with --input-shape <ids>=1x" +
                            std::to_string(window) + ")"));
  if (rows < 1 || length < 2 || static_cast<int64_t>(tokens.size()) != rows * length)
    return Status::error("--eval-tokens needs an int64 [rows, len] array with len >= 2");
  for (int64_t t : tokens)
    if (t < 0 || t >= sig.vocab)
      return Status::error("token " + std::to_string(t) + " is outside the vocabulary [0, " +
                           std::to_string(sig.vocab) + ")");

  std::vector<float> logits, refLogits;
  std::vector<double> logP, logQ;
  double nll = 0, kl = 0;
  int64_t agree = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t start = 0; start + 1 < length; start += window) {
      int64_t w = std::min(window, length - start);
      if (w < 2)
        break;
      std::vector<int64_t> ids(tokens.begin() + r * length + start,
                               tokens.begin() + r * length + start + w);
      if (Status s = runLM(m, sig, ids, logits); !s)
        return s;
      if (reference)
        if (Status s = runLM(reference, refSig, ids, refLogits); !s)
          return s;
      for (int64_t t = 0; t + 1 < w; ++t) {
        const float *row = logits.data() + t * sig.vocab;
        logSoftmax(row, sig.vocab, logQ);
        nll -= logQ[ids[t + 1]];
        if (reference) {
          const float *refRow = refLogits.data() + t * sig.vocab;
          logSoftmax(refRow, sig.vocab, logP);
          double d = 0;
          for (int64_t v = 0; v < sig.vocab; ++v)
            d += std::exp(logP[v]) * (logP[v] - logQ[v]);
          kl += std::max(0.0, d);
          agree += argmax(row, sig.vocab) == argmax(refRow, sig.vocab);
        }
        ++result.predictions;
      }
    }
  }
  if (result.predictions == 0)
    return Status::error("--eval-tokens: no predictions (every window holds one token)");
  result.meanNll = nll / result.predictions;
  result.perplexity = std::exp(result.meanNll);
  if (reference) {
    result.compared = true;
    result.meanKl = kl / result.predictions;
    result.top1Agreement = static_cast<double>(agree) / result.predictions;
  }
  return Status::success();
}
