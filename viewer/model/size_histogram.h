// Allocation sizes in power-of-two classes: class k holds sizes in [2^(k-1), 2^k), class 0
// the zero-byte requests. 65 classes cover every 64-bit size.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

#include "estimate.h"

namespace heaplens::model {

inline constexpr int kSizeClasses = 65;

inline int size_class(std::uint64_t size) { return std::bit_width(size); }
// Smallest size of class k (0 for class 0).
inline std::uint64_t size_class_floor(int k) { return k == 0 ? 0 : std::uint64_t{1} << (k - 1); }

struct SizeClassStats {
  Estimate allocs, bytes;            // every allocation of this size
  Estimate live_blocks, live_bytes;  // still live
};

using SizeHistogram = std::array<SizeClassStats, kSizeClasses>;

}  // namespace heaplens::model
