/*===- TestLM.c - A stand-in decoder LM with ABI 3 ------------------------===*\
|*                                                                            *|
|* A toy language model for the decode loop's tests (Generate.h), with a      *|
|* vocabulary of 16. The next token after s_0 .. s_{L-1} is                   *|
|*                                                                            *|
|*   (5 * (1 s_0 + 2 s_1 + ... + L s_{L-1}) + L + 2) mod 16,                  *|
|*                                                                            *|
|* given as one-hot logits at every position (the row of position t scores    *|
|* the token after s_0 .. s_t).                                               *|
|*                                                                            *|
|* Default: the KV-cache form. Inputs input_ids int64[1, seq],                *|
|* attention_mask int64[1, past + seq], position_ids int64[1, seq],           *|
|* past_key_values.0.key / .value float32[1, 2, past, 3]; outputs logits      *|
|* float32[1, seq, 16], present.0.key / .value float32[1, 2, past + seq, 3].  *|
|* The key of position j holds s_j + 100 h + 1000 d, the value j + 10 h; the  *|
|* sum over the past comes from the past keys, so a past that is not the      *|
|* previous step's present, or in another order, gives other tokens. A mask   *|
|* that is not all ones of length past + seq, position ids other than past .. *|
|* past + seq - 1, or a past value that is not its position shift every token *|
|* by one.                                                                    *|
|*                                                                            *|
|* LAYERS=2: two layers (past_key_values.1.*, present.1.*; layer 1's keys     *|
|* are 10000 above layer 0's). TEST_LM_FULL: the full-recompute form,         *|
|* input_ids int64[1, seq] -> logits.                                         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <stdint.h>

#define VOCAB 16
#define HEADS 2
#define HEAD_DIM 3
#ifndef LAYERS
#define LAYERS 1
#endif

uint32_t sqz_abi_version(void) { return 3; }

static void oneHot(float *row, int64_t token) {
  for (int v = 0; v < VOCAB; ++v)
    row[v] = 0.0f;
  row[token % VOCAB] = 1.0f;
}

#ifdef TEST_LM_FULL

void sqz_model_output_shapes(const int64_t *in, int64_t *out) {
  out[0] = in[0];
  out[1] = in[1];
  out[2] = VOCAB;
}

void sqz_model_invoke(void **buffers, const int64_t *shapes) {
  const int64_t *ids = (const int64_t *)buffers[0];
  float *logits = (float *)buffers[1];
  int64_t n = shapes[1], sum = 0;
  for (int64_t t = 0; t < n; ++t) {
    sum += (t + 1) * ids[t];
    oneHot(logits + t * VOCAB, 5 * sum + t + 3);
  }
}

#else

/* Input shapes: ids [1, n] (0-1), mask [1, total] (2-3), positions [1, n] (4-5), then
 * per layer l the past key [1, H, p, D] (6 + 8 l ..) and value (10 + 8 l ..). */
#define INPUT_DIMS (6 + 8 * LAYERS)

void sqz_model_output_shapes(const int64_t *in, int64_t *out) {
  int64_t n = in[1], past = in[8];
  out[0] = 1;
  out[1] = n;
  out[2] = VOCAB;
  for (int k = 0; k < 2 * LAYERS; ++k) {
    out[3 + 4 * k] = 1;
    out[4 + 4 * k] = HEADS;
    out[5 + 4 * k] = past + n;
    out[6 + 4 * k] = HEAD_DIM;
  }
}

void sqz_model_invoke(void **buffers, const int64_t *shapes) {
  const int64_t *ids = (const int64_t *)buffers[0];
  const int64_t *mask = (const int64_t *)buffers[1];
  const int64_t *positions = (const int64_t *)buffers[2];
  float *logits = (float *)buffers[3 + 2 * LAYERS];
  int64_t n = shapes[1], total = shapes[3], past = shapes[8];
  int64_t length = past + n, sum = 0;
  int bad = total != length;
  for (int k = 0; k < 2 * LAYERS; ++k)
    bad |= shapes[4 * k + 8] != past || shapes[INPUT_DIMS + 3 + 4 * k + 2] != length;
  for (int64_t t = 0; t < total; ++t)
    bad |= mask[t] != 1;
  for (int64_t t = 0; t < n; ++t)
    bad |= positions[t] != past + t;
  /* Layer l's keys are layer 0's plus 10000 l, so layers that trade places show. */
  for (int l = 0; l < LAYERS; ++l) {
    const float *pastKey = (const float *)buffers[3 + 2 * l];
    const float *pastValue = (const float *)buffers[4 + 2 * l];
    float *key = (float *)buffers[4 + 2 * LAYERS + 2 * l];
    float *value = (float *)buffers[5 + 2 * LAYERS + 2 * l];
    const float *firstKey = (const float *)buffers[3];
    for (int h = 0; h < HEADS; ++h)
      for (int64_t j = 0; j < past; ++j)
        for (int d = 0; d < HEAD_DIM; ++d) {
          float k = pastKey[(h * past + j) * HEAD_DIM + d];
          float v = pastValue[(h * past + j) * HEAD_DIM + d];
          bad |= k - 100 * h - 1000 * d - 10000 * l != firstKey[j * HEAD_DIM];
          bad |= v != (float)(j + 10 * h);
          key[(h * length + j) * HEAD_DIM + d] = k;
          value[(h * length + j) * HEAD_DIM + d] = v;
        }
    for (int64_t t = 0; t < n; ++t)
      for (int h = 0; h < HEADS; ++h)
        for (int d = 0; d < HEAD_DIM; ++d) {
          int64_t at = (h * length + past + t) * HEAD_DIM + d;
          key[at] = (float)(ids[t] + 100 * h + 1000 * d + 10000 * l);
          value[at] = (float)(past + t + 10 * h);
        }
  }
  const float *firstKey = (const float *)buffers[3];
  for (int64_t j = 0; j < past; ++j)
    sum += (j + 1) * (int64_t)firstKey[j * HEAD_DIM];
  for (int64_t t = 0; t < n; ++t) {
    int64_t position = past + t;
    sum += (position + 1) * ids[t];
    oneHot(logits + t * VOCAB, 5 * sum + position + 3 + bad);
  }
}

#endif
