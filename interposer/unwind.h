// Call stacks of recorded allocations, through libunwind's unw_backtrace (local unwinding
// with its per-thread cache). Only recorded allocations are unwound.
#pragma once

#include <cstdint>

namespace heaplens::unwind {

// Once, before the first capture: learns heaplens's own code range (its frames are cut
// from every stack) and sets libunwind's caching policy.
void init() noexcept;

// Return addresses of the calling program's frames, innermost first, heaplens's own frames
// removed: at most wire::kMaxFrames into out. Returns the depth (0 if unwinding failed).
std::uint32_t capture(std::uint64_t* out) noexcept;

}  // namespace heaplens::unwind
