/*===- sqz-c/sqz.h - Squeeze runtime C API -----------------------*- C -*-===*\
|*                                                                            *|
|* Loads a compiled Squeeze artifact, describes its inputs and outputs, and   *|
|* runs it. This is the runtime's stable interface: sqz-run, the Python       *|
|* package and embedders use it; it depends on neither MLIR nor LLVM. See     *|
|* docs/Runtime.md for the artifact format.                                   *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef SQZ_C_SQZ_H
#define SQZ_C_SQZ_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define SQZ_API
#else
#define SQZ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* --- The artifact ABI ------------------------------------------------------
 *
 * An artifact is a directory holding manifest.json and a shared library
 * (named by the manifest, normally model.so). The library's ABI:
 *
 *   uint32_t sqz_abi_version(void);      1, 2 or 3, as the manifest's
 *                                        abi_version
 *   void <entry>(void **buffers);        ABI 1 and 2; the entry is named by
 *                                        the manifest, normally
 *                                        sqz_model_invoke
 *   void <entry>(void **buffers, const int64_t *shapes);          ABI 3
 *   void sqz_model_output_shapes(const int64_t *input_shapes,
 *                                int64_t *output_shapes);         ABI 3
 *   void sqz_model_set_num_threads(int32_t n);   optional: threads of the
 *                                        parallel loops of later invokes
 *
 * buffers[0 .. nin-1] are the inputs and buffers[nin .. nin+nout-1] the
 * outputs, in manifest order. Each is a caller-owned, dense, C-order buffer of
 * the manifest's dtype and shape. Version 2 adds buffers[nin+nout]: the start
 * of the data section of the artifact's weights file (safetensors,
 * memory-mapped read-only by the runtime), whose layout the manifest's
 * "weights" entry records. The entry reads the inputs and fully writes every
 * output. It is reentrant: concurrent calls with distinct output buffers are
 * safe.
 *
 * Version 3 is for models with dynamic dims (-1 in the manifest's shapes,
 * known only when the model runs; see docs/Runtime.md). The weights buffer is
 * there when the manifest has "weights". `shapes` holds the full shape (every
 * dim, static ones included) of every input then every output, concatenated
 * in manifest order (a scalar contributes nothing). sqz_model_output_shapes
 * computes the concatenated output shapes from the concatenated input shapes.
 * A buffer of a tensor with no elements (a dim of 0) may be NULL.
 *
 * SQZ_ABI_VERSION is the newest version this header describes; the runtime
 * loads every version from 1 to it.
 */
#define SQZ_ABI_VERSION 3

/* --- Errors ----------------------------------------------------------------
 *
 * Functions that can fail report it through their return value (NULL or
 * nonzero) and set a message for the calling thread. */

/* The message of the last failure on this thread, or "" if none has failed.
 * Successful calls do not clear it, so read it only after a failure. Valid
 * until the next failing call on this thread. Never NULL. */
SQZ_API const char *sqz_last_error(void);

/* --- Loading ---------------------------------------------------------------*/

/* An artifact loaded into this process. Immutable after loading, so every
 * query, sqz_model_run and sqz_model_run_shaped may be called from many
 * threads at once. */
typedef struct sqz_model sqz_model;

/* Loads the artifact in directory `artifact_dir`: reads and validates
 * manifest.json, dlopens the library (RTLD_NOW | RTLD_LOCAL) and checks its
 * sqz_abi_version() and entry symbol. Returns NULL on failure; see
 * sqz_last_error(). */
SQZ_API sqz_model *sqz_model_load(const char *artifact_dir);

/* --- Devices ---------------------------------------------------------------
 *
 * An artifact runs on the device it was compiled for, the manifest's "device":
 * "cpu" (the default) or "cuda" (sqz-compile --target cuda:sm_XX). A CUDA
 * model needs an NVIDIA GPU and its driver, libcuda.so.1, which the runtime
 * opens with dlopen when such a model loads ($SQZ_CUDA_DRIVER names another
 * file); nothing links CUDA. The run functions take and fill host buffers for
 * both: for a CUDA model the runtime uploads the weights once at load, and
 * per run copies the inputs to GPU buffers (kept between runs), calls the
 * model on device pointers, waits for it and copies the outputs back. Runs of
 * one CUDA model are serialized (concurrent calls wait for each other). */

