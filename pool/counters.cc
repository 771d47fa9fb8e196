#include "counters.h"

#include <pthread.h>

#include <algorithm>

namespace heaplens::pool {
namespace {

constexpr std::size_t kBlocks = 1024;  // concurrently live threads with a private block

struct alignas(64) Block {
  std::atomic<std::uint64_t> allocations{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> bytes_requested{0};
  std::atomic<std::uint64_t> bytes_allocated{0};
  std::atomic<std::uint64_t> bytes_freed{0};
  std::atomic<std::uint64_t> large_allocations{0};
  std::atomic<std::int64_t> peak{0};
  std::atomic<std::int64_t> unpublished{0};  // owner's net change not yet in g_published
  std::atomic<std::uint32_t> claimed{0};
};

Block g_blocks[kBlocks];
// Threads without a private block (table full, claiming, or past their exit destructor)
// count here with read-modify-write atomics: exact, just slower.
Block g_shared;
std::atomic<std::size_t> g_used{0};
std::atomic<std::int64_t> g_published{0};
pthread_key_t g_exit_key;
std::atomic<bool> g_exit_key_ok{false};

Block* const kUseShared = reinterpret_cast<Block*>(1);  // exited, claiming or table full
__thread Block* t_block __attribute__((tls_model("initial-exec"))) = nullptr;

constexpr auto kRelaxed = std::memory_order_relaxed;

// Owner-only update: a plain load and store, no locked instruction.
template <typename T>
inline void bump(std::atomic<T>& c, T v) noexcept {
  c.store(c.load(kRelaxed) + v, kRelaxed);
}

void publish_unpublished(Block* b) noexcept {
  std::int64_t u = b->unpublished.load(kRelaxed);
  if (u != 0) {
    g_published.fetch_add(u, kRelaxed);
    b->unpublished.store(0, kRelaxed);
  }
}

void on_thread_exit(void* value) noexcept {
  auto* b = static_cast<Block*>(value);
  publish_unpublished(b);
  t_block = kUseShared;
  b->claimed.store(0, std::memory_order_release);
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

void raise_peak_shared(std::int64_t seen) noexcept {
  std::int64_t cur = g_shared.peak.load(kRelaxed);
  while (seen > cur && !g_shared.peak.compare_exchange_weak(cur, seen, kRelaxed)) {
  }
}

// Net change of live bytes by this thread; maintains the peak (see header).
inline void account_net(Block* b, std::int64_t delta) noexcept {
  if (b == kUseShared) {
    raise_peak_shared(g_published.fetch_add(delta, kRelaxed) + delta);
    return;
  }
  std::int64_t u = b->unpublished.load(kRelaxed) + delta;
  std::int64_t seen;
  if (u >= kPeakSlack || u <= -kPeakSlack) {
    seen = g_published.fetch_add(u, kRelaxed) + u;
    u = 0;
  } else {
    seen = g_published.load(kRelaxed) + u;
  }
  b->unpublished.store(u, kRelaxed);
  if (seen > b->peak.load(kRelaxed)) b->peak.store(seen, kRelaxed);
}

}  // namespace

void count_alloc(std::size_t requested, std::size_t usable, bool large) noexcept {
  Block* b = my_block();
  if (b == kUseShared) {
    g_shared.allocations.fetch_add(1, kRelaxed);
    g_shared.bytes_requested.fetch_add(requested, kRelaxed);
    g_shared.bytes_allocated.fetch_add(usable, kRelaxed);
    if (large) g_shared.large_allocations.fetch_add(1, kRelaxed);
  } else {
    bump<std::uint64_t>(b->allocations, 1);
    bump<std::uint64_t>(b->bytes_requested, requested);
    bump<std::uint64_t>(b->bytes_allocated, usable);
    if (large) bump<std::uint64_t>(b->large_allocations, 1);
  }
  account_net(b, static_cast<std::int64_t>(usable));
}

void count_free(std::size_t usable) noexcept {
  Block* b = my_block();
  if (b == kUseShared) {
    g_shared.frees.fetch_add(1, kRelaxed);
    g_shared.bytes_freed.fetch_add(usable, kRelaxed);
  } else {
    bump<std::uint64_t>(b->frees, 1);
    bump<std::uint64_t>(b->bytes_freed, usable);
  }
  account_net(b, -static_cast<std::int64_t>(usable));
}

void count_realloc(std::size_t old_usable, std::size_t requested, std::size_t usable,
                   bool large) noexcept {
  Block* b = my_block();
  if (b == kUseShared) {
    g_shared.frees.fetch_add(1, kRelaxed);
    g_shared.bytes_freed.fetch_add(old_usable, kRelaxed);
    g_shared.allocations.fetch_add(1, kRelaxed);
    g_shared.bytes_requested.fetch_add(requested, kRelaxed);
    g_shared.bytes_allocated.fetch_add(usable, kRelaxed);
    if (large) g_shared.large_allocations.fetch_add(1, kRelaxed);
  } else {
    bump<std::uint64_t>(b->frees, 1);
    bump<std::uint64_t>(b->bytes_freed, old_usable);
    bump<std::uint64_t>(b->allocations, 1);
    bump<std::uint64_t>(b->bytes_requested, requested);
    bump<std::uint64_t>(b->bytes_allocated, usable);
    if (large) bump<std::uint64_t>(b->large_allocations, 1);
  }
  account_net(b, static_cast<std::int64_t>(usable) - static_cast<std::int64_t>(old_usable));
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
  s.peak_live_bytes = std::max<std::uint64_t>(static_cast<std::uint64_t>(std::max<std::int64_t>(peak, 0)),
                                              s.live_bytes);
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
    publish_unpublished(b);
    b->claimed.store(0, kRelaxed);
  }
}

void counters_reset_for_testing() noexcept {
  for (auto& b : g_blocks) {
    b.allocations = 0; b.frees = 0; b.bytes_requested = 0; b.bytes_allocated = 0;
    b.bytes_freed = 0; b.large_allocations = 0; b.peak = 0; b.unpublished = 0; b.claimed = 0;
  }
  g_shared.allocations = 0; g_shared.frees = 0; g_shared.bytes_requested = 0;
  g_shared.bytes_allocated = 0; g_shared.bytes_freed = 0; g_shared.large_allocations = 0;
  g_shared.peak = 0;
  g_used = 0;
  g_published = 0;
  t_block = nullptr;
}

}  // namespace heaplens::pool
