/* Ground truth: many small leaks, so that a sampled estimate has enough samples to be
 * judged: 100000 blocks x 48 bytes = 4800000 bytes, all from leak_small_blocks. Before each
 * leaked block a transient block of the same size is allocated and freed (frees of small,
 * mostly unrecorded blocks must not disturb the estimate). Truth: expected.json
 * "gt_many_small". The true peak is the leaked total (a transient is freed before the next
 * leaked block is allocated). */
#include <stdlib.h>

#include "gt_common.h"

enum { kBlocks = 100000, kSize = 48 };

NOINLINE static void* transient_block(void) { return gt_touch(malloc(kSize), kSize, "transient"); }

NOINLINE static void* leak_small_blocks(void) { return gt_touch(malloc(kSize), kSize, "leak_small_blocks"); }

int main(void) {
  for (int i = 0; i < kBlocks; ++i) {
    free(transient_block());
    gt_keep(leak_small_blocks());
  }
  gt_forget();
  gt_say("gt_many_small: done\n");
  return 0;
}
