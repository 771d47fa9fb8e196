#include "tracked_range.h"

#include <jemalloc/jemalloc.h>
#include <sys/mman.h>

#include <atomic>

namespace heaplens::pool::tracked_range {
namespace {

std::atomic<std::uintptr_t> g_base{0};
std::atomic<std::size_t> g_size{0};
std::atomic<std::size_t> g_next{0};  // offset of the first byte never handed out

// The kernel places the reservation among the other mappings, so the program's heap ends up on
// both sides of it: jemalloc's first extents above, later ones below. jemalloc's free() fast
// path finds a block's metadata through a per-thread cache of 16 radix-tree leaves of 1 GiB,
// slot = (address >> 30) % 16. With a multiple of 16 GiB reserved, the heap's chunks right
// above and right below share a slot and evict each other: free() fell to its slow path on
// every switch between the two sides (churn: +8 % of the program's time). 8 GiB more puts
// them 8 slots apart.
constexpr std::size_t kCacheSlotShift = std::size_t{8} << 30;

void* extent_alloc(extent_hooks_t*, void* new_addr, std::size_t size, std::size_t alignment,
                   bool* zero, bool* commit, unsigned) {
  // jemalloc asks for a specific address only to grow an extent in place; declining is
  // allowed (it then moves the block).
  if (new_addr != nullptr) return nullptr;
  std::uintptr_t base = g_base.load(std::memory_order_acquire);
  std::size_t limit = g_size.load(std::memory_order_relaxed);
  if (alignment == 0) alignment = 1;
  std::size_t next = g_next.load(std::memory_order_relaxed);
  std::size_t start;
  do {
    start = ((base + next + alignment - 1) & ~(alignment - 1)) - base;
    if (start > limit || size > limit - start) return nullptr;
  } while (!g_next.compare_exchange_weak(next, start + size, std::memory_order_relaxed));
  void* p = reinterpret_cast<void*>(base + start);
  if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) return nullptr;  // the hole is simply lost
  *zero = true;  // fresh anonymous pages
  *commit = true;
  return p;
}

// Opting out keeps the extent mapped: jemalloc retains it and reuses it later.
bool extent_dalloc(extent_hooks_t*, void*, std::size_t, bool, unsigned) { return true; }

void extent_destroy(extent_hooks_t*, void* addr, std::size_t size, bool, unsigned) {
  madvise(addr, size, MADV_DONTNEED);
}

bool extent_commit(extent_hooks_t*, void*, std::size_t, std::size_t, std::size_t, unsigned) {
  return false;  // everything handed out is already committed
}

bool extent_decommit(extent_hooks_t*, void*, std::size_t, std::size_t, std::size_t, unsigned) {
  return true;  // not supported: jemalloc purges instead
}

bool extent_purge_lazy(extent_hooks_t*, void* addr, std::size_t, std::size_t offset,
                       std::size_t length, unsigned) {
  return madvise(static_cast<char*>(addr) + offset, length, MADV_FREE) != 0;
}

bool extent_purge_forced(extent_hooks_t*, void* addr, std::size_t, std::size_t offset,
                         std::size_t length, unsigned) {
  return madvise(static_cast<char*>(addr) + offset, length, MADV_DONTNEED) != 0;
}

// One mapping: any split or merge jemalloc wants is fine.
bool extent_split(extent_hooks_t*, void*, std::size_t, std::size_t, std::size_t, bool, unsigned) {
  return false;
}
bool extent_merge(extent_hooks_t*, void*, std::size_t, void*, std::size_t, bool, unsigned) {
  return false;
}

extent_hooks_t g_hooks = {extent_alloc,      extent_dalloc,       extent_destroy,
                          extent_commit,     extent_decommit,     extent_purge_lazy,
                          extent_purge_forced, extent_split,      extent_merge};

}  // namespace

bool reserve() noexcept {
  if (g_base.load(std::memory_order_acquire) != 0) return true;
  for (int lg = 40; lg >= 30; lg -= 2) {
    std::size_t size = (std::size_t{1} << lg) + (lg >= 34 ? kCacheSlotShift : 0);
    void* p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    g_size.store(size, std::memory_order_relaxed);
    g_base.store(reinterpret_cast<std::uintptr_t>(p), std::memory_order_release);
    return true;
  }
  return false;
}

void* extent_hooks() noexcept { return &g_hooks; }
std::uintptr_t base() noexcept { return g_base.load(std::memory_order_acquire); }
std::size_t size() noexcept { return g_size.load(std::memory_order_relaxed); }
std::size_t used() noexcept { return g_next.load(std::memory_order_relaxed); }

}  // namespace heaplens::pool::tracked_range
