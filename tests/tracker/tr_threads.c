/* tr_threads THREADS ITERATIONS: each worker thread t makes ITERATIONS allocations of
 * tr_thread_size(t, i) bytes with malloc, keeping the last TR_WINDOW live (each allocation first
 * frees the one TR_WINDOW before it), then frees the rest. Workers call nothing else that
 * allocates. After joining them the main thread prints, per worker,
 *   thread T TID ALLOCS DIGEST
 * where DIGEST is tr_digest over the worker's (address, size) sequence in order.
 * ITERATIONS 0: the workers allocate forever (the killed-producer test). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_common.h"

enum { kMaxThreads = 16 };

struct worker {
  unsigned t;
  uint64_t iterations;  /* 0: forever */
  pid_t tid;
  uint64_t allocs;
  uint64_t digest;
};

static void* run(void* arg) {
  struct worker* w = arg;
  w->tid = gettid();
  void* window[TR_WINDOW] = {0};
  uint64_t h = 0;
  for (uint64_t i = 0; w->iterations == 0 || i < w->iterations; ++i) {
    void** slot = &window[i % TR_WINDOW];
    if (*slot) free(*slot);
    size_t size = tr_thread_size(w->t, i);
    unsigned char* p = malloc(size);
    if (p == NULL) {
      fprintf(stderr, "tr_threads: malloc(%zu) failed\n", size);
      exit(3);
    }
    p[0] = (unsigned char)i;
    p[size - 1] = (unsigned char)w->t;
    *slot = p;
    h = tr_digest(h, (uint64_t)(uintptr_t)p, size);
  }
  for (int k = 0; k < TR_WINDOW; ++k) free(window[k]);
  w->allocs = w->iterations;
  w->digest = h;
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: tr_threads THREADS ITERATIONS\n");
    return 2;
  }
  unsigned n = (unsigned)atoi(argv[1]);
  uint64_t iterations = strtoull(argv[2], NULL, 10);
  if (n == 0 || n > kMaxThreads) return 2;
  static struct worker workers[kMaxThreads];
  pthread_t threads[kMaxThreads];
  for (unsigned t = 0; t < n; ++t) {
    workers[t].t = t;
    workers[t].iterations = iterations;
    if (pthread_create(&threads[t], NULL, run, &workers[t]) != 0) return 3;
  }
  for (unsigned t = 0; t < n; ++t) pthread_join(threads[t], NULL);
  for (unsigned t = 0; t < n; ++t)
    printf("thread %u %d %" PRIu64 " %" PRIu64 "\n", t, (int)workers[t].tid, workers[t].allocs,
           workers[t].digest);
  return 0;
}
