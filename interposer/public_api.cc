#include <algorithm>
#include <cstring>

#include "../pool/pool.h"
#include "export.h"
#include "heaplens/heaplens.h"
#include "runtime.h"

#ifndef HEAPLENS_VERSION
#define HEAPLENS_VERSION "0.0.0"
#endif

namespace pool = heaplens::pool;

extern "C" {

HEAPLENS_EXPORT int heaplens_get_counters(struct heaplens_counters* out, size_t size) {
  if (out == nullptr) return -1;
  pool::CounterSnapshot s = pool::sum_counters();
  heaplens_counters c{};
  c.allocations = s.allocations;
  c.frees = s.frees;
  c.bytes_requested = s.bytes_requested;
  c.bytes_allocated = s.bytes_allocated;
  c.bytes_freed = s.bytes_freed;
  c.large_allocations = s.large_allocations;
  c.live_bytes = s.live_bytes;
  c.peak_live_bytes = s.peak_live_bytes;
  c.threads = s.threads;
  std::memcpy(out, &c, std::min(size, sizeof(c)));
  return 0;
}

HEAPLENS_EXPORT const char* heaplens_version(void) {
  heaplens::runtime::ensure_started();
  return pool::settings().backend == pool::Backend::system
             ? "heaplens " HEAPLENS_VERSION " (system)"
             : "heaplens " HEAPLENS_VERSION " (jemalloc)";
}

}  // extern "C"
