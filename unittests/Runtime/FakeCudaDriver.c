/*===- FakeCudaDriver.c - A stand-in for libcuda.so.1 on the host ---------===*
 *
 * The CUDA driver entry points the runtime looks up (lib/Runtime/CudaDriver.cpp), over host
 * memory, so the runtime's whole device path (driver loading, sqz_model_gpu_bind, weights
 * upload, copies, the entry on "device" pointers, events) runs in tests without a GPU:
 * SQZ_CUDA_DRIVER=<this library>. Kernels are emulated by name:
 *   add(memref<16xf32> a, memref<16xf32> b): b[i] = a[i] for every launched thread i
 *     (the kernel of unittests/Target/CUDA/Inputs/host-launch.mlir)
 * Any other kernel of a loaded PTX module launches as a no-op, so a real sqz-compile'd CUDA
 * artifact runs through the whole path (with meaningless outputs).
 * Knobs: FAKE_CUDA_CC=<major*10+minor> (default 80), FAKE_CUDA_JIT_FAIL=1 (module loads fail
 * with a JIT log), FAKE_CUDA_NO_DEVICE=1 (cuDeviceGetCount says 0), FAKE_CUDA_LAUNCH_FAIL=1
 * (kernel launches fail), FAKE_CUDA_NO_POOLS=1 (no stream-ordered allocation: the device
 * attribute says 0), FAKE_CUDA_STATS=1 (at exit, one stderr line "fake cuda stats: launches=N
 * stream_creates=N stream_syncs=N allocs=N async_allocs=N frees=N async_frees=N
 * pool_keep=0|1", pool_keep = the default pool's release threshold was set to UINT64_MAX).
 *===----------------------------------------------------------------------===*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long nLaunches, nStreamCreates, nStreamSyncs, nAllocs, nAsyncAllocs, nFrees, nAsyncFrees;
static int poolKeep;
static void printStats(void) {
  fprintf(stderr,
          "fake cuda stats: launches=%ld stream_creates=%ld stream_syncs=%ld allocs=%ld "
          "async_allocs=%ld frees=%ld async_frees=%ld pool_keep=%d\n",
          nLaunches, nStreamCreates, nStreamSyncs, nAllocs, nAsyncAllocs, nFrees, nAsyncFrees,
          poolKeep);
}
static void countInit(void) {
  static int done;
  if (!done && getenv("FAKE_CUDA_STATS"))
    atexit(printStats);
  done = 1;
}

typedef int CUresult;
enum {
  OK = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  INVALID_IMAGE = 200,
  INVALID_PTX = 218,
  NOT_FOUND = 500,
  LAUNCH_FAILED = 719
};

static int cc(void) {
  const char *v = getenv("FAKE_CUDA_CC");
  return v ? atoi(v) : 80;
}

CUresult cuInit(unsigned flags) { return flags ? INVALID_VALUE : OK; }
CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return OK;
}
CUresult cuGetErrorName(CUresult r, const char **name) {
  switch (r) {
  case INVALID_VALUE: *name = "CUDA_ERROR_INVALID_VALUE"; return OK;
  case OUT_OF_MEMORY: *name = "CUDA_ERROR_OUT_OF_MEMORY"; return OK;
  case INVALID_PTX: *name = "CUDA_ERROR_INVALID_PTX"; return OK;
  case NOT_FOUND: *name = "CUDA_ERROR_NOT_FOUND"; return OK;
  case LAUNCH_FAILED: *name = "CUDA_ERROR_LAUNCH_FAILED"; return OK;
  default: *name = NULL; return INVALID_VALUE;
  }
}
CUresult cuGetErrorString(CUresult r, const char **text) {
  switch (r) {
  case INVALID_VALUE: *text = "invalid argument"; return OK;
  case OUT_OF_MEMORY: *text = "out of memory"; return OK;
  case INVALID_PTX: *text = "a PTX JIT compilation failed"; return OK;
  case NOT_FOUND: *text = "named symbol not found"; return OK;
  case LAUNCH_FAILED: *text = "unspecified launch failure"; return OK;
  default: *text = NULL; return INVALID_VALUE;
  }
}
CUresult cuDeviceGetCount(int *n) {
  *n = getenv("FAKE_CUDA_NO_DEVICE") ? 0 : 1;
  return OK;
}
CUresult cuDeviceGet(int *d, int i) {
  *d = i;
  return OK;
}
CUresult cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  snprintf(name, (size_t)len, "Fake GPU");
  return OK;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int d) {
  (void)d;
  *v = attr == 75    ? cc() / 10
       : attr == 76  ? cc() % 10
       : attr == 97  ? 227 * 1024
       : attr == 115 ? !getenv("FAKE_CUDA_NO_POOLS") /* memory pools supported */
                     : 0;
  return OK;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int d) {
  (void)d;
  *bytes = (size_t)1 << 30;
  return OK;
}
static int context;
static void *current;
CUresult cuDevicePrimaryCtxRetain(void **c, int d) {
  (void)d;
  *c = &context;
  return OK;
}
CUresult cuCtxGetCurrent(void **c) {
  *c = current;
  return OK;
}
CUresult cuCtxSetCurrent(void *c) {
  current = c;
  return OK;
}

