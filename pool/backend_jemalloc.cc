#include "backend_jemalloc.h"

#include <jemalloc/jemalloc.h>

#include <dlfcn.h>

#include <cstdio>

#include "tracked_range.h"

#include <atomic>

namespace heaplens::pool::jemalloc_backend {
namespace {

// jemalloc's own malloc/calloc/realloc/free entry points. mallocx has no fast path in jemalloc 5.3 (it
// always runs the generic imalloc body: 16 ns per malloc/free pair against 9.4 ns for
// malloc/free, measured here), so once the process has started we take plain-size requests
// through jemalloc's malloc and calloc, looked up in libjemalloc.so.2 itself. They are
// jemalloc's code, not ours: nothing can recurse. Until the lookup is done (and if it
// fails) mallocx serves everything.
using MallocFn = void* (*)(std::size_t);
using CallocFn = void* (*)(std::size_t, std::size_t);
using FreeFn = void (*)(void*);
using ReallocFn = void* (*)(void*, std::size_t);
// Until then malloc and free go to these (a pointer that is never null spares the hot path a
// test).
void* mallocx_plain(std::size_t size) noexcept { return mallocx(size, 0); }
void dallocx_plain(void* p) noexcept { dallocx(p, 0); }
std::atomic<MallocFn> g_je_malloc{mallocx_plain};
std::atomic<CallocFn> g_je_calloc{nullptr};
std::atomic<FreeFn> g_je_free{dallocx_plain};
std::atomic<ReallocFn> g_je_realloc{nullptr};

// jemalloc's size classes (sz_s2u for the default 16-byte quantum and 4 classes per
// doubling), so counting a block's usable size costs a few instructions instead of a call
// to nallocx. enable_fast_paths() checks it against nallocx and keeps nallocx if they differ.
std::atomic<bool> g_size_classes_checked{false};

inline std::size_t size_class(std::size_t size) noexcept {
  if (size <= 8) return 8;
  std::size_t x = 63 - static_cast<std::size_t>(__builtin_clzll((size << 1) - 1));
  std::size_t lg_delta = x < 2 + 4 + 1 ? 4 : x - 2 - 1;
  std::size_t mask = (std::size_t{1} << lg_delta) - 1;
  return (size + mask) & ~mask;
}

// MALLOCX flags of the large path: a dedicated arena, no thread cache. The arena keeps large
// blocks out of the small arenas' extents (less fragmentation there) and is also where
// sampled blocks live: it takes all its memory from the tracked range (tracked_range.h), so
// free() recognises a recorded block by its address alone.
// The arena is created on the first request that needs it, not at start-up: creating one
// costs about as much as the rest of a short-lived process's start (measured: 260k
// instructions), and most processes never make a large request.
std::atomic<int> g_large_flags{MALLOCX_TCACHE_NONE};
constexpr std::size_t kEagerPurgeBytes = std::size_t{16} << 20;
std::atomic<int> g_arena_state{0};  // 0: none yet, 1: being created, 2: settled
std::atomic<bool> g_arena_in_range{false};
std::atomic<void (*)(const char*)> g_report{nullptr};

void report(const char* line) noexcept {
  if (auto r = g_report.load(std::memory_order_acquire)) r(line);
}

void create_large_arena() noexcept {
  int expected = 0;
  // Losers of the race (and the creator's own nested calls) use the automatic arenas
  // meanwhile: any arena can serve any block.
  if (!g_arena_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  unsigned arena = 0;
  std::size_t len = sizeof(arena);
  bool ranged = tracked_range::reserve();
  auto* hooks = static_cast<extent_hooks_t*>(tracked_range::extent_hooks());
  int rc = ranged ? mallctl("arenas.create", &arena, &len, &hooks, sizeof(hooks))
                  : mallctl("arenas.create", &arena, &len, nullptr, 0);
  if (rc == 0) {
    // jemalloc purges a freed extent of oversize_threshold (8 MiB) or more at once; in this
    // arena, where every large block lives and free neighbours coalesce, that purged and
    // faulted in again most of what a program reuses (bench large-blocks: twice glibc's page
    // faults, 1.3x its time). Smaller extents decay as in every jemalloc arena
    // (dirty_decay_ms). Measured on large-blocks (blocks of 64 KiB-12 MiB): 16 MiB matches
    // glibc's page faults and peak RSS; 32 MiB (glibc's largest mmap threshold) faults as
    // little but keeps 25 % more resident.
    char name[64];
    std::snprintf(name, sizeof name, "arena.%u.oversize_threshold", arena);
    std::size_t oversize = kEagerPurgeBytes;
    mallctl(name, nullptr, nullptr, &oversize, sizeof oversize);  // older jemalloc: no such knob
    g_arena_in_range.store(ranged, std::memory_order_release);
    g_large_flags.store(MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE, std::memory_order_release);
    if (!ranged) report("no address range could be reserved for recorded blocks: sampled mode records large blocks only");
  } else {
    report("jemalloc refused a dedicated arena for large blocks; they share the default arenas");
  }
  g_arena_state.store(2, std::memory_order_release);
}

inline int large_flags() noexcept {
  if (__builtin_expect(g_arena_state.load(std::memory_order_acquire) != 2, 0)) create_large_arena();
  return g_large_flags.load(std::memory_order_relaxed);
}

// Base address of the object that defines nallocx: libjemalloc.so.2.
void* nallocx_base() noexcept {
  Dl_info info;
  return dladdr(reinterpret_cast<void*>(&nallocx), &info) ? info.dli_fbase : nullptr;
}

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

void set_problem_reporter(void (*reporter)(const char* line)) noexcept {
  g_report.store(reporter, std::memory_order_release);
}

bool prepare_tracked_arena() noexcept {
  large_flags();
  return g_arena_state.load(std::memory_order_acquire) == 2 &&
         g_arena_in_range.load(std::memory_order_acquire);
}

void enable_fast_paths() noexcept {
  // Every size up to 128 bytes, then around each class boundary up to 1 TiB: ~530 calls.
  bool same = true;
  for (std::size_t size = 1; size <= 128 && same; ++size) same = size_class(size) == nallocx(size, 0);
  for (std::size_t lg = 7; lg < 40 && same; ++lg) {
    for (std::size_t step = 0; step < 4 && same; ++step) {
      std::size_t bound = (std::size_t{1} << lg) + step * (std::size_t{1} << (lg - 2));
      for (std::size_t size : {bound - 1, bound, bound + 1}) same = same && size_class(size) == nallocx(size, 0);
    }
  }
  g_size_classes_checked.store(same, std::memory_order_release);

  void* lib = dlopen("libjemalloc.so.2", RTLD_LAZY | RTLD_NOLOAD);
  if (lib == nullptr) return;
  auto m = reinterpret_cast<MallocFn>(dlsym(lib, "malloc"));
  auto c = reinterpret_cast<CallocFn>(dlsym(lib, "calloc"));
  auto f = reinterpret_cast<FreeFn>(dlsym(lib, "free"));
  auto r = reinterpret_cast<ReallocFn>(dlsym(lib, "realloc"));
  // Must be jemalloc's, not ours (dlsym on the handle searches libjemalloc first, but a
  // stripped or odd build might not export them).
  Dl_info info;
  auto is_jemalloc = [&info](void* fn) {
    return fn != nullptr && dladdr(fn, &info) && info.dli_fbase == nallocx_base();
  };
  if (is_jemalloc(reinterpret_cast<void*>(m)) && is_jemalloc(reinterpret_cast<void*>(c)) &&
      is_jemalloc(reinterpret_cast<void*>(f)) && is_jemalloc(reinterpret_cast<void*>(r))) {
    g_je_realloc.store(r, std::memory_order_release);
    g_je_malloc.store(m, std::memory_order_release);
    g_je_calloc.store(c, std::memory_order_release);
    g_je_free.store(f, std::memory_order_release);
  }
  // The handle stays open: the library is loaded for the life of the process anyway.
}

void* alloc_small(std::size_t size) noexcept { return g_je_malloc.load(std::memory_order_relaxed)(size); }

void* alloc(std::size_t size, std::size_t align, bool zero, bool large) noexcept {
  if (__builtin_expect(align == 0 && !large, 1)) {
    if (!zero) return alloc_small(size);
    if (CallocFn c = g_je_calloc.load(std::memory_order_relaxed)) return c(1, size);
  }
  int flags = align_flags(align) | (zero ? MALLOCX_ZERO : 0);
  if (large) flags |= large_flags();
  return mallocx(size, flags);
}

void* resize(void* p, std::size_t size, bool large) noexcept {
  // jemalloc's realloc (never called with size 0 here, so its realloc(p, 0) policy does not
  // matter) is several times cheaper than rallocx, which has no fast path.
  if (!large) {
    if (ReallocFn r = g_je_realloc.load(std::memory_order_relaxed)) return r(p, size);
  }
  return rallocx(p, size, large ? large_flags() : 0);
}

void release(void* p) noexcept { g_je_free.load(std::memory_order_relaxed)(p); }

bool lend_thread_totals(LentTotals* out) noexcept {
  std::uint64_t* allocated = nullptr;
  std::uint64_t* freed = nullptr;
  std::size_t len = sizeof(allocated);
  if (mallctl("thread.allocatedp", &allocated, &len, nullptr, 0) != 0) return false;
  len = sizeof(freed);
  if (mallctl("thread.deallocatedp", &freed, &len, nullptr, 0) != 0) return false;
  out->allocated = allocated;
  out->freed = freed;
  return true;
}

void release_tracked(void* p) noexcept {
  // Straight back to the tracked arena: through the thread cache, a tracked block would be
  // handed to the next plain malloc of its size class.
  dallocx(p, MALLOCX_TCACHE_NONE);
}

void release(void* p, std::size_t usable) noexcept {
  // Any size in [requested, usable] is valid for sdallocx; usable came from sallocx(p).
  sdallocx(p, usable, 0);
}

std::size_t usable(const void* p) noexcept { return sallocx(p, 0); }

std::size_t usable_for(std::size_t size, std::size_t align) noexcept {
  if (__builtin_expect(align == 0 && size <= (std::size_t{1} << 40), 1) &&
      g_size_classes_checked.load(std::memory_order_relaxed))
    return size_class(size);
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
