// The session ring: many producer threads in the traced process, one consumer in another.
//
// Producers reserve consecutive positions with one CAS on ring_head (never past
// ring_tail + capacity: a full ring refuses, it never overwrites), write each record's w1 and
// then its w0 with the lap's commit tag (release). The consumer reads positions in order from
// ring_tail, accepts a slot only when its tag is the one of the expected lap, copies it, and
// publishes the new tail (release) so producers may reuse the slots. A slot reserved but
// never committed (its producer died mid-write) keeps the consumer waiting until it decides,
// from the producer's liveness, to skip it (skip_uncommitted).
//
// No allocation, no locks, no system calls: both sides are usable inside a malloc hook.
// The consumer trusts nothing in the segment: positions are checked before use.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "format.h"

namespace heaplens::ring {

inline std::uint32_t log2_of(std::uint64_t pow2) { return static_cast<std::uint32_t>(__builtin_ctzll(pow2)); }

inline wire::Record with_tag(wire::Record r, std::uint64_t lap) {
  r.w0 = (r.w0 & ~std::uint64_t{0x30}) | (wire::lap_tag(lap) << 4);
  return r;
}

class Producer {
 public:
  Producer() = default;
  Producer(wire::SessionHeader* header, wire::Record* slots, std::uint64_t capacity)
      : h_(header), slots_(slots), mask_(capacity - 1), shift_(log2_of(capacity)),
        tail_cache_(header->ring_tail.load(std::memory_order_acquire)) {}

  bool valid() const { return h_ != nullptr; }

  // Reserves n (1..capacity) consecutive positions; false when the ring lacks room now.
  // The consumer's tail is read only when a cached copy says the ring is full: a reader
  // polling right behind the producers would otherwise bounce its cache line on every record.
  bool try_reserve(std::uint32_t n, std::uint64_t* pos) {
    const std::uint64_t capacity = mask_ + 1;
    if (n == 0 || n > capacity) return false;
    std::uint64_t head = h_->ring_head.load(std::memory_order_relaxed);
    for (;;) {
      // Acquire/release on the copy chain the consumer's release of the tail to every producer
      // that uses the copy: slots it frees are read before anyone writes them again.
      std::uint64_t tail = std::atomic_ref<std::uint64_t>(tail_cache_).load(std::memory_order_acquire);
      if (tail > head || head - tail > capacity - n) {
        tail = h_->ring_tail.load(std::memory_order_acquire);
        std::atomic_ref<std::uint64_t>(tail_cache_).store(tail, std::memory_order_release);
        // Our head may be older than the tail another producer just saw: look again.
        if (tail > head) head = h_->ring_head.load(std::memory_order_relaxed);
        // A consumer that wrote a tail ahead of head (corrupt) just means "full".
        if (tail > head || head - tail > capacity - n) return false;
      }
      if (h_->ring_head.compare_exchange_weak(head, head + n, std::memory_order_relaxed,
                                              std::memory_order_relaxed)) {
        *pos = head;
        return true;
      }
    }
  }

  void put(std::uint64_t pos, wire::Record r) {
    wire::Record& slot = slots_[pos & mask_];
    r = with_tag(r, pos >> shift_);
    std::atomic_ref<std::uint64_t>(slot.w1).store(r.w1, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(slot.w0).store(r.w0, std::memory_order_release);
  }

 private:
  wire::SessionHeader* h_ = nullptr;
  wire::Record* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint32_t shift_ = 0;
  alignas(64) std::uint64_t tail_cache_ = 0;  // the last tail read (only ever behind the real one)
};

enum class ReadStatus {
  kOk,           // read everything committed up to head (possibly nothing)
  kUncommitted,  // stopped at a reserved slot whose record is not complete (yet)
  kCorrupt,      // head/tail out of range: the segment is damaged
};

class Consumer {
 public:
  Consumer() = default;
  Consumer(wire::SessionHeader* header, const wire::Record* slots, std::uint64_t capacity)
      : h_(header), slots_(slots), mask_(capacity - 1), shift_(log2_of(capacity)) {
    tail_ = h_->ring_tail.load(std::memory_order_acquire);
  }

  // Copies up to `max` committed records, in order, into out; *n says how many.
  ReadStatus read(wire::Record* out, std::size_t max, std::size_t* n) {
    *n = 0;
    std::uint64_t head = h_->ring_head.load(std::memory_order_acquire);
    if (head < tail_ || head - tail_ > mask_ + 1) return ReadStatus::kCorrupt;
    ReadStatus status = ReadStatus::kOk;
    std::size_t count = 0;
    while (count < max && tail_ + count < head) {
      std::uint64_t pos = tail_ + count;
      wire::Record& slot = const_cast<wire::Record&>(slots_[pos & mask_]);
      std::uint64_t w0 = std::atomic_ref<std::uint64_t>(slot.w0).load(std::memory_order_acquire);
      if (((w0 >> 4) & 3) != wire::lap_tag(pos >> shift_)) {
        status = ReadStatus::kUncommitted;
        break;
      }
      out[count].w0 = w0;
      out[count].w1 = std::atomic_ref<std::uint64_t>(slot.w1).load(std::memory_order_relaxed);
      ++count;
    }
    tail_ += count;
    *n = count;
    if (count != 0) h_->ring_tail.store(tail_, std::memory_order_release);
    return status;
  }

  // Gives up on every reserved slot that is not committed (their producers are gone); the
  // committed ones after them stay readable. Returns how many slots were skipped.
  std::uint64_t skip_uncommitted() {
    std::uint64_t head = h_->ring_head.load(std::memory_order_acquire);
    if (head < tail_ || head - tail_ > mask_ + 1) return 0;
    std::uint64_t skipped = 0;
    while (tail_ < head) {
      const wire::Record& slot = slots_[tail_ & mask_];
      std::uint64_t w0 = std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(slot.w0)).load(std::memory_order_acquire);
      if (((w0 >> 4) & 3) == wire::lap_tag(tail_ >> shift_)) break;
      ++tail_;
      ++skipped;
    }
    h_->ring_tail.store(tail_, std::memory_order_release);
    return skipped;
  }

  std::uint64_t position() const { return tail_; }
  // Committed-or-reserved records not read yet (0 when the segment is damaged).
  std::uint64_t backlog() const {
    std::uint64_t head = h_->ring_head.load(std::memory_order_acquire);
    return head >= tail_ && head - tail_ <= mask_ + 1 ? head - tail_ : 0;
  }

 private:
  wire::SessionHeader* h_ = nullptr;
  const wire::Record* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint32_t shift_ = 0;
  std::uint64_t tail_ = 0;
};

}  // namespace heaplens::ring
