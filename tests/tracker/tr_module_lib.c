/* The library tr_modules loads and unloads. */
#include <stdlib.h>

__attribute__((noinline)) void* tr_lib_alloc(size_t n) {
  void* p = malloc(n);
  __asm__ volatile("" ::: "memory");
  return p;
}
