#include "pool.h"

#include "backend_jemalloc.h"
#include "backend_system.h"
#include "recorded_set.h"
#include "sampler.h"
#include "hot.h"
#include "tracked_range.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace heaplens::pool {
namespace {

Settings g_settings;
bool g_started = false;
// Separate from g_settings: set_large_threshold may race with allocating threads.
std::atomic<std::size_t> g_large_threshold{kDefaultLargeThreshold};
// malloc's fast path in one compare: sizes below this take jemalloc's small path (0 with the
// system backend: no size does).
std::atomic<std::size_t> g_fast_limit{0};

inline bool is_large(std::size_t size) noexcept {
  return size >= g_large_threshold.load(std::memory_order_relaxed);
}
inline bool use_jemalloc() noexcept { return g_settings.backend == Backend::jemalloc; }

// ---- Recording state -------------------------------------------------------------------
// free() asks "could p be recorded?" as one unsigned range test on [g_rec_lo, g_rec_lo +
// g_rec_size): the tracked range in sampled mode, everything in full mode, nothing when off.
// The system backend cannot place blocks, so in sampled mode it keeps a RecordedSet instead
// (and the range is everything: the slow path asks the set).
std::atomic<std::uintptr_t> g_rec_lo{0};
std::atomic<std::uintptr_t> g_rec_size{0};
std::atomic<RecordMode> g_mode{RecordMode::off};
std::atomic<const Recorder*> g_recorder{nullptr};
std::atomic<bool> g_use_set{false};
std::uint64_t g_interval = 512 << 10;
RecordedSet g_set;
constexpr std::size_t kSetSlots = std::size_t{1} << 20;  // 8 MiB of address space, touched lazily

std::atomic<std::uint64_t> g_sampled{0};
std::atomic<std::uint64_t> g_unrecorded{0};

// While recording is off, a thread's countdown comes back this often to notice a start.
constexpr std::int64_t kIdleCountdown = 256 << 10;

// The sampler of this thread. countdown starts at 0: the first allocation of every thread
// takes the slow path once, which seeds it.
constinit thread_local Sampler t_sampler __attribute__((tls_model("initial-exec"))) {};

inline bool in_rec_range(const void* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) - g_rec_lo.load(std::memory_order_relaxed) <
         g_rec_size.load(std::memory_order_relaxed);
}

// The tracked range itself (in full mode the recording range is everything).
inline bool in_tracked_range(const void* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) - tracked_range::base() < tracked_range::size();
}

void seed_sampler() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  std::uint64_t x = static_cast<std::uint64_t>(ts.tv_nsec) ^ (static_cast<std::uint64_t>(gettid()) << 32) ^
                    reinterpret_cast<std::uintptr_t>(&t_sampler);
  t_sampler.rng = splitmix64(x) | 1;
}

// The countdown went below zero: is this allocation recorded? Also resets the countdown.
// Returns 0 (not recorded), 1 (sampled) or 2 (recorded unconditionally: full mode).
int countdown_expired() noexcept {
  switch (g_mode.load(std::memory_order_acquire)) {
    case RecordMode::full:
      t_sampler.countdown = 0;
      return 2;
    case RecordMode::sampled:
      if (t_sampler.rng == 0) {
        // A thread's first expiry: its countdown was never drawn. Draw it now and charge it
        // with the bytes this allocation took past zero, so the allocation is sampled with
        // the same probability as any other (skipping it would never record a thread's
        // first allocation, nor the first of a process after exec).
        std::int64_t taken = t_sampler.countdown;  // <= 0
        seed_sampler();
        t_sampler.interval = g_interval;
        t_sampler.redraw();
        t_sampler.countdown += taken;
        if (t_sampler.countdown >= 0) return 0;
      }
      t_sampler.interval = g_interval;
      t_sampler.redraw();
      g_sampled.fetch_add(1, std::memory_order_relaxed);
      return 1;
    case RecordMode::off:
      break;
  }
  t_sampler.countdown = kIdleCountdown;
  return 0;
}

inline bool recording() noexcept { return g_mode.load(std::memory_order_relaxed) != RecordMode::off; }
inline const Recorder* recorder() noexcept { return g_recorder.load(std::memory_order_acquire); }

// Where recorded blocks must live for free() to recognise them.
enum class Placement { anywhere, tracked_arena, set };
inline Placement placement() noexcept {
  if (g_mode.load(std::memory_order_relaxed) == RecordMode::full) return Placement::anywhere;
  return g_use_set.load(std::memory_order_relaxed) ? Placement::set : Placement::tracked_arena;
}

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
  g_fast_limit.store(use_jemalloc() ? g_settings.large_threshold : 0, std::memory_order_relaxed);
}

