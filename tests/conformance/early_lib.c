/* Preloaded ahead of libheaplens.so: its constructor allocates before heaplens's own
 * constructor may have run, with every allocation function. main() (early_alloc.c) frees
 * the blocks: they must belong to heaplens's pool like any other. */
#include <heaplens/heaplens.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#pragma weak heaplens_get_counters

void* early_blocks[4];
unsigned long long early_allocations_seen;

__attribute__((constructor(101))) static void allocate_early(void) {
  early_blocks[0] = malloc(100);
  early_blocks[1] = calloc(10, 30);
  if (posix_memalign(&early_blocks[2], 64, 1000) != 0) early_blocks[2] = NULL;
  early_blocks[3] = realloc(malloc(10), 5000);
  for (int i = 0; i < 4; ++i)
    if (early_blocks[i]) memset(early_blocks[i], 0x5a, 100);
  if (&heaplens_get_counters != NULL) {
    struct heaplens_counters c;
    heaplens_get_counters(&c, sizeof c);
    early_allocations_seen = c.allocations;
  }
}
