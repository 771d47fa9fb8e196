// The default backend: jemalloc through its non-standard API. None of these calls can reach
// our own malloc (they are jemalloc's own entry points), and none needs a symbol lookup, so
// the pool works from the very first allocation of the process, before any constructor ran.
#pragma once

#include <cstddef>

#include "counters.h"
#include "heap_stats.h"

namespace heaplens::pool::jemalloc_backend {

// Where to say, in one line, that the large path could not get its own arena (it then uses
// jemalloc's automatic arenas; nothing else changes).
void set_problem_reporter(void (*report)(const char* line)) noexcept;
// Switches plain-size requests to jemalloc's own malloc/calloc fast paths and usable sizes
// to an inline size-class computation, each only after checking it. Call once libc is fully
// started (it uses dlopen), never from inside an allocation.
void enable_fast_paths() noexcept;

// Creates the large arena now if needed; true when it draws from the tracked range (then
// alloc(..., large = true) and resize(..., large = true) place blocks inside the range).
bool prepare_tracked_arena() noexcept;

void* alloc(std::size_t size, std::size_t align, bool zero, bool large) noexcept;
// alloc(size, 0, false, false): the small path of malloc.
void* alloc_small(std::size_t size) noexcept;
void* resize(void* p, std::size_t size, bool large) noexcept;
// `usable` is what usable() returned for p: it lets jemalloc skip its own size lookup.
void release(void* p, std::size_t usable) noexcept;
// A block of the large (tracked) arena, bypassing the thread cache.
void release_tracked(void* p) noexcept;
// For callers that need no size: jemalloc's own free fast path.
void release(void* p) noexcept;
// The calling thread's exact usable-byte totals, which jemalloc keeps for its thread events
// ("thread.allocatedp" / "thread.deallocatedp"); lent to the counters.
bool lend_thread_totals(LentTotals* out) noexcept;
std::size_t usable(const void* p) noexcept;
// Usable size an allocation of `size` bytes at `align` would get.
std::size_t usable_for(std::size_t size, std::size_t align) noexcept;

bool stats(HeapStats* out) noexcept;
// Returns true when purging gave memory back to the OS.
bool trim() noexcept;

}  // namespace heaplens::pool::jemalloc_backend
