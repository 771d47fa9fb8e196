/* tr_modules LIBRARY: dlopens LIBRARY, waits 3 ms, makes 10 allocations of 31337 bytes
 * through its tr_lib_alloc, dlcloses it, sleeps 3 ms, then allocates (and frees) more for a
 * few ms so the tracker's periodic module check runs, and frees the library's blocks.
 * Prints "lib_fn ADDRESS SIZE" (tr_lib_alloc's symbol range while it was loaded). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void sleep_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tr_modules /path/of/libtr_module_lib.so\n");
    return 2;
  }
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "tr_modules: dlopen: %s\n", dlerror());
    return 3;
  }
  void* (*lib_alloc)(size_t) = (void* (*)(size_t))dlsym(h, "tr_lib_alloc");
  Dl_info info;
  const ElfW(Sym)* sym = NULL;
  if (lib_alloc == NULL || !dladdr1((void*)lib_alloc, &info, (void**)&sym, RTLD_DL_SYMENT) || sym == NULL) {
    fprintf(stderr, "tr_modules: tr_lib_alloc not found\n");
    return 3;
  }
  char line[128];
  snprintf(line, sizeof line, "lib_fn %" PRIuPTR " %" PRIu64 "\n", (uintptr_t)info.dli_saddr, (uint64_t)sym->st_size);
  /* The tracker looks for new modules once per millisecond of recording: let one pass
   * before the library's allocations, so their stacks can be attributed to it. */
  sleep_us(3000);
  void* blocks[10];
  for (int i = 0; i < 10; ++i) blocks[i] = lib_alloc(31337);
  if (dlclose(h) != 0) return 3;
  sleep_us(3000);
  for (int i = 0; i < 20; ++i) {
    free(malloc(4321));
    sleep_us(250);
  }
  for (int i = 0; i < 10; ++i) free(blocks[i]);
  fputs(line, stdout);
  return 0;
}
