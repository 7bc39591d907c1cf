/*===- TestModelDynamic.c - A stand-in for a model library with ABI 3 -----===*\
|*                                                                            *|
|* Implements artifact ABI 3 (dynamic dims) by hand so the runtime's shape    *|
|* handling can be tested without the compiler. TEST_NO_OUTPUT_SHAPES builds  *|
|* a broken variant without sqz_model_output_shapes.                          *|
|*                                                                            *|
|*   inputs  x: float32[batch, seq], past: float32[batch, past], k: int32[]   *|
|*   outputs y: float32[batch, seq] = x + k (+ bias)                          *|
|*           cat: float32[batch, past + seq] = concat(past, x) on dim 1       *|
|*                                                                            *|
|* The entry sqz_model_invoke_weights also adds bias, the first float of the  *|
|* weights buffer. Both entries check that the output shapes they are given   *|
|* are the ones sqz_model_output_shapes computes, and write NaN otherwise.    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <math.h>
#include <stdint.h>

uint32_t sqz_abi_version(void) { return 3; }

/* Input shapes: x [b, s], past [b, p] (k is a scalar: no entries). */
static void outputShapes(const int64_t *in, int64_t *out) {
  out[0] = in[0];
  out[1] = in[1];
  out[2] = in[0];
  out[3] = in[3] + in[1];
}

#ifndef TEST_NO_OUTPUT_SHAPES
void sqz_model_output_shapes(const int64_t *inputShapes, int64_t *out) {
  outputShapes(inputShapes, out);
}
#endif

static void run(void **buffers, const int64_t *shapes, float bias) {
  const float *x = (const float *)buffers[0];
  const float *past = (const float *)buffers[1];
  int32_t k = *(const int32_t *)buffers[2];
  float *y = (float *)buffers[3];
  float *cat = (float *)buffers[4];
  int64_t b = shapes[0], s = shapes[1], p = shapes[3];
  int64_t want[4];
  outputShapes(shapes, want);
  int bad = 0;
  for (int i = 0; i < 4; ++i)
    bad |= shapes[4 + i] != want[i];
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < s; ++j)
      y[i * s + j] = bad ? NAN : x[i * s + j] + (float)k + bias;
    for (int64_t j = 0; j < p; ++j)
      cat[i * (p + s) + j] = bad ? NAN : past[i * p + j];
    for (int64_t j = 0; j < s; ++j)
      cat[i * (p + s) + p + j] = bad ? NAN : x[i * s + j];
  }
}

void sqz_model_invoke(void **buffers, const int64_t *shapes) {
  run(buffers, shapes, 0.0f);
}

void sqz_model_invoke_weights(void **buffers, const int64_t *shapes) {
  run(buffers, shapes, *(const float *)buffers[5]);
}
