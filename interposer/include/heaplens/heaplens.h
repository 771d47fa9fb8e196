/* heaplens public API: the few functions libheaplens.so exports besides the allocation API.
 *
 * A program may call them without linking against heaplens by declaring them weak:
 *   #pragma weak heaplens_get_counters
 * and checking the address for NULL (it is NULL when the program runs without heaplens).
 * Every function is safe to call from any thread at any time and never allocates. */
#ifndef HEAPLENS_HEAPLENS_H
#define HEAPLENS_HEAPLENS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exact pool counters summed over all threads (see docs/ownership.md for the units).
 * Fields are only ever appended; `size` tells the library how many bytes the caller's
 * struct has, so old callers keep working with newer libraries. */
struct heaplens_counters {
  uint64_t allocations;       /* successful allocation calls; a realloc of a non-NULL
                                 pointer counts as one free and one allocation */
  uint64_t frees;             /* blocks released */
  uint64_t bytes_requested;   /* sum of sizes asked for */
  uint64_t bytes_allocated;   /* sum of usable sizes handed out */
  uint64_t bytes_freed;       /* sum of usable sizes taken back */
  uint64_t large_allocations; /* allocations that took the large path */
  uint64_t live_bytes;        /* bytes_allocated - bytes_freed */
  uint64_t peak_live_bytes;   /* high-water mark of live_bytes */
  uint64_t threads;           /* threads that ever made an allocation call */
};

/* Fills *out (sizeof(*out) in `size`). Returns 0, or -1 if out is NULL. */
int heaplens_get_counters(struct heaplens_counters* out, size_t size);

/* "heaplens X.Y.Z (backend)": the library's version and the active allocator backend. */
const char* heaplens_version(void);

#ifdef __cplusplus
}
#endif

#endif /* HEAPLENS_HEAPLENS_H */
