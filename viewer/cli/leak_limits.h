// check's limits on what the leak-checked processes leaked: host memory, and device memory of
// all devices together (limits of different memories never add up). UINT64_MAX: unlimited.
#pragma once

#include <cstdint>

namespace heaplens::cli {

struct LeakLimits {
  std::uint64_t max_bytes = 0, max_blocks = 0;
  std::uint64_t max_device_bytes = 0, max_device_blocks = 0;
};

}  // namespace heaplens::cli
