#include "runtime.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "../pool/pool.h"
#include "config.h"
#include "cuda/config_state.h"
#include "log.h"
#include "tracker.h"

extern char** environ;

namespace heaplens {

__thread int t_hook_depth __attribute__((tls_model("initial-exec"))) = 0;

namespace runtime {

std::atomic<int> g_state{kCold};

namespace {

bool g_summary = false;
TrackerConfig g_tracker;
CudaConfig g_cuda;

// getenv reads environ and never allocates.
const char* env_get(const char* name) { return ::getenv(name); }

void print_summary() {
  HookGuard guard;
  pool::CounterSnapshot s = pool::sum_counters();
  log_line("summary pid={} backend={} allocations={} frees={} bytes_requested={} "
           "bytes_allocated={} bytes_freed={} live_bytes={} peak_live_bytes={} "
           "large_allocations={} threads={}",
           static_cast<long>(getpid()), pool::backend_name(pool::settings().backend),
           s.allocations, s.frees, s.bytes_requested, s.bytes_allocated, s.bytes_freed,
           s.live_bytes, s.peak_live_bytes, s.large_allocations, s.threads);
}

// True when the first allocation came before libc set up environ (the dynamic loader can
// allocate that early): the settings are then read again once our constructor runs.
bool g_started_without_env = false;

void start_pool() noexcept {
  g_started_without_env = environ == nullptr;
  ConfigProblems problems;
  Config config = parse_config(env_get, environ, &problems);
  g_summary = config.summary;
  g_tracker = config.tracker;
  g_cuda = config.cuda;
  pool::init(config.pool, [](const char* line) { log_line("{}", line); });
  for (int i = 0; i < problems.count; ++i) log_line("{}", problems.lines[i]);
}

void reread_late_settings() noexcept {
  ConfigProblems problems;
  Config config = parse_config(env_get, environ, &problems);
  for (int i = 0; i < problems.count; ++i) log_line("{}", problems.lines[i]);
  g_summary = config.summary;
  g_tracker = config.tracker;
  g_cuda = config.cuda;
  pool::set_large_threshold(config.pool.large_threshold);
  if (config.pool.backend != pool::settings().backend)
    log_line("HEAPLENS_ALLOCATOR={} came too late: memory was allocated before the environment "
             "was readable; staying on {}",
             pool::backend_name(config.pool.backend), pool::backend_name(pool::settings().backend));
}

}  // namespace

void start_slow() noexcept {
  HookGuard guard;
  int expected = kCold;
  if (g_state.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) {
    start_pool();
    g_state.store(kReady, std::memory_order_release);
    return;
  }
  // Our own start-up allocating on this thread: the pool is already usable (the backend is
  // chosen before anything that could allocate), so go on rather than wait for ourselves.
  if (guard.nested()) return;
  while (g_state.load(std::memory_order_acquire) != kReady) sched_yield();
}

namespace {

// The tracker first: it waits for unwinding threads, which may still need the pool.
void before_fork() {
  tracker::before_fork();
  pool::before_fork();
}
void after_fork_parent() {
  pool::after_fork_parent();
  tracker::after_fork_parent();
}
void after_fork_child() {
  pool::after_fork_child();
  tracker::after_fork_child();
}

void finish_tracker() { tracker::finish(); }

// Runs once libc is fully started. The exit handler registered here runs after the
// dynamic loader's destructors (atexit order is LIFO and _dl_fini registers later), so the
// summary sees the frees of every library's exit-time destructors.
__attribute__((constructor)) void on_load() {
  ensure_started();
  HookGuard guard;
  if (g_started_without_env) reread_late_settings();
  pool::enable_fast_paths();
#ifdef HEAPLENS_WITH_CUDA
  cuda::configure(g_cuda);
#endif
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  tracker::start(g_tracker, static_cast<std::uint32_t>(pool::settings().backend),
                 pool::settings().large_threshold);
  std::atexit(finish_tracker);
  if (g_summary) std::atexit(print_summary);
}

}  // namespace
}  // namespace runtime
}  // namespace heaplens
