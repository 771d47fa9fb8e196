#include "unwind.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <dlfcn.h>
#include <link.h>

#include "../shared/format.h"
#include "stack_cache.h"

namespace heaplens::unwind {
namespace {

std::uintptr_t g_own_lo = 0;
std::uintptr_t g_own_hi = 0;

// Our frames sit on top of every stack: hook, pool, tracker and unw_backtrace's caller.
constexpr int kOwnFramesMax = 16;

int find_own_range(dl_phdr_info* info, std::size_t, void* data) {
  auto base = reinterpret_cast<std::uintptr_t>(data);
  if (info->dlpi_addr != base) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    std::uintptr_t hi = lo + ph.p_memsz;
    if (g_own_lo == 0 || lo < g_own_lo) g_own_lo = lo;
    if (hi > g_own_hi) g_own_hi = hi;
  }
  return 1;
}

}  // namespace

void init() noexcept {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&stack_id), &info) && info.dli_fbase != nullptr) {
    // dli_fbase is the load address; dlpi_addr the load bias. For a shared object they
    // coincide when its first segment has p_vaddr 0, which is how they are linked.
    dl_iterate_phdr(find_own_range, info.dli_fbase);
  }
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  stack_cache::init();
}

namespace {

// Cuts heaplens's own frames off the top of a raw backtrace.
std::uint32_t strip_own(void* const* buffer, int n, std::uint64_t* out) noexcept {
  int first = 0;
  while (first < n && first < kOwnFramesMax) {
    auto pc = reinterpret_cast<std::uintptr_t>(buffer[first]);
    if (pc < g_own_lo || pc >= g_own_hi) break;
    ++first;
  }
  std::uint32_t depth = 0;
  for (int i = first; i < n && depth < wire::kMaxFrames; ++i)
    out[depth++] = reinterpret_cast<std::uintptr_t>(buffer[i]);
  return depth;
}

}  // namespace

// noinline, with a frame pointer: the return address into our caller sits right above the
// saved frame pointer; the cache scans from there, never through this frame's own locals
// (which hold copies of the return addresses: the unwind buffer).
__attribute__((noinline)) std::uint32_t stack_id(InternFn intern, std::uint64_t generation) noexcept {
  auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + sizeof(void*);
  stack_cache::Probe* probe = stack_cache::probe_for(sp);
  if (probe != nullptr) {
    bool uncacheable = false;
    if (std::uint32_t id = stack_cache::lookup(probe, sp, generation, &uncacheable)) return id;
    if (uncacheable) probe = nullptr;
  }
  void* buffer[wire::kMaxFrames + kOwnFramesMax];
  int n = unw_backtrace(buffer, wire::kMaxFrames + kOwnFramesMax);
  std::uint64_t frames[wire::kMaxFrames];
  std::uint32_t depth = strip_own(buffer, n, frames);
  std::uint32_t id = depth == 0 ? 0 : intern(frames, depth);
  if (probe != nullptr && n > 0)
    stack_cache::remember(probe, sp, reinterpret_cast<const std::uint64_t*>(buffer),
                          static_cast<std::uint32_t>(n), id, generation);
  return id;
}

}  // namespace heaplens::unwind
