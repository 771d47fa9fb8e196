/* Ground truth: no leak, but the program fails with exit status 3: `heaplens check` must
 * pass 3 through. Truth: expected.json "gt_exit_code". */
#include <stdlib.h>

#include "gt_common.h"

NOINLINE static void round_trip(void) {
  for (int i = 1; i < 100; ++i) free(gt_touch(malloc((size_t)i * 10), (size_t)i * 10, "round_trip"));
}

int main(void) {
  round_trip();
  gt_say("gt_exit_code: failing with status 3\n");
  return 3;
}
