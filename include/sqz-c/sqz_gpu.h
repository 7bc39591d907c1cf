/*===- sqz_gpu.h - The GPU driver table of the Squeeze runtime ----*- C -*-===*
 *
 * A small driver interface over the CUDA driver API (libcuda.so.1, loaded
 * with dlopen by lib/Runtime, so nothing links CUDA). Two users:
 *  - compiled CUDA models: their host code (MLIR's gpu-to-llvm output, which
 *    calls mgpu* functions) is rewritten at compile time to call through this
 *    table; the runtime hands the table to the model with
 *    `int32_t sqz_model_gpu_bind(const sqz_gpu_api *api)` (exported by every
 *    CUDA artifact; it also loads the model's embedded PTX/cubin);
 *  - kernel tests and benchmarks, which load PTX and launch kernels directly.
 *
 * The functions mirror MLIR's mgpu* runtime wrappers (void results; a
 * failure is recorded and reported by last_error) so that generated code maps
 * one to one. Handles are CUmodule/CUfunction/CUstream/CUevent as void*.
 * Every call runs in the runtime's context on the selected device.
 *===----------------------------------------------------------------------===*/

#ifndef SQZ_C_SQZ_GPU_H
#define SQZ_C_SQZ_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SQZ_GPU_API_VERSION 1

typedef struct sqz_gpu_api {
  uint32_t version; /* SQZ_GPU_API_VERSION */
  uint32_t size;    /* sizeof(sqz_gpu_api) */
  /* PTX (JIT-compiled by the driver; NUL-terminated or `bytes` long) or
   * cubin. NULL on failure (the JIT log is in last_error). */
  void *(*module_load)(const void *image, size_t bytes);
  void (*module_unload)(void *module);
  void *(*module_get_function)(void *module, const char *name);
  /* A grid with a dimension of 0 (a kernel over an empty dynamic dim) runs
   * nothing and is no error. */
  void (*launch_kernel)(void *function, intptr_t grid_x, intptr_t grid_y,
                        intptr_t grid_z, intptr_t block_x, intptr_t block_y,
                        intptr_t block_z, int32_t shared_bytes, void *stream,
                        void **params, void **extra, size_t num_params);
  void *(*stream_create)(void);
  void (*stream_destroy)(void *stream);
  void (*stream_synchronize)(void *stream);
  void (*stream_wait_event)(void *stream, void *event);
  void *(*event_create)(void);
  void (*event_destroy)(void *event);
  void (*event_synchronize)(void *event);
  void (*event_record)(void *event, void *stream);
  /* Milliseconds between two recorded, completed events. */
  float (*event_elapsed_ms)(void *start, void *end);
  void *(*mem_alloc)(uint64_t bytes, void *stream, bool host_shared);
  void (*mem_free)(void *ptr, void *stream);
  /* Any direction (unified addressing). */
  void (*memcpy)(void *dst, const void *src, size_t bytes, void *stream);
  void (*memset32)(void *dst, uint32_t value, size_t count, void *stream);
  void (*memset16)(void *dst, uint16_t value, size_t count, void *stream);
  /* The first failure since the previous call (and clears it), or NULL. */
  const char *(*last_error)(void);

  /* --- Added after the first layout: check `size` before using these. --- */
  /* A launch with thread-block clusters (sm_90+, cuLaunchKernelEx); MLIR's
   * mgpuLaunchClusterKernel, whose kernel parameters carry no count. */
  void (*launch_cluster_kernel)(void *function, intptr_t cluster_x,
                                intptr_t cluster_y, intptr_t cluster_z,
                                intptr_t grid_x, intptr_t grid_y,
                                intptr_t grid_z, intptr_t block_x,
                                intptr_t block_y, intptr_t block_z,
                                int32_t shared_bytes, void *stream,
                                void **params, void **extra);
} sqz_gpu_api;

/* Results of a CUDA artifact's `int32_t sqz_model_gpu_bind(const sqz_gpu_api *)`
 * (made by sqz::cuda::bindGpuRuntime). On SQZ_GPU_BIND_LOAD_FAILED the reason
 * was reported through api->last_error. */
#define SQZ_GPU_BIND_OK 0
#define SQZ_GPU_BIND_NULL_API 1
#define SQZ_GPU_BIND_API_TOO_OLD 2 /* version/size lack what the model calls */
#define SQZ_GPU_BIND_LOAD_FAILED 3 /* a module load (or other call) failed */

/* The runtime's table for device `device` (0 = first GPU), initialising the
 * driver on first use; NULL when no usable driver/device exists, with the
 * reason in `error` (e.g. "CUDA driver not found: libcuda.so.1: cannot open
 * shared object file"). $SQZ_CUDA_DRIVER overrides the library path. */
const sqz_gpu_api *sqz_cuda_api(int32_t device, char *error,
                                size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* SQZ_C_SQZ_GPU_H */
