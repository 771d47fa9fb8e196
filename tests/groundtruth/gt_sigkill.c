/* Ground truth: allocates a known live set, then kills itself with SIGKILL (no atexit, no
 * destructor runs). Truth: expected.json "gt_sigkill".
 *   live_large    8 x 1 MiB    = 8388608  (large path: exact in sampled mode)
 *   live_small  500 x 200      =  100000
 *   live set at the kill       = 8488608 bytes in 508 blocks (nothing was ever freed, so
 *                                this is also the peak)
 * A pipe handshake is not needed: the kill is synchronous (raise). */
#include <signal.h>
#include <stdlib.h>

#include "gt_common.h"

static void* g_live[508];

NOINLINE static void live_large(void) {
  for (int i = 0; i < 8; ++i) g_live[i] = gt_touch(malloc(1 << 20), 1 << 20, "live_large");
}

NOINLINE static void live_small(void) {
  for (int i = 0; i < 500; ++i) g_live[8 + i] = gt_touch(malloc(200), 200, "live_small");
}

int main(void) {
  live_large();
  live_small();
  gt_say("gt_sigkill: killing myself\n");
  raise(SIGKILL);
  return 0; /* not reached */
}
