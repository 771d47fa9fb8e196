/* Ground truth: fork + exec. The parent forks two children; each execs gt_fork_child (found
 * next to this program through /proc/self/exe) with a different argument, and the parent
 * waits for both. Truth: expected.json "gt_forkexec".
 *   parent: parent_leak  5 x 2000 = 10000 bytes (after the forks: the children's pre-exec
 *           images, which are not leak-checked, inherit nothing of it)
 *   child "alpha": child_leak_alpha 20 x 512    =  10240 bytes
 *   child "beta":  child_leak_beta   2 x 300000 = 600000 bytes
 * Exit 0 when both children exited 0. No allocation between fork and exec. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gt_common.h"

static char g_child_path[PATH_MAX];

NOINLINE static void parent_leak(void) {
  for (int i = 0; i < 5; ++i) gt_keep(gt_touch(malloc(2000), 2000, "parent_leak"));
}

static pid_t spawn(const char* arg) {
  pid_t pid = fork();
  if (pid < 0) gt_die("fork");
  if (pid == 0) {
    char* argv[] = {g_child_path, (char*)arg, NULL};
    execv(g_child_path, argv);
    _exit(127);
  }
  return pid;
}

int main(void) {
  ssize_t n = readlink("/proc/self/exe", g_child_path, sizeof g_child_path - 32);
  if (n <= 0) gt_die("readlink /proc/self/exe");
  g_child_path[n] = '\0';
  char* slash = strrchr(g_child_path, '/');
  strcpy(slash + 1, "gt_fork_child");

  pid_t a = spawn("alpha");
  pid_t b = spawn("beta");
  parent_leak();
  int failed = 0;
  pid_t kids[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    int status = 0;
    if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
  }
  gt_forget();
  gt_say(failed ? "gt_forkexec: a child failed\n" : "gt_forkexec: done\n");
  return failed;
}
