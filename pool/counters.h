// Exact allocation counters, kept per thread without locks or read-modify-write atomics.
//
// Each thread owns one cache-line-aligned block and is its only writer (relaxed load + store,
// i.e. a plain add on x86-64); any thread may sum all blocks at any time. Blocks live in a
// static table and are never freed: a thread that exits hands its block to the next new
// thread, which keeps adding to it, so totals never lose a thread's history.
//
// Live bytes are exact: sum of (allocated - freed) over all blocks. The global peak needs an
// order across threads; instead of a contended atomic on every call, each thread folds its
// net change into one shared total every kPeakSlack bytes and checks "shared total + own
// unpublished change" against its own high-water mark. The peak is therefore exact for a
// single allocating thread and, with T threads, at most (T-1) * kPeakSlack below the truth.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace heaplens::pool {

inline constexpr std::int64_t kPeakSlack = 64 << 10;

struct CounterSnapshot {
  std::uint64_t allocations = 0;        // successful allocation calls (realloc that moves or grows counts as one)
  std::uint64_t frees = 0;              // blocks released
  std::uint64_t bytes_requested = 0;    // sum of sizes the program asked for
  std::uint64_t bytes_allocated = 0;    // sum of usable sizes handed out
  std::uint64_t bytes_freed = 0;        // sum of usable sizes taken back
  std::uint64_t large_allocations = 0;  // allocations that took the large path
  std::uint64_t live_bytes = 0;         // bytes_allocated - bytes_freed
  std::uint64_t peak_live_bytes = 0;    // high-water mark of live_bytes (see header comment)
  std::uint64_t threads = 0;            // counter blocks ever claimed (concurrent-thread high-water)
};

// Records an allocation of `usable` bytes for a request of `requested` bytes.
void count_alloc(std::size_t requested, std::size_t usable, bool large) noexcept;
// Records the release of a block of `usable` bytes.
void count_free(std::size_t usable) noexcept;
// Records a resize in place or by move: one release of `old_usable`, one allocation.
void count_realloc(std::size_t old_usable, std::size_t requested, std::size_t usable,
                   bool large) noexcept;

CounterSnapshot sum_counters() noexcept;

// Lifecycle, called by the pool: create the thread-exit key; after fork, in the child, hand
// back the blocks of threads that do not exist there.
void counters_init() noexcept;
void counters_after_fork_child() noexcept;

// Test-only: forget everything (single-threaded use only).
void counters_reset_for_testing() noexcept;

}  // namespace heaplens::pool
