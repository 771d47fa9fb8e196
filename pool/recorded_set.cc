#include "recorded_set.h"

namespace heaplens::pool {

bool RecordedSet::insert(const void* p) noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(p);
  std::size_t i = home(a);
  for (std::size_t n = 0; n < kMaxProbes; ++n, i = (i + 1) & mask_) {
    std::uintptr_t seen = slots_[i].load(std::memory_order_relaxed);
    // A block being inserted is not in the set (its address was erased when it was freed),
    // so the first free slot is as good as any.
    while (seen == kEmpty || seen == kTombstone) {
      if (slots_[i].compare_exchange_weak(seen, a, std::memory_order_release, std::memory_order_relaxed))
        return true;
    }
  }
  return false;
}

bool RecordedSet::erase(const void* p) noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(p);
  std::size_t i = home(a);
  for (std::size_t n = 0; n < kMaxProbes; ++n, i = (i + 1) & mask_) {
    std::uintptr_t seen = slots_[i].load(std::memory_order_acquire);
    if (seen == kEmpty) return false;
    // Only the owner of a block frees it, so nobody else erases this address concurrently.
    if (seen == a) return slots_[i].compare_exchange_strong(seen, kTombstone, std::memory_order_relaxed);
  }
  return false;
}

bool RecordedSet::contains(const void* p) const noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(p);
  std::size_t i = home(a);
  for (std::size_t n = 0; n < kMaxProbes; ++n, i = (i + 1) & mask_) {
    std::uintptr_t seen = slots_[i].load(std::memory_order_acquire);
    if (seen == a) return true;
    if (seen == kEmpty) return false;
  }
  return false;
}

}  // namespace heaplens::pool
