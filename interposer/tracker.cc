#include "tracker.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <atomic>

#include "../pool/pool.h"
#include "../shared/ring.h"
#include "../shared/stack_table.h"
#include "hook_guard.h"
#include "log.h"
#include "modules.h"
#include "session.h"
#include "unwind.h"

namespace heaplens::tracker {
namespace {

using wire::Op;

constexpr std::uint64_t kPublishEveryNs = 10'000'000;    // exact counters
constexpr std::uint64_t kHeapStatsEveryNs = 100'000'000; // jemalloc's stats (a mallctl refresh)
constexpr std::uint64_t kWaitGiveUpNs = 5'000'000'000;   // ON_FULL=wait: no progress for this long
constexpr std::uint64_t kCycleFlush = 1 << 20;           // per-thread cycles folded in this often
constexpr std::uint64_t kTimedEvery = 8;                 // a power of two

inline std::uint64_t cycles() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#elif defined(__aarch64__)
  std::uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  return session::monotonic_ns();
#endif
}

enum Phase : int { kNone = 0, kCreating = 1, kReady = 2, kFailed = 3 };

struct State {
  TrackerConfig config;
  std::uint32_t backend = 0;
  std::uint64_t large_threshold = 0;
  session::Segment seg;
  ring::Producer ring;
  stacks::Interner interner;
  modules::Table modules{};
  std::atomic<int> phase{kNone};
  std::atomic<std::uint64_t> generation{1};  // a new session (fork child) starts a new one
  std::atomic<std::uint64_t> last_ms{0};     // millisecond of the last Time record, + 1
  // Reading the clock costs more than the rest of a record on some machines (a VM's vDSO
  // clock is 50+ ns): the cycle counter says when the next millisecond may have begun.
  std::atomic<std::uint64_t> next_tick_cycles{0};
  std::atomic<std::uint64_t> cycles_per_ms{1'000'000};  // until calibrated: assume 1 GHz
  std::atomic<std::uint64_t> last_publish_ns{0};
  std::atomic<std::uint64_t> last_heap_ns{0};
  std::atomic<std::uint64_t> cycles_total{0};
  std::uint64_t tsc0 = 0;
  std::uint64_t mono0 = 0;
  std::atomic<std::uint32_t> next_slot{0};
  std::atomic<int> in_unwind{0};
  std::atomic<bool> fork_pending{false};
  std::atomic<std::uint64_t> gave_up_at_tail{UINT64_MAX};
  std::atomic<std::uint64_t> frames_backed{0};  // entries of the frames array allocated
  std::atomic<bool> frames_refused{false};
};
State g;

struct ThreadState {
  std::uint64_t generation;
  std::uint32_t slot;
  std::uint64_t cycles;  // not yet folded into g.cycles_total
  std::uint64_t waited;  // cycles spent waiting for ring room in the current call
  std::uint32_t rng;  // xorshift32: which calls are timed
};
constinit thread_local ThreadState t_thread __attribute__((tls_model("initial-exec"))) {};

// Measures one slow-path call with the cycle counter.
// Reading the cycle counter costs ~10 ns on a VM (here): the start is read for every call
// (the Time check needs it anyway), the end only for one call in kTimedEvery on average,
// chosen at random (calls often alternate alloc/free, so every 8th would always pick the same
// kind), whose cost is counted kTimedEvery times: an unbiased estimate of the total.
class Timed {
 public:
  Timed() noexcept : start_(cycles()) { t_thread.waited = 0; }
  std::uint64_t start() const noexcept { return start_; }
  ~Timed() {
    std::uint32_t x = t_thread.rng ? t_thread.rng : static_cast<std::uint32_t>(start_) | 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    t_thread.rng = x;
    if ((x & (kTimedEvery - 1)) != 0) return;
    // Waiting for the reader (ON_FULL=wait) is not CPU time: it is left out.
    std::uint64_t spent = cycles() - start_;
    spent = spent > t_thread.waited ? spent - t_thread.waited : 0;
    // The cycle counter runs while the thread is descheduled. On a busy machine a thread is
    // preempted inside the tracker as often as its share of time there says, and one slice
    // (milliseconds, counted kTimedEvery times) outweighs thousands of calls: the figure
    // rose above 100 % of the process's CPU. No call of ours takes a quarter of a
    // millisecond of CPU, so a longer one was preempted and is left out.
    if (spent > g.cycles_per_ms.load(std::memory_order_relaxed) / 4) return;
    t_thread.cycles += spent * kTimedEvery;
    if (t_thread.cycles >= kCycleFlush) {
      g.cycles_total.fetch_add(t_thread.cycles, std::memory_order_relaxed);
      t_thread.cycles = 0;
    }
  }

