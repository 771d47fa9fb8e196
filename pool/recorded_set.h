// The addresses of recorded blocks, for a backend whose recorded blocks cannot live in a
// range of their own (glibc's): a fixed-size, lock-free open-addressing set.
//
// Insert and erase are one CAS each; a lookup for an address that is not there usually
// reads one slot. Erased slots become tombstones that insertions reuse; probing stops after
// kMaxProbes, so a crowded set refuses an insertion (the block is then not recorded, and
// counted) rather than slowing every free down.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace heaplens::pool {

class RecordedSet {
 public:
  static constexpr std::size_t kMaxProbes = 32;

  // Backing memory: `slots` zeroed entries, a power of two. Not owned.
  void attach(std::atomic<std::uintptr_t>* slots, std::size_t count) noexcept {
    slots_ = slots;
    mask_ = count - 1;
  }
  bool ready() const noexcept { return slots_ != nullptr; }

  bool insert(const void* p) noexcept;
  // Removes p if present; true if it was.
  bool erase(const void* p) noexcept;
  bool contains(const void* p) const noexcept;

 private:
  static constexpr std::uintptr_t kEmpty = 0;
  static constexpr std::uintptr_t kTombstone = 1;  // never a block address (blocks are aligned)

  std::size_t home(std::uintptr_t a) const noexcept {
    return static_cast<std::size_t>((a >> 4) * 0x9e3779b97f4a7c15ULL >> 20) & mask_;
  }

  std::atomic<std::uintptr_t>* slots_ = nullptr;
  std::size_t mask_ = 0;
};

}  // namespace heaplens::pool
