// Host and each device side by side: the figures a report's device rows and the viewer's
// Devices panel and header show, built in one place so both say the same.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "image_model.h"

namespace heaplens::model {

struct DeviceSummary {
  std::uint32_t device = 0;  // the record's device field (0: host)
  std::string name;          // "host", "cuda:0"...
  Estimate allocs, alloc_bytes, frees, live_bytes, live_blocks;
  Estimate peak_bytes;  // the host's is the image's peak (an estimate when sampled)
  std::uint64_t peak_time_ns = 0;
  std::vector<std::pair<wire::DeviceKind, KindStats>> kinds;  // devices: the kinds allocated
  std::optional<DevicePoolStats> pool;                         // devices: the caching pool, when on
};

// The host first (always), then each device that was used, by device number. Host figures of a
// sampled image are marked as estimates; device figures are exact.
std::vector<DeviceSummary> summarize_devices(const ImageModel& m);

}  // namespace heaplens::model