/* Loads the artifact as sqz_model_load does, on `device`: "cpu", "cuda" (GPU
 * 0) or "cuda:N" (GPU N); NULL or "" means the manifest's device. Fails when
 * the artifact was compiled for another device (the message names both), and
 * for a CUDA model when no usable driver or GPU exists (the message names the
 * driver library and the reason) or the GPU is older than the manifest's
 * "gpu_arch". */
SQZ_API sqz_model *sqz_model_load_on_device(const char *artifact_dir,
                                            const char *device);

/* "cpu" or "cuda". */
SQZ_API const char *sqz_model_device(const sqz_model *m);

/* GPU timing of the latest completed run of a CUDA model, from CUDA events:
 * *compute_ms the model's own work (the entry call, without copies),
 * *total_ms the whole run including the input and output copies. Either
 * pointer may be NULL. Fails (nonzero) for a CPU model or before a run. */
SQZ_API int sqz_model_last_run_gpu_ms(const sqz_model *m, double *compute_ms,
                                      double *total_ms);

/* Releases a model returned by sqz_model_load (or sqz_model_load_on_device).
 * NULL is ignored. No run may be in progress, and strings and shapes obtained
 * from the model become invalid. */
SQZ_API void sqz_model_unload(sqz_model *m);

/* The "source" recorded in the manifest (the model compiled), or "". */
SQZ_API const char *sqz_model_source(const sqz_model *m);

/* --- Inputs and outputs ----------------------------------------------------
 *
 * Indices run over inputs and outputs separately, in manifest order, which is
 * also the order sqz_model_run takes buffers in. For an index out of range the
 * functions below set the error and return NULL (or 0). Returned strings and
 * shapes live as long as the model. */

SQZ_API size_t sqz_model_num_inputs(const sqz_model *m);
SQZ_API size_t sqz_model_num_outputs(const sqz_model *m);

/* Name, e.g. "input_ids". */
SQZ_API const char *sqz_model_input_name(const sqz_model *m, size_t i);
SQZ_API const char *sqz_model_output_name(const sqz_model *m, size_t i);

/* Element type as a NumPy name: "float16", "float32", "float64", "int8",
 * "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"
 * (one byte, 0 or 1). */
SQZ_API const char *sqz_model_input_dtype(const sqz_model *m, size_t i);
SQZ_API const char *sqz_model_output_dtype(const sqz_model *m, size_t i);

/* The ONNX dtype the element type carries when it has no NumPy name (the
 * manifest's "onnx_dtype"): "int4", "uint4", "int2", "uint2" (values, one per
 * int8/uint8), "bfloat16" (uint16 bit patterns), "float8e4m3fn",
 * "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "float4e2m1" (uint8 bit
 * patterns); "" when the dtype is the ONNX dtype. */
SQZ_API const char *sqz_model_input_onnx_dtype(const sqz_model *m, size_t i);
SQZ_API const char *sqz_model_output_onnx_dtype(const sqz_model *m, size_t i);

/* Number of dimensions (0 for a scalar). */
SQZ_API size_t sqz_model_input_rank(const sqz_model *m, size_t i);
SQZ_API size_t sqz_model_output_rank(const sqz_model *m, size_t i);

/* The rank dimensions: sizes >= 0, and -1 for a dynamic dim (one whose size
 * is given when the model runs; see sqz_model_run_shaped). For a scalar this
 * is a valid pointer to no elements (not NULL). */
SQZ_API const int64_t *sqz_model_input_shape(const sqz_model *m, size_t i);
SQZ_API const int64_t *sqz_model_output_shape(const sqz_model *m, size_t i);

