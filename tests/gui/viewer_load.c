/* Load for the viewer benchmark (scripts/bench-viewer): LIVE blocks from 2^BITS distinct call
 * stacks (a recursion that takes one of two calls per bit), held while the program keeps
 * allocating and freeing for SECONDS, so the viewer draws a large live model that still
 * changes: it replaces CHURN blocks every 10 ms (two records each).
 * usage: viewer_load [LIVE [BITS [SECONDS [CHURN]]]] (defaults 1000000 16 5 2000) */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static void** blocks;
static long n_live, next;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void leaf(long count) {
  for (long i = 0; i < count && next < n_live; ++i, ++next) blocks[next] = malloc(32 + (size_t)(next % 96));
}

__attribute__((noinline)) static void walk0(unsigned path, int bit, long count);
__attribute__((noinline)) static void walk1(unsigned path, int bit, long count);

/* Two different callers per level: each path of bits is its own stack. */
__attribute__((noinline)) static void walk0(unsigned path, int bit, long count) {
  if (bit < 0) {
    leaf(count);
  } else if (path >> bit & 1) {
    walk1(path, bit - 1, count);
  } else {
    walk0(path, bit - 1, count);
  }
  __asm__ volatile("" ::: "memory"); /* not a tail call: the frame stays on the stack */
}
__attribute__((noinline)) static void walk1(unsigned path, int bit, long count) {
  if (bit < 0) {
    leaf(count);
  } else if (path >> bit & 1) {
    walk1(path, bit - 1, count);
  } else {
    walk0(path, bit - 1, count);
  }
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char** argv) {
  n_live = argc > 1 ? atol(argv[1]) : 1000000;
  int bits = argc > 2 ? atoi(argv[2]) : 16;
  double seconds = argc > 3 ? atof(argv[3]) : 5;
  int churn = argc > 4 ? atoi(argv[4]) : 2000;
  if (n_live <= 0 || bits < 1 || bits > 24 || churn < 0) return 2;
  blocks = calloc((size_t)n_live, sizeof(void*));
  if (!blocks) return 1;
  unsigned paths = 1u << bits;
  long per = (n_live + paths - 1) / paths;
  for (unsigned p = 0; p < paths && next < n_live; ++p) walk0(p, bits - 1, per);
  /* Keep the model changing: replace CHURN blocks per 10 ms. */
  double end = now() + seconds;
  unsigned seed = 1;
  while (now() < end) {
    for (int i = 0; i < churn; ++i) {
      seed = seed * 1103515245u + 12345u;
      long k = (long)(seed >> 8) % n_live;
      free(blocks[k]);
      blocks[k] = malloc(64);
    }
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  for (long i = 0; i < n_live; ++i) free(blocks[i]);
  free(blocks);
  return 0;
}
