// The session's stack table (layout in format.h): producers intern call stacks lock-free so a
// record carries a 20-bit id; readers look ids up, trusting nothing.
//
// Interning probes from the stack's hash: a slot with the same hash whose frames are equal is
// the answer; an empty slot is claimed with one CAS once the frames are stored. The frames
// array is a bump allocator (fetch_add); it and the slots are never freed during a session.
// Usable inside a malloc hook: no allocation, no locks, no system calls.
#pragma once

#include <atomic>
#include <cstdint>

#include "format.h"

namespace heaplens::stacks {

std::uint64_t hash_frames(const std::uint64_t* frames, std::uint32_t depth);

class Interner {
 public:
  Interner() = default;
  // `back` (optional): called before entries [0, end) of the frames array are written, when
  // the memory behind them is allocated lazily; false drops the stack.
  using BackFn = bool (*)(std::uint64_t end) noexcept;
  Interner(wire::SessionHeader* h, wire::StackSlot* slots, std::uint64_t slot_count,
           std::uint64_t* frames, std::uint64_t frames_capacity, BackFn back = nullptr)
      : h_(h), slots_(slots), mask_(slot_count - 1), frames_(frames), frames_capacity_(frames_capacity),
        back_(back) {}

  // The id of this stack (1..slot_count-1), storing it if new; 0 when the table or the
  // frames array is full (counted in stacks_dropped). depth: 1..kMaxFrames.
  std::uint32_t intern(const std::uint64_t* frames, std::uint32_t depth);

 private:
  bool equal(std::uint64_t info, const std::uint64_t* frames, std::uint32_t depth) const;
  std::uint64_t wait_ready(const wire::StackSlot& slot) const;

  wire::SessionHeader* h_ = nullptr;
  wire::StackSlot* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint64_t* frames_ = nullptr;
  std::uint64_t frames_capacity_ = 0;
  BackFn back_ = nullptr;
};

// Reader side: copies the frames of stack `id` into out (kMaxFrames entries); returns the
// depth, or 0 when the id is out of range, not ready, or points outside the frames array.
std::uint32_t read_stack(const wire::StackSlot* slots, std::uint64_t slot_count,
                         const std::uint64_t* frames, std::uint64_t frames_capacity,
                         std::uint32_t id, std::uint64_t* out);

}  // namespace heaplens::stacks
