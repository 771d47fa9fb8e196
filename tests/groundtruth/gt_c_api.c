/* Ground truth: the C allocation API other than malloc: calloc (small and large),
 * posix_memalign, aligned_alloc, realloc chains (one leaked, one freed) and realloc(NULL).
 * Truth: expected.json "gt_c_api". Sizes are the requested ones (calloc: nmemb * size).
 *
 * Order: the freed chain first (its live maximum, 100000 bytes, stays below the final live
 * set), then the leaked chains (before anything else is live, so realloc's moment with old and
 * new block both live cannot set the peak), then the other leaks: the true peak is the
 * leaked total. */
#include <stdlib.h>

#include "gt_common.h"

/* Grows 10 -> 1000 -> 100000, shrinks to 50, frees: not a leak. */
NOINLINE static void free_realloc_chain(void) {
  char* p = gt_touch(malloc(10), 10, "chain");
  p = gt_touch(realloc(p, 1000), 1000, "chain");
  p = gt_touch(realloc(p, 100000), 100000, "chain");
  p = gt_touch(realloc(p, 50), 50, "chain");
  free(p);
  /* realloc(p, 0) frees p in glibc; not used, its meaning differs between allocators. */
}

/* 3 chains 16 -> 160 -> 1600 -> 6000, each final block leaked: 3 x 6000 = 18000 bytes.
 * The leaked block was last allocated by realloc, here. */
NOINLINE static void leak_realloc_chain(void) {
  for (int i = 0; i < 3; ++i) {
    char* p = gt_touch(malloc(16), 16, "leak_realloc_chain");
    p = gt_touch(realloc(p, 160), 160, "leak_realloc_chain");
    p = gt_touch(realloc(p, 1600), 1600, "leak_realloc_chain");
    p = gt_touch(realloc(p, 6000), 6000, "leak_realloc_chain");
    gt_keep(p);
  }
}

/* realloc(NULL, n) is malloc(n): 2 x 777 = 1554 bytes */
NOINLINE static void leak_realloc_from_null(void) {
  for (int i = 0; i < 2; ++i) gt_keep(gt_touch(realloc(NULL, 777), 777, "leak_realloc_from_null"));
}

/* 4 x calloc(25, 40) = 4 x 1000 = 4000 bytes */
NOINLINE static void leak_calloc_array(void) {
  for (int i = 0; i < 4; ++i) gt_keep(gt_touch(calloc(25, 40), 1000, "leak_calloc_array"));
}

/* 1 x calloc(1024, 512) = 524288 bytes (large path) */
NOINLINE static void leak_calloc_large(void) {
  gt_keep(gt_touch(calloc(1024, 512), 524288, "leak_calloc_large"));
}

/* 5 x posix_memalign(64, 200) = 1000 bytes */
NOINLINE static void leak_posix_memalign(void) {
  for (int i = 0; i < 5; ++i) {
    void* p = NULL;
    if (posix_memalign(&p, 64, 200) != 0) gt_die("leak_posix_memalign");
    gt_keep(gt_touch(p, 200, "leak_posix_memalign"));
  }
}

/* 2 x aligned_alloc(4096, 8192) = 16384 bytes */
NOINLINE static void leak_aligned_alloc(void) {
  for (int i = 0; i < 2; ++i) gt_keep(gt_touch(aligned_alloc(4096, 8192), 8192, "leak_aligned_alloc"));
}

/* Freed aligned blocks (not leaks). */
NOINLINE static void free_aligned(void) {
  void* p = NULL;
  if (posix_memalign(&p, 256, 3000) != 0) gt_die("free_aligned");
  gt_touch(p, 3000, "free_aligned");
  free(p);
  p = gt_touch(aligned_alloc(64, 640), 640, "free_aligned");
  free(p);
  p = gt_touch(calloc(10, 10), 100, "free_aligned");
  free(p);
}

int main(void) {
  free_realloc_chain();
  free_aligned();
  leak_realloc_chain();
  leak_realloc_from_null();
  leak_calloc_array();
  leak_calloc_large();
  leak_posix_memalign();
  leak_aligned_alloc();
  gt_forget();
  gt_say("gt_c_api: done\n");
  return 0;
}
