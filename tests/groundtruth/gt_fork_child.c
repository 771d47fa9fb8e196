/* Child program of gt_forkexec (exec'd by it): `gt_fork_child alpha` leaks at
 * child_leak_alpha, `gt_fork_child beta` at child_leak_beta. Truth: expected.json
 * "gt_forkexec".
 *   alpha: child_leak_alpha  20 x 512    =  10240 bytes
 *   beta:  child_leak_beta    2 x 300000 = 600000 bytes (large path) */
#include <stdlib.h>
#include <string.h>

#include "gt_common.h"

NOINLINE static void child_leak_alpha(void) {
  for (int i = 0; i < 20; ++i) gt_keep(gt_touch(malloc(512), 512, "child_leak_alpha"));
}

NOINLINE static void child_leak_beta(void) {
  for (int i = 0; i < 2; ++i) gt_keep(gt_touch(malloc(300000), 300000, "child_leak_beta"));
}

int main(int argc, char** argv) {
  if (argc != 2) return 64;
  if (strcmp(argv[1], "alpha") == 0) {
    child_leak_alpha();
  } else if (strcmp(argv[1], "beta") == 0) {
    child_leak_beta();
  } else {
    return 64;
  }
  gt_forget();
  return 0;
}
