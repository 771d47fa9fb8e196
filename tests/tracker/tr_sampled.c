/* tr_sampled: what sampled mode must record exactly and what it may only estimate.
 *  - 20 large blocks (>= 256 KiB, the default large threshold; the first exactly 256 KiB),
 *    every other one freed: printed as "large SIZE ADDRESS FREED".
 *  - small blocks (1..8192 bytes, fixed pseudo-random sequence) allocated and freed at once
 *    until 200 MB were requested: "small BYTES COUNT EXPECTED_SAMPLES", where
 *    EXPECTED_SAMPLES = sum of p = 1 - exp(-size/R) over them (R from argv[1]). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tr_sampled SAMPLE_INTERVAL_BYTES\n");
    return 2;
  }
  double interval = atof(argv[1]);
  enum { kLarge = 20 };
  static char lines[kLarge][96];
  void* large[kLarge];
  size_t sizes[kLarge];
  for (int k = 0; k < kLarge; ++k) {
    sizes[k] = ((size_t)256 << 10) + (size_t)k * 12289;
    large[k] = malloc(sizes[k]);
    if (large[k] == NULL) return 3;
    ((volatile char*)large[k])[0] = 1;
  }
  uint64_t x = 0x2545F4914F6CDD1DULL;
  uint64_t total = 0, count = 0;
  double expected = 0;
  while (total < 200000000ULL) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t size = 1 + (size_t)(x % 8192);
    volatile char* p = malloc(size);
    if (p == NULL) return 3;
    p[0] = 1;
    free((void*)p);
    total += size;
    ++count;
    expected += -expm1(-(double)size / interval);
  }
  for (int k = 0; k < kLarge; ++k) {
    snprintf(lines[k], sizeof lines[k], "large %zu %" PRIuPTR " %d\n", sizes[k], (uintptr_t)large[k], k % 2 == 0);
    if (k % 2 == 0) free(large[k]);
  }
  for (int k = 0; k < kLarge; ++k) fputs(lines[k], stdout);
  printf("small %" PRIu64 " %" PRIu64 " %.3f\n", total, count, expected);
  return 0;
}
