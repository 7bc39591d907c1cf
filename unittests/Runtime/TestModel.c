/*===- TestModel.c - A stand-in for a compiled model library --------------===*\
|*                                                                            *|
|* Implements artifact ABI 1 by hand so the runtime and sqz-run can be tested *|
|* without the compiler. Built several times: TEST_ABI_VERSION and            *|
|* TEST_NO_ABI_SYMBOL make broken variants for the loader's error paths.      *|
|*                                                                            *|
|*   inputs  x: float32[2,3], k: int32[]                                      *|
|*   outputs y: float32[2,3] = x * k, is/pos: bool[2,3] = x > 0               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <stdint.h>

#ifndef TEST_ABI_VERSION
#define TEST_ABI_VERSION 1
#endif

#ifndef TEST_NO_ABI_SYMBOL
uint32_t sqz_abi_version(void) { return TEST_ABI_VERSION; }
#endif

void sqz_model_invoke(void **buffers) {
  const float *x = (const float *)buffers[0];
  const int32_t *k = (const int32_t *)buffers[1];
  float *y = (float *)buffers[2];
  uint8_t *pos = (uint8_t *)buffers[3];
  for (int i = 0; i < 6; ++i) {
    y[i] = x[i] * (float)*k;
    pos[i] = x[i] > 0;
  }
}
