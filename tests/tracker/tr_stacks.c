/* tr_stacks: 1000 mallocs of TR_SIZE_A bytes from site_a and 1000 of TR_SIZE_B from site_b,
 * both called from main's loops. Prints "NAME ADDRESS SIZE" for site_a, site_b and main (the
 * symbols' ranges, from dladdr1: the executable exports its symbols). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TR_SIZE_A 12345
#define TR_SIZE_B 23456

void* volatile sink[2000];

/* Using the result after the call keeps it a real call (no tail call): the return address
 * inside site_* is the innermost frame of the program's part of the stack. */
__attribute__((noinline)) void site_a(int i) {
  sink[i] = malloc(TR_SIZE_A);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void site_b(int i) {
  sink[1000 + i] = malloc(TR_SIZE_B);
  __asm__ volatile("" ::: "memory");
}

static void show(const char* name, void* fn) {
  Dl_info info;
  const ElfW(Sym)* sym = NULL;
  if (!dladdr1(fn, &info, (void**)&sym, RTLD_DL_SYMENT) || sym == NULL || sym->st_size == 0) {
    fprintf(stderr, "tr_stacks: dladdr1(%s) found no symbol\n", name);
    exit(3);
  }
  printf("%s %" PRIuPTR " %" PRIu64 "\n", name, (uintptr_t)info.dli_saddr, (uint64_t)sym->st_size);
}

int main(void) {
  for (int i = 0; i < 1000; ++i) site_a(i);
  for (int i = 0; i < 1000; ++i) site_b(i);
  for (int i = 0; i < 2000; ++i) free(sink[i]);
  show("site_a", (void*)&site_a);
  show("site_b", (void*)&site_b);
  show("main", (void*)&main);
  return 0;
}
