#include "counters.h"

#include "hot.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

namespace heaplens::pool {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

enum State : std::uint8_t {
  kUnregistered = 0,  // first call of this thread still to come
  kLent = 1,          // registered; byte totals lent by the backend
  kExplicit = 2,      // registered; byte totals passed in by the pool
  kGone = 3,          // past its exit destructor (or registering): counts go to g_shared
};

// One thread's counters, in its static TLS: the hot path addresses them %fs-relative, with no
// pointer to chase. Fields are written by the owner only (relaxed load + store: plain adds);
// other threads read them only under g_registry_lock, which the owner takes before its TLS
// goes away.
struct alignas(64) ThreadCounters {
  std::atomic<std::uint64_t> allocations;
  std::atomic<std::uint64_t> frees;
  std::atomic<std::uint64_t> bytes_requested;
  std::atomic<std::uint64_t> large_allocations;
  std::atomic<std::uint64_t> bytes_allocated;  // kExplicit only
  std::atomic<std::uint64_t> bytes_freed;      // kExplicit only
  std::atomic<std::int64_t> published;  // part of this thread's net already in g_published
  std::atomic<std::int64_t> peak;
  std::uint8_t state;
  const std::uint64_t* lent_allocated;  // kLent: the backend's totals and their values at
  const std::uint64_t* lent_freed;      // registration
  std::uint64_t base_allocated;
  std::uint64_t base_freed;
  // kLent: values of the backend's totals up to which nothing needs settling (see
  // settle_lent): publishing after an allocation, publishing after a free, the peak before a
  // free.
  std::uint64_t alloc_limit;
  std::uint64_t free_limit;
  std::uint64_t peak_limit;
  ThreadCounters* next;  // registry list, under g_registry_lock
  ThreadCounters* prev;
};

// constinit thread_local rather than __thread: std::atomic members are constant-initialised
// but not trivially constructible. Internal linkage and constant initialisation mean no TLS
// wrapper function: accesses compile to %fs-relative loads and stores.
constinit thread_local ThreadCounters t_counters __attribute__((tls_model("initial-exec"))) {};

// Totals of threads that exited, plus calls counted with atomics (threads in kGone).
struct Totals {
  std::atomic<std::uint64_t> allocations{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> bytes_requested{0};
  std::atomic<std::uint64_t> large_allocations{0};
  std::atomic<std::uint64_t> bytes_allocated{0};
  std::atomic<std::uint64_t> bytes_freed{0};
  std::atomic<std::int64_t> peak{0};
  std::atomic<std::uint64_t> threads{0};
};
Totals g_shared;

std::atomic<std::int64_t> g_published{0};
std::atomic<LendFn> g_lender{nullptr};
pthread_key_t g_exit_key;
std::atomic<bool> g_exit_key_ok{false};

// Guards the registry list and the TLS of the threads on it. Never taken on the hot path:
// only when a thread starts or exits, when someone sums, and around fork.
std::atomic<bool> g_registry_lock{false};
ThreadCounters* g_registry = nullptr;

void lock_registry() noexcept {
  while (g_registry_lock.exchange(true, std::memory_order_acquire)) sched_yield();
}
void unlock_registry() noexcept { g_registry_lock.store(false, std::memory_order_release); }

template <typename T>
inline void bump(std::atomic<T>& c, T v) noexcept {
  c.store(c.load(kRelaxed) + v, kRelaxed);
}

inline std::uint64_t allocated_of(const ThreadCounters& c) noexcept {
  return c.state == kLent ? *c.lent_allocated - c.base_allocated : c.bytes_allocated.load(kRelaxed);
}
inline std::uint64_t freed_of(const ThreadCounters& c) noexcept {
  return c.state == kLent ? *c.lent_freed - c.base_freed : c.bytes_freed.load(kRelaxed);
}

void raise_peak(std::atomic<std::int64_t>& peak, std::int64_t seen) noexcept {
  std::int64_t cur = peak.load(kRelaxed);
  while (seen > cur && !peak.compare_exchange_weak(cur, seen, kRelaxed)) {
  }
}

// Moves a registered thread's counts into g_shared and takes it off the list (its TLS is
// about to go away, or belongs to a thread that does not exist after fork).
void retire_locked(ThreadCounters& c) noexcept {
  std::uint64_t allocated = allocated_of(c);
  std::uint64_t freed = freed_of(c);
  g_shared.allocations.fetch_add(c.allocations.load(kRelaxed), kRelaxed);
  g_shared.frees.fetch_add(c.frees.load(kRelaxed), kRelaxed);
  g_shared.bytes_requested.fetch_add(c.bytes_requested.load(kRelaxed), kRelaxed);
  g_shared.large_allocations.fetch_add(c.large_allocations.load(kRelaxed), kRelaxed);
  g_shared.bytes_allocated.fetch_add(allocated, kRelaxed);
  g_shared.bytes_freed.fetch_add(freed, kRelaxed);
  raise_peak(g_shared.peak, c.peak.load(kRelaxed));
  std::int64_t pending = static_cast<std::int64_t>(allocated - freed) - c.published.load(kRelaxed);
  // A lent thread's growth since its last free was never checked against the peak: now.
  if (pending != 0) raise_peak(g_shared.peak, g_published.fetch_add(pending, kRelaxed) + pending);
  if (c.prev) c.prev->next = c.next; else g_registry = c.next;
  if (c.next) c.next->prev = c.prev;
  c.next = c.prev = nullptr;
  c.state = kGone;
}

void on_thread_exit(void*) noexcept {
  lock_registry();
  if (t_counters.state == kLent || t_counters.state == kExplicit) retire_locked(t_counters);
  unlock_registry();
}

__attribute__((noinline)) void register_thread() noexcept {
  ThreadCounters& c = t_counters;
  c.state = kGone;  // anything allocating while we register (pthread_setspecific) counts shared
  LentTotals totals;
  LendFn lend = g_lender.load(std::memory_order_acquire);
  bool lent = lend != nullptr && lend(&totals) && totals.allocated && totals.freed;
  if (g_exit_key_ok.load(std::memory_order_acquire)) pthread_setspecific(g_exit_key, &c);
  lock_registry();
  if (lent) {
    c.lent_allocated = totals.allocated;
    c.lent_freed = totals.freed;
    c.base_allocated = *totals.allocated;
    c.base_freed = *totals.freed;
    // The first change settles.
    c.alloc_limit = c.base_allocated;
    c.free_limit = c.base_freed;
    c.peak_limit = c.base_allocated;
  }
  c.next = g_registry;
  c.prev = nullptr;
  if (g_registry) g_registry->prev = &c;
  g_registry = &c;
  g_shared.threads.fetch_add(1, kRelaxed);
  c.state = lent ? kLent : kExplicit;
  unlock_registry();
}

// kState: the caller knows the thread's state (kLent), or not (kUnregistered: look).
template <State kState = kUnregistered>
__attribute__((always_inline)) inline std::int64_t net_of(const ThreadCounters& c) noexcept {
  if constexpr (kState == kLent) {
    return static_cast<std::int64_t>((*c.lent_allocated - c.base_allocated) - (*c.lent_freed - c.base_freed));
  } else {
    return static_cast<std::int64_t>(allocated_of(c) - freed_of(c));
  }
}

// What the owner sees of the global live total: the shared total plus its own unpublished
// change, after publishing that change if it reached kPeakSlack (pending then becomes 0).
inline std::int64_t see_total(ThreadCounters& c, std::int64_t net, std::int64_t& pending) noexcept {
  if (pending >= kPeakSlack || pending <= -kPeakSlack) {
    std::int64_t seen = g_published.fetch_add(pending, kRelaxed) + pending;
    c.published.store(net, kRelaxed);
    pending = 0;
    return seen;
  }
  return g_published.load(kRelaxed) + pending;
}

// Explicit sizes, after the owner changed its byte totals: publish if far enough from the
// shared total and, when the change may have grown the heap, raise the owner's peak.
__attribute__((always_inline)) inline void settle(ThreadCounters& c, bool may_grow) noexcept {
  std::int64_t net = net_of(c);
  std::int64_t pending = net - c.published.load(kRelaxed);
  bool due = pending >= kPeakSlack || pending <= -kPeakSlack;
  if (__builtin_expect(!due, 1) && !may_grow) return;
  std::int64_t seen = see_total(c, net, pending);
  if (seen > c.peak.load(kRelaxed)) c.peak.store(seen, kRelaxed);
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

__attribute__((always_inline)) inline void bump_calls(ThreadCounters& c, std::uint64_t allocs,
                                                      std::uint64_t frees, std::size_t requested,
                                                      bool large) noexcept {
  if (allocs) bump<std::uint64_t>(c.allocations, allocs);
  if (frees) bump<std::uint64_t>(c.frees, frees);
  if (requested) bump<std::uint64_t>(c.bytes_requested, requested);
  if (large) bump<std::uint64_t>(c.large_allocations, 1);
}

// Explicit sizes: the pool says how many usable bytes moved.
__attribute__((always_inline)) inline void change(std::uint64_t allocs, std::uint64_t frees,
                                                  std::size_t requested, std::size_t allocated,
                                                  std::size_t freed, bool large) noexcept {
  ThreadCounters& c = t_counters;
  if (__builtin_expect(c.state == kUnregistered, 0)) register_thread();
  if (c.state == kGone) return shared_change(allocs, frees, requested, allocated, freed, large);
  bump_calls(c, allocs, frees, requested, large);
  if (c.state == kExplicit) {
    if (allocated) bump<std::uint64_t>(c.bytes_allocated, allocated);
    if (freed) bump<std::uint64_t>(c.bytes_freed, freed);
  }
  settle(c, allocs != 0);
}

// Lent totals: the backend's own per-thread totals already say how many bytes moved, and
// they only grow. Rather than settling after every call (reading both totals, the shared total
// and the peak), settle_lent computes how far each total may grow before something has to be
// done, and the hot path compares one total with its limit:
// - publishing: pending stays within (-kPeakSlack, kPeakSlack) until the allocated total
//   passes alloc_limit or the freed total passes free_limit (checked after the call);
// - the peak: the live total only rises with allocations, so its highest point since the last
//   settle is reached just before the next free (or realloc, or now, for sum_counters). Before
//   a free, a check against peak_limit says whether the thread has grown past its peak.
// One thread's peak stays exact; see counters.h for several.
__attribute__((noinline)) void settle_lent(ThreadCounters& c) noexcept {
  std::int64_t net = net_of<kLent>(c);
  std::int64_t pending = net - c.published.load(kRelaxed);
  std::int64_t seen = see_total(c, net, pending);
  std::int64_t peak = c.peak.load(kRelaxed);
  if (seen > peak) c.peak.store(peak = seen, kRelaxed);
  std::uint64_t allocated = *c.lent_allocated;
  c.alloc_limit = allocated + static_cast<std::uint64_t>(kPeakSlack - 1 - pending);
  c.peak_limit = allocated + static_cast<std::uint64_t>(peak - seen);
  c.free_limit = *c.lent_freed + static_cast<std::uint64_t>(pending + kPeakSlack - 1);
}

__attribute__((always_inline)) inline void change_lent(std::uint64_t allocs, std::uint64_t frees,
                                                       std::size_t requested, bool large) noexcept {
  ThreadCounters& c = t_counters;  // bytes_lent() returned true: registered, kLent
  if (allocs) bump<std::uint64_t>(c.allocations, allocs);
  if (frees) bump<std::uint64_t>(c.frees, frees);
  if (allocs) bump<std::uint64_t>(c.bytes_requested, requested);  // 0 adds nothing: no test
  if (large) bump<std::uint64_t>(c.large_allocations, 1);
  bool settle = (allocs && *c.lent_allocated > c.alloc_limit) || (frees && *c.lent_freed > c.free_limit);
  if (__builtin_expect(settle, 0)) settle_lent(c);
}

}  // namespace

void counters_before_fork() noexcept {
  // Register first: a first call from inside another library's fork handler would otherwise
  // wait for the lock this thread holds until after the fork.
  if (t_counters.state == kUnregistered) register_thread();
  lock_registry();
}
void counters_after_fork_parent() noexcept { unlock_registry(); }

void counters_set_lender(LendFn lend) noexcept { g_lender.store(lend, std::memory_order_release); }

HEAPLENS_HOT bool bytes_lent() noexcept {
  ThreadCounters& c = t_counters;
  if (__builtin_expect(c.state == kLent, 1)) return true;
  if (c.state == kUnregistered) register_thread();
  return c.state == kLent;
}

HEAPLENS_HOT bool bytes_lent_before_release() noexcept {
  ThreadCounters& c = t_counters;
  if (__builtin_expect(c.state == kLent, 1)) {
    if (__builtin_expect(*c.lent_allocated > c.peak_limit, 0)) settle_lent(c);
    return true;
  }
  return bytes_lent();
}

void count_alloc(std::size_t requested, std::size_t usable, bool large) noexcept {
  change(1, 0, requested, usable, 0, large);
}
void count_free(std::size_t usable) noexcept { change(0, 1, 0, 0, usable, false); }
void count_realloc(std::size_t old_usable, std::size_t requested, std::size_t usable,
                   bool large) noexcept {
  change(1, 1, requested, usable, old_usable, large);
}

HEAPLENS_HOT void count_alloc_lent(std::size_t requested, bool large) noexcept { change_lent(1, 0, requested, large); }
HEAPLENS_HOT std::int64_t thread_lent_net() noexcept { return net_of<kLent>(t_counters); }
HEAPLENS_HOT void count_free_lent() noexcept { change_lent(0, 1, 0, false); }
void count_realloc_lent(std::size_t requested, bool large) noexcept {
  change_lent(1, 1, requested, large);
}

CounterSnapshot sum_counters() noexcept {
  CounterSnapshot s;
  std::int64_t peak = g_shared.peak.load(kRelaxed);
  lock_registry();
  s.allocations = g_shared.allocations.load(kRelaxed);
  s.frees = g_shared.frees.load(kRelaxed);
  s.bytes_requested = g_shared.bytes_requested.load(kRelaxed);
  s.large_allocations = g_shared.large_allocations.load(kRelaxed);
  s.bytes_allocated = g_shared.bytes_allocated.load(kRelaxed);
  s.bytes_freed = g_shared.bytes_freed.load(kRelaxed);
  s.threads = g_shared.threads.load(kRelaxed);
  for (const ThreadCounters* c = g_registry; c != nullptr; c = c->next) {
    s.allocations += c->allocations.load(kRelaxed);
    s.frees += c->frees.load(kRelaxed);
    s.bytes_requested += c->bytes_requested.load(kRelaxed);
    s.large_allocations += c->large_allocations.load(kRelaxed);
    s.bytes_allocated += allocated_of(*c);
    s.bytes_freed += freed_of(*c);
    peak = std::max(peak, c->peak.load(kRelaxed));
  }
  unlock_registry();
  // Other threads' counters are read while they run, not as one snapshot: clamp.
  s.live_bytes = s.bytes_allocated > s.bytes_freed ? s.bytes_allocated - s.bytes_freed : 0;
  s.peak_live_bytes = std::max<std::uint64_t>(
      static_cast<std::uint64_t>(std::max<std::int64_t>(peak, 0)), s.live_bytes);
  return s;
}

void counters_init() noexcept {
  if (g_exit_key_ok.load(std::memory_order_acquire)) return;
  if (pthread_key_create(&g_exit_key, on_thread_exit) == 0) {
    g_exit_key_ok.store(true, std::memory_order_release);
    // The thread that initialises may be registered already; give it the exit hook too.
    if (t_counters.state == kLent || t_counters.state == kExplicit)
      pthread_setspecific(g_exit_key, &t_counters);
  }
}

void counters_after_fork_child() noexcept {
  // Only the forking thread exists in the child. The others' counts stay (the child
  // inherited that memory); their copies of TLS are still mapped here, so retire them.
  for (ThreadCounters* c = g_registry; c != nullptr;) {
    ThreadCounters* next = c->next;
    if (c != &t_counters) retire_locked(*c);
    c = next;
  }
  unlock_registry();
}

void counters_reset_for_testing() noexcept {
  lock_registry();
  for (ThreadCounters* c = g_registry; c != nullptr;) {
    ThreadCounters* next = c->next;
    c->next = c->prev = nullptr;
    c = next;
  }
  g_registry = nullptr;
  g_shared.allocations = 0; g_shared.frees = 0; g_shared.bytes_requested = 0;
  g_shared.large_allocations = 0; g_shared.bytes_allocated = 0; g_shared.bytes_freed = 0;
  g_shared.peak = 0; g_shared.threads = 0;
  g_published = 0;
  ThreadCounters& c = t_counters;
  c.allocations = 0; c.frees = 0; c.bytes_requested = 0; c.large_allocations = 0;
  c.bytes_allocated = 0; c.bytes_freed = 0; c.published = 0; c.peak = 0;
  c.state = kUnregistered;
  unlock_registry();
}

}  // namespace heaplens::pool
