/* Ground truth for HEAPLENS_SUMMARY: a program whose allocations are known exactly.
 *
 * It reads heaplens's counters once at the start of main (weak symbol, no allocation), does
 * a fixed sequence of allocations, computing from malloc_usable_size what each counter must
 * become, and prints that expectation on stdout. No stdio: nothing else allocates. The test
 * script compares this line with the summary heaplens prints at exit. */
#include <heaplens/heaplens.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#pragma weak heaplens_get_counters

static struct heaplens_counters want;
static uint64_t live_now;

static void on_alloc(void* p, size_t requested, int large) {
  if (p == NULL) _exit(2);
  size_t u = malloc_usable_size(p);
  want.allocations++;
  want.bytes_requested += requested;
  want.bytes_allocated += u;
  want.large_allocations += large;
  live_now += u;
  if (live_now > want.peak_live_bytes) want.peak_live_bytes = live_now;
}

static void before_free(void* p) {
  size_t u = malloc_usable_size(p);
  want.frees++;
  want.bytes_freed += u;
  live_now -= u;
}

static void* realloc_known(void* p, size_t size, int large) {
  before_free(p);
  void* q = realloc(p, size);
  on_alloc(q, size, large);
  return q;
}

int main(void) {
  if (&heaplens_get_counters == NULL) {
    static const char msg[] = "summary_known: run me under libheaplens.so\n";
    write(2, msg, sizeof(msg) - 1);
    return 1;
  }
  heaplens_get_counters(&want, sizeof(want));
  live_now = want.live_bytes;

  enum { kSmall = 1000, kLarge = 10, kLeaked = 5 };
  static void* small[kSmall];
  static void* large[kLarge];
  static void* zeroed[100];

  for (int i = 0; i < kSmall; ++i) on_alloc(small[i] = malloc(100 + (size_t)i % 50), 100 + (size_t)i % 50, 0);
  for (int i = 0; i < kSmall; ++i) { before_free(small[i]); free(small[i]); }

  for (int i = 0; i < 100; ++i) on_alloc(zeroed[i] = calloc(10, 10), 100, 0);
  for (int i = 0; i < kLarge; ++i) on_alloc(large[i] = malloc(1 << 20), 1 << 20, 1);  /* the peak */
  for (int i = 0; i < kLarge; ++i) { before_free(large[i]); free(large[i]); }
  for (int i = kLeaked; i < 100; ++i) { before_free(zeroed[i]); free(zeroed[i]); }  /* 5 leak */

  void* chain = malloc(10);
  on_alloc(chain, 10, 0);
  chain = realloc_known(chain, 20, 0);
  chain = realloc_known(chain, 2000, 0);
  chain = realloc_known(chain, 300000, 1);
  before_free(chain);
  free(chain);

  for (int i = 0; i < 3; ++i) {
    void* p = NULL;
    if (posix_memalign(&p, 4096, 5000) != 0) return 3;
    on_alloc(p, 5000, 0);
    before_free(p);
    free(p);
  }

  want.live_bytes = live_now;
  char line[512];
  int n = snprintf(line, sizeof line,
                   "expect allocations=%llu frees=%llu bytes_requested=%llu bytes_allocated=%llu "
                   "bytes_freed=%llu live_bytes=%llu peak_live_bytes=%llu large_allocations=%llu\n",
                   (unsigned long long)want.allocations, (unsigned long long)want.frees,
                   (unsigned long long)want.bytes_requested, (unsigned long long)want.bytes_allocated,
                   (unsigned long long)want.bytes_freed, (unsigned long long)want.live_bytes,
                   (unsigned long long)want.peak_live_bytes, (unsigned long long)want.large_allocations);
  write(1, line, (size_t)n);
  return 0;
}
