// Start-up and shutdown of heaplens inside the host process.
//
// The pool starts on the first hook call of the process, which may come from the dynamic
// loader before any constructor ran; our constructor then finishes what needs a fully
// started libc (fork and exit handlers). Nothing is ever torn down: frees that arrive after
// our destructors (other libraries' exit-time destructors) still work.
#pragma once

#include <atomic>

#include "hook_guard.h"

namespace heaplens::runtime {

enum State : int { kCold = 0, kStarting = 1, kReady = 2 };
extern std::atomic<int> g_state;

void start_slow() noexcept;

// Every hook calls this first. Hooks hold no reentrancy guard on their fast path (they call
// nothing that could come back into them); the guard is taken where something can: start-up
// here, the tracker's entry points (tracker.cc). A caller that holds a guard of its own takes
// it after this call, so that it still waits for another thread's start-up.
inline void ensure_started() noexcept {
  if (__builtin_expect(g_state.load(std::memory_order_acquire) != kReady, 0)) start_slow();
}

}  // namespace heaplens::runtime
