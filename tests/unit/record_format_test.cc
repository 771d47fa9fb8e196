// The 16-byte record and the session layout of shared/format.h: every field survives an
// encode/decode round trip at its extremes, fields never bleed into each other, the bits sit
// where the format comment says, and the static layout facts hold.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "format.h"

namespace wire = heaplens::wire;

namespace {

constexpr std::uint64_t kMaxAddress = (std::uint64_t{1} << 48) - 1;
constexpr std::uint64_t kMaxSize = (std::uint64_t{1} << 34) - 1;

wire::Fields fields(wire::Op op, std::uint8_t flags, std::uint32_t device, std::uint32_t thread,
                    std::uint32_t stack, std::uint64_t address, std::uint64_t size) {
  wire::Fields f;
  f.op = op;
  f.flags = flags;
  f.device = device;
  f.thread = thread;
  f.stack = stack;
  f.address = address;
  f.size = size;
  return f;
}

void check_same(const wire::Fields& a, const wire::Fields& b) {
  CHECK(static_cast<unsigned>(a.op) == static_cast<unsigned>(b.op));
  CHECK(unsigned{a.flags} == unsigned{b.flags});
  CHECK(a.device == b.device);
  CHECK(a.thread == b.thread);
  CHECK(a.stack == b.stack);
  CHECK(a.address == b.address);
  CHECK(a.size == b.size);
}

}  // namespace

TEST_CASE("format: static layout facts") {
  STATIC_REQUIRE(sizeof(wire::Record) == 16);
  STATIC_REQUIRE(alignof(wire::Record) == 8);
  STATIC_REQUIRE(std::is_trivially_copyable_v<wire::Record>);
  STATIC_REQUIRE(sizeof(wire::StackSlot) == 16);
  STATIC_REQUIRE(sizeof(wire::ModuleEntry) == 512);
  STATIC_REQUIRE(sizeof(wire::SessionHeader) <= wire::kHeaderSize);
  STATIC_REQUIRE(alignof(wire::SessionHeader) == 64);
  STATIC_REQUIRE(offsetof(wire::SessionHeader, executable) == 168);
  STATIC_REQUIRE(offsetof(wire::SessionHeader, state) == 1216);
  // Live fields the producer and the consumer hammer sit on cache lines of their own.
  STATIC_REQUIRE(offsetof(wire::SessionHeader, ring_head) % 64 == 0);
  STATIC_REQUIRE(offsetof(wire::SessionHeader, ring_tail) % 64 == 0);
  STATIC_REQUIRE(offsetof(wire::SessionHeader, ring_tail) - offsetof(wire::SessionHeader, ring_head) >= 64);
  STATIC_REQUIRE(wire::kMaxStackId == (1u << 20) - 1);
  STATIC_REQUIRE(wire::kSizeEscape == kMaxSize);
  STATIC_REQUIRE(wire::kAddressEscape == kMaxAddress);
  STATIC_REQUIRE(wire::kMagic == 0x31534e4c50414548ULL);
}

TEST_CASE("format: the magic's bytes are the ones format.h documents") {
  std::uint64_t m = wire::kMagic;
  const char* bytes = reinterpret_cast<const char*>(&m);
  CHECK(std::string(bytes, 8) == "HEAPLNS1");
}

TEST_CASE("format: lap tags alternate 1, 2 and are never 0") {
  for (std::uint64_t lap : {0ull, 1ull, 2ull, 3ull, 1000ull, 1001ull, (1ull << 63) - 1, 1ull << 63, ~0ull}) {
    std::uint64_t t = wire::lap_tag(lap);
    CHECK(t == 1 + (lap & 1));
    CHECK(t != 0);
    CHECK(wire::tag_of(wire::encode(wire::Fields{}, lap)) == t);
    CHECK(wire::tag_of(wire::encode_payload(wire::Op::kTime, 0, 0, ~0ull, lap)) == t);
  }
  // Consecutive laps always differ, so a slot left from the previous lap never passes.
  for (std::uint64_t lap = 0; lap < 64; ++lap) CHECK(wire::lap_tag(lap) != wire::lap_tag(lap + 1));
  // The tag never changes the decoded fields.
  auto f = fields(wire::Op::kAlloc, 1, 2, 3, 4, 5, 6);
  check_same(wire::decode(wire::encode(f, 0)), wire::decode(wire::encode(f, 1)));
}

