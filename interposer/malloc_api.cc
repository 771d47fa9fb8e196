// The C allocation API: argument rules and errno exactly as glibc documents them, memory from
// the pool. See docs/ownership.md for which allocator owns a pointer handed to free().
#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "../pool/pool.h"
#include "export.h"
#include "runtime.h"

namespace pool = heaplens::pool;
namespace runtime = heaplens::runtime;

namespace {

constexpr std::size_t kMaxSize = PTRDIFF_MAX;

inline bool is_pow2(std::size_t x) { return x != 0 && (x & (x - 1)) == 0; }

bool glibc_at_least(int major, int minor) {
  const char* v = gnu_get_libc_version();  // "2.36": static storage, no allocation
  int ma = 0;
  int mi = 0;
  if (std::sscanf(v, "%d.%d", &ma, &mi) != 2) return true;
  return ma > major || (ma == major && mi >= minor);
}

std::size_t page_size() {
  static std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// errno's address, kept per thread: free() saves and restores errno on every call, and
// __errno_location is a call through the PLT. The address of a thread's errno never changes.
constinit thread_local int* t_errno __attribute__((tls_model("initial-exec"))) = nullptr;
inline int* errno_ptr() {
  int* e = t_errno;
  if (__builtin_expect(e == nullptr, 0)) t_errno = e = &errno;
  return e;
}

inline void* allocate(std::size_t size, std::size_t align, bool zero) {
  runtime::ensure_started();
  if (__builtin_expect(size > kMaxSize, 0)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = pool::alloc(size, align, zero);
  if (__builtin_expect(p == nullptr, 0)) errno = ENOMEM;
  return p;
}

// memalign's rules (glibc): alignments 0 and 1 are plain malloc, others round up to a power
// of two, absurd ones fail with EINVAL. Small alignments are still passed on: jemalloc gives
// tiny blocks less than 16-byte alignment by default.
void* memalign_impl(std::size_t align, std::size_t size) {
  if (align <= 1) return allocate(size, 0, false);
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (!is_pow2(align)) align = std::size_t{1} << (64 - __builtin_clzll(align));
  return allocate(size, align, false);
}

}  // namespace

extern "C" {

HEAPLENS_EXPORT void* malloc(size_t size) {
  runtime::ensure_started();
  // No size check needed: jemalloc and glibc fail sizes over PTRDIFF_MAX themselves.
  void* p = pool::alloc_plain(size);
  if (__builtin_expect(p == nullptr, 0)) errno = ENOMEM;
  return p;
}

HEAPLENS_EXPORT void free(void* p) {
  if (p == nullptr) return;
  runtime::ensure_started();
  int* e = errno_ptr();
  int saved = *e;  // free never changes errno (POSIX 2024, glibc >= 2.33)
  pool::release(p);
  *e = saved;
}

HEAPLENS_EXPORT void* calloc(size_t n, size_t size) {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return allocate(total, 0, true);
}

HEAPLENS_EXPORT void* realloc(void* p, size_t size) {
  if (p == nullptr) return allocate(size, 0, false);
  if (size == 0) {  // glibc: realloc(p, 0) frees p and returns NULL
    free(p);
    return nullptr;
  }
  runtime::ensure_started();
  if (size > kMaxSize) {
    errno = ENOMEM;
    return nullptr;
  }
  void* q = pool::resize(p, size);
  if (q == nullptr) errno = ENOMEM;
  return q;
}

HEAPLENS_EXPORT void* reallocarray(void* p, size_t n, size_t size) {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

HEAPLENS_EXPORT int posix_memalign(void** out, size_t align, size_t size) {
  if (align % sizeof(void*) != 0 || !is_pow2(align / sizeof(void*))) return EINVAL;
  int saved = errno;
  void* p = allocate(size, align, false);
  if (p == nullptr) return ENOMEM;
  errno = saved;
  *out = p;
  return 0;
}

// As the host glibc does it: since 2.38 an alignment that is not a power of two fails with
// EINVAL (C11/C23); before, aligned_alloc was memalign. Alignment 0 is malloc in both.
HEAPLENS_EXPORT void* aligned_alloc(size_t align, size_t size) {
  static const bool strict = glibc_at_least(2, 38);
  if (align != 0 && !is_pow2(align) && strict) {
    errno = EINVAL;
    return nullptr;
  }
  return memalign_impl(align, size);
}

HEAPLENS_EXPORT void* memalign(size_t align, size_t size) { return memalign_impl(align, size); }

HEAPLENS_EXPORT void* valloc(size_t size) { return memalign_impl(page_size(), size); }

HEAPLENS_EXPORT void* pvalloc(size_t size) {
  std::size_t page = page_size();
  std::size_t rounded;
  if (__builtin_add_overflow(size, page - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  rounded &= ~(page - 1);
  return memalign_impl(page, rounded == 0 ? page : rounded);
}

HEAPLENS_EXPORT size_t malloc_usable_size(void* p) {
  if (p == nullptr) return 0;
  runtime::ensure_started();
  return pool::usable_size(p);
}

#if defined(HEAPLENS_HAVE_FREE_SIZED)
// C23: the size (and alignment) are hints we do not trust: a wrong one must not corrupt
// the heap, so the pool looks the block up as for free().
HEAPLENS_EXPORT void free_sized(void* p, size_t) { free(p); }
HEAPLENS_EXPORT void free_aligned_sized(void* p, size_t, size_t) { free(p); }
#endif

}  // extern "C"
