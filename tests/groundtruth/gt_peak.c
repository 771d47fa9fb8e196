/* Ground truth: a 64 MiB transient on top of a known steady live set; no leaks.
 *   steady set: 16 x 1 MiB (large path) + 4000 x 250 bytes  = 16777216 + 1000000
 *   transient:  64 MiB = 67108864 bytes, allocated, every page touched, freed
 *   true peak:  16777216 + 1000000 + 67108864 = 84886080 bytes of requested live memory
 * Then the steady set is freed. Truth: expected.json "gt_peak". */
#include <stdlib.h>

#include "gt_common.h"

enum { kLarge = 16, kLargeSize = 1 << 20, kSmall = 4000, kSmallSize = 250 };

static void* g_large[kLarge];
static void* g_small[kSmall];

NOINLINE static void build_steady_set(void) {
  for (int i = 0; i < kLarge; ++i) g_large[i] = gt_touch(malloc(kLargeSize), kLargeSize, "steady large");
  for (int i = 0; i < kSmall; ++i) g_small[i] = gt_touch(malloc(kSmallSize), kSmallSize, "steady small");
}

NOINLINE static void transient_64mib(void) {
  size_t n = (size_t)64 << 20;
  char* p = gt_touch(malloc(n), n, "transient_64mib");
  gt_keep(p);
  free(p);
  gt_forget();
}

NOINLINE static void free_steady_set(void) {
  for (int i = 0; i < kLarge; ++i) free(g_large[i]);
  for (int i = 0; i < kSmall; ++i) free(g_small[i]);
}

int main(void) {
  build_steady_set();
  transient_64mib();
  free_steady_set();
  gt_say("gt_peak: done\n");
  return 0;
}
