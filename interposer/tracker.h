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

#include "../shared/format.h"
#include "config.h"

namespace heaplens::tracker {

// Starts recording as configured (from the interposer's constructor). With
// config.keep_session the session is created now; otherwise on the first recorded event.
void start(const TrackerConfig& config, std::uint32_t backend, std::uint64_t large_threshold) noexcept;

// Device memory (the CUDA layer, interposer/cuda/): every device allocation is recorded, in
// sampled mode too, with the caller's stack. `device` is the record's device field (1 + the
// CUDA ordinal). A free comes before the memory is released, as for host blocks. The caller
// holds a HookGuard (the tracker's own allocations must not be recorded).
struct DeviceEvent {
  std::uint32_t device;
  wire::DeviceKind kind;
  wire::DeviceApi api;
  std::uint64_t address, size;
  std::uint64_t stream;
  bool has_stream;
};
void on_device_alloc(const DeviceEvent& e) noexcept;
void on_device_free(std::uint32_t device, std::uint64_t address) noexcept;

// The caching pool's figures for one CUDA device, into the session header.
struct DevicePoolFigures {
  std::uint64_t reserved_bytes, in_use_bytes, requested_bytes, largest_cached, hits, misses, driver_frees, trims;
};
void publish_device_pool(std::uint32_t ordinal, const DevicePoolFigures& c) noexcept;

// Exit: final counters, an End record, state "exited".
void finish() noexcept;

// Fork handlers: the child gets its own session; the parent's is untouched.
void before_fork() noexcept;
void after_fork_parent() noexcept;
void after_fork_child() noexcept;

}  // namespace heaplens::tracker
