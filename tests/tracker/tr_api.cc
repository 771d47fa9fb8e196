// tr_api: every allocation entry point once or more, logging what the tracker must record, in
// order, on this (the main) thread. Nothing else allocates on it while it runs: the log goes to
// a static buffer, written with write(2) at the end. Lines:
//   A ADDRESS SIZE      an Alloc
//   F ADDRESS           a Free (no flag)
//   R OLD NEW SIZE      a realloc: Free OLD flagged kFlagRealloc, then Realloc NEW SIZE
//   X OLD USABLE        a failed realloc: Free OLD flagged kFlagRealloc, then the old block
//                       recorded live again: Alloc OLD with its usable size
//   L ADDRESS SIZE      a block still live at exit (after the sequence)
// The sequence starts with an Alloc of kBegin bytes and ends with an Alloc of kEnd bytes and
// its Free (both logged).
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <new>

namespace {

constexpr size_t kBegin = 999983;
constexpr size_t kEnd = 999979;

char g_log[1 << 16];
size_t g_len;
int g_failed;

__attribute__((format(printf, 1, 2))) void log_line(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(g_log + g_len, sizeof(g_log) - g_len, fmt, ap);
  va_end(ap);
  if (n > 0 && static_cast<size_t>(n) < sizeof(g_log) - g_len) g_len += static_cast<size_t>(n);
}

uintptr_t u(const void* p) { return reinterpret_cast<uintptr_t>(p); }

void check(bool ok, const char* what) {
  if (!ok) {
    // Logged, not printed: stdio would allocate on this thread.
    log_line("FAILED %s\n", what);
    g_failed = 1;
  }
}

void* A(void* p, size_t size) {
  check(p != nullptr, "allocation");
  if (p != nullptr) memset(p, 0x5a, size);
  log_line("A %ju %zu\n", static_cast<uintmax_t>(u(p)), size);
  return p;
}

void F(void* p) {
  log_line("F %ju\n", static_cast<uintmax_t>(u(p)));
  free(p);
}

void* R(void* p, size_t size) {
  uintptr_t old = u(p);
  void* q = realloc(p, size);
  check(q != nullptr, "realloc");
  log_line("R %ju %ju %zu\n", static_cast<uintmax_t>(old), static_cast<uintmax_t>(u(q)), size);
  return q;
}

void L(void* p, size_t size) { log_line("L %ju %zu\n", static_cast<uintmax_t>(u(p)), size); }

}  // namespace

int main() {
  void* m = A(malloc(kBegin), kBegin);
  F(m);

  void* a = A(malloc(1001), 1001);
  void* c = calloc(17, 59);
  check(c != nullptr && reinterpret_cast<unsigned char*>(c)[1002] == 0, "calloc zeroes");
  A(c, 17 * 59);
  errno = 0;
  volatile size_t half = SIZE_MAX / 2;
  check(calloc(half, 3) == nullptr && errno == ENOMEM, "calloc overflow fails");
  void* ma = A(memalign(64, 1005), 1005);
  check(u(ma) % 64 == 0, "memalign alignment");
  void* pm = nullptr;
  check(posix_memalign(&pm, 256, 1007) == 0 && u(pm) % 256 == 0, "posix_memalign");
  A(pm, 1007);
  void* bad = nullptr;
  check(posix_memalign(&bad, 24, 100) == EINVAL, "posix_memalign EINVAL");
  void* al = A(aligned_alloc(128, 3072), 3072);
  check(u(al) % 128 == 0, "aligned_alloc alignment");
  void* va = A(valloc(1009), 1009);
  check(u(va) % 4096 == 0, "valloc alignment");
  void* z = A(malloc(0), 0);

  char* na = new char[1013];
  A(na, 1013);
  int* ni = new int[300];
  A(ni, 300 * sizeof(int));
  void* nal = ::operator new[](1019, std::align_val_t(64));
  A(nal, 1019);
  check(u(nal) % 64 == 0, "aligned new[] alignment");
  char* nt = new (std::nothrow) char[1021];
  A(nt, 1021);

  void* r1 = R(a, 5001);
  void* r2 = R(r1, 17);
  void* rn = A(realloc(nullptr, 1015), 1015);
  log_line("F %ju\n", static_cast<uintmax_t>(u(rn)));
  check(realloc(rn, 0) == nullptr, "realloc(p, 0) returns NULL");
  uintptr_t old_c = u(c);
  void* ra = reallocarray(c, 10, 101);
  check(ra != nullptr, "reallocarray");
  log_line("R %ju %ju %zu\n", static_cast<uintmax_t>(old_c), static_cast<uintmax_t>(u(ra)), size_t{1010});
  void* big = R(ra, 300000);
  void* big2 = R(big, 600000);
  size_t usable = malloc_usable_size(big2);
  errno = 0;
  volatile size_t huge_size = size_t{1} << 46;
  void* huge = realloc(big2, huge_size);
  check(huge == nullptr && errno == ENOMEM, "a 64 TiB realloc fails");
  log_line("X %ju %zu\n", static_cast<uintmax_t>(u(big2)), usable);

  log_line("F %ju\n", static_cast<uintmax_t>(u(na)));
  delete[] na;
  log_line("F %ju\n", static_cast<uintmax_t>(u(ni)));
  delete[] ni;
  log_line("F %ju\n", static_cast<uintmax_t>(u(nal)));
  ::operator delete[](nal, std::align_val_t(64));
  free(nullptr);
  F(ma);
  F(big2);
  void* leak = A(malloc(777), 777);

  void* e = A(malloc(kEnd), kEnd);
  F(e);

  L(r2, 17);
  L(pm, 1007);
  L(al, 3072);
  L(va, 1009);
  L(z, 0);
  L(nt, 1021);
  L(leak, 777);
  if (write(1, g_log, g_len) != static_cast<ssize_t>(g_len)) return 3;
  return g_failed ? 1 : 0;
}
