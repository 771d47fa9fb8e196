// The session ring (shared/ring.h) on a private, zeroed buffer laid out like a segment:
// a SessionHeader followed by the records.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "format.h"
#include "ring.h"

namespace wire = heaplens::wire;
namespace ring = heaplens::ring;

namespace {

class TestRing {
 public:
  explicit TestRing(std::uint64_t capacity, std::uint64_t start = 0) : capacity_(capacity) {
    bytes_ = wire::align_up(wire::kHeaderSize + capacity * sizeof(wire::Record), 4096);
    mem_ = std::aligned_alloc(4096, bytes_);
    REQUIRE(mem_ != nullptr);
    std::memset(mem_, 0, bytes_);
    header_ = new (mem_) wire::SessionHeader{};
    header_->ring_capacity = capacity;
    header_->ring_head.store(start);
    header_->ring_tail.store(start);
    slots_ = reinterpret_cast<wire::Record*>(static_cast<char*>(mem_) + wire::kHeaderSize);
  }
  ~TestRing() { std::free(mem_); }
  TestRing(const TestRing&) = delete;
  TestRing& operator=(const TestRing&) = delete;

  wire::SessionHeader* header() { return header_; }
  wire::Record* slots() { return slots_; }
  ring::Producer producer() { return ring::Producer(header_, slots_, capacity_); }
  ring::Consumer consumer() { return ring::Consumer(header_, slots_, capacity_); }

 private:
  std::uint64_t capacity_;
  std::size_t bytes_ = 0;
  void* mem_ = nullptr;
  wire::SessionHeader* header_ = nullptr;
  wire::Record* slots_ = nullptr;
};

wire::Record alloc_record(std::uint64_t address, std::uint64_t size = 16) {
  wire::Fields f;
  f.op = wire::Op::kAlloc;
  f.address = address;
  f.size = size;
  f.thread = 1;
  return wire::encode(f, 0);  // the producer retags it for its position
}

std::uint64_t address_of(const wire::Record& r) { return wire::decode(r).address; }

// Reads everything committed now (one call may stop at the end of its buffer).
std::vector<wire::Record> read_all(ring::Consumer& c, ring::ReadStatus* last = nullptr, std::size_t chunk = 7) {
  std::vector<wire::Record> out;
  std::vector<wire::Record> buf(chunk);
  for (int guard = 0; guard < 1000000; ++guard) {
    std::size_t n = 12345;
    ring::ReadStatus st = c.read(buf.data(), buf.size(), &n);
    REQUIRE(n <= buf.size());
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (st != ring::ReadStatus::kOk || n < buf.size()) {
      if (last != nullptr) *last = st;
      return out;
    }
  }
  FAIL("read never ran dry");
  return out;
}

}  // namespace

TEST_CASE("ring: records arrive in order across many wraps") {
  for (std::uint64_t start : {0ull, 3ull, 5 * 16 + 9ull, (1ull << 40) + 1}) {
    INFO("start position " << start);
    TestRing r(16, start);
    auto p = r.producer();
    auto c = r.consumer();
    std::mt19937_64 rng(42);
    std::uint64_t next_write = 0, next_read = 0;
    while (next_write < 16 * 25) {  // 25 laps
      // Write a batch that fits, sometimes as one multi-slot reservation.
      std::uint64_t room = 16 - (next_write - next_read);
      std::uint64_t batch = room == 0 ? 0 : 1 + rng() % room;
      std::uint64_t written = 0;
      while (written < batch) {
        std::uint32_t n = static_cast<std::uint32_t>(1 + rng() % (batch - written));
        std::uint64_t pos = 0;
        REQUIRE(p.try_reserve(n, &pos));
        CHECK(pos == start + next_write + written);
        for (std::uint32_t i = 0; i < n; ++i) p.put(pos + i, alloc_record(1000 + next_write + written + i));
        written += n;
      }
      next_write += written;
      std::vector<wire::Record> got = read_all(c, nullptr, 1 + rng() % 20);
      for (const wire::Record& rec : got) {
        REQUIRE(address_of(rec) == 1000 + next_read);
        CHECK(wire::decode(rec).op == wire::Op::kAlloc);
        CHECK(wire::tag_of(rec) == wire::lap_tag((start + next_read) / 16));
        ++next_read;
      }
      REQUIRE(next_read == next_write);
      CHECK(c.position() == start + next_read);
      CHECK(r.header()->ring_tail.load() == start + next_read);
      CHECK(c.backlog() == 0);
    }
  }
}

