/* Allocates in bursts for the viewer's live tests: BURSTS times, allocate MIB blocks of 1 MiB
 * (live bytes rise by MIB MiB), hold them HOLD_MS, free them all (live bytes fall), wait
 * HOLD_MS. Then leaks one 3 MiB block from leak_here() and exits 0.
 * usage: burst_fixture [BURSTS [MIB [HOLD_MS]]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

__attribute__((noinline)) static void* leak_here(size_t n) {
  void* p = malloc(n);
  if (p) memset(p, 1, n);
  return p;
}

__attribute__((noinline)) static void burst(char** blocks, int n) {
  for (int i = 0; i < n; ++i) {
    blocks[i] = malloc(1 << 20);
    if (blocks[i]) memset(blocks[i], i, 1 << 20);
  }
}

int main(int argc, char** argv) {
  int bursts = argc > 1 ? atoi(argv[1]) : 3;
  int mib = argc > 2 ? atoi(argv[2]) : 16;
  long hold = argc > 3 ? atol(argv[3]) : 300;
  if (bursts < 0 || mib <= 0 || mib > 4096 || hold < 0) return 2;
  char** blocks = calloc((size_t)mib, sizeof(char*));
  if (!blocks) return 1;
  sleep_ms(hold);  /* a quiet start: a viewer attaching by pid finds the session first */
  for (int b = 0; b < bursts; ++b) {
    burst(blocks, mib);
    sleep_ms(hold);
    for (int i = 0; i < mib; ++i) free(blocks[i]);
    sleep_ms(hold);
  }
  free(blocks);
  /* Once main returns nothing points to it: a leak in every tool's sense. */
  void* kept = leak_here(3 << 20);
  printf("burst_fixture done (%s)\n", kept ? "leaked 3 MiB" : "out of memory");
  return 0;
}
