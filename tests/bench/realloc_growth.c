// realloc growth: many strings and arrays growing the way naive C code grows them (append a
// few bytes, realloc to the exact new length) next to vectors that double, interleaved so
// blocks cannot always grow in place. Deterministic; prints a checksum.
//
// usage: bench_realloc [rounds]   (default 300)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 0xDEADBEEFCAFEF00Dull;

static inline uint32_t next_u32(void) {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g_rng >> 33);
}

enum { kStrings = 64, kVectors = 16 };

int main(int argc, char** argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 300;
  uint64_t checksum = 0;
  for (long round = 0; round < rounds; ++round) {
    char* str[kStrings] = {0};
    size_t len[kStrings] = {0};
    size_t limit[kStrings];
    int* vec[kVectors] = {0};
    size_t vlen[kVectors] = {0};
    size_t vcap[kVectors] = {0};
    for (int i = 0; i < kStrings; ++i) limit[i] = 256 + (next_u32() % 32768);  // up to 32 KiB
    int active = kStrings;
    while (active > 0) {
      active = 0;
      for (int i = 0; i < kStrings; ++i) {
        if (len[i] >= limit[i]) continue;
        ++active;
        // Exact-length growth: append 1..24 bytes plus the terminator.
        size_t add = 1 + (next_u32() % 24);
        char* s = (char*)realloc(str[i], len[i] + add + 1);
        if (s == NULL) return 1;
        memset(s + len[i], 'a' + (int)(add % 26), add);
        len[i] += add;
        s[len[i]] = '\0';
        str[i] = s;
      }
      for (int v = 0; v < kVectors; ++v) {
        if (vlen[v] == vcap[v]) {
          size_t cap = vcap[v] ? vcap[v] * 2 : 4;
          if (cap > (1u << 16)) {  // restart the vector past 256 KiB
            checksum += (uint64_t)vec[v][vlen[v] - 1];
            free(vec[v]);
            vec[v] = NULL;
            vlen[v] = 0;
            cap = 4;
          }
          int* nv = (int*)realloc(vec[v], cap * sizeof(int));
          if (nv == NULL) return 1;
          vec[v] = nv;
          vcap[v] = cap;
        }
        vec[v][vlen[v]] = (int)vlen[v] + v;
        ++vlen[v];
      }
    }
    for (int i = 0; i < kStrings; ++i) {
      checksum += (unsigned char)str[i][len[i] / 2] + len[i];
      // Shrink to a prefix, as trimming code does, then free.
      char* s = (char*)realloc(str[i], len[i] / 4 + 1);
      if (s == NULL) return 1;
      checksum += (unsigned char)s[0];
      free(s);
    }
    for (int v = 0; v < kVectors; ++v) free(vec[v]);
  }
  printf("realloc checksum %llu\n", (unsigned long long)checksum);
  return 0;
}
