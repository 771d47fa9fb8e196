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

bool init(const Settings& settings) noexcept {
  if (g_started) return true;
  g_settings = settings;
  set_large_threshold(settings.large_threshold);
  g_started = true;
  counters_init();
  return use_jemalloc() ? jemalloc_backend::init() : true;
}

const Settings& settings() noexcept { return g_settings; }

void set_large_threshold(std::size_t bytes) noexcept {
  g_settings.large_threshold = bytes == 0 ? 1 : bytes;  // for readers of settings() only
  g_large_threshold.store(g_settings.large_threshold, std::memory_order_relaxed);
}

void* alloc(std::size_t size, std::size_t align, bool zero) noexcept {
  bool large = is_large(size);
  // A zero-byte request still gets a unique block (as glibc's); jemalloc forbids size 0.
  std::size_t real = size + (size == 0);
  void* p;
  std::size_t usable;
  if (use_jemalloc()) {
    p = jemalloc_backend::alloc(real, align, zero, large);
    if (p == nullptr) return nullptr;
    usable = jemalloc_backend::usable_for(real, align);
  } else {
    p = system_backend::alloc(real, align, zero);
    if (p == nullptr) return nullptr;
    usable = system_backend::usable(p);
  }
  count_alloc(size, usable, large);
  return p;
}

void* resize(void* p, std::size_t size) noexcept {
  bool large = is_large(size);
  void* q;
  std::size_t old_usable;
  std::size_t new_usable;
  if (use_jemalloc()) {
    old_usable = jemalloc_backend::usable(p);
    q = jemalloc_backend::resize(p, size, large);
    if (q == nullptr) return nullptr;
    new_usable = jemalloc_backend::usable(q);
  } else {
    old_usable = system_backend::usable(p);
    q = system_backend::resize(p, size);
    if (q == nullptr) return nullptr;
    new_usable = system_backend::usable(q);
  }
  count_realloc(old_usable, size, new_usable, large);
  return q;
}

void release(void* p) noexcept {
  if (use_jemalloc()) {
    std::size_t usable = jemalloc_backend::usable(p);
    jemalloc_backend::release(p, usable);
    count_free(usable);
  } else {
    std::size_t usable = system_backend::usable(p);
    system_backend::release(p);
    count_free(usable);
  }
}

std::size_t usable_size(const void* p) noexcept {
  return use_jemalloc() ? jemalloc_backend::usable(p) : system_backend::usable(p);
}

bool heap_stats(HeapStats* out) noexcept {
  return use_jemalloc() ? jemalloc_backend::stats(out) : system_backend::stats(out);
}

bool trim() noexcept { return use_jemalloc() && jemalloc_backend::trim(); }

void after_fork_child() noexcept { counters_after_fork_child(); }

}  // namespace heaplens::pool
