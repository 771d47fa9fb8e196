#include "pool.h"

#include "backend_jemalloc.h"
#include "backend_system.h"

#include <atomic>

namespace heaplens::pool {
namespace {

Settings g_settings;
bool g_started = false;
// Separate from g_settings: set_large_threshold may race with allocating threads.
std::atomic<std::size_t> g_large_threshold{kDefaultLargeThreshold};

inline bool is_large(std::size_t size) noexcept {
  return size >= g_large_threshold.load(std::memory_order_relaxed);
}
inline bool use_jemalloc() noexcept { return g_settings.backend == Backend::jemalloc; }

}  // namespace

const char* backend_name(Backend b) {
  return b == Backend::system ? "system" : "jemalloc";
}

void init(const Settings& settings, void (*report)(const char* line)) noexcept {
  if (g_started) return;
  g_settings = settings;
  set_large_threshold(settings.large_threshold);
  g_started = true;
  if (use_jemalloc()) counters_set_lender(jemalloc_backend::lend_thread_totals);
  if (use_jemalloc()) jemalloc_backend::set_problem_reporter(report);
  counters_init();
}

const Settings& settings() noexcept { return g_settings; }

void enable_fast_paths() noexcept {
  if (use_jemalloc()) jemalloc_backend::enable_fast_paths();
}

void set_large_threshold(std::size_t bytes) noexcept {
  g_settings.large_threshold = bytes == 0 ? 1 : bytes;  // for readers of settings() only
  g_large_threshold.store(g_settings.large_threshold, std::memory_order_relaxed);
}

void* alloc_plain(std::size_t size) noexcept {
  // malloc's path, the hottest of all: the general alloc() with align = 0, zero = false,
  // spelled out so that nothing else is tested on the way.
  bool large = is_large(size);
  std::size_t real = size + (size == 0);
  if (__builtin_expect(use_jemalloc() && !large && bytes_lent(), 1)) {
    void* p = jemalloc_backend::alloc_small(real);
    if (__builtin_expect(p != nullptr, 1)) count_alloc_lent(size, false);
    return p;
  }
  return alloc(size, 0, false);
}

void* alloc(std::size_t size, std::size_t align, bool zero) noexcept {
  bool large = is_large(size);
  // A zero-byte request still gets a unique block (as glibc's); jemalloc forbids size 0.
  std::size_t real = size + (size == 0);
  bool lent = bytes_lent();
  if (use_jemalloc()) {
    void* p = jemalloc_backend::alloc(real, align, zero, large);
    if (p == nullptr) return nullptr;
    if (lent) {
      count_alloc_lent(size, large);
    } else {
      count_alloc(size, jemalloc_backend::usable_for(real, align), large);
    }
    return p;
  }
  void* p = system_backend::alloc(real, align, zero);
  if (p == nullptr) return nullptr;
  count_alloc(size, system_backend::usable(p), large);
  return p;
}

void* resize(void* p, std::size_t size) noexcept {
  bool large = is_large(size);
  bool lent = bytes_lent();
  if (use_jemalloc()) {
    if (lent) {
      void* q = jemalloc_backend::resize(p, size, large);
      if (q != nullptr) count_realloc_lent(size, large);
      return q;
    }
    std::size_t old_usable = jemalloc_backend::usable(p);
    void* q = jemalloc_backend::resize(p, size, large);
    if (q != nullptr) count_realloc(old_usable, size, jemalloc_backend::usable(q), large);
    return q;
  }
  std::size_t old_usable = system_backend::usable(p);
  void* q = system_backend::resize(p, size);
  if (q != nullptr) count_realloc(old_usable, size, system_backend::usable(q), large);
  return q;
}

void release(void* p) noexcept {
  bool lent = bytes_lent();
  if (use_jemalloc()) {
    if (lent) {
      jemalloc_backend::release(p);
      count_free_lent();
      return;
    }
    std::size_t usable = jemalloc_backend::usable(p);
    jemalloc_backend::release(p, usable);
    count_free(usable);
    return;
  }
  std::size_t usable = system_backend::usable(p);
  system_backend::release(p);
  count_free(usable);
}

std::size_t usable_size(const void* p) noexcept {
  return use_jemalloc() ? jemalloc_backend::usable(p) : system_backend::usable(p);
}

bool heap_stats(HeapStats* out) noexcept {
  return use_jemalloc() ? jemalloc_backend::stats(out) : system_backend::stats(out);
}

bool trim() noexcept { return use_jemalloc() && jemalloc_backend::trim(); }

void before_fork() noexcept { counters_before_fork(); }
void after_fork_parent() noexcept { counters_after_fork_parent(); }
void after_fork_child() noexcept { counters_after_fork_child(); }

}  // namespace heaplens::pool
