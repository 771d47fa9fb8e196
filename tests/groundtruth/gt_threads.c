/* Ground truth: leaks from 4 threads, each its own site and count. Truth: expected.json
 * "gt_threads".
 *   thread 0  thread_leak_a  200 x 64      =   12800
 *   thread 1  thread_leak_b  100 x 256     =   25600
 *   thread 2  thread_leak_c   20 x 10000   =  200000
 *   thread 3  thread_leak_d    2 x 1 MiB   = 2097152  (large path)
 * Phase 1 (every thread): transients, all freed. A barrier. Phase 2: the leaks. The four
 * threads live at the same time (the barrier), so glibc allocates four thread control
 * blocks' DTVs (see expected.json notes: glibc keeps them in its stack cache until exit).
 * The true peak is the leaked total plus those runtime blocks. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "gt_common.h"

static pthread_barrier_t g_barrier;

NOINLINE static void thread_transients(int seed) {
  for (int i = 0; i < 200; ++i) {
    size_t n = (size_t)(1 + (i * 53 + seed * 7) % 2000);
    free(gt_touch(malloc(n), n, "thread_transients"));
  }
}

NOINLINE static void thread_leak_a(void) {
  for (int i = 0; i < 200; ++i) gt_keep(gt_touch(malloc(64), 64, "thread_leak_a"));
}

NOINLINE static void thread_leak_b(void) {
  for (int i = 0; i < 100; ++i) gt_keep(gt_touch(malloc(256), 256, "thread_leak_b"));
}

NOINLINE static void thread_leak_c(void) {
  for (int i = 0; i < 20; ++i) gt_keep(gt_touch(malloc(10000), 10000, "thread_leak_c"));
}

NOINLINE static void thread_leak_d(void) {
  for (int i = 0; i < 2; ++i) gt_keep(gt_touch(malloc(1 << 20), 1 << 20, "thread_leak_d"));
}

static void* thread_main(void* arg) {
  int id = (int)(intptr_t)arg;
  thread_transients(id);
  pthread_barrier_wait(&g_barrier);
  switch (id) {
    case 0: thread_leak_a(); break;
    case 1: thread_leak_b(); break;
    case 2: thread_leak_c(); break;
    default: thread_leak_d(); break;
  }
  gt_forget();
  return NULL;
}

int main(void) {
  pthread_t threads[4];
  pthread_barrier_init(&g_barrier, NULL, 4);
  for (int i = 0; i < 4; ++i) {
    if (pthread_create(&threads[i], NULL, thread_main, (void*)(intptr_t)i) != 0) gt_die("pthread_create");
  }
  for (int i = 0; i < 4; ++i) pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&g_barrier);
  gt_forget();
  gt_say("gt_threads: done\n");
  return 0;
}
