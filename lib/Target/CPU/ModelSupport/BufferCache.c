/*===- BufferCache.c - Buffer reuse inside a compiled model ---------------===*\
|*                                                                            *|
|* Linked into every model library (sqz-compile compiles it with the model).  *|
|* The generated code allocates its intermediate buffers through MLIR's       *|
|* generic allocation functions (finalize-memref-to-llvm's                    *|
|* use-generic-functions); this file implements them with a cache of freed    *|
|* blocks, so a model run at shapes it has seen before reuses the buffers of  *|
|* the earlier runs and calls no malloc/free in steady state.                 *|
|*                                                                            *|
|* A block is reused for a request of at least half its size. The cache holds *|
|* at most SQZ_CACHE_SLOTS blocks and SQZ_CACHE_BYTES bytes; beyond that the  *|
|* freed block goes back to the C library. Concurrent runs share the cache    *|
|* under a mutex (a few dozen lock operations per run). Cached blocks are     *|
|* released when the library is unloaded.                                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define SQZ_CACHE_SLOTS 512
#define SQZ_CACHE_BYTES ((size_t)4 << 30)

/* Each block is preceded by a header: its usable size and, for aligned blocks (never cached),
 * the pointer malloc returned. Plain blocks start at the header, so callers get 16-byte
 * aligned memory as from malloc (MLIR over-allocates and aligns further itself). */
typedef struct {
  size_t size;
  void *base;
} Header;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Header *slots[SQZ_CACHE_SLOTS];
static int used;
static size_t cachedBytes;

static void *fresh(size_t size) {
  Header *h = (Header *)malloc(sizeof(Header) + (size ? size : 1));
  if (!h)
    return NULL;
  h->size = size;
  h->base = NULL;
  return h + 1;
}

__attribute__((visibility("hidden"))) void *_mlir_memref_to_llvm_alloc(size_t size) {
  pthread_mutex_lock(&lock);
  int best = -1;
  for (int i = 0; i < used; ++i) {
    size_t s = slots[i]->size;
    if (s >= size && s / 2 <= size && (best < 0 || s < slots[best]->size))
      best = i;
  }
  if (best >= 0) {
    Header *h = slots[best];
    slots[best] = slots[--used];
    cachedBytes -= h->size;
    pthread_mutex_unlock(&lock);
    return h + 1;
  }
  pthread_mutex_unlock(&lock);
  return fresh(size);
}

__attribute__((visibility("hidden"))) void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment,
                                                                             size_t size) {
  /* Not used by the CPU pipeline (it aligns malloc'ed memory itself); kept correct, uncached. */
  if (alignment < sizeof(Header))
    alignment = sizeof(Header);
  char *base = (char *)malloc(size + alignment + sizeof(Header));
  if (!base)
    return NULL;
  uintptr_t p = ((uintptr_t)(base + sizeof(Header)) + alignment - 1) & ~(uintptr_t)(alignment - 1);
  Header *h = (Header *)p - 1;
  h->size = size;
  h->base = base;
  return (void *)p;
}

__attribute__((visibility("hidden"))) void _mlir_memref_to_llvm_free(void *ptr) {
  if (!ptr)
    return;
  Header *h = (Header *)ptr - 1;
  if (h->base) {
    free(h->base);
    return;
  }
  pthread_mutex_lock(&lock);
  if (used < SQZ_CACHE_SLOTS && cachedBytes + h->size <= SQZ_CACHE_BYTES) {
    slots[used++] = h;
    cachedBytes += h->size;
    pthread_mutex_unlock(&lock);
    return;
  }
  pthread_mutex_unlock(&lock);
  free(h);
}

__attribute__((destructor)) static void releaseCache(void) {
  for (int i = 0; i < used; ++i)
    free(slots[i]);
  used = 0;
  cachedBytes = 0;
}
