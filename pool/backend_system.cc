#include "backend_system.h"

#include <malloc.h>

#include <cstring>

extern "C" {
// glibc's allocator under names that our interposed malloc & co. do not shadow.
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t align, std::size_t size);
void __libc_free(void* p);
struct mallinfo __libc_mallinfo(void);
}

namespace heaplens::pool::system_backend {

void* alloc(std::size_t size, std::size_t align, bool zero) noexcept {
  if (align == 0) return zero ? __libc_calloc(1, size) : __libc_malloc(size);
  void* p = __libc_memalign(align, size);
  if (p != nullptr && zero) std::memset(p, 0, size);
  return p;
}

void* resize(void* p, std::size_t size) noexcept { return __libc_realloc(p, size); }

void release(void* p) noexcept { __libc_free(p); }

std::size_t usable(const void* p) noexcept {
  // glibc exports no unshadowed malloc_usable_size and dlsym may allocate, so this is
  // glibc's musable() for an in-use chunk: the size word before the block, flags in the low
  // three bits; bit 1 marks an mmapped chunk, which carries one more header word.
  std::size_t word = static_cast<const std::size_t*>(p)[-1];
  std::size_t chunk = word & ~std::size_t{7};
  return (word & 2) ? chunk - 2 * sizeof(std::size_t) : chunk - sizeof(std::size_t);
}

bool stats(HeapStats* out) noexcept {
  // The int-sized legacy mallinfo is the only unshadowed one; it saturates past 2 GiB.
  struct mallinfo mi = __libc_mallinfo();
  auto u = [](int v) { return static_cast<std::uint64_t>(static_cast<unsigned>(v)); };
  out->allocated = u(mi.uordblks) + u(mi.hblkhd);
  out->active = out->allocated;
  out->mapped = u(mi.arena) + u(mi.hblkhd);
  out->resident = out->mapped;
  out->retained = 0;
  out->metadata = 0;
  return true;
}

}  // namespace heaplens::pool::system_backend
