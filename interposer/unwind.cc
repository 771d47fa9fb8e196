#include "unwind.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <dlfcn.h>
#include <link.h>

#include "../shared/format.h"

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
  if (dladdr(reinterpret_cast<void*>(&capture), &info) && info.dli_fbase != nullptr) {
    // dli_fbase is the load address; dlpi_addr the load bias. For a shared object they
    // coincide when its first segment has p_vaddr 0, which is how they are linked.
    dl_iterate_phdr(find_own_range, info.dli_fbase);
  }
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

std::uint32_t capture(std::uint64_t* out) noexcept {
  void* buffer[wire::kMaxFrames + kOwnFramesMax];
  int n = unw_backtrace(buffer, wire::kMaxFrames + kOwnFramesMax);
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

}  // namespace heaplens::unwind
