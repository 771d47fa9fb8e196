/* See early_lib.c. Checks that blocks allocated in a constructor that ran before (or
 * alongside) heaplens's are heaplens's: counted, sized and freed by the pool. */
#include <heaplens/heaplens.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#pragma weak heaplens_get_counters

extern void* early_blocks[4];
extern unsigned long long early_allocations_seen;

int main(void) {
  if (&heaplens_get_counters == NULL) {
    fprintf(stderr, "early_alloc: run me under libheaplens.so\n");
    return 1;
  }
  for (int i = 0; i < 4; ++i) {
    if (early_blocks[i] == NULL) {
      fprintf(stderr, "early block %d missing\n", i);
      return 1;
    }
  }
  if (early_allocations_seen < 5) {
    fprintf(stderr, "heaplens counted %llu allocations by then, expected >= 5\n", early_allocations_seen);
    return 1;
  }
  if ((uintptr_t)early_blocks[2] % 64 != 0 || malloc_usable_size(early_blocks[3]) < 5000) {
    fprintf(stderr, "early blocks have the wrong alignment or size\n");
    return 1;
  }
  struct heaplens_counters before, after;
  heaplens_get_counters(&before, sizeof before);
  size_t usable = 0;
  for (int i = 0; i < 4; ++i) usable += malloc_usable_size(early_blocks[i]);
  for (int i = 0; i < 4; ++i) free(early_blocks[i]);
  heaplens_get_counters(&after, sizeof after);
  if (after.frees - before.frees != 4 || after.bytes_freed - before.bytes_freed != usable) {
    fprintf(stderr, "frees of early blocks were not counted exactly (%llu frees, %llu bytes)\n",
            (unsigned long long)(after.frees - before.frees),
            (unsigned long long)(after.bytes_freed - before.bytes_freed));
    return 1;
  }
  puts("early allocations are heaplens's");
  return 0;
}
