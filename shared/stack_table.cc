#include "stack_table.h"

namespace heaplens::stacks {
namespace {

// Linear probing stops after this many slots: past it the table counts as full, which keeps
// a nearly full (or hostile) table from turning every lookup into a scan.
constexpr std::uint64_t kMaxProbes = 64;

inline std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline std::uint64_t first_slot(std::uint64_t hash, std::uint64_t mask) {
  std::uint64_t i = hash & mask;
  return i == 0 ? 1 : i;  // slot 0 means "no stack"
}

inline std::uint64_t next_slot(std::uint64_t i, std::uint64_t mask) {
  i = (i + 1) & mask;
  return i == 0 ? 1 : i;
}

}  // namespace

// One multiply per frame (the table compares frames anyway, so the hash only needs to
// spread), one full mix at the end.
std::uint64_t hash_frames(const std::uint64_t* frames, std::uint32_t depth) {
  std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ depth;
  for (std::uint32_t i = 0; i < depth; ++i) h = (h ^ frames[i]) * 0xff51afd7ed558ccdULL;
  return mix(h) | 1;  // never 0: 0 marks an empty slot
}

bool Interner::equal(std::uint64_t info, const std::uint64_t* frames, std::uint32_t depth) const {
  if (wire::stack_info_depth(info) != depth) return false;
  std::uint64_t first = wire::stack_info_first(info);
  if (first + depth > frames_capacity_) return false;
  for (std::uint32_t i = 0; i < depth; ++i) {
    if (std::atomic_ref<std::uint64_t>(frames_[first + i]).load(std::memory_order_relaxed) != frames[i])
      return false;
  }
  return true;
}

// A slot claimed by another thread that is still copying its frames: they are at most 64
// stores away, so a short spin settles it; a claimer that stalls (descheduled) just costs a
// duplicate entry.
std::uint64_t Interner::wait_ready(const wire::StackSlot& slot) const {
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t info = slot.info.load(std::memory_order_acquire);
    if (info != 0) return info;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return 0;
}

std::uint32_t Interner::intern(const std::uint64_t* frames, std::uint32_t depth) {
  if (depth == 0 || depth > wire::kMaxFrames) return 0;
  std::uint64_t hash = hash_frames(frames, depth);
  std::uint64_t i = first_slot(hash, mask_);
  std::uint64_t stored_first = UINT64_MAX;  // our copy of the frames, once written
  for (std::uint64_t probes = 0; probes < kMaxProbes && probes <= mask_; ++probes, i = next_slot(i, mask_)) {
    wire::StackSlot& slot = slots_[i];
    std::uint64_t seen = slot.hash.load(std::memory_order_acquire);
    if (seen == 0) {
      if (stored_first == UINT64_MAX) {
        std::uint64_t first = h_->frames_used.fetch_add(depth, std::memory_order_relaxed);
        if (first + depth > frames_capacity_) break;
        if (back_ != nullptr && !back_(first + depth)) break;
        for (std::uint32_t k = 0; k < depth; ++k)
          std::atomic_ref<std::uint64_t>(frames_[first + k]).store(frames[k], std::memory_order_relaxed);
        stored_first = first;
      }
      if (slot.hash.compare_exchange_strong(seen, hash, std::memory_order_acq_rel)) {
        slot.info.store(wire::stack_info(static_cast<std::uint32_t>(stored_first), depth),
                        std::memory_order_release);
        h_->stacks_used.fetch_add(1, std::memory_order_relaxed);
        return static_cast<std::uint32_t>(i);
      }
      // Lost the slot to another stack (`seen` now holds its hash): check it like any other.
    }
    if (seen == hash) {
      std::uint64_t info = wait_ready(slot);
      if (info != 0 && equal(info, frames, depth)) return static_cast<std::uint32_t>(i);
    }
  }
  h_->stacks_dropped.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

std::uint32_t read_stack(const wire::StackSlot* slots, std::uint64_t slot_count,
                         const std::uint64_t* frames, std::uint64_t frames_capacity,
                         std::uint32_t id, std::uint64_t* out) {
  if (id == 0 || id >= slot_count) return 0;
  std::uint64_t info = const_cast<wire::StackSlot&>(slots[id]).info.load(std::memory_order_acquire);
  if ((info >> 63) == 0) return 0;
  std::uint32_t depth = wire::stack_info_depth(info);
  std::uint64_t first = wire::stack_info_first(info);
  if (depth == 0 || depth > wire::kMaxFrames || first + depth > frames_capacity) return 0;
  for (std::uint32_t k = 0; k < depth; ++k)
    out[k] = std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(frames[first + k])).load(std::memory_order_relaxed);
  return depth;
}

}  // namespace heaplens::stacks
