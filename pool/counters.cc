#include "counters.h"

#include <pthread.h>

#include <algorithm>

namespace heaplens::pool {
namespace {

constexpr std::size_t kBlocks = 1024;  // concurrently live threads with a private block
constexpr auto kRelaxed = std::memory_order_relaxed;

struct alignas(64) Block {
  // Written by the owner only; read by anyone summing.
  std::atomic<std::uint64_t> allocations{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> bytes_requested{0};
  std::atomic<std::uint64_t> large_allocations{0};
  std::atomic<std::uint64_t> bytes_allocated{0};  // cumulative over every owner of the block
  std::atomic<std::uint64_t> bytes_freed{0};
  std::atomic<std::int64_t> peak{0};
  std::atomic<std::int64_t> published{0};  // part of this block's net already in g_published
  std::atomic<std::uint32_t> claimed{0};
  // The owner's lent totals, and their values that correspond to a zero mirror.
  bool lent = false;
  const std::uint64_t* lent_allocated = nullptr;
  const std::uint64_t* lent_freed = nullptr;
  std::uint64_t base_allocated = 0;
  std::uint64_t base_freed = 0;
};

Block g_blocks[kBlocks];
// Threads without a private block (table full, claiming, or past their exit destructor)
// count here with read-modify-write atomics and explicit sizes: exact, just slower.
Block g_shared;
std::atomic<std::size_t> g_used{0};
std::atomic<std::int64_t> g_published{0};
std::atomic<LendFn> g_lender{nullptr};
pthread_key_t g_exit_key;
std::atomic<bool> g_exit_key_ok{false};

Block* const kUseShared = reinterpret_cast<Block*>(1);  // exited, claiming or table full
__thread Block* t_block __attribute__((tls_model("initial-exec"))) = nullptr;

// Owner-only update: a plain load and store, no locked instruction.
template <typename T>
inline void bump(std::atomic<T>& c, T v) noexcept {
  c.store(c.load(kRelaxed) + v, kRelaxed);
}

inline std::int64_t net_of(const Block* b) noexcept {
  return static_cast<std::int64_t>(b->bytes_allocated.load(kRelaxed) - b->bytes_freed.load(kRelaxed));
}

void publish_rest(Block* b) noexcept {
  std::int64_t net = net_of(b);
  std::int64_t pending = net - b->published.load(kRelaxed);
  if (pending != 0) g_published.fetch_add(pending, kRelaxed);
  b->published.store(net, kRelaxed);
}

void on_thread_exit(void* value) noexcept {
  auto* b = static_cast<Block*>(value);
  publish_rest(b);
  b->lent = false;
  t_block = kUseShared;
  b->claimed.store(0, std::memory_order_release);
}

void attach_lent_totals(Block* b) noexcept {
  b->lent = false;
  LendFn lend = g_lender.load(std::memory_order_acquire);
  LentTotals totals;
  if (lend == nullptr || !lend(&totals) || totals.allocated == nullptr || totals.freed == nullptr)
    return;
  // The mirror continues from the block's cumulative totals.
  b->lent_allocated = totals.allocated;
  b->lent_freed = totals.freed;
  b->base_allocated = *totals.allocated - b->bytes_allocated.load(kRelaxed);
  b->base_freed = *totals.freed - b->bytes_freed.load(kRelaxed);
  b->lent = true;
}

Block* claim_block() noexcept {
  t_block = kUseShared;  // anything allocating while we claim (pthread_setspecific) counts shared
  // Lowest free block first, so the table's used part stays as small as the most threads
  // ever alive at once (sum_counters walks only that part).
  for (std::size_t i = 0; i < kBlocks; ++i) {
    std::uint32_t expected = 0;
    if (g_blocks[i].claimed.load(kRelaxed) == 0 &&
        g_blocks[i].claimed.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
      std::size_t used = g_used.load(kRelaxed);
      while (used < i + 1 && !g_used.compare_exchange_weak(used, i + 1, kRelaxed)) {
      }
      if (g_exit_key_ok.load(std::memory_order_acquire)) pthread_setspecific(g_exit_key, &g_blocks[i]);
      attach_lent_totals(&g_blocks[i]);
      t_block = &g_blocks[i];
      return &g_blocks[i];
    }
  }
  return kUseShared;
}

inline Block* my_block() noexcept {
  Block* b = t_block;
  if (__builtin_expect(b == nullptr, 0)) b = claim_block();
  return b;
}

void raise_peak(std::atomic<std::int64_t>& peak, std::int64_t seen) noexcept {
  std::int64_t cur = peak.load(kRelaxed);
  while (seen > cur && !peak.compare_exchange_weak(cur, seen, kRelaxed)) {
  }
}

// After the owner changed its byte totals: publish if far enough from the shared total,
// and, when the change may have grown the heap, raise the owner's peak (see header).
__attribute__((always_inline)) inline void settle(Block* b, bool may_grow) noexcept {
  std::int64_t net = net_of(b);
  std::int64_t pending = net - b->published.load(kRelaxed);
  std::int64_t seen;
  if (pending >= kPeakSlack || pending <= -kPeakSlack) {
    seen = g_published.fetch_add(pending, kRelaxed) + pending;
    b->published.store(net, kRelaxed);
  } else if (may_grow) {
    seen = g_published.load(kRelaxed) + pending;
  } else {
    return;
  }
  if (seen > b->peak.load(kRelaxed)) b->peak.store(seen, kRelaxed);
}

__attribute__((always_inline)) inline void mirror_lent(Block* b) noexcept {
  b->bytes_allocated.store(*b->lent_allocated - b->base_allocated, kRelaxed);
  b->bytes_freed.store(*b->lent_freed - b->base_freed, kRelaxed);
}

void shared_change(std::uint64_t allocs, std::uint64_t frees, std::size_t requested,
                   std::size_t allocated, std::size_t freed, bool large) noexcept {
  if (allocs) g_shared.allocations.fetch_add(allocs, kRelaxed);
  if (frees) g_shared.frees.fetch_add(frees, kRelaxed);
  if (requested) g_shared.bytes_requested.fetch_add(requested, kRelaxed);
  if (large) g_shared.large_allocations.fetch_add(1, kRelaxed);
  if (allocated) g_shared.bytes_allocated.fetch_add(allocated, kRelaxed);
  if (freed) g_shared.bytes_freed.fetch_add(freed, kRelaxed);
  std::int64_t delta = static_cast<std::int64_t>(allocated) - static_cast<std::int64_t>(freed);
  raise_peak(g_shared.peak, g_published.fetch_add(delta, kRelaxed) + delta);
}

}  // namespace

void counters_set_lender(LendFn lend) noexcept { g_lender.store(lend, std::memory_order_release); }

bool bytes_lent() noexcept {
  Block* b = my_block();
  return b != kUseShared && b->lent;
}

namespace {

__attribute__((always_inline)) inline void bump_calls(Block* b, std::uint64_t allocs, std::uint64_t frees, std::size_t requested,
                       bool large) noexcept {
  if (allocs) bump<std::uint64_t>(b->allocations, allocs);
  if (frees) bump<std::uint64_t>(b->frees, frees);
  if (requested) bump<std::uint64_t>(b->bytes_requested, requested);
  if (large) bump<std::uint64_t>(b->large_allocations, 1);
}

// Explicit sizes: the pool says how many usable bytes moved.
__attribute__((always_inline)) inline void change(std::uint64_t allocs, std::uint64_t frees, std::size_t requested,
                   std::size_t allocated, std::size_t freed, bool large) noexcept {
  Block* b = my_block();
  if (b == kUseShared) return shared_change(allocs, frees, requested, allocated, freed, large);
  bump_calls(b, allocs, frees, requested, large);
  if (allocated) bump<std::uint64_t>(b->bytes_allocated, allocated);
  if (freed) bump<std::uint64_t>(b->bytes_freed, freed);
  settle(b, allocs != 0);
}

// Lent totals: the backend's own per-thread totals say how many bytes moved.
__attribute__((always_inline)) inline void change_lent(std::uint64_t allocs, std::uint64_t frees, std::size_t requested,
                        bool large) noexcept {
  Block* b = t_block;  // bytes_lent() returned true: a private block with lent totals
  bump_calls(b, allocs, frees, requested, large);
  mirror_lent(b);
  settle(b, allocs != 0);
}

}  // namespace

void count_alloc(std::size_t requested, std::size_t usable, bool large) noexcept {
  change(1, 0, requested, usable, 0, large);
}
void count_free(std::size_t usable) noexcept { change(0, 1, 0, 0, usable, false); }
void count_realloc(std::size_t old_usable, std::size_t requested, std::size_t usable,
                   bool large) noexcept {
  change(1, 1, requested, usable, old_usable, large);
}

void count_alloc_lent(std::size_t requested, bool large) noexcept { change_lent(1, 0, requested, large); }
void count_free_lent() noexcept { change_lent(0, 1, 0, false); }
void count_realloc_lent(std::size_t requested, bool large) noexcept {
  change_lent(1, 1, requested, large);
}

CounterSnapshot sum_counters() noexcept {
  CounterSnapshot s;
  std::int64_t peak = 0;
  auto add = [&](const Block& b) {
    s.allocations += b.allocations.load(kRelaxed);
    s.frees += b.frees.load(kRelaxed);
    s.bytes_requested += b.bytes_requested.load(kRelaxed);
    s.bytes_allocated += b.bytes_allocated.load(kRelaxed);
    s.bytes_freed += b.bytes_freed.load(kRelaxed);
    s.large_allocations += b.large_allocations.load(kRelaxed);
    peak = std::max(peak, b.peak.load(kRelaxed));
  };
  std::size_t used = g_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) add(g_blocks[i]);
  add(g_shared);
  // Relaxed reads of different threads' blocks are not one snapshot: clamp the difference.
  s.live_bytes = s.bytes_allocated > s.bytes_freed ? s.bytes_allocated - s.bytes_freed : 0;
  s.peak_live_bytes = std::max<std::uint64_t>(
      static_cast<std::uint64_t>(std::max<std::int64_t>(peak, 0)), s.live_bytes);
  s.threads = used;
  return s;
}

void counters_init() noexcept {
  if (g_exit_key_ok.load(std::memory_order_acquire)) return;
  if (pthread_key_create(&g_exit_key, on_thread_exit) == 0) {
    g_exit_key_ok.store(true, std::memory_order_release);
    // The thread that initialises may already hold a block; give it the exit hook too.
    Block* b = t_block;
    if (b != nullptr && b != kUseShared) pthread_setspecific(g_exit_key, b);
  }
}

void counters_after_fork_child() noexcept {
  // Only the forking thread exists in the child: the other blocks keep their counts
  // (the child inherited that memory) but become free for the child's new threads.
  std::size_t used = g_used.load(kRelaxed);
  for (std::size_t i = 0; i < used; ++i) {
    Block* b = &g_blocks[i];
    if (b == t_block || b->claimed.load(kRelaxed) == 0) continue;
    publish_rest(b);
    b->lent = false;
    b->claimed.store(0, kRelaxed);
  }
}

void counters_reset_for_testing() noexcept {
  auto zero = [](Block& b) {
    b.allocations = 0; b.frees = 0; b.bytes_requested = 0; b.large_allocations = 0;
    b.bytes_allocated = 0; b.bytes_freed = 0; b.peak = 0; b.published = 0; b.claimed = 0;
    b.lent = false;
  };
  for (auto& b : g_blocks) zero(b);
  zero(g_shared);
  g_used = 0;
  g_published = 0;
  t_block = nullptr;
}

}  // namespace heaplens::pool
