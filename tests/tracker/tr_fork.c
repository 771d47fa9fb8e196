/* tr_fork: the parent allocates 70001..70005 bytes, forks; the child allocates 90001..90005,
 * frees the parent's 70001-byte block (inherited) and exits; the parent waits for it, then
 * allocates 80001..80005 and exits. Prints "child PID" and "inherited ADDRESS". */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void* keep[32];
static int kept;

static void allocate(size_t first) {
  for (size_t s = first; s < first + 5; ++s) {
    char* p = malloc(s);
    if (p == NULL) exit(3);
    p[0] = 1;
    keep[kept++] = p;
  }
}

int main(void) {
  allocate(70001);
  void* inherited = keep[0];
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) return 3;
  if (child == 0) {
    allocate(90001);
    free(inherited);
    exit(0);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
  allocate(80001);
  printf("child %d\n", (int)child);
  printf("inherited %" PRIuPTR "\n", (uintptr_t)inherited);
  return 0;
}
