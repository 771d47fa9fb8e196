// The CUDA caching pool's efficiency for one device (HEAPLENS_CUDA_POOL=1), from the latest
// counter snapshot (trace Stats fields, shared/format.h SessionHeader::DevicePool).
#pragma once

#include <cstdint>
#include <optional>

#include "trace_types.h"

namespace heaplens::model {

struct DevicePoolStats {
  std::uint64_t reserved_bytes = 0;   // obtained from the driver and not given back
  std::uint64_t in_use_bytes = 0;     // of blocks handed out (rounded sizes)
  std::uint64_t requested_bytes = 0;  // what their callers asked for
  std::uint64_t cached_bytes = 0;     // reserved - in use: held for reuse
  std::uint64_t largest_cached = 0;   // the largest cached block
  std::uint64_t hits = 0, misses = 0, driver_frees = 0, trims = 0;

  // Allocations served from the cache (0 before the first).
  double hit_rate() const;
  // Of the cache: 1 - largest_cached / cached (0 with nothing cached): how far the cached bytes
  // are from one block a large request could use.
  double fragmentation() const;
};

// The pool of record device `device` (1 + CUDA ordinal), when the snapshot says the pool was on
// and the device has one (ordinal < trace::kPoolDevices).
std::optional<DevicePoolStats> device_pool(const trace::StatsSnapshot& s, std::uint32_t device);

}  // namespace heaplens::model
