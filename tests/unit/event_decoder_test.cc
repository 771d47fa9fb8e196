// The reader's event decoder (shared/event_decoder.h): Ext, Time and Thread records, and
// what it does with sequences a producer never writes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "event_decoder.h"
#include "format.h"

namespace wire = heaplens::wire;
namespace reader = heaplens::reader;

namespace {

wire::Record event(wire::Op op, std::uint64_t address, std::uint64_t size, std::uint32_t thread = 1,
                   std::uint32_t stack = 0, std::uint8_t flags = 0, std::uint32_t device = 0) {
  wire::Fields f;
  f.op = op;
  f.address = address;
  f.size = size;
  f.thread = thread;
  f.stack = stack;
  f.flags = flags;
  f.device = device;
  return wire::encode(f, 0);
}
wire::Record ext(std::uint8_t kind, std::uint64_t value) { return wire::encode_payload(wire::Op::kExt, kind, 0, value, 0); }
wire::Record time_rec(std::uint64_t ns) { return wire::encode_payload(wire::Op::kTime, 0, 0, ns, 1); }
wire::Record thread_rec(std::uint32_t slot, std::uint64_t tid) {
  return wire::encode_payload(wire::Op::kThread, 0, slot, tid, 0);
}

struct Fed {
  std::vector<reader::Event> events;
};

Fed feed(reader::EventDecoder& d, const std::vector<wire::Record>& records) {
  Fed out;
  for (const wire::Record& r : records) {
    reader::Event e;
    if (d.feed(r, &e)) out.events.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("decoder: plain events carry every field") {
  reader::EventDecoder d;
  auto f = feed(d, {event(wire::Op::kAlloc, 0x1000, 48, 7, 99, wire::kFlagSampled, 3),
                    event(wire::Op::kFree, 0x1000, 0, 7, 0, wire::kFlagRealloc),
                    event(wire::Op::kRealloc, 0x2000, 96, 8, 100)});
  REQUIRE(f.events.size() == 3);
  const reader::Event& a = f.events[0];
  CHECK(a.op == wire::Op::kAlloc);
  CHECK(a.address == 0x1000);
  CHECK(a.size == 48);
  CHECK(a.thread_slot == 7);
  CHECK(a.stack == 99);
  CHECK(unsigned{a.flags} == wire::kFlagSampled);
  CHECK(a.device == 3);
  CHECK(a.tid == 0);  // no Thread record yet
  CHECK(a.time_ns == 0);
  CHECK(f.events[1].op == wire::Op::kFree);
  CHECK(unsigned{f.events[1].flags} == wire::kFlagRealloc);
  CHECK(f.events[2].op == wire::Op::kRealloc);
  CHECK(f.events[2].size == 96);
  CHECK(d.malformed() == 0);
  CHECK_FALSE(d.ended());
}

TEST_CASE("decoder: Ext records complete the next event only") {
  reader::EventDecoder d;
  const std::uint64_t big_size = std::uint64_t{1} << 40;
  const std::uint64_t big_address = 0xFFFF800000001000ull;
  auto f = feed(d, {
                       ext(wire::kExtSize, big_size),
                       event(wire::Op::kAlloc, 0x5000, wire::kSizeEscape),
                       ext(wire::kExtAddress, big_address),
                       event(wire::Op::kAlloc, wire::kAddressEscape, 64),
                       ext(wire::kExtAddress, big_address + 16),
                       ext(wire::kExtSize, big_size + 1),
                       event(wire::Op::kRealloc, wire::kAddressEscape, wire::kSizeEscape),
                       ext(wire::kExtSize, wire::kSizeEscape),  // exactly the escape value itself
                       event(wire::Op::kAlloc, 0x6000, wire::kSizeEscape),
                       // The escape values without an Ext are taken literally.
                       event(wire::Op::kAlloc, wire::kAddressEscape, wire::kSizeEscape),
                   });
  REQUIRE(f.events.size() == 5);
  CHECK(f.events[0].size == big_size);
  CHECK(f.events[0].address == 0x5000);
  CHECK(f.events[1].address == big_address);
  CHECK(f.events[1].size == 64);
  CHECK(f.events[2].address == big_address + 16);
  CHECK(f.events[2].size == big_size + 1);
  CHECK(f.events[3].size == wire::kSizeEscape);
  CHECK(f.events[4].address == wire::kAddressEscape);
  CHECK(f.events[4].size == wire::kSizeEscape);
  CHECK(d.malformed() == 0);
}

TEST_CASE("decoder: Time records set the time of the events after them") {
  reader::EventDecoder d;
  auto f = feed(d, {event(wire::Op::kAlloc, 0x10, 1), time_rec(1000), event(wire::Op::kAlloc, 0x20, 1),
                    event(wire::Op::kFree, 0x10, 0), time_rec(5000), event(wire::Op::kFree, 0x20, 0),
                    time_rec(4000),  // late write from a slower thread: time does not go back
                    event(wire::Op::kAlloc, 0x30, 1), time_rec(~0ull), event(wire::Op::kAlloc, 0x40, 1)});
  REQUIRE(f.events.size() == 6);
  CHECK(f.events[0].time_ns == 0);
  CHECK(f.events[1].time_ns == 1000);
  CHECK(f.events[2].time_ns == 1000);
  CHECK(f.events[3].time_ns == 5000);
  CHECK(f.events[4].time_ns == 5000);
  CHECK(f.events[5].time_ns == ~0ull);
  CHECK(d.time_ns() == ~0ull);
  CHECK(d.malformed() == 0);
}

TEST_CASE("decoder: Thread records map slots to OS thread ids; the latest wins") {
  reader::EventDecoder d;
  auto f = feed(d, {thread_rec(1, 4242), thread_rec(4095, 77), event(wire::Op::kAlloc, 0x10, 8, 1),
                    event(wire::Op::kAlloc, 0x20, 8, 4095), event(wire::Op::kAlloc, 0x30, 8, 2),
                    thread_rec(1, 0xABCDEF0012345678ull),  // only bits 0..31 are the tid
                    event(wire::Op::kAlloc, 0x40, 8, 1)});
  REQUIRE(f.events.size() == 4);
  CHECK(f.events[0].tid == 4242);
  CHECK(f.events[1].tid == 77);
  CHECK(f.events[2].tid == 0);
  CHECK(f.events[3].tid == 0x12345678);
  CHECK(d.tid_of(1) == 0x12345678);
  CHECK(d.tid_of(4095) == 77);
  CHECK(d.tid_of(2) == 0);
  CHECK(d.tid_of(4096) == 0);
  CHECK(d.tid_of(0xFFFFFFFFu) == 0);
  CHECK(d.malformed() == 0);
}

TEST_CASE("decoder: End records end the stream and carry the exit time") {
  reader::EventDecoder d;
  auto f = feed(d, {time_rec(100), wire::encode_payload(wire::Op::kEnd, 0, 0, 900, 0)});
  CHECK(f.events.empty());
  CHECK(d.ended());
  CHECK(d.time_ns() == 900);
}

TEST_CASE("decoder: device operations are passed through") {
  reader::EventDecoder d;
  auto f = feed(d, {event(static_cast<wire::Op>(8), 0x1000, 64, 1, 0, 0, 1),
                    event(static_cast<wire::Op>(15), 0x2000, 0, 1, 0, 0, 32)});
  REQUIRE(f.events.size() == 2);
  CHECK(static_cast<unsigned>(f.events[0].op) == 8);
  CHECK(f.events[0].device == 1);
  CHECK(static_cast<unsigned>(f.events[1].op) == 15);
  CHECK(d.malformed() == 0);
}

TEST_CASE("decoder: malformed sequences are counted, never fatal, and do not leak into later events") {
  SECTION("Ext followed by Time") {
    reader::EventDecoder d;
    auto f = feed(d, {ext(wire::kExtAddress, 0xdead0000), time_rec(10),
                      event(wire::Op::kAlloc, wire::kAddressEscape, 8)});
    CHECK(d.malformed() >= 1);
    REQUIRE(f.events.size() == 1);
    CHECK(f.events[0].address == wire::kAddressEscape);  // the stale Ext was dropped
    CHECK(f.events[0].time_ns == 10);
  }
  SECTION("Ext followed by Thread or End") {
    reader::EventDecoder d;
    auto f = feed(d, {ext(wire::kExtSize, 1ull << 40), thread_rec(3, 5), event(wire::Op::kAlloc, 0x10, wire::kSizeEscape, 3)});
    CHECK(d.malformed() >= 1);
    REQUIRE(f.events.size() == 1);
    CHECK(f.events[0].size == wire::kSizeEscape);
    CHECK(f.events[0].tid == 5);
    std::uint64_t before = d.malformed();
    feed(d, {ext(wire::kExtSize, 1), wire::encode_payload(wire::Op::kEnd, 0, 0, 1, 0)});
    CHECK(d.malformed() > before);
  }
  SECTION("op 0 (a slot never written)") {
    reader::EventDecoder d;
    auto f = feed(d, {wire::Record{0, 0}, event(wire::Op::kAlloc, 0x10, 8)});
    CHECK(d.malformed() == 1);
    CHECK(f.events.size() == 1);
    std::uint64_t before = d.malformed();
    f = feed(d, {ext(wire::kExtAddress, 0xbeef0000), wire::Record{0, 0},
                 event(wire::Op::kAlloc, wire::kAddressEscape, 8)});
    CHECK(d.malformed() > before);
    REQUIRE(f.events.size() == 1);
    CHECK(f.events[0].address == wire::kAddressEscape);
  }
  SECTION("two Exts of the same kind") {
    reader::EventDecoder d;
    auto f = feed(d, {ext(wire::kExtSize, 111), ext(wire::kExtSize, 222), event(wire::Op::kAlloc, 0x10, wire::kSizeEscape)});
    CHECK(d.malformed() == 1);
    REQUIRE(f.events.size() == 1);
    CHECK(f.events[0].size == 111);
  }
  SECTION("device Exts before a host event") {
    reader::EventDecoder d;
    auto f = feed(d, {ext(wire::kExtDevice, 111), ext(wire::kExtStream, 222), event(wire::Op::kAlloc, 0x10, 5)});
    CHECK(d.malformed() == 2);
    REQUIRE(f.events.size() == 1);
    CHECK(f.events[0].size == 5);
    CHECK(f.events[0].device_kind == wire::DeviceKind::kUnknown);
    CHECK(f.events[0].stream == 0);
  }
  SECTION("an Ext before an event without the escape value") {
    reader::EventDecoder d;
    auto f = feed(d, {ext(wire::kExtAddress, 0x1234), event(wire::Op::kAlloc, 0x10, 5),
                      event(wire::Op::kAlloc, wire::kAddressEscape, 5)});
    CHECK(d.malformed() == 1);
    REQUIRE(f.events.size() == 2);
    CHECK(f.events[0].address == 0x10);
    CHECK(f.events[1].address == wire::kAddressEscape);  // the Ext was used up
  }
  SECTION("a Thread record for slot 0") {
    reader::EventDecoder d;
    feed(d, {thread_rec(0, 99)});
    CHECK(d.malformed() == 1);
    CHECK(d.tid_of(0) == 0);
  }
}

TEST_CASE("decoder: random records never crash it") {
  std::mt19937_64 rng(2024);
  reader::EventDecoder d;
  std::uint64_t events = 0, last_time = 0;
  for (int i = 0; i < 1000000; ++i) {
    wire::Record r{rng(), rng()};
    if (i % 3 == 0) r.w0 = (r.w0 & ~std::uint64_t{0xF}) | (rng() % 8);  // more of the known ops
    reader::Event e;
    if (d.feed(r, &e)) {
      ++events;
      REQUIRE(e.thread_slot <= wire::kMaxThreadSlot);
      REQUIRE(e.device < 64);
      REQUIRE(e.stack <= wire::kMaxStackId);
      REQUIRE(static_cast<unsigned>(e.op) != 0);
      REQUIRE(e.time_ns == d.time_ns());
    }
    REQUIRE(d.time_ns() >= last_time);
    last_time = d.time_ns();
  }
  CHECK(events > 0);
  CHECK(d.malformed() > 0);
}

TEST_CASE("device allocations carry their kind, API and stream") {
  reader::EventDecoder d;
  wire::Fields dev{wire::Op::kAlloc, 0, wire::kDeviceCudaFirst + 1, 3, 7, 0x7f0000200000ULL, 4096};
  wire::Record alloc = wire::encode(dev, 0);
  auto f = feed(d, {ext(wire::kExtStream, 0xabcdef),
                    ext(wire::kExtDevice, wire::device_ext(wire::DeviceKind::kAsync, wire::DeviceApi::kDriver)),
                    alloc,
                    ext(wire::kExtDevice, wire::device_ext(wire::DeviceKind::kVmm, wire::DeviceApi::kRuntime)),
                    alloc,
                    // Values beyond the enums decode as unknown, never as something else.
                    ext(wire::kExtDevice, 0xFFFF), alloc, alloc});
  CHECK(d.malformed() == 0);
  REQUIRE(f.events.size() == 4);
  CHECK(f.events[0].device == 2);
  CHECK(f.events[0].device_kind == wire::DeviceKind::kAsync);
  CHECK(f.events[0].device_api == wire::DeviceApi::kDriver);
  CHECK(f.events[0].stream == 0xabcdef);
  CHECK(f.events[1].device_kind == wire::DeviceKind::kVmm);
  CHECK(f.events[1].device_api == wire::DeviceApi::kRuntime);
  CHECK(f.events[1].stream == 0);  // Exts belong to one event only
  CHECK(f.events[2].device_kind == wire::DeviceKind::kUnknown);
  CHECK(f.events[2].device_api == wire::DeviceApi::kUnknown);
  CHECK(f.events[3].device_kind == wire::DeviceKind::kUnknown);
}
