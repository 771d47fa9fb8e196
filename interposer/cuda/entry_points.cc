#include "entry_points.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "config_state.h"

namespace heaplens::cuda {
namespace {

constexpr std::size_t kCount = static_cast<std::size_t>(Fn::kCount);

constexpr const char* kNames[kCount + 1] = {
#define HEAPLENS_X(name) #name,
    HEAPLENS_CUDA_RUNTIME_HOOKS(HEAPLENS_X) HEAPLENS_CUDA_DRIVER_HOOKS(HEAPLENS_X)
#undef HEAPLENS_X
    nullptr};

constexpr std::size_t kRuntimeCount = 0
#define HEAPLENS_X(name) +1
    HEAPLENS_CUDA_RUNTIME_HOOKS(HEAPLENS_X)
#undef HEAPLENS_X
    ;

void* const kOurs[kCount] = {
#define HEAPLENS_X(name) reinterpret_cast<void*>(&::name),
    HEAPLENS_CUDA_RUNTIME_HOOKS(HEAPLENS_X) HEAPLENS_CUDA_DRIVER_HOOKS(HEAPLENS_X)
#undef HEAPLENS_X
};

std::atomic<void*> g_real[kCount];
std::atomic<bool> g_looked_up[kCount];
std::atomic<DlsymFn> g_dlsym{nullptr};

// libheaplens.so's own mapped range: a result inside it is one of ours.
struct Range {
  std::uintptr_t lo = 0, hi = 0;
};

int find_range(dl_phdr_info* info, std::size_t, void* data) {
  auto* r = static_cast<Range*>(data);
  if (info->dlpi_addr != r->lo) return 0;
  std::uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    lo = std::min<std::uintptr_t>(lo, info->dlpi_addr + ph.p_vaddr);
    hi = std::max<std::uintptr_t>(hi, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  *r = Range{lo, hi};
  return 1;
}

const Range& own_range() noexcept {
  static const Range range = [] {
    Dl_info info{};
    Range r;
    if (!dladdr(reinterpret_cast<void*>(&find_range), &info)) return r;
    r.lo = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
    if (dl_iterate_phdr(find_range, &r) == 0) r = Range{};
    return r;
  }();
  return range;
}

}  // namespace

bool is_own(const void* fn) noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(fn);
  const Range& r = own_range();
  return a >= r.lo && a < r.hi;
}

namespace {

void remember(Fn f, void* fn) noexcept {
  void* expected = nullptr;
  g_real[static_cast<std::size_t>(f)].compare_exchange_strong(expected, fn, std::memory_order_acq_rel);
}

}  // namespace

Fn find(const char* name) noexcept {
  if (name == nullptr || name[0] != 'c' || name[1] != 'u') return Fn::kCount;
  for (std::size_t i = 0; i < kCount; ++i)
    if (std::strcmp(kNames[i], name) == 0) return static_cast<Fn>(i);
  return Fn::kCount;
}

const char* name_of(Fn f) noexcept { return kNames[static_cast<std::size_t>(f)]; }

bool is_driver(Fn f) noexcept { return static_cast<std::size_t>(f) >= kRuntimeCount; }

DlsymFn real_dlsym() noexcept {
  DlsymFn d = g_dlsym.load(std::memory_order_acquire);
  if (d != nullptr) return d;
  // glibc >= 2.34 defines dlsym in libc (GLIBC_2.34); older ones in libdl, by architecture.
  for (const char* version : {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.0"}) {
    d = reinterpret_cast<DlsymFn>(dlvsym(RTLD_NEXT, "dlsym", version));
    if (d != nullptr) break;
  }
  if (d != nullptr) g_dlsym.store(d, std::memory_order_release);
  return d;
}

void* real(Fn f) noexcept {
  auto i = static_cast<std::size_t>(f);
  void* fn = g_real[i].load(std::memory_order_acquire);
  if (fn != nullptr || g_looked_up[i].load(std::memory_order_acquire)) return fn;
  // A program that calls our export was linked to the CUDA library that has the real one;
  // RTLD_NEXT from here searches everything loaded after libheaplens.so.
  DlsymFn d = real_dlsym();
  if (d != nullptr) {
    void* found = d(RTLD_NEXT, kNames[i]);
    if (found == nullptr && is_driver(f)) {
      // The driver loaded RTLD_LOCAL (as the static runtime does): ask it by its soname.
      if (void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD)) {
        found = d(h, kNames[i]);
        dlclose(h);
      }
    }
    if (found != nullptr && !is_own(found)) remember(f, found);
  }
  g_looked_up[i].store(true, std::memory_order_release);
  return g_real[i].load(std::memory_order_acquire);
}

void* stand_in(Fn f, void* found) noexcept {
  if (found == nullptr || !hooks_enabled() || is_own(found)) return found;
  remember(f, found);
  return kOurs[static_cast<std::size_t>(f)];
}

void stand_in_resolved(void** fn) noexcept {
  if (fn == nullptr || *fn == nullptr || !hooks_enabled()) return;
  Dl_info info{};
  // Only an exact export: dli_saddr must be the pointer itself, so that an internal
  // function that merely lies after an export is never mistaken for it.
  if (is_own(*fn) || !dladdr(*fn, &info) || info.dli_sname == nullptr || info.dli_saddr != *fn) return;
  Fn f = find(info.dli_sname);
  if (f == Fn::kCount) return;
  *fn = stand_in(f, *fn);
}

void* sibling(void* fn, const char* name) noexcept {
  DlsymFn d = real_dlsym();
  Dl_info info{};
  if (d == nullptr || fn == nullptr || !dladdr(fn, &info) || info.dli_fname == nullptr) return nullptr;
  void* h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (h == nullptr) return nullptr;
  void* found = d(h, name);
  dlclose(h);
  return found;
}

}  // namespace heaplens::cuda
