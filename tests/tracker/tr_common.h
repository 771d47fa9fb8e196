/* Ground truth shared by the tracker fixtures (C) and session_check (C++): the sizes the
 * threads fixture allocates and the digest of what it allocated, so the driver can recompute
 * both from the events it drained. */
#ifndef HEAPLENS_TESTS_TRACKER_TR_COMMON_H
#define HEAPLENS_TESTS_TRACKER_TR_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Size of allocation `i` of worker thread `t` (t < 16): 24..16400 bytes, and size % 16 names
 * the thread, so a size alone says which worker made it. */
static inline size_t tr_thread_size(unsigned t, uint64_t i) {
  return 24 + 16 * (size_t)((i * 2654435761u + t * 40503u) % 1024) + t;
}

/* Order-dependent digest of a thread's (address, size) sequence. */
static inline uint64_t tr_digest(uint64_t h, uint64_t address, uint64_t size) {
  h ^= address + 0x9e3779b97f4a7c15ULL * (size + 1);
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 29;
  return h;
}

/* How many blocks a worker keeps live (it frees allocation i - TR_WINDOW before making i). */
#define TR_WINDOW 16

#endif