TEST_CASE("format: every field round-trips at 0 and at its maximum") {
  std::initializer_list<std::uint64_t> addresses = {0, 1, 0x7fffdeadbeefull, kMaxAddress};
  std::initializer_list<std::uint64_t> sizes = {0, 1, (1ull << 18) - 1, 1ull << 18, (1ull << 18) + 1,
                                                0x123456789ull, kMaxSize};
  int checked = 0;
  for (unsigned op = 0; op < 16; ++op) {
    for (unsigned flags = 0; flags < 4; ++flags) {
      for (std::uint32_t device : {0u, 1u, 33u, 63u}) {
        for (std::uint32_t thread : {0u, 1u, 4095u}) {
          for (std::uint32_t stack : {0u, 1u, wire::kMaxStackId}) {
            for (std::uint64_t address : addresses) {
              for (std::uint64_t size : sizes) {
                auto f = fields(static_cast<wire::Op>(op), static_cast<std::uint8_t>(flags), device, thread,
                                stack, address, size);
                for (std::uint64_t lap : {0ull, 1ull}) {
                  wire::Record r = wire::encode(f, lap);
                  wire::Fields d = wire::decode(r);
                  bool same = d.op == f.op && d.flags == f.flags && d.device == f.device &&
                              d.thread == f.thread && d.stack == f.stack && d.address == f.address &&
                              d.size == f.size && wire::tag_of(r) == wire::lap_tag(lap);
                  if (!same) {
                    INFO("op " << op << " flags " << flags << " device " << device << " thread " << thread
                               << " stack " << stack << " address " << address << " size " << size);
                    check_same(d, f);
                    REQUIRE(same);
                  }
                  ++checked;
                }
              }
            }
          }
        }
      }
    }
  }
  CHECK(checked == 16 * 4 * 4 * 3 * 3 * 4 * 7 * 2);
}

TEST_CASE("format: a field at its maximum does not bleed into the others") {
  struct Case {
    const char* name;
    wire::Fields f;
  };
  Case cases[] = {
      {"op", fields(static_cast<wire::Op>(15), 0, 0, 0, 0, 0, 0)},
      {"flags", fields(wire::Op::kEmpty, 3, 0, 0, 0, 0, 0)},
      {"device", fields(wire::Op::kEmpty, 0, 63, 0, 0, 0, 0)},
      {"thread", fields(wire::Op::kEmpty, 0, 0, 4095, 0, 0, 0)},
      {"stack", fields(wire::Op::kEmpty, 0, 0, 0, wire::kMaxStackId, 0, 0)},
      {"address", fields(wire::Op::kEmpty, 0, 0, 0, 0, kMaxAddress, 0)},
      {"size", fields(wire::Op::kEmpty, 0, 0, 0, 0, 0, kMaxSize)},
      {"size low bits", fields(wire::Op::kEmpty, 0, 0, 0, 0, 0, (1ull << 18) - 1)},
      {"size high bits", fields(wire::Op::kEmpty, 0, 0, 0, 0, 0, kMaxSize & ~((1ull << 18) - 1))},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    wire::Fields d = wire::decode(wire::encode(c.f, 0));
    check_same(d, c.f);  // c.f has every other field at 0
  }
}

TEST_CASE("format: bits sit where the format comment says") {
  // w0: op 0..3, lap 4..5, flags 6..7, device 8..13, thread 14..25, stack 26..45, size 46..63.
  // w1: address 0..47, size (bits 18..33) 48..63.
  wire::Record r = wire::encode(fields(wire::Op::kRealloc, 0, 0, 0, 0, 0, 0), 0);
  CHECK(r.w0 == (3u | (1u << 4)));
  CHECK(r.w1 == 0);
  r = wire::encode(fields(wire::Op::kEmpty, 2, 0, 0, 0, 0, 0), 1);
  CHECK(r.w0 == ((2u << 4) | (2u << 6)));
  r = wire::encode(fields(wire::Op::kEmpty, 0, 5, 0, 0, 0, 0), 0);
  CHECK(r.w0 == ((1u << 4) | (5u << 8)));
  r = wire::encode(fields(wire::Op::kEmpty, 0, 0, 0xABC, 0, 0, 0), 0);
  CHECK(r.w0 == ((1u << 4) | (std::uint64_t{0xABC} << 14)));
  r = wire::encode(fields(wire::Op::kEmpty, 0, 0, 0, 0xFEDCB, 0, 0), 0);
  CHECK(r.w0 == ((1u << 4) | (std::uint64_t{0xFEDCB} << 26)));
  r = wire::encode(fields(wire::Op::kEmpty, 0, 0, 0, 0, 0x123456789ABCull, 0), 0);
  CHECK(r.w0 == (1u << 4));
  CHECK(r.w1 == 0x123456789ABCull);
  r = wire::encode(fields(wire::Op::kEmpty, 0, 0, 0, 0, 0, (std::uint64_t{0xBEEF} << 18) | 0x2A5A5), 0);
  CHECK(r.w0 == ((1u << 4) | (std::uint64_t{0x2A5A5} << 46)));
  CHECK(r.w1 == (std::uint64_t{0xBEEF} << 48));
}

