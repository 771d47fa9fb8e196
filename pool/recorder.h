// What the pool tells the tracker. The pool decides which blocks are recorded (the sampler,
// the large path, the mode) and where they live (so that free() can tell cheaply); the
// tracker (interposer/tracker.h) turns each call into records. Calls come from inside the
// allocation, outside any pool lock. Frees are reported before the memory is released, so a
// block's address cannot be handed out, and recorded, again before its Free is published.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heaplens::pool {

enum class RecordMode : std::uint8_t {
  off,      // record nothing (the counters still count)
  sampled,  // Poisson sampling by bytes, plus every large block
  full,     // every block
};

struct Recorder {
  // A recorded block became live; `sampled`: chosen by the sampler (else recorded
  // unconditionally: full mode or the large path).
  void (*on_alloc)(void* p, std::size_t size, bool sampled) noexcept;
  // A recorded block is about to be released (`in_realloc`: it is the old block of a
  // realloc whose outcome follows in on_realloc).
  void (*on_free)(void* p, bool in_realloc) noexcept;
  // After a realloc whose old block was (old_recorded) or was not recorded: the new block,
  // if it is recorded (q == nullptr: the realloc failed and the old block p is still live).
  void (*on_realloc)(void* p, bool old_recorded, void* q, std::size_t size, bool new_recorded,
                     bool sampled) noexcept;
};

// How recording went, for the session header.
struct RecordStats {
  std::uint64_t sampled = 0;     // blocks the sampler chose
  std::uint64_t unrecorded = 0;  // blocks that should have been recorded but found no place
                                 // (tracked range exhausted, recorded-set full)
};

}  // namespace heaplens::pool