struct Module {
  int loaded;
};
CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned n, int *options,
                            void **values) {
  if (getenv("FAKE_CUDA_JIT_FAIL")) {
    for (unsigned i = 0; i < n; ++i)
      if (options[i] == 5) /* CU_JIT_ERROR_LOG_BUFFER */
        snprintf((char *)values[i], 64, "ptxas fatal   : fake JIT failure");
    return INVALID_PTX;
  }
  if (strncmp((const char *)image, "//", 2) != 0 || !strstr((const char *)image, ".entry"))
    return INVALID_IMAGE;
  struct Module *m = malloc(sizeof(struct Module));
  m->loaded = 1;
  *module = m;
  return OK;
}
CUresult cuModuleUnload(void *module) {
  free(module);
  return OK;
}
static char addKernel[] = "add", otherKernel[] = "other";
CUresult cuModuleGetFunction(void **f, void *module, const char *name) {
  (void)module;
  if (strcmp(name, "no_such_kernel") == 0)
    return NOT_FOUND;
  *f = strcmp(name, "add") == 0 ? addKernel : otherKernel;
  return OK;
}
CUresult cuFuncSetAttribute(void *f, int attr, int v) {
  (void)f, (void)attr, (void)v;
  return OK;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned smem, void *stream, void **params,
                        void **extra) {
  (void)gy, (void)gz, (void)by, (void)bz, (void)smem, (void)stream, (void)extra;
  countInit();
  ++nLaunches;
  if (f != addKernel && f != otherKernel)
    return INVALID_VALUE;
  if (getenv("FAKE_CUDA_LAUNCH_FAIL"))
    return LAUNCH_FAILED;
  if (f == otherKernel)
    return OK;
  float *a = *(float **)params[1];
  float *b = *(float **)params[6];
  for (unsigned i = 0; i < gx * bx; ++i)
    b[i] = a[i];
  return OK;
}
static int handle;
CUresult cuStreamCreate(void **s, unsigned flags) {
  (void)flags;
  countInit();
  ++nStreamCreates;
  *s = &handle;
  return OK;
}
CUresult cuStreamDestroy_v2(void *s) { return s ? OK : INVALID_VALUE; }
CUresult cuStreamSynchronize(void *s) {
  (void)s;
  ++nStreamSyncs;
  return OK;
}
CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) {
  (void)s, (void)e, (void)flags;
  return OK;
}
CUresult cuEventCreate(void **e, unsigned flags) {
  (void)flags;
  *e = malloc(1);
  return OK;
}
CUresult cuEventDestroy_v2(void *e) {
  free(e);
  return OK;
}
CUresult cuEventSynchronize(void *e) {
  (void)e;
  return OK;
}
CUresult cuEventRecord(void *e, void *s) {
  (void)e, (void)s;
  return OK;
}
CUresult cuEventElapsedTime_v2(float *ms, void *a, void *b) {
  (void)a, (void)b;
  *ms = 0.25f;
  return OK;
}
CUresult cuMemAlloc_v2(unsigned long long *p, size_t bytes) {
  countInit();
  ++nAllocs;
  void *m = malloc(bytes);
  if (!m)
    return OUT_OF_MEMORY;
  *p = (unsigned long long)(uintptr_t)m;
  return OK;
}
CUresult cuMemAllocManaged(unsigned long long *p, size_t bytes, unsigned flags) {
  (void)flags;
  return cuMemAlloc_v2(p, bytes);
}
CUresult cuMemFree_v2(unsigned long long p) {
  ++nFrees;
  free((void *)(uintptr_t)p);
  return OK;
}
/* Stream-ordered allocation: with one host "stream" that runs everything at once, the same as
 * the synchronous calls. */
CUresult cuMemAllocAsync(unsigned long long *p, size_t bytes, void *s) {
  (void)s;
  CUresult r = cuMemAlloc_v2(p, bytes);
  --nAllocs;
  ++nAsyncAllocs;
  return r;
}
CUresult cuMemFreeAsync(unsigned long long p, void *s) {
  (void)s; /* NULL: the legacy default stream */
  ++nAsyncFrees;
  free((void *)(uintptr_t)p);
  return OK;
}
CUresult cuMemcpyAsync(unsigned long long dst, unsigned long long src, size_t bytes, void *s) {
  (void)s;
  memcpy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
  return OK;
}
CUresult cuMemsetD32Async(unsigned long long dst, unsigned v, size_t n, void *s) {
  (void)s;
  for (size_t i = 0; i < n; ++i)
    ((unsigned *)(uintptr_t)dst)[i] = v;
  return OK;
}
CUresult cuMemsetD16Async(unsigned long long dst, unsigned short v, size_t n, void *s) {
  (void)s;
  for (size_t i = 0; i < n; ++i)
    ((unsigned short *)(uintptr_t)dst)[i] = v;
  return OK;
}
static int pool;
CUresult cuDeviceGetDefaultMemPool(void **p, int d) {
  (void)d;
  *p = &pool;
  return OK;
}
CUresult cuMemPoolSetAttribute(void *p, int attr, void *value) {
  if (p != &pool)
    return INVALID_VALUE;
  if (attr == 4) /* CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, cuuint64_t */
    poolKeep = *(const uint64_t *)value == UINT64_MAX;
  return OK;
}
