// Turns the record stream of one session into events: resolves Ext records into full
// addresses and sizes, Time records into a timestamp on every event, and Thread records
// into OS thread ids. Every record is untrusted: what cannot be decoded is counted, never
// fatal.
#pragma once

#include <array>
#include <cstdint>

#include "format.h"

namespace heaplens::reader {

struct Event {
  wire::Op op = wire::Op::kEmpty;  // kAlloc, kFree, kRealloc or a device op (>= 8)
  std::uint8_t flags = 0;
  std::uint32_t device = 0;
  std::uint32_t thread_slot = 0;
  std::int64_t tid = 0;  // 0 when no Thread record named the slot
  std::uint32_t stack = 0;
  std::uint64_t address = 0;
  std::uint64_t size = 0;
  std::uint64_t time_ns = 0;  // session time (since the header's clock_base_ns)
  // Device allocations (kExtDevice, kExtStream before the event); kUnknown/0 otherwise.
  wire::DeviceKind device_kind = wire::DeviceKind::kUnknown;
  wire::DeviceApi device_api = wire::DeviceApi::kUnknown;
  std::uint64_t stream = 0;
};

class EventDecoder {
 public:
  // Returns true when the record completes an event (written to *out).
  bool feed(const wire::Record& r, Event* out);

  std::uint64_t time_ns() const { return time_ns_; }
  bool ended() const { return ended_; }
  std::uint64_t malformed() const { return malformed_; }
  std::int64_t tid_of(std::uint32_t slot) const { return slot <= wire::kMaxThreadSlot ? tids_[slot] : 0; }

 private:
  std::array<std::int64_t, wire::kMaxThreadSlot + 1> tids_{};
  std::uint64_t time_ns_ = 0;
  bool ended_ = false;
  std::uint64_t malformed_ = 0;
  // The Ext records waiting for their event, by ExtKind.
  std::uint8_t have_ext_ = 0;  // bit per ExtKind
  std::uint64_t ext_[4] = {};
};

}  // namespace heaplens::reader