namespace {

void count_new(std::size_t size, std::size_t real, std::size_t align, bool large, bool lent,
               void* p) noexcept {
  if (lent) {
    count_alloc_lent(size, large);
  } else if (use_jemalloc()) {
    count_alloc(size, jemalloc_backend::usable_for(real, align), large);
  } else {
    count_alloc(size, system_backend::usable(p), large);
  }
}

// An allocation the tracker records: `how` is 1 (sampled) or 2 (unconditional), and the
// block must be placed so that its free is recognised.
__attribute__((noinline)) void* alloc_recorded(std::size_t size, std::size_t align, bool zero,
                                               bool large, int how) noexcept {
  std::size_t real = size + (size == 0);
  bool lent = bytes_lent();
  Placement where = placement();
  bool recorded = true;
  void* p;
  if (use_jemalloc()) {
    // Large blocks always go to the large arena; sampled ones too unless placement is free.
    bool tracked_arena = large || where == Placement::tracked_arena;
    p = jemalloc_backend::alloc(real, align, zero, tracked_arena);
    if (p == nullptr) return nullptr;
    if (where == Placement::tracked_arena && !in_rec_range(p)) recorded = false;  // range exhausted
  } else {
    p = system_backend::alloc(real, align, zero);
    if (p == nullptr) return nullptr;
  }
  if (where == Placement::set && !g_set.insert(p)) recorded = false;
  count_new(size, real, align, large, lent, p);
  const Recorder* r = recorder();
  if (!recorded) {
    g_unrecorded.fetch_add(1, std::memory_order_relaxed);
  } else if (r != nullptr) {
    r->on_alloc(p, size, how == 1);
  }
  return p;
}

}  // namespace

