#include "backend_jemalloc.h"

#include <jemalloc/jemalloc.h>

#include <atomic>

namespace heaplens::pool::jemalloc_backend {
namespace {

// MALLOCX flags of the large path: a dedicated arena, no thread cache. The arena keeps large
// blocks out of the small arenas' extents (less fragmentation there) and gives the tracker
// one place to serve always-recorded blocks from.
std::atomic<int> g_large_flags{MALLOCX_TCACHE_NONE};

inline int align_flags(std::size_t align) noexcept { return align ? MALLOCX_ALIGN(align) : 0; }

bool read_u64(const char* name, std::uint64_t* out) noexcept {
  std::size_t v = 0;
  std::size_t len = sizeof(v);
  if (mallctl(name, &v, &len, nullptr, 0) != 0) return false;
  *out = v;
  return true;
}

void refresh_stats() noexcept {
  std::uint64_t epoch = 1;
  std::size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);
}

}  // namespace

bool init() noexcept {
  unsigned arena = 0;
  std::size_t len = sizeof(arena);
  if (mallctl("arenas.create", &arena, &len, nullptr, 0) != 0) return false;
  g_large_flags.store(MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE, std::memory_order_release);
  return true;
}

void* alloc(std::size_t size, std::size_t align, bool zero, bool large) noexcept {
  int flags = align_flags(align) | (zero ? MALLOCX_ZERO : 0);
  if (large) flags |= g_large_flags.load(std::memory_order_relaxed);
  return mallocx(size, flags);
}

void* resize(void* p, std::size_t size, bool large) noexcept {
  return rallocx(p, size, large ? g_large_flags.load(std::memory_order_relaxed) : 0);
}

void release(void* p, std::size_t usable) noexcept {
  // Any size in [requested, usable] is valid for sdallocx; usable came from sallocx(p).
  sdallocx(p, usable, 0);
}

std::size_t usable(const void* p) noexcept { return sallocx(p, 0); }

std::size_t usable_for(std::size_t size, std::size_t align) noexcept {
  return nallocx(size, align_flags(align));
}

bool stats(HeapStats* out) noexcept {
  refresh_stats();
  bool ok = read_u64("stats.allocated", &out->allocated);
  ok = read_u64("stats.active", &out->active) && ok;
  ok = read_u64("stats.resident", &out->resident) && ok;
  ok = read_u64("stats.mapped", &out->mapped) && ok;
  ok = read_u64("stats.retained", &out->retained) && ok;
  ok = read_u64("stats.metadata", &out->metadata) && ok;
  return ok;
}

bool trim() noexcept {
  HeapStats before;
  HeapStats after;
  stats(&before);
  // "arena.<MALLCTL_ARENAS_ALL>.purge": dirty and muzzy pages of every arena back to the OS.
  static_assert(MALLCTL_ARENAS_ALL == 4096);
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
  stats(&after);
  return after.resident < before.resident;
}

}  // namespace heaplens::pool::jemalloc_backend
