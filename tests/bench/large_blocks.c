// Large blocks: a working set of 24 blocks of 64 KiB .. 8 MiB (most at or above heaplens's
// 256 KiB large threshold, i.e. the path every sampled-mode recording takes), replaced at
// random; each new block has its first page and one byte every 64 KiB written, a quarter of
// them is grown with realloc (x1.5) before the next replacement, and every 16th iteration
// allocates a zeroed calloc block of 1-4 MiB and frees it at once. The cost is in the
// allocator's large path and the kernel (mmap, page faults, munmap), as in programs that
// shuffle buffers, images or column chunks. Deterministic (fixed LCG seed); prints a checksum.
//
// usage: bench_large_blocks [iterations_hundreds]   (default 200)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;

static inline uint32_t next_u32(void) {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g_rng >> 33);
}

static size_t pick_size(void) {
  uint32_t r = next_u32();
  switch (r & 7) {
    case 0: return (64u << 10) + (r >> 3) % (192u << 10);   // 64 KiB .. 256 KiB
    case 1: case 2: case 3: return (256u << 10) + (r >> 3) % (768u << 10);  // .. 1 MiB
    case 4: case 5: case 6: return (1u << 20) + (r >> 3) % (3u << 20);      // .. 4 MiB
    default: return (4u << 20) + (r >> 3) % (4u << 20);                     // .. 8 MiB
  }
}

static uint64_t touch(unsigned char* p, size_t n, uint32_t salt) {
  memset(p, (int)(salt & 0xff), n < 4096 ? n : 4096);
  uint64_t sum = 0;
  for (size_t off = 0; off < n; off += 65536) {
    p[off] = (unsigned char)(salt + off);
    sum += p[off];
  }
  p[n - 1] = (unsigned char)salt;
  return sum + p[n - 1];
}

enum { kSlots = 24 };

int main(int argc, char** argv) {
  long hundreds = argc > 1 ? atol(argv[1]) : 200;
  long iterations = hundreds * 100L;
  unsigned char* slots[kSlots] = {0};
  size_t sizes[kSlots] = {0};
  uint64_t checksum = 0;
  for (long i = 0; i < iterations; ++i) {
    uint32_t r = next_u32();
    unsigned s = r % kSlots;
    if (slots[s] != NULL) {
      checksum += slots[s][0] + slots[s][sizes[s] - 1];
      free(slots[s]);
    }
    size_t n = pick_size();
    unsigned char* p = (unsigned char*)malloc(n);
    if (p == NULL) return 1;
    checksum += touch(p, n, r);
    if (((r >> 24) & 3) == 0) {
      size_t grown = n + n / 2;
      unsigned char* q = (unsigned char*)realloc(p, grown);
      if (q == NULL) return 1;
      checksum += q[0] + q[n - 1];
      q[grown - 1] = (unsigned char)i;
      p = q;
      n = grown;
    }
    slots[s] = p;
    sizes[s] = n;
    if ((i & 15) == 0) {
      size_t m = (1u << 20) + (r >> 4) % (3u << 20);
      unsigned char* z = (unsigned char*)calloc(1, m);
      if (z == NULL) return 1;
      checksum += z[m / 2] + z[m - 1];
      free(z);
    }
  }
  for (unsigned s = 0; s < kSlots; ++s) free(slots[s]);
  printf("large-blocks checksum %llu\n", (unsigned long long)checksum);
  return 0;
}
