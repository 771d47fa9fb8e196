#include "device_pool.h"

#include <algorithm>

namespace heaplens::model {

double DevicePoolStats::hit_rate() const {
  std::uint64_t calls = hits + misses;
  return calls == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(calls);
}

double DevicePoolStats::fragmentation() const {
  if (cached_bytes == 0) return 0.0;
  double largest = static_cast<double>(std::min(largest_cached, cached_bytes));
  return 1.0 - largest / static_cast<double>(cached_bytes);
}

std::optional<DevicePoolStats> device_pool(const trace::StatsSnapshot& s, std::uint32_t device) {
  using trace::PoolCounter;
  if (s.get(trace::StatsField::kCudaPool) == 0 || device < wire::kDeviceCudaFirst) return std::nullopt;
  std::uint32_t ordinal = device - wire::kDeviceCudaFirst;
  if (ordinal >= trace::kPoolDevices) return std::nullopt;
  auto get = [&](PoolCounter c) { return s.get(trace::pool_field(ordinal, c)); };
  DevicePoolStats p;
  p.reserved_bytes = get(PoolCounter::kReservedBytes);
  p.in_use_bytes = get(PoolCounter::kInUseBytes);
  p.requested_bytes = get(PoolCounter::kRequestedBytes);
  // The counters are read one by one while the pool runs: never let a torn pair go negative.
  p.cached_bytes = p.reserved_bytes > p.in_use_bytes ? p.reserved_bytes - p.in_use_bytes : 0;
  p.largest_cached = get(PoolCounter::kLargestCached);
  p.hits = get(PoolCounter::kHits);
  p.misses = get(PoolCounter::kMisses);
  p.driver_frees = get(PoolCounter::kDriverFrees);
  p.trims = get(PoolCounter::kTrims);
  return p;
}

}  // namespace heaplens::model