 private:
  std::uint64_t start_;
};

wire::SessionHeader* header() noexcept { return g.seg.header; }

// The slow path of a full ring in ON_FULL=wait mode: back off (spin, yield, then sleep up to
// 1 ms) while the consumer makes progress; give up after kWaitGiveUpNs without any, and
// do not wait again until the tail moves.
bool wait_for_room(std::uint32_t n, std::uint64_t* pos) noexcept {
  struct Waited {
    std::uint64_t start = cycles();
    ~Waited() { t_thread.waited += cycles() - start; }
  } waited;
  wire::SessionHeader* h = header();
  std::uint64_t tail = h->ring_tail.load(std::memory_order_acquire);
  if (g.gave_up_at_tail.load(std::memory_order_relaxed) == tail) return false;
  std::uint64_t since = session::monotonic_ns();
  long sleep_ns = 20'000;
  for (unsigned i = 1;; ++i) {
    if (i < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else if (i < 128) {
      sched_yield();
    } else {
      timespec ts{0, sleep_ns};
      nanosleep(&ts, nullptr);
      if (sleep_ns < 1'000'000) sleep_ns *= 2;
    }
    if (g.ring.try_reserve(n, pos)) return true;
    if (i % 16 == 0) {
      std::uint64_t now = session::monotonic_ns();
      std::uint64_t t = h->ring_tail.load(std::memory_order_acquire);
      if (t != tail) {
        tail = t;
        since = now;
      } else if (now - since > kWaitGiveUpNs) {
        g.gave_up_at_tail.store(tail, std::memory_order_relaxed);
        log_line("the session's reader made no progress for 5 s: dropping records until it does");
        return false;
      }
    }
  }
}

void put_records(const wire::Record* recs, std::uint32_t n) noexcept {
  std::uint64_t pos = 0;
  if (!g.ring.try_reserve(n, &pos) && !(g.config.wait_when_full && wait_for_room(n, &pos))) {
    header()->records_dropped.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  for (std::uint32_t i = 0; i < n; ++i) g.ring.put(pos + i, recs[i]);
}

void publish(std::uint64_t now_ns, bool heap) noexcept {
  wire::SessionHeader* h = header();
  constexpr auto R = std::memory_order_relaxed;
  pool::CounterSnapshot c = pool::sum_counters();
  h->allocations.store(c.allocations, R);
  h->frees.store(c.frees, R);
  h->bytes_requested.store(c.bytes_requested, R);
  h->bytes_allocated.store(c.bytes_allocated, R);
  h->bytes_freed.store(c.bytes_freed, R);
  h->live_bytes.store(c.live_bytes, R);
  h->peak_live_bytes.store(c.peak_live_bytes, R);
  h->large_allocations.store(c.large_allocations, R);
  h->threads.store(c.threads, R);
  pool::RecordStats rs = pool::record_stats();
  h->events_sampled.store(rs.sampled, R);
  // Every reserved position is written (a counter of its own would cost a locked add per
  // record); only a producer killed mid-write leaves one torn, which the reader counts.
  h->records_written.store(h->ring_head.load(R), R);
  h->events_unrecorded.store(rs.unrecorded, R);
  if (heap) {
    pool::HeapStats hs{};
    if (pool::heap_stats(&hs)) {
      h->heap_allocated.store(hs.allocated, R);
      h->heap_active.store(hs.active, R);
      h->heap_resident.store(hs.resident, R);
      h->heap_mapped.store(hs.mapped, R);
      h->heap_retained.store(hs.retained, R);
    }
  }
  // Cycles to nanoseconds with the rate observed since the session started.
  std::uint64_t tsc = cycles() - g.tsc0;
  std::uint64_t mono = session::monotonic_ns() - g.mono0;
  std::uint64_t spent = g.cycles_total.load(R) + t_thread.cycles;
  if (tsc > 0) h->tracker_ns.store(static_cast<std::uint64_t>(static_cast<unsigned __int128>(spent) * mono / tsc), R);
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
    h->process_cpu_ns.store(static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec), R);
  h->published_ns.store(now_ns, std::memory_order_release);
}

// The interner's callback: the frames array is allocated a chunk at a time (session.h).
constexpr std::uint64_t kFramesChunk = 32768;  // entries: 256 KiB

bool back_frames(std::uint64_t end) noexcept {
  std::uint64_t backed = g.frames_backed.load(std::memory_order_acquire);
  if (__builtin_expect(end <= backed, 1)) return true;
  if (g.frames_refused.load(std::memory_order_relaxed)) return false;
  std::uint64_t want = std::min<std::uint64_t>((end + kFramesChunk - 1) / kFramesChunk * kFramesChunk,
                                               header()->frames_capacity);
  // Threads that race here allocate overlapping ranges: harmless.
  if (!session::back_frames(g.seg, backed, want)) {
    if (!g.frames_refused.exchange(true, std::memory_order_relaxed))
      log_line("/dev/shm is full: no room for more call stacks in the session; new stacks are dropped");
    return false;
  }
  while (backed < want && !g.frames_backed.compare_exchange_weak(backed, want, std::memory_order_acq_rel)) {
  }
  return true;
}

bool ensure_session() noexcept {
  int phase = g.phase.load(std::memory_order_acquire);
  if (__builtin_expect(phase == kReady, 1)) return true;
  if (phase != kNone) return false;  // failed, or another thread is creating it right now
  if (!g.phase.compare_exchange_strong(phase, kCreating, std::memory_order_acq_rel)) return false;
  session::Params p{};
  p.layout = session::layout_for(g.config.ring_bytes, g.config.mode == pool::RecordMode::full);
  p.mode = g.config.mode == pool::RecordMode::full ? wire::Mode::kFull : wire::Mode::kSampled;
  p.on_full = g.config.wait_when_full ? wire::OnFull::kWait : wire::OnFull::kDrop;
  p.sample_interval = g.config.sample_interval;
  p.large_threshold = g.large_threshold;
  p.backend = g.backend;
  p.keep_name = g.config.keep_session;
  p.run_id = g.config.run_id;
  p.cuda_pool = g.config.cuda_pool;
  char why[256];
  if (!session::create(p, &g.seg, why, sizeof(why))) {
    log_line("{}", why);
    pool::start_recording(pool::RecordMode::off, 0, nullptr);
    g.phase.store(kFailed, std::memory_order_release);
    return false;
  }
  wire::SessionHeader* h = g.seg.header;
  g.ring = ring::Producer(h, g.seg.ring, h->ring_capacity);
  g.frames_backed.store(0, std::memory_order_relaxed);
  g.frames_refused.store(false, std::memory_order_relaxed);
  g.interner = stacks::Interner(h, g.seg.stacks, h->stack_slots, g.seg.frames, h->frames_capacity, back_frames);
  g.modules = modules::Table{h, g.seg.modules, h->module_capacity};
  g.tsc0 = cycles();
  g.mono0 = session::monotonic_ns();
  modules::reset();
  modules::refresh(g.modules, 0);
  g.phase.store(kReady, std::memory_order_release);
  return true;
}

std::uint64_t session_now() noexcept { return session::monotonic_ns() - header()->clock_base_ns; }

std::uint32_t thread_slot() noexcept {
  std::uint64_t gen = g.generation.load(std::memory_order_relaxed);
  if (__builtin_expect(t_thread.generation == gen, 1)) return t_thread.slot;
  std::uint32_t slot = g.next_slot.fetch_add(1, std::memory_order_relaxed) % wire::kMaxThreadSlot + 1;
  t_thread.generation = gen;
  t_thread.slot = slot;
  wire::Record r = wire::encode_payload(Op::kThread, 0, slot, static_cast<std::uint64_t>(gettid()), 0);
  put_records(&r, 1);
  return slot;
}

// Once per millisecond of recording: a Time record; the module check; now and then the
// counters.
void tick(std::uint64_t c) noexcept {
  if (__builtin_expect(c < g.next_tick_cycles.load(std::memory_order_relaxed), 1)) return;
  std::uint64_t now = session_now();
  // Calibrate against the session's start once a millisecond has passed.
  std::uint64_t mono = session::monotonic_ns() - g.mono0;
  std::uint64_t per_ms = g.cycles_per_ms.load(std::memory_order_relaxed);
  if (mono >= 1'000'000 && c > g.tsc0)
    per_ms = static_cast<std::uint64_t>(static_cast<unsigned __int128>(c - g.tsc0) * 1'000'000 / mono);
  g.cycles_per_ms.store(per_ms, std::memory_order_relaxed);
  // The next tick: where the next millisecond starts.
  std::uint64_t into_ms = now % 1'000'000;
  g.next_tick_cycles.store(c + static_cast<std::uint64_t>(static_cast<unsigned __int128>(per_ms) * (1'000'000 - into_ms) / 1'000'000),
                           std::memory_order_relaxed);
  std::uint64_t ms = now / 1'000'000 + 1;
  std::uint64_t last = g.last_ms.load(std::memory_order_relaxed);
  if (__builtin_expect(ms <= last, 1)) return;
  if (!g.last_ms.compare_exchange_strong(last, ms, std::memory_order_relaxed)) return;
  wire::Record r = wire::encode_payload(Op::kTime, 0, 0, now, 0);
  put_records(&r, 1);
  modules::refresh(g.modules, now);
  std::uint64_t published = g.last_publish_ns.load(std::memory_order_relaxed);
  if (now - published >= kPublishEveryNs &&
      g.last_publish_ns.compare_exchange_strong(published, now, std::memory_order_relaxed)) {
    std::uint64_t heap_at = g.last_heap_ns.load(std::memory_order_relaxed);
    bool heap = now - heap_at >= kHeapStatsEveryNs || heap_at == 0;
    if (heap) g.last_heap_ns.store(now, std::memory_order_relaxed);
    publish(now, heap);
  }
}

// A stack never seen before may run code of an object loaded since the last module check
// (a plugin loaded, used and unloaded within one millisecond): check the modules now, so a
// reader can symbolize it. Known stacks (the common case) cost nothing more.
std::uint32_t intern(const std::uint64_t* frames, std::uint32_t depth) noexcept {
  std::uint64_t before = header()->stacks_used.load(std::memory_order_relaxed);
  std::uint32_t id = g.interner.intern(frames, depth);
  if (header()->stacks_used.load(std::memory_order_relaxed) != before) modules::refresh(g.modules, session_now());
  return id;
}

std::uint32_t stack_id() noexcept {
  // Around fork nobody may be inside libunwind (its locks would stay taken in the child).
  if (g.fork_pending.load(std::memory_order_relaxed)) return 0;
  g.in_unwind.fetch_add(1, std::memory_order_acq_rel);
  if (g.fork_pending.load(std::memory_order_acquire)) {
    g.in_unwind.fetch_sub(1, std::memory_order_release);
    return 0;
  }
  std::uint32_t id = unwind::stack_id(intern, g.generation.load(std::memory_order_relaxed));
  g.in_unwind.fetch_sub(1, std::memory_order_release);
  return id;
}

// `ext`: Ext records describing the event (device kind, stream), written first.
void emit(wire::Fields f, const wire::Record* ext = nullptr, std::uint32_t ext_count = 0) noexcept {
  wire::Record recs[5];
  std::uint32_t n = 0;
  for (; n < ext_count && n < 2; ++n) recs[n] = ext[n];
  if (f.address >= wire::kAddressEscape) {
    recs[n++] = wire::encode_payload(Op::kExt, wire::kExtAddress, f.thread, f.address, 0);
    f.address = wire::kAddressEscape;
  }
  if (f.size >= wire::kSizeEscape) {
    recs[n++] = wire::encode_payload(Op::kExt, wire::kExtSize, f.thread, f.size, 0);
    f.size = wire::kSizeEscape;
  }
  recs[n++] = wire::encode(f, 0);
  put_records(recs, n);
}

// Common prologue of the device calls, whose callers (the CUDA hooks) hold a guard: deeper
// calls are the tracker's own allocations or the CUDA libraries' (never recorded).
inline bool begin() noexcept { return t_hook_depth <= 1 && ensure_session(); }
// The pool calls the host entry points straight from the malloc hooks, which hold no guard:
// the guard taken here makes whatever the tracker allocates (libunwind, glibc inside it, the
// session) nested, and nested calls are never recorded.
inline bool begin_host(const HookGuard& guard) noexcept { return !guard.nested() && begin(); }

void record(const Timed& timed, Op op, std::uint8_t flags, std::uint64_t address, std::size_t size,
            bool with_stack, std::uint32_t device = wire::kDeviceHost, const wire::Record* ext = nullptr,
            std::uint32_t ext_count = 0) noexcept {
  std::uint32_t slot = thread_slot();
  tick(timed.start());
  wire::Fields f{};
  f.op = op;
  f.flags = flags;
  f.device = device;
  f.thread = slot;
  f.stack = with_stack ? stack_id() : 0;
  f.address = address;
  f.size = size;
  wire::Record tagged[2];
  for (std::uint32_t i = 0; i < ext_count && i < 2; ++i) {
    tagged[i] = ext[i];
    tagged[i].w0 |= std::uint64_t{slot & 0xFFFu} << 14;
  }
  emit(f, tagged, ext_count);
}

inline std::uint64_t addr(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }

void on_alloc(void* p, std::size_t size, bool sampled) noexcept {
  HookGuard guard;
  if (!begin_host(guard)) return;
  Timed timed;
  record(timed, Op::kAlloc, sampled ? wire::kFlagSampled : 0, addr(p), size, true);
}

void on_free(void* p, bool in_realloc) noexcept {
  HookGuard guard;
  if (!begin_host(guard)) return;
  Timed timed;
  record(timed, Op::kFree, in_realloc ? wire::kFlagRealloc : 0, addr(p), 0, false);
}

void on_realloc(void* p, bool old_recorded, void* q, std::size_t size, bool new_recorded,
                bool sampled) noexcept {
  HookGuard guard;
  if (!begin_host(guard)) return;
  Timed timed;
  if (q == nullptr) {
    // The realloc failed after the old block's Free went out: it is live again.
    if (old_recorded) record(timed, Op::kAlloc, 0, addr(p), pool::usable_size(p), true);
  } else if (new_recorded) {
    record(timed, Op::kRealloc, sampled ? wire::kFlagSampled : 0, addr(q), size, true);
  }
}

constexpr pool::Recorder kRecorder = {on_alloc, on_free, on_realloc};

inline bool recording_devices() noexcept {
  return g.config.mode != pool::RecordMode::off && pool::record_mode() != pool::RecordMode::off;
}

}  // namespace

void on_device_alloc(const DeviceEvent& e) noexcept {
  if (!recording_devices() || !begin()) return;
  Timed timed;
  wire::Record ext[2];
  std::uint32_t n = 0;
  ext[n++] = wire::encode_payload(Op::kExt, wire::kExtDevice, 0, wire::device_ext(e.kind, e.api), 0);
  if (e.has_stream) ext[n++] = wire::encode_payload(Op::kExt, wire::kExtStream, 0, e.stream, 0);
  record(timed, Op::kAlloc, 0, e.address, e.size, true, e.device, ext, n);
}

void on_device_free(std::uint32_t device, std::uint64_t address) noexcept {
  if (!recording_devices() || !begin()) return;
  Timed timed;
  record(timed, Op::kFree, 0, address, 0, false, device);
}

void publish_device_pool(std::uint32_t ordinal, const DevicePoolFigures& c) noexcept {
  if (ordinal >= wire::SessionHeader::kPoolDevices || !recording_devices() || !ensure_session()) return;
  wire::SessionHeader::DevicePool& d = header()->pool[ordinal];
  constexpr auto R = std::memory_order_relaxed;
  d.reserved_bytes.store(c.reserved_bytes, R);
  d.in_use_bytes.store(c.in_use_bytes, R);
  d.requested_bytes.store(c.requested_bytes, R);
  d.largest_cached.store(c.largest_cached, R);
  d.hits.store(c.hits, R);
  d.misses.store(c.misses, R);
  d.driver_frees.store(c.driver_frees, R);
  d.trims.store(c.trims, std::memory_order_release);
}

void start(const TrackerConfig& config, std::uint32_t backend, std::uint64_t large_threshold) noexcept {
  g.config = config;
  g.backend = backend;
  g.large_threshold = large_threshold;
  if (config.mode == pool::RecordMode::off) return;
  unwind::init();
  pool::start_recording(config.mode, config.sample_interval, &kRecorder);
  if (config.keep_session) ensure_session();
}

void finish() noexcept {
  if (g.phase.load(std::memory_order_acquire) != kReady) return;
  HookGuard guard;
  std::uint64_t now = session_now();
  modules::refresh(g.modules, now);  // objects unloaded since the last check get their time
  publish(now, true);
  wire::Record r = wire::encode_payload(Op::kEnd, 0, thread_slot(), now, 0);
  put_records(&r, 1);
  header()->state.store(static_cast<std::uint64_t>(wire::SessionState::kExited), std::memory_order_release);
}

void before_fork() noexcept {
  g.fork_pending.store(true, std::memory_order_seq_cst);
  // Bounded: a thread stuck inside libunwind for a second is not worth hanging fork for.
  for (int i = 0; i < 100000 && g.in_unwind.load(std::memory_order_acquire) != 0; ++i) sched_yield();
}

void after_fork_parent() noexcept { g.fork_pending.store(false, std::memory_order_release); }

void after_fork_child() noexcept {
  g.in_unwind.store(0, std::memory_order_relaxed);
  if (g.seg.header != nullptr) session::drop_inherited(&g.seg);
  g.ring = ring::Producer();
  g.generation.fetch_add(1, std::memory_order_relaxed);
  g.next_slot.store(0, std::memory_order_relaxed);
  g.last_ms.store(0, std::memory_order_relaxed);
  g.next_tick_cycles.store(0, std::memory_order_relaxed);
  g.last_publish_ns.store(0, std::memory_order_relaxed);
  g.last_heap_ns.store(0, std::memory_order_relaxed);
  g.cycles_total.store(0, std::memory_order_relaxed);
  g.gave_up_at_tail.store(UINT64_MAX, std::memory_order_relaxed);
  t_thread.cycles = 0;
  bool recording = pool::record_mode() != pool::RecordMode::off;
  g.phase.store(recording ? kNone : kFailed, std::memory_order_release);
  g.fork_pending.store(false, std::memory_order_release);
  if (recording && g.config.keep_session) ensure_session();
}

}  // namespace heaplens::tracker
