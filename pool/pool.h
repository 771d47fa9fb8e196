// The hybrid pool: the only place in heaplens that obtains memory for the program.
//
// Every request is routed by size: below Settings::large_threshold it takes the small path
// (the backend's fast path, jemalloc's thread cache), at or above it the large path (a
// dedicated jemalloc arena; the tracker always records these). Every call is counted exactly
// (counters.h). Ownership of a pointer is decided as described in docs/ownership.md.
//
// Contract: callers (the interposer's hooks) have validated the C/C++ API rules already;
// sizes are <= PTRDIFF_MAX (0 is allowed for alloc), alignments are 0 (default) or a power
// of two.
#pragma once

#include <cstddef>
#include <cstdint>

#include "counters.h"
#include "heap_stats.h"
#include "recorder.h"
#include "settings.h"

namespace heaplens::pool {

// Starts the pool; later calls are ignored. `report` (may be nullptr) receives a one-line
// message when the pool degrades (e.g. the large path cannot get its own arena and shares
// the small path's; everything still works).
void init(const Settings& settings, void (*report)(const char* line) = nullptr) noexcept;
const Settings& settings() noexcept;
// Second stage of start-up, from the interposer's constructor: faster paths that need a
// started libc (see jemalloc_backend::enable_fast_paths).
void enable_fast_paths() noexcept;
// The threshold may change at any time (only the routing of later requests changes).
void set_large_threshold(std::size_t bytes) noexcept;

void* alloc(std::size_t size, std::size_t align, bool zero) noexcept;
// alloc(size, 0, false), faster: malloc and operator new.
void* alloc_plain(std::size_t size) noexcept;
// Resizes p (non-null) to size (> 0). On failure returns nullptr and p is untouched.
void* resize(void* p, std::size_t size) noexcept;
void release(void* p) noexcept;
std::size_t usable_size(const void* p) noexcept;

// Starts (or, with mode off, stops) recording: from now on the pool samples allocations and
// reports recorded blocks to `recorder` (which must stay valid). `interval` is the sampling
// interval R in bytes (sampled mode). Call with no other thread allocating if possible
// (start-up, fork child); it is safe otherwise, but blocks allocated meanwhile may go
// unrecorded.
void start_recording(RecordMode mode, std::uint64_t interval, const Recorder* recorder) noexcept;
RecordMode record_mode() noexcept;
RecordStats record_stats() noexcept;
// Whether the pool would report a free of p (test and diagnostics).
bool is_recorded(const void* p) noexcept;

bool heap_stats(HeapStats* out) noexcept;
bool trim() noexcept;

// Fork handlers (the interposer registers them with pthread_atfork).
void before_fork() noexcept;
void after_fork_parent() noexcept;
void after_fork_child() noexcept;

}  // namespace heaplens::pool
