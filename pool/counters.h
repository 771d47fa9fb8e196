// Exact allocation counters, kept per thread without locks or read-modify-write atomics.
//
// Each thread's counters live in its own static TLS (initial-exec), so the hot path updates
// them %fs-relative with plain adds: no pointer to chase, no locked instruction. Any thread may
// sum them at any time: threads are on a registry list that is locked only when a thread
// starts or exits, when someone sums, and around fork; an exiting thread folds its counts into
// shared totals before its TLS goes away, so totals never lose a thread's history.
//
// Byte totals come from one of two places. A backend that already keeps exact per-thread
// totals of usable bytes (jemalloc does, for its own thread events) lends them: they are read
// where they are, and nobody has to look up a block's usable size (for jemalloc that
// lookup cost more than the allocation). Otherwise the pool passes usable sizes in.
//
// Live bytes are exact. The global peak needs an order across threads; instead of a contended
// atomic on every call, each thread folds its net change into one shared total every
// kPeakSlack bytes and checks "shared total + own unpublished change" against its own
// high-water mark. With lent totals that check is made only where it can matter: live bytes
// rise only with allocations, so their highest point is just before a free (or at the end),
// and a thread checks before each free whether it grew past its mark (one compare; see
// settle_lent in counters.cc). The peak is therefore exact for a single allocating thread and,
// with T threads, at most T * kPeakSlack below the truth.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace heaplens::pool {

inline constexpr std::int64_t kPeakSlack = 64 << 10;

struct CounterSnapshot {
  std::uint64_t allocations = 0;        // successful allocation calls (a realloc is one, and one free)
  std::uint64_t frees = 0;              // blocks released
  std::uint64_t bytes_requested = 0;    // sum of sizes the program asked for
  std::uint64_t bytes_allocated = 0;    // sum of usable sizes handed out
  std::uint64_t bytes_freed = 0;        // sum of usable sizes taken back
  std::uint64_t large_allocations = 0;  // allocations that took the large path
  std::uint64_t live_bytes = 0;         // bytes_allocated - bytes_freed
  std::uint64_t peak_live_bytes = 0;    // high-water mark of live_bytes (see header comment)
  std::uint64_t threads = 0;            // threads that ever made a call
};

// The calling thread's running totals of usable bytes allocated and freed, owned by the
// backend and valid until the thread exits.
struct LentTotals {
  const std::uint64_t* allocated = nullptr;
  const std::uint64_t* freed = nullptr;
};
using LendFn = bool (*)(LentTotals* out);

// Before any thread registers: where threads get lent totals from (nullptr: nowhere).
void counters_set_lender(LendFn lend) noexcept;

// Registers the calling thread if needed, and says whether its byte totals are lent. Call it
// BEFORE the backend call being counted (registration must precede the bytes), then
// the matching count_*: the *_lent forms after the backend call, passing no sizes; the others
// with usable sizes the backend reported.
bool bytes_lent() noexcept;
// bytes_lent() for a call that may free bytes (free, realloc): first lets the peak see what
// the thread allocated since its last such call.
bool bytes_lent_before_release() noexcept;

void count_alloc(std::size_t requested, std::size_t usable, bool large) noexcept;
void count_free(std::size_t usable) noexcept;
// A resize counts one free of old_usable and one allocation of usable.
void count_realloc(std::size_t old_usable, std::size_t requested, std::size_t usable,
                   bool large) noexcept;

void count_alloc_lent(std::size_t requested, bool large) noexcept;
void count_free_lent() noexcept;
void count_realloc_lent(std::size_t requested, bool large) noexcept;
// Lent mode only: the calling thread's usable bytes allocated minus freed, per the backend.
std::int64_t thread_lent_net() noexcept;

CounterSnapshot sum_counters() noexcept;

// Lifecycle, called by the pool: create the thread-exit key; around fork, hold the thread
// registry and, in the child, retire the threads that do not exist there.
void counters_init() noexcept;
void counters_before_fork() noexcept;
void counters_after_fork_parent() noexcept;
void counters_after_fork_child() noexcept;

// Test-only: forget everything (single-threaded use only).
void counters_reset_for_testing() noexcept;

}  // namespace heaplens::pool
