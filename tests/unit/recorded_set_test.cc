// The lock-free set of recorded block addresses (pool/recorded_set.h).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "recorded_set.h"

namespace pool = heaplens::pool;

namespace {

class TestSet {
 public:
  explicit TestSet(std::size_t count) : slots_(std::make_unique<std::atomic<std::uintptr_t>[]>(count)), count_(count) {
    for (std::size_t i = 0; i < count; ++i) slots_[i].store(0);
    set.attach(slots_.get(), count);
  }
  std::size_t occupied() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += slots_[i].load() > 1;
    return n;
  }
  std::size_t tombstones() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += slots_[i].load() == 1;
    return n;
  }
  pool::RecordedSet set;

 private:
  std::unique_ptr<std::atomic<std::uintptr_t>[]> slots_;
  std::size_t count_;
};

// Plausible block addresses: 16-byte aligned, in a heap-like range.
const void* block(std::uint64_t k) { return reinterpret_cast<const void*>(std::uintptr_t{0x7f3a00000000} + k * 16); }

}  // namespace

TEST_CASE("recorded set: insert, contains, erase") {
  TestSet t(1024);
  CHECK(t.set.ready());
  pool::RecordedSet unattached;
  CHECK_FALSE(unattached.ready());

  CHECK_FALSE(t.set.contains(block(1)));
  CHECK_FALSE(t.set.erase(block(1)));  // absent
  REQUIRE(t.set.insert(block(1)));
  CHECK(t.set.contains(block(1)));
  CHECK_FALSE(t.set.contains(block(2)));
  CHECK_FALSE(t.set.erase(block(2)));
  CHECK(t.set.erase(block(1)));
  CHECK_FALSE(t.set.contains(block(1)));
  CHECK_FALSE(t.set.erase(block(1)));  // already gone
  CHECK(t.occupied() == 0);

  for (std::uint64_t k = 0; k < 200; ++k) REQUIRE(t.set.insert(block(k)));
  CHECK(t.occupied() == 200);
  for (std::uint64_t k = 0; k < 400; ++k) CHECK(t.set.contains(block(k)) == (k < 200));
  for (std::uint64_t k = 0; k < 200; k += 2) CHECK(t.set.erase(block(k)));
  for (std::uint64_t k = 0; k < 400; ++k) CHECK(t.set.contains(block(k)) == (k < 200 && k % 2 == 1));
  // Re-inserting takes no more room than there is (tombstones are reused).
  for (std::uint64_t k = 0; k < 200; k += 2) REQUIRE(t.set.insert(block(k)));
  CHECK(t.occupied() == 200);
  for (std::uint64_t k = 0; k < 200; ++k) CHECK(t.set.contains(block(k)));
}

TEST_CASE("recorded set: erased slots are reused and lookups probe past them") {
  // Four slots: every address probes all of them, so the behaviour does not depend on the hash.
  TestSet t(4);
  for (std::uint64_t k = 0; k < 4; ++k) REQUIRE(t.set.insert(block(k)));
  CHECK_FALSE(t.set.insert(block(4)));  // full: refused, not looping
  CHECK_FALSE(t.set.contains(block(4)));
  CHECK_FALSE(t.set.erase(block(4)));
  REQUIRE(t.set.erase(block(1)));
  CHECK(t.tombstones() == 1);
  // The others stay findable past the tombstone.
  CHECK(t.set.contains(block(0)));
  CHECK(t.set.contains(block(2)));
  CHECK(t.set.contains(block(3)));
  CHECK_FALSE(t.set.contains(block(1)));
  REQUIRE(t.set.insert(block(4)));  // takes the tombstone
  CHECK(t.tombstones() == 0);
  CHECK(t.set.contains(block(4)));
  CHECK_FALSE(t.set.insert(block(5)));

  // A set made only of tombstones: lookups and erases end after the probe bound.
  for (std::uint64_t k : {0, 2, 3, 4}) REQUIRE(t.set.erase(block(k)));
  CHECK(t.tombstones() == 4);
  CHECK_FALSE(t.set.contains(block(9)));
  CHECK_FALSE(t.set.erase(block(9)));
  for (std::uint64_t k = 10; k < 14; ++k) REQUIRE(t.set.insert(block(k)));
  for (std::uint64_t k = 10; k < 14; ++k) CHECK(t.set.contains(block(k)));
}

TEST_CASE("recorded set: a crowded set refuses insertions instead of looping") {
  TestSet t(64);
  std::vector<std::uint64_t> in, refused;
  for (std::uint64_t k = 0; k < 5000; ++k) (t.set.insert(block(k)) ? in : refused).push_back(k);
  CHECK(in.size() <= 64);
  CHECK(in.size() >= pool::RecordedSet::kMaxProbes);  // at least one probe run fills up first
  CHECK(refused.size() == 5000 - in.size());
  CHECK(t.occupied() == in.size());
  for (std::uint64_t k : in) CHECK(t.set.contains(block(k)));
  for (std::uint64_t k : refused) REQUIRE_FALSE(t.set.contains(block(k)));
  for (std::uint64_t k : refused) REQUIRE_FALSE(t.set.erase(block(k)));
  for (std::uint64_t k : in) CHECK(t.set.erase(block(k)));
  CHECK(t.occupied() == 0);
}

TEST_CASE("recorded set: random churn agrees with a reference set") {
  TestSet t(1 << 14);
  std::unordered_set<std::uint64_t> ref;
  std::mt19937_64 rng(7);
  std::uint64_t refusals = 0;
  for (int i = 0; i < 300000; ++i) {
    std::uint64_t k = rng() % 8000;  // live set stays under 8000 of 16384 slots
    switch (rng() % 3) {
      case 0:
        if (ref.count(k) == 0) {  // the pool never inserts a block twice
          if (t.set.insert(block(k))) ref.insert(k);
          else ++refusals;
        }
        break;
      case 1:
        REQUIRE(t.set.erase(block(k)) == (ref.erase(k) == 1));
        break;
      default:
        REQUIRE(t.set.contains(block(k)) == (ref.count(k) == 1));
    }
  }
  CHECK(refusals == 0);
  CHECK(t.occupied() == ref.size());
  for (std::uint64_t k = 0; k < 8000; ++k) REQUIRE(t.set.contains(block(k)) == (ref.count(k) == 1));
}

TEST_CASE("recorded set: threads inserting and erasing their own blocks concurrently") {
  TestSet t(1 << 16);
  constexpr int kThreads = 4;
  constexpr std::uint64_t kPerThread = 4000;
  std::atomic<std::uint64_t> failures{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      std::uint64_t base = static_cast<std::uint64_t>(th) * kPerThread;
      for (int round = 0; round < 20; ++round) {
        for (std::uint64_t k = 0; k < kPerThread; ++k)
          if (!t.set.insert(block(base + k))) failures.fetch_add(1);
        for (std::uint64_t k = 0; k < kPerThread; ++k)
          if (!t.set.contains(block(base + k))) failures.fetch_add(1);
        // Keep the odd ones in the last round.
        for (std::uint64_t k = 0; k < kPerThread; ++k)
          if ((round < 19 || k % 2 == 0) && !t.set.erase(block(base + k))) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  for (std::uint64_t k = 0; k < kThreads * kPerThread; ++k) REQUIRE(t.set.contains(block(k)) == (k % 2 == 1));
  CHECK(t.occupied() == kThreads * kPerThread / 2);
}
