// The session's module table (shared/format.h): path, address range, load bias and
// GNU build-id of every mapped object, so a reader in another process can symbolize later.
//
// Kept current without hooking dlopen (a wrapper would change the caller dlopen sees, and
// with it RUNPATH lookups): glibc counts loads and unloads (dlpi_adds / dlpi_subs), and
// reading those counters costs one dl_iterate_phdr callback, so the tracker checks them at
// most once per millisecond of recording and rescans only when they moved.
#pragma once

#include <cstdint>

#include "../shared/format.h"

namespace heaplens::modules {

struct Table {
  wire::SessionHeader* header;
  wire::ModuleEntry* entries;
  std::uint64_t capacity;
};

// Rescans if objects were loaded or unloaded since the last scan (always after reset()).
// Concurrent callers skip while another thread scans. now_ns: session time of the call.
void refresh(const Table& table, std::uint64_t now_ns) noexcept;

// Forget what was scanned (a new session starts with an empty table).
void reset() noexcept;

}  // namespace heaplens::modules
