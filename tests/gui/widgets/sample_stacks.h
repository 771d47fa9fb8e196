// The stacks the call-tree, flame-layout and flame-graph tests share: two allocation sites
// reached through f and g from main, one recursive path, and one sample with no frames.
#pragma once

#include <cstdint>
#include <vector>

#include "widgets/call_tree.h"

namespace heaplens::gui::test {

enum : std::uint32_t { kSiteA = 1, kF = 2, kMain = 3, kSiteB = 4, kG = 5 };
inline const std::vector<std::uint32_t> kStackA = {kSiteA, kF, kMain};
inline const std::vector<std::uint32_t> kStackB = {kSiteB, kF, kMain};
inline const std::vector<std::uint32_t> kStackC = {kSiteA, kG, kMain};
inline const std::vector<std::uint32_t> kStackD = {kSiteA, kF, kF, kMain};
inline const std::vector<StackSample> kSamples = {{kStackA, 10}, {kStackB, 5}, {kStackC, 7}, {kStackD, 3}, {{}, 2}};

}  // namespace heaplens::gui::test
