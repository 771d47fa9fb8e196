// The producer's side of a session segment (layout: shared/format.h): create, map, describe,
// finish. Runs outside the hot path (start-up, the first record of a fork child, exit).
//
// The segment is created O_EXCL with mode 0600 and allocated (posix_fallocate) before
// anything is written to it, so that a full /dev/shm shows up as an error and never as a
// SIGBUS in the program later: all of it up front except the frames array, which is
// allocated a chunk at a time as stacks are stored (back_frames); a chunk that cannot be had
// means the stack is dropped, counted like a full table. The producer holds an exclusive flock on it for as long as
// this process image lives: a reader that can take the lock knows the producer is gone
// (exit, crash, SIGKILL or exec; the descriptor is close-on-exec).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../shared/format.h"
#include "../shared/session_name.h"

namespace heaplens::session {

struct Params {
  wire::Layout layout;
  wire::Mode mode;
  wire::OnFull on_full;
  std::uint64_t sample_interval;
  std::uint64_t large_threshold;
  std::uint32_t backend;
  std::uint64_t run_id;
  bool cuda_pool;  // SessionHeader::cuda_pool
  // false: the name is unlinked as soon as the segment exists (readers attach through
  // /proc/<pid>/fd), so nothing is left behind whatever happens to the process.
  bool keep_name;
};

struct Segment {
  wire::SessionHeader* header = nullptr;
  std::size_t size = 0;
  std::size_t frames_offset = 0;  // of the frames array in the file
  int fd = -1;
  char name[session_name::kMaxName] = {};
  wire::Record* ring = nullptr;
  wire::StackSlot* stacks = nullptr;
  std::uint64_t* frames = nullptr;
  wire::ModuleEntry* modules = nullptr;
};

// Layout for a ring of `ring_bytes` (a power of two >= 4 KiB); full mode gets a larger stack
// table (every allocation's stack is stored, not a sample's).
wire::Layout layout_for(std::size_t ring_bytes, bool full) noexcept;

// Creates, maps and describes a new segment for this process image. On failure writes a
// one-line reason into `why` and returns false (nothing is left behind).
bool create(const Params& params, Segment* out, char* why, std::size_t why_size) noexcept;

// Allocates the frames array's entries [from, to) in the file (to <= frames_capacity); false
// when /dev/shm cannot give them. Safe to call for entries already allocated, from any thread.
bool back_frames(const Segment& s, std::uint64_t from, std::uint64_t to) noexcept;

// Forgets a segment inherited across fork (the child must not write into its parent's).
void drop_inherited(Segment* s) noexcept;

// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
std::uint64_t monotonic_ns() noexcept;

}  // namespace heaplens::session