/* The upper bounds of the rank dimensions: a static dim repeats its size, a
 * dynamic dim gives its largest allowed size, or -1 when it has no bound. */
SQZ_API const int64_t *sqz_model_input_max_shape(const sqz_model *m,
                                                 size_t i);
SQZ_API const int64_t *sqz_model_output_max_shape(const sqz_model *m,
                                                  size_t i);

/* The name of dim `axis` (the ONNX dim_param, e.g. "seq"), or "" when it has
 * none (static dims normally have none). Input dims that share a non-empty
 * name must have equal sizes in a run. NULL, with the error set, when `i` or
 * `axis` is out of range. */
SQZ_API const char *sqz_model_input_dim_name(const sqz_model *m, size_t i,
                                             size_t axis);
SQZ_API const char *sqz_model_output_dim_name(const sqz_model *m, size_t i,
                                              size_t axis);

/* Size in bytes of the dense buffer the tensor needs; 0 for a tensor with a
 * dynamic dim, whose size follows from the shapes of each run (see
 * sqz_model_infer_output_shapes). */
SQZ_API size_t sqz_model_input_nbytes(const sqz_model *m, size_t i);
SQZ_API size_t sqz_model_output_nbytes(const sqz_model *m, size_t i);

/* 1 when some input or output has a dynamic dim (the model is run with
 * sqz_model_run_shaped), 0 when every shape is static (and for a NULL model,
 * with the error set). */
SQZ_API int sqz_model_is_dynamic(const sqz_model *m);

/* Sets the number of threads the model's parallel loops use in later runs (of
 * every caller of this model: it is the library's setting). n >= 1. Fails
 * when the library has no thread control. Returns 0 on success. */
SQZ_API int sqz_model_set_threads(sqz_model *m, int n);

/* --- Running ---------------------------------------------------------------*/

/* Runs a model whose shapes are all static once. inputs[i] points to input
 * i's data and outputs[j] to the buffer output j is written to, each dense,
 * C order, of the size sqz_model_*_nbytes gives (a buffer for an empty tensor
 * may be NULL). Output buffers must not overlap each other or the inputs.
 * Thread-safe with distinct output buffers. Fails for a model with dynamic
 * dims: use sqz_model_run_shaped. Returns 0 on success, nonzero on failure
 * (see sqz_last_error()). */
SQZ_API int sqz_model_run(sqz_model *m, const void *const *inputs,
                          void *const *outputs);

/* Computes the output shapes for given input shapes. input_shapes[i] points to
 * the rank dims of input i (may be NULL for a scalar; the array may be NULL
 * when every input is a scalar); output_shapes[j] to room for the rank dims
 * of output j, which are written. The input shapes are checked as
 * sqz_model_run_shaped checks them. Returns 0 on success, nonzero on failure
 * (see sqz_last_error()). */
SQZ_API int sqz_model_infer_output_shapes(const sqz_model *m,
                                          const int64_t *const *input_shapes,
                                          int64_t *const *output_shapes);

/* Runs the model once on inputs of the shapes input_shapes gives (as in
 * sqz_model_infer_output_shapes). Every output buffer must be dense and of
 * the shape sqz_model_infer_output_shapes gives for these input shapes. A
 * buffer of a tensor with no elements may be NULL. Before calling the model
 * the shapes are checked against the manifest, and the error names the
 * tensor, the dim, its name and its bound: static dims must equal the
 * manifest's, dynamic dims lie in [0, bound] (any size >= 0 when unbounded),
 * and input dims sharing a non-empty dim name must be equal. Works for static
 * models too (their shapes must then equal the manifest's). Thread-safe with
 * distinct output buffers; it allocates nothing for models of up to 64 dims
 * in all. Returns 0 on success, nonzero on failure (see sqz_last_error()). */
SQZ_API int sqz_model_run_shaped(sqz_model *m,
                                 const int64_t *const *input_shapes,
                                 const void *const *inputs,
                                 void *const *outputs);

#ifdef __cplusplus
}
#endif

#endif /* SQZ_C_SQZ_H */
