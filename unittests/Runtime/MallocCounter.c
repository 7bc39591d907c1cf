/*===- MallocCounter.c - Counts heap allocations of a process --------------===*\
|*                                                                            *|
|* LD_PRELOAD=libSqzMallocCounter.so sqz-run ...: counts calls of malloc,     *|
|* calloc, realloc, posix_memalign, aligned_alloc and memalign and prints     *|
|* "heap allocations: N (OpenMP runtime: M)" to stderr at exit, M counting    *|
|* the calls made from libomp itself. test/e2e/no-per-run-malloc.test runs a  *|
|* model 5 and 25 times and checks that N is equal: no heap allocation per    *|
|* run in steady state outside the OpenMP runtime.                            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_long count, ompCount;

/* Counts one allocation made from `caller`: calls from libomp are counted apart. */
static __thread int inCount; /* dladdr may allocate: no recursion */
static void countFrom(void *caller) {
  Dl_info info;
  int omp = 0;
  if (!inCount) {
    inCount = 1;
    omp = dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "libomp");
    inCount = 0;
  }
  atomic_fetch_add(omp ? &ompCount : &count, 1);
}

/* dlsym may allocate (calloc) before the real functions are known: serve those from a
 * static arena. */
static char arena[4096];
static size_t arenaUsed;
static void *arenaAlloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (arenaUsed + n > sizeof(arena))
    return NULL;
  void *p = arena + arenaUsed;
  arenaUsed += n;
  return p;
}
static int inArena(void *p) { return (char *)p >= arena && (char *)p < arena + sizeof(arena); }

static void *(*realMalloc)(size_t);
static void *(*realCalloc)(size_t, size_t);
static void *(*realRealloc)(void *, size_t);
static void (*realFree)(void *);
static int (*realPosixMemalign)(void **, size_t, size_t);
static void *(*realAlignedAlloc)(size_t, size_t);
static void *(*realMemalign)(size_t, size_t);
static int resolving;

static void resolve(void) {
  if (realMalloc || resolving)
    return;
  resolving = 1;
  realMalloc = dlsym(RTLD_NEXT, "malloc");
  realCalloc = dlsym(RTLD_NEXT, "calloc");
  realRealloc = dlsym(RTLD_NEXT, "realloc");
  realFree = dlsym(RTLD_NEXT, "free");
  realPosixMemalign = dlsym(RTLD_NEXT, "posix_memalign");
  realAlignedAlloc = dlsym(RTLD_NEXT, "aligned_alloc");
  realMemalign = dlsym(RTLD_NEXT, "memalign");
  resolving = 0;
}

void *malloc(size_t n) {
  resolve();
  if (!realMalloc)
    return arenaAlloc(n);
  countFrom(__builtin_return_address(0));
  return realMalloc(n);
}

void *calloc(size_t a, size_t b) {
  resolve();
  if (!realCalloc) {
    void *p = arenaAlloc(a * b);
    if (p)
      memset(p, 0, a * b);
    return p;
  }
  countFrom(__builtin_return_address(0));
  return realCalloc(a, b);
}

void *realloc(void *p, size_t n) {
  resolve();
  countFrom(__builtin_return_address(0));
  if (inArena(p)) {
    void *q = realMalloc(n);
    if (q)
      memcpy(q, p, n < sizeof(arena) ? n : sizeof(arena));
    return q;
  }
  return realRealloc(p, n);
}

void free(void *p) {
  if (!p || inArena(p))
    return;
  resolve();
  realFree(p);
}

int posix_memalign(void **out, size_t align, size_t n) {
  resolve();
  countFrom(__builtin_return_address(0));
  return realPosixMemalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n) {
  resolve();
  countFrom(__builtin_return_address(0));
  return realAlignedAlloc(align, n);
}

void *memalign(size_t align, size_t n) {
  resolve();
  countFrom(__builtin_return_address(0));
  return realMemalign(align, n);
}

__attribute__((destructor)) static void report(void) {
  char line[96];
  int len = snprintf(line, sizeof(line), "heap allocations: %ld (OpenMP runtime: %ld)\n",
                     (long)atomic_load(&count), (long)atomic_load(&ompCount));
  if (len > 0)
    (void)!write(2, line, (size_t)len);
}
