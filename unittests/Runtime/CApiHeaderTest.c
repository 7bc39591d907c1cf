/*===- CApiHeaderTest.c - sqz-c/sqz.h must compile as plain C -------------===*\
|*                                                                            *|
|* Built as C99 with -pedantic-errors: the header is for C embedders too, so  *|
|* any C++-only construct in it fails this build.                             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "sqz-c/sqz.h"
#include "sqz-c/sqz_gpu.h"

/* Takes the address of every API function, so each declaration is checked. */
int sqzCApiCompilesAsC(void) {
  void (*fns[])(void) = {
      (void (*)(void))sqz_last_error,
      (void (*)(void))sqz_model_load,
      (void (*)(void))sqz_model_load_on_device,
      (void (*)(void))sqz_model_device,
      (void (*)(void))sqz_model_last_run_gpu_ms,
      (void (*)(void))sqz_cuda_api,
      (void (*)(void))sqz_model_unload,
      (void (*)(void))sqz_model_source,
      (void (*)(void))sqz_model_num_inputs,
      (void (*)(void))sqz_model_num_outputs,
      (void (*)(void))sqz_model_input_name,
      (void (*)(void))sqz_model_output_name,
      (void (*)(void))sqz_model_input_dtype,
      (void (*)(void))sqz_model_output_dtype,
      (void (*)(void))sqz_model_input_onnx_dtype,
      (void (*)(void))sqz_model_output_onnx_dtype,
      (void (*)(void))sqz_model_input_rank,
      (void (*)(void))sqz_model_output_rank,
      (void (*)(void))sqz_model_input_shape,
      (void (*)(void))sqz_model_output_shape,
      (void (*)(void))sqz_model_input_nbytes,
      (void (*)(void))sqz_model_output_nbytes,
      (void (*)(void))sqz_model_input_max_shape,
      (void (*)(void))sqz_model_output_max_shape,
      (void (*)(void))sqz_model_input_dim_name,
      (void (*)(void))sqz_model_output_dim_name,
      (void (*)(void))sqz_model_is_dynamic,
      (void (*)(void))sqz_model_run,
      (void (*)(void))sqz_model_infer_output_shapes,
      (void (*)(void))sqz_model_run_shaped,
      (void (*)(void))sqz_model_set_threads,
  };
  size_t i;
  for (i = 0; i < sizeof(fns) / sizeof(fns[0]); ++i)
    if (!fns[i])
      return 0;
  return SQZ_ABI_VERSION == 3;
}
