// Builds synthetic record streams the way a producer writes them (shared/format.h), for
// model tests with known answers.
#pragma once

#include <array>
#include <vector>

#include "format.h"
#include "trace_types.h"

namespace heaplens::test {

// An image recorded in full mode (every allocation a record, none sampled).
inline trace::ImageInfo full_mode_image(std::int64_t pid) {
  trace::ImageInfo i;
  i.pid = pid;
  i.mode = static_cast<std::uint32_t>(wire::Mode::kFull);
  return i;
}

// A counter snapshot taken with the CUDA caching pool on: the counters of device `ordinal` in
// trace::PoolCounter order (reserved, in use, requested, largest cached, hits, misses, driver
// frees, trims); the other devices' are 0.
inline trace::StatsSnapshot pool_snapshot(std::uint32_t ordinal, const std::array<std::uint64_t, trace::kPoolCounters>& c,
                                          std::uint64_t time_ns = 0) {
  trace::StatsSnapshot s;
  s.set(trace::StatsField::kTimeNs, time_ns);
  s.set(trace::StatsField::kCudaPool, 1);
  for (std::uint32_t k = 0; k < trace::kPoolCounters; ++k) s.set(trace::pool_field(ordinal, static_cast<trace::PoolCounter>(k)), c[k]);
  return s;
}

class Stream {
 public:
  Stream& time(std::uint64_t ns) { return payload(wire::Op::kTime, 0, 0, ns); }
  Stream& thread(std::uint32_t slot, std::uint64_t tid) { return payload(wire::Op::kThread, 0, slot, tid); }
  Stream& alloc(std::uint64_t addr, std::uint64_t size, std::uint32_t stack, std::uint8_t flags = 0,
                std::uint32_t slot = 1, std::uint32_t device = 0) {
    return event(wire::Op::kAlloc, addr, size, stack, flags, slot, device);
  }
  Stream& realloc_(std::uint64_t old_addr, std::uint64_t addr, std::uint64_t size, std::uint32_t stack,
                   std::uint32_t slot = 1) {
    event(wire::Op::kFree, old_addr, 0, 0, wire::kFlagRealloc, slot, 0);
    return event(wire::Op::kRealloc, addr, size, stack, 0, slot, 0);
  }
  Stream& free_(std::uint64_t addr, std::uint32_t slot = 1) { return event(wire::Op::kFree, addr, 0, 0, 0, slot, 0); }
  // A device allocation as the CUDA hooks write it: kExtDevice (and kExtStream for
  // stream-ordered ones) directly before an Alloc on `device` (1 + CUDA ordinal).
  Stream& device_alloc(std::uint32_t device, std::uint64_t addr, std::uint64_t size, std::uint32_t stack,
                       wire::DeviceKind kind, std::uint64_t stream = 0, std::uint32_t slot = 1) {
    payload(wire::Op::kExt, wire::kExtDevice, slot, wire::device_ext(kind, wire::DeviceApi::kRuntime));
    if (kind == wire::DeviceKind::kAsync) payload(wire::Op::kExt, wire::kExtStream, slot, stream);
    return event(wire::Op::kAlloc, addr, size, stack, 0, slot, device);
  }
  Stream& device_free(std::uint32_t device, std::uint64_t addr, std::uint32_t slot = 1) {
    return event(wire::Op::kFree, addr, 0, 0, 0, slot, device);
  }
  Stream& end(std::uint64_t ns) { return payload(wire::Op::kEnd, 0, 0, ns); }
  const std::vector<wire::Record>& records() const { return r_; }

 private:
  Stream& payload(wire::Op op, std::uint8_t kind, std::uint32_t slot, std::uint64_t v) {
    r_.push_back(wire::encode_payload(op, kind, slot, v, 0));
    return *this;
  }
  Stream& event(wire::Op op, std::uint64_t addr, std::uint64_t size, std::uint32_t stack, std::uint8_t flags,
                std::uint32_t slot, std::uint32_t device) {
    wire::Fields f{op, flags, device, slot, stack, addr, size};
    if (size >= wire::kSizeEscape) {
      r_.push_back(wire::encode_payload(wire::Op::kExt, wire::kExtSize, slot, size, 0));
      f.size = wire::kSizeEscape;
    }
    r_.push_back(wire::encode(f, 0));
    return *this;
  }
  std::vector<wire::Record> r_;
};

}  // namespace heaplens::test
