// glibc's allocator-introspection calls. With the system backend they are glibc's own; with
// jemalloc they answer from jemalloc's statistics (mapping in docs/ownership.md).
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdint>

#include "../pool/pool.h"
#include "export.h"
#include "hook_guard.h"
#include "log.h"
#include "runtime.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // mallinfo is, and we define it

using heaplens::HookGuard;
namespace pool = heaplens::pool;
namespace runtime = heaplens::runtime;

extern "C" int __libc_mallopt(int param, int value);

namespace {

bool system_backend() { return pool::settings().backend == pool::Backend::system; }

// glibc's own definition of a name we shadow. Only these rarely called functions use it,
// never during start-up, so the allocation dlopen/dlvsym may do is harmless.
void* glibc_symbol(const char* name, const char* version) {
  void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (libc == nullptr) return nullptr;
  void* sym = dlvsym(libc, name, version);
  dlclose(libc);
  return sym;
}

struct mallinfo2 jemalloc_mallinfo2() {
  struct mallinfo2 mi = {};
  pool::HeapStats s;
  if (!pool::heap_stats(&s)) return mi;
  mi.arena = s.mapped;                                         // bytes obtained from the OS
  mi.uordblks = s.allocated;                                   // bytes in use by the program
  mi.fordblks = s.mapped > s.allocated ? s.mapped - s.allocated : 0;  // mapped but not in use
  mi.keepcost = s.resident > s.active ? s.resident - s.active : 0;    // releasable by trim
  mi.hblkhd = s.metadata;                                      // the allocator's own bookkeeping
  return mi;
}

int clamp_int(std::size_t v) { return v > INT_MAX ? INT_MAX : static_cast<int>(v); }

}  // namespace

extern "C" {

HEAPLENS_EXPORT int mallopt(int param, int value) {
  runtime::ensure_started();
  HookGuard guard;
  if (system_backend()) return __libc_mallopt(param, value);
  // jemalloc tunes itself (MALLOC_CONF). glibc answers 1 to every parameter, known or not,
  // so programs that set them see the success they would have seen.
  (void)param;
  (void)value;
  return 1;
}

HEAPLENS_EXPORT int malloc_trim(size_t pad) {
  runtime::ensure_started();
  HookGuard guard;
  if (system_backend()) {
    auto real = reinterpret_cast<int (*)(size_t)>(glibc_symbol("malloc_trim", "GLIBC_2.2.5"));
    return real ? real(pad) : 0;
  }
  return pool::trim() ? 1 : 0;
}

HEAPLENS_EXPORT struct mallinfo2 mallinfo2(void) {
  runtime::ensure_started();
  HookGuard guard;
  if (system_backend()) {
    auto real = reinterpret_cast<struct mallinfo2 (*)()>(glibc_symbol("mallinfo2", "GLIBC_2.33"));
    if (real != nullptr) return real();
  }
  return jemalloc_mallinfo2();
}

HEAPLENS_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m = mallinfo2();
  struct mallinfo r = {};
  r.arena = clamp_int(m.arena);
  r.ordblks = clamp_int(m.ordblks);
  r.smblks = clamp_int(m.smblks);
  r.hblks = clamp_int(m.hblks);
  r.hblkhd = clamp_int(m.hblkhd);
  r.usmblks = clamp_int(m.usmblks);
  r.fsmblks = clamp_int(m.fsmblks);
  r.uordblks = clamp_int(m.uordblks);
  r.fordblks = clamp_int(m.fordblks);
  r.keepcost = clamp_int(m.keepcost);
  return r;
}

HEAPLENS_EXPORT void malloc_stats(void) {
  runtime::ensure_started();
  HookGuard guard;
  if (system_backend()) {
    auto real = reinterpret_cast<void (*)()>(glibc_symbol("malloc_stats", "GLIBC_2.2.5"));
    if (real != nullptr) real();
    return;
  }
  // glibc's layout, so scripts that read it keep working, then jemalloc's own figures.
  pool::HeapStats s;
  pool::heap_stats(&s);
  char buf[768];
  auto r = fmt::format_to_n(
      buf, sizeof(buf),
      "Arena 0:\nsystem bytes     = {:>10}\nin use bytes     = {:>10}\n"
      "Total (incl. mmap):\nsystem bytes     = {:>10}\nin use bytes     = {:>10}\n"
      "max mmap regions = {:>10}\nmax mmap bytes   = {:>10}\n"
      "heaplens jemalloc: allocated={} active={} resident={} mapped={} retained={} metadata={}\n",
      s.mapped, s.allocated, s.mapped, s.allocated, 0, 0, s.allocated, s.active, s.resident,
      s.mapped, s.retained, s.metadata);
  heaplens::write_line(buf, r.size < sizeof(buf) ? r.size : sizeof(buf));
}

}  // extern "C"
