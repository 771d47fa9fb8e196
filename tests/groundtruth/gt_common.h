/* Helpers shared by the ground-truth fixtures (tests/groundtruth/expected.json holds the truth).
 *
 * Rules every fixture follows, so that "not freed at exit" == valgrind's "definitely lost":
 *   - each leak site is its own NOINLINE function; its name is what stack[0] must show;
 *   - a leaked pointer is stored only in g_sink (volatile) and g_sink is cleared before exit,
 *     so nothing points to a leaked block when the process ends;
 *   - everything that is not a deliberate leak is freed;
 *   - no stdio: glibc never frees a FILE's buffer at exit (only __libc_freeres does, which
 *     valgrind and heaptrack call and heaplens does not), so output goes through write(2). */
#ifndef HEAPLENS_GT_COMMON_H
#define HEAPLENS_GT_COMMON_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __cplusplus
#define GT_EXTERN_C extern "C"
#else
#define GT_EXTERN_C
#endif

#define NOINLINE __attribute__((noinline, noclone))

/* The only place a pointer is kept: volatile, so the stores are not optimised away. */
static void* volatile g_sink;

static inline void gt_keep(void* p) { g_sink = p; }
static inline void gt_forget(void) { g_sink = NULL; }

static inline void gt_die(const char* what) {
  const char pre[] = "groundtruth fixture: allocation failed: ";
  (void)!write(2, pre, sizeof pre - 1);
  (void)!write(2, what, strlen(what));
  (void)!write(2, "\n", 1);
  _exit(99);
}

/* Writes to every byte so that the pages are really used and the compiler sees a use. */
static inline void* gt_touch(void* p, size_t n, const char* what) {
  if (p == NULL) gt_die(what);
  memset(p, 0x5a, n);
  return p;
}

static inline void gt_say(const char* s) { (void)!write(1, s, strlen(s)); }

#endif