TEST_CASE("ring: a full ring refuses reservations until the consumer reads") {
  TestRing r(16);
  auto p = r.producer();
  auto c = r.consumer();
  std::uint64_t pos = 0;
  CHECK_FALSE(p.try_reserve(17, &pos));  // never fits
  REQUIRE(p.try_reserve(16, &pos));      // a whole empty ring fits in one
  CHECK(pos == 0);
  for (std::uint32_t i = 0; i < 16; ++i) p.put(i, alloc_record(i));
  CHECK(c.backlog() == 16);
  std::uint64_t untouched = 777;
  CHECK_FALSE(p.try_reserve(1, &untouched));
  CHECK(untouched == 777);
  CHECK(r.header()->ring_head.load() == 16);  // a refusal reserves nothing

  wire::Record buf[5];
  std::size_t n = 0;
  REQUIRE(c.read(buf, 5, &n) == ring::ReadStatus::kOk);
  REQUIRE(n == 5);
  for (std::size_t i = 0; i < n; ++i) CHECK(address_of(buf[i]) == i);
  CHECK(r.header()->ring_tail.load() == 5);

  CHECK_FALSE(p.try_reserve(6, &pos));  // only 5 free
  REQUIRE(p.try_reserve(2, &pos));
  CHECK(pos == 16);
  REQUIRE(p.try_reserve(3, &pos));
  CHECK(pos == 18);
  CHECK_FALSE(p.try_reserve(1, &pos));
  for (std::uint32_t i = 16; i < 21; ++i) p.put(i, alloc_record(i));

  std::vector<wire::Record> rest = read_all(c);
  REQUIRE(rest.size() == 16);
  for (std::size_t i = 0; i < rest.size(); ++i) CHECK(address_of(rest[i]) == 5 + i);
  REQUIRE(p.try_reserve(16, &pos));
  CHECK(pos == 21);
}

TEST_CASE("ring: a producer made before the consumer moved still sees the room it freed") {
  TestRing r(8);
  auto p = r.producer();  // caches tail 0
  auto c = r.consumer();
  std::uint64_t pos = 0;
  for (int lap = 0; lap < 10; ++lap) {
    for (int i = 0; i < 8; ++i) {
      REQUIRE(p.try_reserve(1, &pos));
      p.put(pos, alloc_record(pos));
    }
    CHECK_FALSE(p.try_reserve(1, &pos));
    CHECK(read_all(c).size() == 8);
  }
  // A second producer created late (the interposer builds one per session) agrees.
  auto late = r.producer();
  REQUIRE(late.try_reserve(8, &pos));
  CHECK(pos == 80);
  CHECK_FALSE(p.try_reserve(1, &pos));
}

