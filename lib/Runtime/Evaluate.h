//===- Evaluate.h - Language-model quality metrics --------------*- C++ -*-===//
//
// `sqz-run --eval-tokens tokens.npy --window W [--compare-to dense/]`: perplexity of a
// full-recompute decoder LM (see Generate.h) over an int64 [rows, len] token array, and, against
// a reference artifact (the dense model), the mean KL divergence KL(P_ref || P) of the
// next-token distributions and the top-1 agreement — llama.cpp's quantization-quality metrics.
//
// Each row is cut into consecutive windows of W tokens (the last one may be shorter; a window
// of one token predicts nothing). In a window, the logits at position t predict token t + 1,
// so a window of w tokens scores w - 1 predictions; the model sees nothing before the window.
// Perplexity = exp(mean negative log-likelihood over all predictions). Softmax in double.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_EVALUATE_H
#define SQZ_RUNTIME_EVALUATE_H

#include "Runtime/Status.h"
#include "sqz-c/sqz.h"

#include <cstdint>
#include <vector>

namespace sqz {
namespace runtime {

struct EvalResult {
  int64_t predictions = 0;
  double meanNll = 0;
  double perplexity = 0;
  /// With a reference model:
  bool compared = false;
  double meanKl = 0;
  double top1Agreement = 0;
};

/// Evaluates `m` (and `reference`, may be null) on `tokens` [rows, length].
Status evaluateLM(sqz_model *m, sqz_model *reference, const std::vector<int64_t> &tokens,
                  int64_t rows, int64_t length, int64_t window, EvalResult &result);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_EVALUATE_H