HEAPLENS_HOT void* alloc_plain(std::size_t size) noexcept {
  // malloc's path, the hottest of all: the general alloc() with align = 0, zero = false,
  // spelled out so that nothing else is tested on the way.
  std::size_t real = size + (size == 0);
  if (__builtin_expect(size < g_fast_limit.load(std::memory_order_relaxed) && bytes_lent(), 1)) {
    int how = 0;
    if (__builtin_expect(t_sampler.tick(real), 0) && (how = countdown_expired()) != 0)
      return alloc_recorded(size, 0, false, false, how);
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
  if (large) {
    if (recording()) return alloc_recorded(size, align, zero, true, 2);
  } else if (__builtin_expect(t_sampler.tick(real), 0)) {
    if (int how = countdown_expired()) return alloc_recorded(size, align, zero, false, how);
  }
  bool lent = bytes_lent();
  void* p = use_jemalloc() ? jemalloc_backend::alloc(real, align, zero, large)
                           : system_backend::alloc(real, align, zero);
  if (p == nullptr) return nullptr;
  count_new(size, real, align, large, lent, p);
  return p;
}

namespace {

// The backend's resize, counted. `tracked_arena`: keep (or put) the block in the large arena.
// `growth` (optional): usable bytes the block gained (0 if it did not grow).
void* plain_resize(void* p, std::size_t size, bool large, bool tracked_arena,
                   std::size_t* growth = nullptr) noexcept {
  bool lent = bytes_lent_before_release();
  if (use_jemalloc()) {
    if (lent) {
      // jemalloc's own per-thread totals say how much the block grew: no size lookup.
      std::int64_t before = growth ? thread_lent_net() : 0;
      void* q = jemalloc_backend::resize(p, size, tracked_arena);
      if (q == nullptr) return nullptr;
      count_realloc_lent(size, large);
      if (growth) *growth = static_cast<std::size_t>(std::max<std::int64_t>(thread_lent_net() - before, 0));
      return q;
    }
    std::size_t old_usable = jemalloc_backend::usable(p);
    void* q = jemalloc_backend::resize(p, size, tracked_arena);
    if (q == nullptr) return nullptr;
    std::size_t usable = jemalloc_backend::usable(q);
    count_realloc(old_usable, size, usable, large);
    if (growth) *growth = usable > old_usable ? usable - old_usable : 0;
    return q;
  }
  std::size_t old_usable = system_backend::usable(p);
  void* q = system_backend::resize(p, size);
  if (q == nullptr) return nullptr;
  std::size_t usable = system_backend::usable(q);
  count_realloc(old_usable, size, usable, large);
  if (growth) *growth = usable > old_usable ? usable - old_usable : 0;
  return q;
}

// Copies a jemalloc block into a new block in (or out of) the tracked arena and frees the old
// one, counting nothing; nullptr (p untouched) if the new block could not be had where wanted.
void* relocate(void* p, std::size_t size, bool into_tracked) noexcept {
  std::size_t old_usable = jemalloc_backend::usable(p);
  void* q = jemalloc_backend::alloc(size, 0, false, into_tracked);
  if (q == nullptr) return nullptr;
  if (into_tracked && !in_tracked_range(q)) {  // the range is exhausted
    jemalloc_backend::release(q, jemalloc_backend::usable(q));
    return nullptr;
  }
  std::memcpy(q, p, std::min(old_usable, size));
  if (in_tracked_range(p)) {
    jemalloc_backend::release_tracked(p);
  } else {
    jemalloc_backend::release(p, old_usable);
  }
  return q;
}

// A resize that moves the block into or out of the tracked arena (a resize in place cannot
// promise either), counted like any realloc.
void* move_block(void* p, std::size_t size, bool large, bool into_tracked) noexcept {
  std::size_t old_usable = jemalloc_backend::usable(p);
  bool lent = bytes_lent_before_release();
  void* q = relocate(p, size, into_tracked);
  if (q == nullptr) return nullptr;
  if (lent) {
    count_realloc_lent(size, large);
  } else {
    count_realloc(old_usable, size, jemalloc_backend::usable(q), large);
  }
  return q;
}

__attribute__((noinline)) void* resize_recorded(void* p, std::size_t size, bool large,
                                                bool old_maybe, int how) noexcept {
  const Recorder* r = recorder();
  RecordMode mode = g_mode.load(std::memory_order_relaxed);
  Placement where = placement();
  bool old_recorded = old_maybe && mode != RecordMode::off;
  if (where == Placement::set && old_recorded) old_recorded = g_set.erase(p);
  // Once recorded, always recorded (see resize()).
  bool new_recorded = mode == RecordMode::full || (mode != RecordMode::off && (large || how != 0 || old_recorded));
  // Weight 1 for large blocks and for blocks that were large (recorded unconditionally).
  bool sampled = mode == RecordMode::sampled && !large &&
                 (how == 1 || (old_recorded && !is_large(usable_size(p))));
  // The old block's Free goes out before the block can be reused by anyone.
  if (old_recorded && r != nullptr) r->on_free(p, true);
  void* q;
  if (use_jemalloc() && where == Placement::tracked_arena && mode != RecordMode::off) {
    bool in_tracked = in_tracked_range(p);
    bool want_tracked = large || new_recorded;
    q = in_tracked == want_tracked ? plain_resize(p, size, large, want_tracked)
                                   : move_block(p, size, large, want_tracked);
    if (q != nullptr && new_recorded && !in_rec_range(q)) {
      new_recorded = false;
      g_unrecorded.fetch_add(1, std::memory_order_relaxed);
    }
  } else {
    q = plain_resize(p, size, large, large);
  }
  if (where == Placement::set) {
    if (q == nullptr) {
      if (old_recorded) g_set.insert(p);
    } else if (new_recorded && !g_set.insert(q)) {
      new_recorded = false;
      g_unrecorded.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (r != nullptr && (old_recorded || new_recorded))
    r->on_realloc(p, old_recorded, q, size, q != nullptr && new_recorded, sampled);
  return q;
}

__attribute__((always_inline)) inline void release_counted(void* p, bool tracked = false) noexcept {
  if (bytes_lent_before_release()) {  // lent totals are jemalloc's
    if (tracked) {
      jemalloc_backend::release_tracked(p);
    } else {
      jemalloc_backend::release(p);
    }
    count_free_lent();
    return;
  }
  if (use_jemalloc()) {
    std::size_t usable = jemalloc_backend::usable(p);
    if (tracked) {
      jemalloc_backend::release_tracked(p);
    } else {
      jemalloc_backend::release(p, usable);
    }
    count_free(usable);
    return;
  }
  std::size_t usable = system_backend::usable(p);
  system_backend::release(p);
  count_free(usable);
}

__attribute__((noinline)) void release_recorded(void* p) noexcept {
  bool recorded = recording();
  if (recorded && placement() == Placement::set) recorded = g_set.erase(p);
  if (recorded) {
    if (const Recorder* r = recorder()) r->on_free(p, false);
  }
  release_counted(p, use_jemalloc() && in_tracked_range(p));
}

// An unrecorded block the sampler picked as it grew (p: its address before the realloc):
// placed where recorded blocks live, then recorded as the new block of that realloc. Moving it
// is not a call of the program's: nothing is counted (the usable size does not change).
__attribute__((noinline)) void* adopt(void* p, void* q, std::size_t size, bool large, int how) noexcept {
  Placement where = placement();
  bool recorded = true;
  if (use_jemalloc() && where == Placement::tracked_arena && !in_rec_range(q)) {
    if (void* moved = relocate(q, jemalloc_backend::usable(q), true)) {
      q = moved;
    } else {
      recorded = false;
    }
  } else if (where == Placement::set) {
    recorded = g_set.insert(q);
  }
  if (!recorded) {
    g_unrecorded.fetch_add(1, std::memory_order_relaxed);
  } else if (const Recorder* r = recorder()) {
    r->on_realloc(p, false, q, size, true, how == 1 && !large);
  }
  return q;
}

}  // namespace

// A realloc ticks the sampler by its growth only, and a recorded block stays recorded: over a
// block's life the sampler then sees exactly its largest size, so a block of s bytes is
// recorded with probability 1 - exp(-s/R), as if it had been allocated at that size (growth
// chains keep their weight; a block that shrank keeps the weight of a larger size). Ticking
// by the whole new size instead would sample a string grown byte by byte quadratically often.
void* resize(void* p, std::size_t size) noexcept {
  bool large = is_large(size);
  bool old_maybe = in_rec_range(p);  // with the recorded set the range is everything
  // With the set, an unrecorded block must still tick the sampler by its growth below.
  if (old_maybe && !large && placement() == Placement::set && !g_set.contains(p)) old_maybe = false;
  if (__builtin_expect(!old_maybe && !(large && recording()), 1)) {
    std::size_t growth = 0;
    void* q = plain_resize(p, size, large, large, recording() ? &growth : nullptr);
    if (q != nullptr && growth != 0 && __builtin_expect(t_sampler.tick(growth), 0)) {
      if (int how = countdown_expired()) return adopt(p, q, size, large, how);
    }
    return q;
  }
  return resize_recorded(p, size, large, old_maybe, 0);
}

HEAPLENS_HOT void release(void* p) noexcept {
  if (__builtin_expect(in_rec_range(p), 0)) return release_recorded(p);
  release_counted(p);
}

void start_recording(RecordMode mode, std::uint64_t interval, const Recorder* r) noexcept {
  g_mode.store(RecordMode::off, std::memory_order_release);
  g_rec_size.store(0, std::memory_order_relaxed);
  g_interval = interval == 0 ? 1 : interval;
  g_recorder.store(r, std::memory_order_release);
  if (mode == RecordMode::off) return;
  if (mode == RecordMode::full) {
    g_rec_lo.store(0, std::memory_order_relaxed);
    g_rec_size.store(UINTPTR_MAX, std::memory_order_relaxed);
  } else if (use_jemalloc() && jemalloc_backend::prepare_tracked_arena()) {
    g_rec_lo.store(tracked_range::base(), std::memory_order_relaxed);
    g_rec_size.store(tracked_range::size(), std::memory_order_relaxed);
  } else if (!g_set.ready()) {
    void* mem = mmap(nullptr, kSetSlots * sizeof(std::uintptr_t), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) return;  // stays off
    g_set.attach(static_cast<std::atomic<std::uintptr_t>*>(mem), kSetSlots);
  }
  bool use_set = mode == RecordMode::sampled && g_rec_size.load(std::memory_order_relaxed) == 0;
  if (use_set) {
    // Every free and realloc goes to the slow path, which asks the set: free() itself keeps
    // its single range test.
    g_rec_lo.store(0, std::memory_order_relaxed);
    g_rec_size.store(UINTPTR_MAX, std::memory_order_relaxed);
  }
  g_use_set.store(use_set, std::memory_order_release);
  g_mode.store(mode, std::memory_order_release);
  // Recording starts now for this thread; others notice within kIdleCountdown bytes.
  t_sampler.countdown = 0;
}

RecordMode record_mode() noexcept { return g_mode.load(std::memory_order_acquire); }

RecordStats record_stats() noexcept {
  return {g_sampled.load(std::memory_order_relaxed), g_unrecorded.load(std::memory_order_relaxed)};
}

bool is_recorded(const void* p) noexcept {
  if (!recording()) return false;
  if (g_mode.load(std::memory_order_relaxed) == RecordMode::full) return true;
  return g_use_set.load(std::memory_order_relaxed) ? g_set.contains(p) : in_rec_range(p);
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
void after_fork_child() noexcept {
  counters_after_fork_child();
  if (t_sampler.rng != 0) seed_sampler();  // the child's samples must not mirror the parent's
}

}  // namespace heaplens::pool