TEST_CASE("ring: multi-slot reservations are consecutive and commit independently") {
  TestRing r(8);
  auto p = r.producer();
  auto c = r.consumer();
  std::uint64_t a = 0, b = 0;
  REQUIRE(p.try_reserve(3, &a));
  REQUIRE(p.try_reserve(4, &b));
  CHECK(a == 0);
  CHECK(b == 3);
  // Commit out of order: nothing is readable until the first slot is.
  p.put(a + 2, alloc_record(2));
  p.put(b + 0, alloc_record(3));
  wire::Record buf[8];
  std::size_t n = 99;
  CHECK(c.read(buf, 8, &n) == ring::ReadStatus::kUncommitted);
  CHECK(n == 0);
  CHECK(r.header()->ring_tail.load() == 0);
  p.put(a + 0, alloc_record(0));
  CHECK(c.read(buf, 8, &n) == ring::ReadStatus::kUncommitted);
  REQUIRE(n == 1);
  CHECK(address_of(buf[0]) == 0);
  p.put(a + 1, alloc_record(1));
  CHECK(c.read(buf, 8, &n) == ring::ReadStatus::kUncommitted);  // b+1 still missing
  REQUIRE(n == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(address_of(buf[i]) == 1 + i);
  for (std::uint64_t i = 1; i < 4; ++i) p.put(b + i, alloc_record(3 + i));
  CHECK(c.read(buf, 8, &n) == ring::ReadStatus::kOk);
  REQUIRE(n == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(address_of(buf[i]) == 4 + i);
  CHECK(c.backlog() == 0);
}

TEST_CASE("ring: a slot reserved but never committed stops the reader until skipped") {
  TestRing r(8);
  auto p = r.producer();
  auto c = r.consumer();
  std::uint64_t pos = 0;
  REQUIRE(p.try_reserve(1, &pos));
  p.put(pos, alloc_record(100));
  REQUIRE(p.try_reserve(1, &pos));  // position 1: its writer "dies"
  REQUIRE(p.try_reserve(2, &pos));
  p.put(pos, alloc_record(102));
  p.put(pos + 1, alloc_record(103));

  wire::Record buf[8];
  std::size_t n = 0;
  REQUIRE(c.read(buf, 8, &n) == ring::ReadStatus::kUncommitted);
  REQUIRE(n == 1);
  CHECK(address_of(buf[0]) == 100);
  // Stuck: reading again gives nothing more.
  REQUIRE(c.read(buf, 8, &n) == ring::ReadStatus::kUncommitted);
  CHECK(n == 0);
  CHECK(c.backlog() == 3);
  CHECK(c.skip_uncommitted() == 1);  // exactly the torn slot
  CHECK(c.position() == 2);
  CHECK(r.header()->ring_tail.load() == 2);
  REQUIRE(c.read(buf, 8, &n) == ring::ReadStatus::kOk);
  REQUIRE(n == 2);
  CHECK(address_of(buf[0]) == 102);
  CHECK(address_of(buf[1]) == 103);
  CHECK(c.skip_uncommitted() == 0);  // nothing left to skip

  // Two torn slots with a committed one between them: skipping stops at the committed one.
  REQUIRE(p.try_reserve(4, &pos));
  CHECK(pos == 4);
  p.put(pos + 1, alloc_record(105));
  p.put(pos + 3, alloc_record(107));
  REQUIRE(c.read(buf, 8, &n) == ring::ReadStatus::kUncommitted);
  CHECK(n == 0);
  CHECK(c.skip_uncommitted() == 1);
  REQUIRE(c.read(buf, 8, &n) == ring::ReadStatus::kUncommitted);
  REQUIRE(n == 1);
  CHECK(address_of(buf[0]) == 105);
  CHECK(c.skip_uncommitted() == 1);
  REQUIRE(c.read(buf, 8, &n) == ring::ReadStatus::kOk);
  REQUIRE(n == 1);
  CHECK(address_of(buf[0]) == 107);
  CHECK(c.backlog() == 0);
}

TEST_CASE("ring: a slot still holding the previous lap's record is not committed") {
  TestRing r(4);
  auto p = r.producer();
  auto c = r.consumer();
  std::uint64_t pos = 0;
  for (int lap = 0; lap < 6; ++lap) {
    INFO("lap " << lap);
    for (int i = 0; i < 4; ++i) {
      REQUIRE(p.try_reserve(1, &pos));
      p.put(pos, alloc_record(pos));
    }
    CHECK(read_all(c).size() == 4);
    // The next lap's first slot is reserved, not written: the old record must not pass.
    REQUIRE(p.try_reserve(1, &pos));
    wire::Record buf[4];
    std::size_t n = 0;
    CHECK(c.read(buf, 4, &n) == ring::ReadStatus::kUncommitted);
    CHECK(n == 0);
    p.put(pos, alloc_record(pos));
    CHECK(c.read(buf, 4, &n) == ring::ReadStatus::kOk);
    REQUIRE(n == 1);
    CHECK(address_of(buf[0]) == pos);
    // Fill the rest of this lap so the next iteration starts on a lap boundary.
    for (int i = 0; i < 3; ++i) {
      REQUIRE(p.try_reserve(1, &pos));
      p.put(pos, alloc_record(pos));
    }
    CHECK(read_all(c).size() == 3);
  }
}

TEST_CASE("ring: corrupt positions give kCorrupt and never loop") {
  struct Case {
    std::uint64_t head, tail;
  };
  const std::uint64_t cap = 16;
  Case cases[] = {
      {5, 10},                          // head behind tail
      {0, 1},
      {cap + 1, 0},                     // more than a ring's worth reserved
      {1000, 3},
      {~0ull - 100, 0},
      {0, ~0ull},
      {(1ull << 63) + 5, 5},
  };
  for (const Case& k : cases) {
    INFO("head " << k.head << " tail " << k.tail);
    TestRing r(cap);
    r.header()->ring_tail.store(k.tail);
    r.header()->ring_head.store(k.head);
    // Fill every slot with a record that carries both tags' worth of garbage.
    for (std::uint64_t i = 0; i < cap; ++i) r.slots()[i] = wire::Record{~0ull, ~0ull};
    auto c = r.consumer();
    wire::Record buf[32];
    std::size_t n = 99;
    CHECK(c.read(buf, 32, &n) == ring::ReadStatus::kCorrupt);
    CHECK(n == 0);
    CHECK(c.skip_uncommitted() == 0);
    CHECK(c.backlog() == 0);
    CHECK(c.position() == k.tail);
    CHECK(r.header()->ring_tail.load() == k.tail);
    auto p = r.producer();
    std::uint64_t pos = 0;
    CHECK_FALSE(p.try_reserve(1, &pos));  // corrupt positions read as "full"
    CHECK(r.header()->ring_head.load() == k.head);
  }
  // Exactly a full ring is not corrupt.
  TestRing r(cap);
  r.header()->ring_head.store(cap);
  auto c = r.consumer();
  wire::Record buf[4];
  std::size_t n = 0;
  CHECK(c.read(buf, 4, &n) == ring::ReadStatus::kUncommitted);  // slots are zero: not committed
  CHECK(c.backlog() == cap);
  CHECK(c.skip_uncommitted() == cap);
  CHECK(c.backlog() == 0);
}

TEST_CASE("ring: a hostile head moved between read() and skip_uncommitted() cannot loop") {
  TestRing r(8);
  auto c = r.consumer();
  r.header()->ring_head.store(3);
  wire::Record buf[4];
  std::size_t n = 0;
  CHECK(c.read(buf, 4, &n) == ring::ReadStatus::kUncommitted);
  r.header()->ring_head.store(~0ull);
  CHECK(c.skip_uncommitted() == 0);
  CHECK(c.read(buf, 4, &n) == ring::ReadStatus::kCorrupt);
}

namespace {

constexpr std::uint64_t encode_tag(std::uint64_t thread, std::uint64_t seq) { return (thread << 32) | seq; }

// One consumer thread checks that every (thread, seq) arrives exactly once and in order.
struct Checker {
  explicit Checker(int threads) : next(static_cast<std::size_t>(threads), 0) {}
  std::vector<std::uint64_t> next;
  std::uint64_t total = 0;
  std::uint64_t bad = 0;
  void see(const wire::Record& r) {
    std::uint64_t a = address_of(r);
    std::uint64_t t = a >> 32, seq = a & 0xFFFFFFFF;
    if (t >= next.size() || seq != next[t] || wire::decode(r).op != wire::Op::kAlloc) {
      if (bad++ < 5) UNSCOPED_INFO("unexpected record: thread " << t << " seq " << seq);
      return;
    }
    ++next[t];
    ++total;
  }
};

}  // namespace

TEST_CASE("ring: 8 producers and 1 consumer, waiting when full: every record once, in order") {
  constexpr int kProducers = 8;
  constexpr std::uint64_t kPerThread = 200000;
  TestRing r(1024);
  ring::Producer producer = r.producer();  // shared, as in the interposer
  std::atomic<bool> stop{false};
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kProducers; ++t) {
    threads.emplace_back([&, t] {
      started.fetch_add(1);
      std::mt19937 rng(static_cast<unsigned>(t));
      std::uint64_t seq = 0;
      while (seq < kPerThread && !stop.load(std::memory_order_relaxed)) {
        std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(1 + rng() % 4, kPerThread - seq));
        std::uint64_t pos = 0;
        unsigned spins = 0;
        while (!producer.try_reserve(n, &pos)) {
          if (stop.load(std::memory_order_relaxed)) return;
          if (++spins % 8 == 0) std::this_thread::yield();
        }
        for (std::uint32_t i = 0; i < n; ++i)
          producer.put(pos + i, alloc_record(encode_tag(static_cast<std::uint64_t>(t), seq + i)));
        seq += n;
      }
    });
  }
  Checker check(kProducers);
  ring::Consumer consumer = r.consumer();
  std::vector<wire::Record> buf(256);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool corrupt = false;
  while (check.total + check.bad < kProducers * kPerThread) {
    std::size_t n = 0;
    ring::ReadStatus st = consumer.read(buf.data(), buf.size(), &n);
    if (st == ring::ReadStatus::kCorrupt) {
      corrupt = true;
      break;
    }
    for (std::size_t i = 0; i < n; ++i) check.see(buf[i]);
    if (n == 0) std::this_thread::yield();
    if (std::chrono::steady_clock::now() > deadline) break;
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  CHECK_FALSE(corrupt);
  CHECK(check.bad == 0);
  CHECK(check.total == kProducers * kPerThread);
  for (int t = 0; t < kProducers; ++t) CHECK(check.next[static_cast<std::size_t>(t)] == kPerThread);
  CHECK(r.header()->ring_head.load() == kProducers * kPerThread);
  CHECK(consumer.backlog() == 0);
}

TEST_CASE("ring: a ring that never fills never refuses a reservation (drop mode)") {
  // Drop mode loses whatever try_reserve refuses, so a refusal while there is room is a lost
  // record. The ring holds exactly every record the producers write (it is full at the end),
  // so nothing may be refused, however the producers and the consumer interleave.
  constexpr int kProducers = 4;
  constexpr std::uint64_t kPerThread = std::uint64_t{1} << 18;
  TestRing r(kProducers * kPerThread);
  ring::Producer producer = r.producer();
  std::atomic<std::uint64_t> refused{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kProducers; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t seq = 0; seq < kPerThread; ++seq) {
        std::uint64_t pos = 0;
        while (!producer.try_reserve(1, &pos)) refused.fetch_add(1, std::memory_order_relaxed);
        producer.put(pos, alloc_record(encode_tag(static_cast<std::uint64_t>(t), seq)));
      }
      done.fetch_add(1);
    });
  }
  Checker check(kProducers);
  ring::Consumer consumer = r.consumer();
  std::vector<wire::Record> buf(64);
  while (check.total + check.bad < kProducers * kPerThread) {
    std::size_t n = 0;
    if (consumer.read(buf.data(), buf.size(), &n) == ring::ReadStatus::kCorrupt) break;
    for (std::size_t i = 0; i < n; ++i) check.see(buf[i]);
    if (n == 0 && done.load() == kProducers && consumer.backlog() == 0) break;
  }
  for (auto& t : threads) t.join();
  CHECK(refused.load() == 0);
  CHECK(check.bad == 0);
  CHECK(check.total == kProducers * kPerThread);
}
