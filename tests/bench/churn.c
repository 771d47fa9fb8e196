// Small-object churn in the style of mimalloc-bench's espresso/cfrac: a working set of
// short-lived blocks of mixed small sizes, replaced at random, with some reads and writes
// of the block contents. Deterministic (fixed LCG seed); prints a checksum.
//
// usage: bench_churn [iterations_millions]   (default 40)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static inline uint32_t next_u32(void) {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g_rng >> 33);
}

// Mostly tiny blocks, a tail up to 1 KiB (the shape of cfrac's bignums and espresso's sets).
static inline size_t pick_size(void) {
  uint32_t r = next_u32();
  uint32_t bucket = r & 15;
  if (bucket < 8) return 8 + ((r >> 4) & 31);        // 8..39
  if (bucket < 13) return 32 + ((r >> 4) & 127);     // 32..159
  if (bucket < 15) return 128 + ((r >> 4) & 511);    // 128..639
  return 512 + ((r >> 4) & 511);                     // 512..1023
}

enum { kSlots = 1 << 14 };  // working set: 16k live blocks (~1.5 MiB)

int main(int argc, char** argv) {
  long millions = argc > 1 ? atol(argv[1]) : 40;
  long iterations = millions * 1000000L;
  void* slots[kSlots];
  size_t sizes[kSlots];
  memset(slots, 0, sizeof slots);
  memset(sizes, 0, sizeof sizes);
  uint64_t checksum = 0;
  for (long i = 0; i < iterations; ++i) {
    uint32_t r = next_u32();
    uint32_t s = r & (kSlots - 1);
    if (slots[s] != NULL) {
      unsigned char* old = (unsigned char*)slots[s];
      checksum += old[0] + old[sizes[s] - 1];
      free(old);
    }
    // Short-lived temporaries: a couple of allocations freed right away.
    if ((r >> 20) & 1) {
      size_t t = pick_size();
      char* tmp = (char*)malloc(t);
      tmp[0] = (char)i;
      tmp[t - 1] = (char)(i >> 8);
      checksum += (unsigned char)tmp[0];
      free(tmp);
    }
    size_t n = pick_size();
    unsigned char* p = (unsigned char*)malloc(n);
    if (p == NULL) return 1;
    p[0] = (unsigned char)r;
    p[n - 1] = (unsigned char)(r >> 8);
    slots[s] = p;
    sizes[s] = n;
  }
  for (int s = 0; s < kSlots; ++s) free(slots[s]);
  printf("churn checksum %llu\n", (unsigned long long)checksum);
  return 0;
}
