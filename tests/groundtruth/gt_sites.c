/* Ground truth: several leak sites of known sizes and counts, one of them a large block
 * (>= 256 KiB, always recorded exactly in sampled mode). Truth: expected.json "gt_sites".
 *
 * Order matters for the peak: the freed transients run first (their live maximum stays
 * below the final live set), then the leaks, so the true peak is the leaked total. */
#include <stdlib.h>

#include "gt_common.h"

enum { kTransients = 500 };

/* Allocations that are all freed: at most 64 KiB live at once. */
NOINLINE static void free_transients(void) {
  void* live[16] = {0};
  for (int i = 0; i < kTransients; ++i) {
    int slot = i % 16;
    free(live[slot]);
    live[slot] = gt_touch(malloc((size_t)(1 + (i * 37) % 4096)), (size_t)(1 + (i * 37) % 4096), "transient");
  }
  for (int i = 0; i < 16; ++i) free(live[i]);
}

/* 10 blocks x 100 bytes = 1000 bytes */
NOINLINE static void leak_hundred_bytes(void) {
  for (int i = 0; i < 10; ++i) gt_keep(gt_touch(malloc(100), 100, "leak_hundred_bytes"));
}

/* 3 blocks x 4096 bytes = 12288 bytes */
NOINLINE static void leak_page_blocks(void) {
  for (int i = 0; i < 3; ++i) gt_keep(gt_touch(malloc(4096), 4096, "leak_page_blocks"));
}

/* 7 blocks x 333 bytes = 2331 bytes */
NOINLINE static void leak_odd_sizes(void) {
  for (int i = 0; i < 7; ++i) gt_keep(gt_touch(malloc(333), 333, "leak_odd_sizes"));
}

/* 1 block x 300000 bytes (>= 256 KiB: the large path) */
NOINLINE static void leak_large_block(void) {
  gt_keep(gt_touch(malloc(300000), 300000, "leak_large_block"));
}

int main(void) {
  free_transients();
  leak_hundred_bytes();
  leak_page_blocks();
  leak_odd_sizes();
  leak_large_block();
  gt_forget();
  gt_say("gt_sites: done\n");
  return 0;
}
