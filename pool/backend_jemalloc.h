// The default backend: jemalloc through its non-standard API. None of these calls can reach
// our own malloc (they are jemalloc's own entry points), and none needs a symbol lookup, so
// the pool works from the very first allocation of the process, before any constructor ran.
#pragma once

#include <cstddef>

#include "heap_stats.h"

namespace heaplens::pool::jemalloc_backend {

// Creates the dedicated arena of the large path. Returns false (large requests then use
// jemalloc's automatic arenas) if jemalloc refuses.
bool init() noexcept;

void* alloc(std::size_t size, std::size_t align, bool zero, bool large) noexcept;
void* resize(void* p, std::size_t size, bool large) noexcept;
// `usable` is what usable() returned for p: it lets jemalloc skip its own size lookup.
void release(void* p, std::size_t usable) noexcept;
std::size_t usable(const void* p) noexcept;
// Usable size an allocation of `size` bytes at `align` would get.
std::size_t usable_for(std::size_t size, std::size_t align) noexcept;

bool stats(HeapStats* out) noexcept;
// Returns true when purging gave memory back to the OS.
bool trim() noexcept;

}  // namespace heaplens::pool::jemalloc_backend
