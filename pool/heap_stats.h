// Allocator-wide figures (as opposed to the pool's exact per-call counters), used by mallinfo,
// malloc_stats and, later, the viewer's pool panel.
#pragma once

#include <cstdint>

namespace heaplens::pool {

struct HeapStats {
  std::uint64_t allocated = 0;  // bytes in blocks the program holds
  std::uint64_t active = 0;     // bytes in pages that hold live blocks (>= allocated)
  std::uint64_t resident = 0;   // bytes of allocator memory resident in RAM
  std::uint64_t mapped = 0;     // bytes mapped by the allocator
  std::uint64_t retained = 0;   // bytes unmapped logically but kept as address space
  std::uint64_t metadata = 0;   // the allocator's own bookkeeping
};

}  // namespace heaplens::pool
