// Call stacks of recorded allocations, through libunwind's unw_backtrace (local unwinding
// with its per-thread cache). Only recorded allocations are unwound.
#pragma once

#include <cstdint>

namespace heaplens::unwind {

// Once, before the first stack_id(): learns heaplens's own code range (its frames are cut
// from every stack) and sets libunwind's caching policy.
void init() noexcept;

// The stack id of the calling program's stack: from this thread's stack cache when the stack
// is provably the one cached (stack_cache.h), else unwound and passed to `intern` as return
// addresses, innermost first, heaplens's own frames removed, at most wire::kMaxFrames.
// `generation` names the session whose ids the cache may return.
using InternFn = std::uint32_t (*)(const std::uint64_t* frames, std::uint32_t depth) noexcept;
std::uint32_t stack_id(InternFn intern, std::uint64_t generation) noexcept;

}  // namespace heaplens::unwind
