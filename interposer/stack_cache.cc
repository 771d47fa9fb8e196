#include "stack_cache.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include <atomic>

namespace heaplens::stack_cache {
namespace {

// Set-associative: one stack pointer often has several stacks (two malloc calls in one
// function are two stacks at the same depth).
constexpr std::uint32_t kSets = 16;  // a power of two
constexpr std::uint32_t kWays = 4;
constexpr std::uintptr_t kMaxScan = 512 << 10;  // bytes of stack scanned for one stack at most
// A thread whose stacks rarely repeat (every allocation from a different call path) would pay
// a scan per allocation for nothing: judged every kWindow lookups, a hit rate under 1/4
// turns remembering off for the next kPause lookups.
constexpr std::uint32_t kWindow = 1024;
constexpr std::uint32_t kPause = 16 * 1024;

struct Entry {
  std::uintptr_t sp;
  std::uint64_t generation;
  std::uint32_t id;      // 0: a stack that could not be cached (see `slots`)
  std::uint32_t slots;   // for id 0: the prefix of slots that was found
  std::uintptr_t slot[kMaxSlots];
  std::uint64_t value[kMaxSlots];
};

}  // namespace

struct Probe {
  std::uintptr_t stack_lo;
  std::uintptr_t stack_hi;
  Entry entries[kSets][kWays];
  std::uint8_t next_victim[kSets];
  std::uint32_t lookups;  // in the current window
  std::uint32_t hits;
  std::uint32_t paused;   // lookups left before remembering again
};

namespace {

enum : std::uint8_t { kUnknown = 0, kReady = 1, kUnusable = 2 };

struct ThreadCache {
  std::uint8_t state;
  Probe* probe;
};
constinit thread_local ThreadCache t_cache __attribute__((tls_model("initial-exec"))) {};

pthread_key_t g_key;
std::atomic<bool> g_key_ok{false};

void release(void* p) {
  munmap(p, sizeof(Probe));
  t_cache.probe = nullptr;
  t_cache.state = kUnusable;  // the thread is exiting
}

// The mapping that holds `addr`, from /proc/self/maps, read with plain system calls into a
// stack buffer: pthread_getattr_np would allocate, and the program's counters must not see us.
bool mapping_of(std::uintptr_t addr, std::uintptr_t* lo, std::uintptr_t* hi) noexcept {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  std::size_t have = 0;
  bool found = false;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof(buf) - have);
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
    std::size_t start = 0;
    for (std::size_t i = 0; i < have; ++i) {
      if (buf[i] != '\n') continue;
      // "lo-hi perms ...": two hex numbers.
      std::uintptr_t a = 0, b = 0;
      std::size_t k = start;
      for (; k < i && buf[k] != '-'; ++k) a = a * 16 + static_cast<std::uintptr_t>(buf[k] <= '9' ? buf[k] - '0' : (buf[k] | 32) - 'a' + 10);
      for (++k; k < i && buf[k] != ' '; ++k) b = b * 16 + static_cast<std::uintptr_t>(buf[k] <= '9' ? buf[k] - '0' : (buf[k] | 32) - 'a' + 10);
      if (a <= addr && addr < b) {
        *lo = a;
        *hi = b;
        found = true;
        break;
      }
      start = i + 1;
    }
    if (found) break;
    if (start == 0 && have == sizeof(buf)) break;  // a line longer than the buffer
    std::memmove(buf, buf + start, have - start);
    have -= start;
  }
  close(fd);
  return found;
}

Probe* create(std::uintptr_t sp) noexcept {
#if defined(__x86_64__)
  if (!g_key_ok.load(std::memory_order_acquire)) return nullptr;
  std::uintptr_t lo = 0, hi = 0;
  if (!mapping_of(sp, &lo, &hi)) return nullptr;
  void* mem = mmap(nullptr, sizeof(Probe), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  auto* probe = static_cast<Probe*>(mem);
  probe->stack_lo = lo;
  probe->stack_hi = hi;
  if (pthread_setspecific(g_key, probe) != 0) {
    munmap(mem, sizeof(Probe));
    return nullptr;
  }
  return probe;
#else
  return nullptr;
#endif
}

inline std::uint32_t set_of(std::uintptr_t sp) noexcept {
  return static_cast<std::uint32_t>((sp >> 3) * 0x9e3779b97f4a7c15ULL >> 60) & (kSets - 1);
}

}  // namespace

void init() noexcept {
  if (!g_key_ok.load(std::memory_order_acquire) && pthread_key_create(&g_key, release) == 0)
    g_key_ok.store(true, std::memory_order_release);
}

Probe* probe_for(std::uintptr_t sp) noexcept {
  if (__builtin_expect(t_cache.state == kUnknown, 0)) {
    t_cache.state = kUnusable;  // until created (also while creating: no recursion)
    if ((t_cache.probe = create(sp)) != nullptr) t_cache.state = kReady;
  }
  Probe* p = t_cache.state == kReady ? t_cache.probe : nullptr;
  // Not on this thread's own stack (signal stack, coroutine): leave it alone.
  if (p == nullptr || sp < p->stack_lo || sp >= p->stack_hi) return nullptr;
  return p;
}

std::uint32_t lookup(Probe* probe, std::uintptr_t sp, std::uint64_t generation, bool* uncacheable) noexcept {
  *uncacheable = false;
  if (++probe->lookups == kWindow) {
    if (probe->hits < kWindow / 4) probe->paused = kPause;
    probe->lookups = probe->hits = 0;
  }
  if (probe->paused != 0) {
    --probe->paused;
    *uncacheable = true;
  }
  for (const Entry& e : probe->entries[set_of(sp)]) {
    if (e.sp != sp || e.generation != generation) continue;
    // Every slot lies in [sp, stack_hi): this thread's stack, above the current frame.
    bool same = true;
    for (std::uint32_t i = 0; i < e.slots && same; ++i)
      same = *reinterpret_cast<const std::uint64_t*>(e.slot[i]) == e.value[i];
    if (!same) continue;
    // The same stack as one whose slots could not all be found: do not scan for them again.
    if (e.id == 0) {
      *uncacheable = true;
    } else {
      ++probe->hits;
    }
    return e.id;
  }
  return 0;
}

void remember(Probe* probe, std::uintptr_t sp, const std::uint64_t* pcs, std::uint32_t n,
              std::uint32_t id, std::uint64_t generation) noexcept {
  if (id == 0 || n < 2 || n - 1 > kMaxSlots) return;
  std::uint32_t set = set_of(sp);
  Entry& e = probe->entries[set][probe->next_victim[set]++ % kWays];
  e.sp = 0;  // invalid until complete
  std::uintptr_t at = sp & ~std::uintptr_t{7};
  std::uintptr_t limit = probe->stack_hi - 8;
  if (limit > sp + kMaxScan) limit = sp + kMaxScan;
  std::uint32_t slots = 0;
  for (std::uint32_t i = 1; i < n; ++i) {
    // The next return address is the first word holding it above the previous one.
    while (at <= limit && *reinterpret_cast<const std::uint64_t*>(at) != pcs[i]) at += 8;
    if (at > limit) break;  // not found (not a plain call frame, or a huge frame)
    e.slot[slots] = at;
    e.value[slots] = pcs[i];
    ++slots;
    at += 8;
  }
  e.generation = generation;
  e.slots = slots;
  e.id = slots == n - 1 ? id : 0;
  e.sp = sp;
}

}  // namespace heaplens::stack_cache
