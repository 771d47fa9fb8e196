// The tracker: turns the pool's recorded blocks into 16-byte records in this process's
// session (shared/format.h). Everything here runs on the slow path only: the pool calls it
// for the blocks it chose to record.
//
// Per recorded event: unwind (libunwind), intern the stack, take a ring reservation, write
// the records. Around them, at most once per millisecond of recording: a Time record,
// the module table check, and every 10 ms the exact counters into the header. The time
// spent in here is measured with the cycle counter and published (tracker_ns).
#pragma once

#include <cstdint>

#include "config.h"

namespace heaplens::tracker {

// Starts recording as configured (from the interposer's constructor). With
// config.keep_session the session is created now; otherwise on the first recorded event.
void start(const TrackerConfig& config, std::uint32_t backend, std::uint64_t large_threshold) noexcept;

// Exit: final counters, an End record, state "exited".
void finish() noexcept;

// Fork handlers: the child gets its own session; the parent's is untouched.
void before_fork() noexcept;
void after_fork_parent() noexcept;
void after_fork_child() noexcept;

}  // namespace heaplens::tracker
