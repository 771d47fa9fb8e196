// A per-thread cache of recently unwound stacks, so that a loop allocating from one call site
// does not unwind the same frames again and again (unwinding is most of the cost of full mode).
//
// Key: the stack pointer at the point of capture. An entry remembers, for every frame, the
// stack slot holding its return address and the value it held. If the stack pointer is the
// same and every one of those slots still holds the same return address, the call chain is
// the same one (each return address fixes the caller and, with the slot before it, where the
// caller's own return address lives), so the cached stack id is the answer. Slots are found
// by scanning upward from the stack pointer for each return address in turn, only inside the
// mapping that held the thread's stack pointer the first time (from /proc/self/maps, once per
// thread): on any other stack (sigaltstack, coroutines) the cache stays out of the way.
//
// x86-64 only (a call pushes the return address on the stack); elsewhere it does nothing.
#pragma once

#include <cstdint>

namespace heaplens::stack_cache {

inline constexpr std::uint32_t kMaxSlots = 80;

struct Probe;  // one thread's cache, opaque

// Once, before any thread uses the cache (creates the thread-exit key).
void init() noexcept;

// The calling thread's cache if it can be used for stack pointer `sp` (nullptr otherwise).
Probe* probe_for(std::uintptr_t sp) noexcept;

// The cached stack id for this stack, or 0 (`generation` names the session the ids belong to).
// *uncacheable: this stack is known not to fit the cache (a return address was not found
// within reach): unwind it, and do not call remember().
std::uint32_t lookup(Probe* probe, std::uintptr_t sp, std::uint64_t generation, bool* uncacheable) noexcept;

// Remembers a fresh unwind: pcs[0..n) as unw_backtrace returned them from the function whose
// return address is stored at `sp` (pcs[0] is inside that function and is skipped; pcs[1] is
// that return address), and its stack id.
void remember(Probe* probe, std::uintptr_t sp, const std::uint64_t* pcs, std::uint32_t n,
              std::uint32_t id, std::uint64_t generation) noexcept;

}  // namespace heaplens::stack_cache