TEST_CASE("format: out-of-range inputs are masked, never spill into neighbours") {
  wire::Fields f = fields(wire::Op::kAlloc, 0xFF, 64 + 5, 4096 + 7, (1u << 20) + 9, (1ull << 48) + 11, 0);
  wire::Fields d = wire::decode(wire::encode(f, 0));
  CHECK(d.op == wire::Op::kAlloc);
  CHECK(unsigned{d.flags} == 3);
  CHECK(d.device == 5);
  CHECK(d.thread == 7);
  CHECK(d.stack == 9);
  CHECK(d.address == 11);
  CHECK(d.size == 0);
}

TEST_CASE("format: encode_payload keeps the full 64-bit payload") {
  for (std::uint64_t payload : std::initializer_list<std::uint64_t>{0ull, 1ull, kMaxAddress + 1, 0x8000000000000000ull, 0xFFFFFFFFFFFFFFFFull,
                                0x0123456789ABCDEFull}) {
    for (wire::Op op : {wire::Op::kExt, wire::Op::kTime, wire::Op::kThread, wire::Op::kEnd}) {
      for (std::uint8_t kind : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{3}}) {
        for (std::uint32_t thread : {0u, 1u, 4095u}) {
          for (std::uint64_t lap : {0ull, 1ull}) {
            wire::Record r = wire::encode_payload(op, kind, thread, payload, lap);
            CHECK(r.w1 == payload);
            wire::Fields d = wire::decode(r);
            CHECK(d.op == op);
            CHECK(unsigned{d.flags} == kind);
            CHECK(d.thread == thread);
            CHECK(d.device == 0);
            CHECK(d.stack == 0);
            CHECK(wire::tag_of(r) == wire::lap_tag(lap));
          }
        }
      }
    }
  }
}

TEST_CASE("format: stack info packs first, depth and the ready bit") {
  for (std::uint32_t first : {0u, 1u, 123456u, 0xFFFFFFFFu}) {
    for (std::uint32_t depth : {1u, 2u, 63u, wire::kMaxFrames}) {
      std::uint64_t info = wire::stack_info(first, depth);
      CHECK((info >> 63) == 1);
      CHECK(info != 0);
      CHECK(wire::stack_info_first(info) == first);
      CHECK(wire::stack_info_depth(info) == depth);
    }
  }
}

TEST_CASE("format: compute_offsets lays regions out in order, page-aligned, without overlap") {
  wire::Layout l{1u << 10, 1u << 8, 1000, 3};
  wire::Offsets o{};
  REQUIRE(wire::compute_offsets(l, &o));
  CHECK(o.ring == wire::kHeaderSize);
  CHECK(o.stacks >= o.ring + l.ring_capacity * sizeof(wire::Record));
  CHECK(o.frames >= o.stacks + l.stack_slots * sizeof(wire::StackSlot));
  CHECK(o.modules >= o.frames + l.frames_capacity * 8);
  CHECK(o.total >= o.modules + l.module_capacity * sizeof(wire::ModuleEntry));
  for (std::uint64_t off : {o.ring, o.stacks, o.frames, o.modules, o.total}) CHECK(off % 4096 == 0);

  // The largest legal layout does not overflow.
  wire::Layout big{1ull << 32, 1ull << 20, (1ull << 32) - 1, 1u << 20};
  REQUIRE(wire::compute_offsets(big, &o));
  CHECK(o.total > (1ull << 36));

  // Rule breakers are refused.
  auto bad = [](wire::Layout x) {
    wire::Offsets ignored{};
    return !wire::compute_offsets(x, &ignored);
  };
  CHECK(bad({0, 256, 1000, 3}));
  CHECK(bad({1000, 256, 1000, 3}));                // not a power of two
  CHECK(bad({1ull << 33, 256, 1000, 3}));          // too big
  CHECK(bad({1024, 1, 1000, 3}));                  // fewer than 2 stack slots
  CHECK(bad({1024, 255, 1000, 3}));
  CHECK(bad({1024, 1ull << 21, 1000, 3}));         // more ids than 20 bits
  CHECK(bad({1024, 256, 0, 3}));
  CHECK(bad({1024, 256, 1ull << 32, 3}));
  CHECK(bad({1024, 256, 1000, 0}));
  CHECK(bad({1024, 256, 1000, (1u << 20) + 1}));
}
