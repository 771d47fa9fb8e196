/* A program that does not use CUDA but looks symbols up at run time, as plugin hosts and
 * language runtimes do: the one path heaplens's CUDA layer adds to such a program is its
 * dlsym (interposer/cuda/resolver_hooks.cc). scripts/bench-cuda times this under
 * libheaplens.so built with and without the CUDA layer.
 * usage: bench_dlsym [plain|cuda-names] [lookups]
 *   plain       RTLD_DEFAULT, a handle and RTLD_NEXT lookups of ordinary names
 *   cuda-names  lookups of names the CUDA layer hooks (cuMemAlloc_v2, cudaMalloc), which fail
 *               here: the worst case, a program probing for CUDA in a loop */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  int cuda_names = argc > 1 && strcmp(argv[1], "cuda-names") == 0;
  long n = argc > 2 ? atol(argv[2]) : 3000000;
  void* libm = dlopen("libm.so.6", RTLD_NOW);
  if (libm == NULL) {
    fprintf(stderr, "bench_dlsym: %s\n", dlerror());
    return 1;
  }
  unsigned long found = 0;
  for (long i = 0; i < n; ++i) {
    if (cuda_names) {
      found += dlsym(RTLD_DEFAULT, (i & 1) ? "cuMemAlloc_v2" : "cudaMalloc") != NULL;
      continue;
    }
    switch (i % 3) {
      case 0: found += dlsym(RTLD_DEFAULT, "printf") != NULL; break;
      case 1: found += dlsym(libm, "cos") != NULL; break;
      default: found += dlsym(RTLD_NEXT, "malloc") != NULL; break;
    }
  }
  printf("%lu of %ld lookups found\n", found, n);
  dlclose(libm);
  return 0;
}
