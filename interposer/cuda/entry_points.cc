#include "entry_points.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
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

// resolver_hooks.cc's dlsym hands every name not starting "cu" straight to glibc's.
constexpr bool all_start_cu() {
  for (std::size_t i = 0; i < kCount; ++i)
    if (kNames[i][0] != 'c' || kNames[i][1] != 'u') return false;
  return true;
}
static_assert(all_start_cu(), "a hooked CUDA name must start with \"cu\"");

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
std::atomic<unsigned long long> g_missed_at[kCount];  // loads() when the lookup failed
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

namespace {

// Objects loaded so far (glibc's dlpi_adds): a lookup that found nothing is not repeated
// until something has been loaded since.
int count_loads(dl_phdr_info* info, std::size_t size, void* data) {
  if (size >= offsetof(dl_phdr_info, dlpi_subs)) *static_cast<unsigned long long*>(data) = info->dlpi_adds;
  return 1;
}

unsigned long long loads() noexcept {
  unsigned long long adds = 0;
  dl_iterate_phdr(count_loads, &adds);
  return adds;
}

// The path of the n-th loaded object (after libheaplens.so's) whose file name has "cuda"
// in it: libcudart.so.13, libcuda.so.1, a wheel's libcudart-1a2b3c4d.so.12, libtorch_cuda.so.
// Copied out, because the object cannot be opened from inside dl_iterate_phdr.
struct Candidate {
  std::size_t skip;
  std::uintptr_t own_base;
  char path[4096];
  bool found;
};

int nth_cuda_object(dl_phdr_info* info, std::size_t, void* data) {
  auto* c = static_cast<Candidate*>(data);
  const char* name = info->dlpi_name;
  if (name == nullptr || name[0] == '\0' || info->dlpi_addr == c->own_base) return 0;
  const char* base = std::strrchr(name, '/');
  if (std::strstr(base != nullptr ? base + 1 : name, "cuda") == nullptr) return 0;
  if (c->skip-- > 0) return 0;
  std::size_t n = std::strlen(name);
  if (n >= sizeof c->path) return 0;
  std::memcpy(c->path, name, n + 1);
  c->found = true;
  return 1;
}

// A CUDA library that is loaded but not in the global scope: a plugin dlopen()ed
// RTLD_LOCAL that links libcudart (its calls still bind to our exports, which come first),
// or the driver that the static runtime dlopen()s. Each such object is asked in its own
// scope, as the plugin's own calls would have been resolved without heaplens.
void* find_in_local_scopes(DlsymFn d, const char* name) noexcept {
  Dl_info self{};
  Candidate c{};
  if (dladdr(reinterpret_cast<void*>(&nth_cuda_object), &self)) c.own_base = reinterpret_cast<std::uintptr_t>(self.dli_fbase);
  for (std::size_t i = 0; i < 64; ++i) {
    c.skip = i;
    c.found = false;
    if (dl_iterate_phdr(nth_cuda_object, &c) == 0 || !c.found) return nullptr;
    void* h = dlopen(c.path, RTLD_LAZY | RTLD_NOLOAD);
    if (h == nullptr) continue;
    void* found = d(h, name);
    dlclose(h);
    if (found != nullptr && !is_own(found)) return found;
  }
  return nullptr;
}

}  // namespace

void* real(Fn f) noexcept {
  auto i = static_cast<std::size_t>(f);
  void* fn = g_real[i].load(std::memory_order_acquire);
  if (fn != nullptr) return fn;
  unsigned long long now = loads();
  if (now != 0 && g_missed_at[i].load(std::memory_order_acquire) == now) return nullptr;
  // A program that calls our export was linked to the CUDA library that has the real one;
  // RTLD_NEXT from here searches everything loaded after libheaplens.so in the global scope.
  DlsymFn d = real_dlsym();
  if (d == nullptr) return nullptr;
  void* found = d(RTLD_NEXT, kNames[i]);
  if (found == nullptr || is_own(found)) found = find_in_local_scopes(d, kNames[i]);
  if (found != nullptr && !is_own(found)) {
    remember(f, found);
    return g_real[i].load(std::memory_order_acquire);
  }
  // CUDA is not loaded (yet): a later dlopen may bring it, so this is not final.
  g_missed_at[i].store(now, std::memory_order_release);
  return nullptr;
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
