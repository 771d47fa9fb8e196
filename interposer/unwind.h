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

// The stack id of the calling program's stack: from this thread's stack cache when the stack
// is provably the one cached (stack_cache.h), else captured and passed to `intern`.
// `generation` names the session whose ids the cache may return.
using InternFn = std::uint32_t (*)(const std::uint64_t* frames, std::uint32_t depth) noexcept;
std::uint32_t stack_id(InternFn intern, std::uint64_t generation) noexcept;

}  // namespace heaplens::unwind
