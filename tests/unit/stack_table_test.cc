// The stack table (shared/stack_table.h): interning on the producer side, read_stack on the
// reader side, on private zeroed arrays.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "format.h"
#include "stack_table.h"

namespace wire = heaplens::wire;
namespace stacks = heaplens::stacks;

namespace {

class TestTable {
 public:
  TestTable(std::uint64_t slot_count, std::uint64_t frames_capacity)
      : slot_count_(slot_count), frames_capacity_(frames_capacity),
        header_(std::make_unique<wire::SessionHeader>()),
        slots_(std::make_unique<wire::StackSlot[]>(slot_count)),
        frames_(std::make_unique<std::uint64_t[]>(frames_capacity)) {
    for (std::uint64_t i = 0; i < slot_count; ++i) {
      slots_[i].hash.store(0);
      slots_[i].info.store(0);
    }
  }

  stacks::Interner interner(stacks::Interner::BackFn back = nullptr) {
    return stacks::Interner(header_.get(), slots_.get(), slot_count_, frames_.get(), frames_capacity_, back);
  }
  std::vector<std::uint64_t> read(std::uint32_t id) const {
    std::uint64_t out[wire::kMaxFrames];
    std::uint32_t depth = stacks::read_stack(slots_.get(), slot_count_, frames_.get(), frames_capacity_, id, out);
    return std::vector<std::uint64_t>(out, out + depth);
  }
  wire::SessionHeader& header() { return *header_; }
  wire::StackSlot& slot(std::uint64_t i) { return slots_[i]; }
  std::uint64_t slot_count() const { return slot_count_; }

 private:
  std::uint64_t slot_count_, frames_capacity_;
  std::unique_ptr<wire::SessionHeader> header_;
  std::unique_ptr<wire::StackSlot[]> slots_;
  std::unique_ptr<std::uint64_t[]> frames_;
};

// A deterministic stack: depth 1..64, plausible return addresses.
std::vector<std::uint64_t> make_stack(std::uint64_t seed) {
  std::mt19937_64 rng(seed * 7919 + 1);
  std::size_t depth = 1 + rng() % wire::kMaxFrames;
  std::vector<std::uint64_t> f(depth);
  for (auto& x : f) x = 0x400000 + (rng() % 0x100000) * 4;
  return f;
}

std::uint32_t intern(stacks::Interner& in, const std::vector<std::uint64_t>& f) {
  return in.intern(f.data(), static_cast<std::uint32_t>(f.size()));
}

}  // namespace

TEST_CASE("stacks: the same frames get the same id, different frames different ids") {
  TestTable t(1024, 1 << 16);
  auto in = t.interner();
  std::vector<std::vector<std::uint64_t>> all;
  for (std::uint64_t s = 0; s < 200; ++s) all.push_back(make_stack(s));
  // Stacks that differ only slightly from others.
  std::vector<std::uint64_t> base = {0x401000, 0x402000, 0x403000};
  all.push_back(base);
  all.push_back({0x401000, 0x402000});                      // a prefix
  all.push_back({0x402000, 0x403000});                      // a suffix
  all.push_back({0x403000, 0x402000, 0x401000});            // reversed
  all.push_back({0x401000, 0x402000, 0x403000, 0x403000});  // one more frame
  all.push_back({0x401000, 0x402001, 0x403000});            // one bit
  all.push_back({0});                                       // a zero frame
  all.push_back({~0ull});

  std::vector<std::uint32_t> ids;
  for (const auto& f : all) {
    std::uint32_t id = intern(in, f);
    REQUIRE(id >= 1);
    REQUIRE(id < t.slot_count());
    ids.push_back(id);
  }
  std::set<std::uint32_t> distinct(ids.begin(), ids.end());
  CHECK(distinct.size() == all.size());
  CHECK(t.header().stacks_used.load() == all.size());
  CHECK(t.header().stacks_dropped.load() == 0);
  std::uint64_t frames_before = t.header().frames_used.load();
  // Interning again finds them without storing anything.
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(intern(in, all[i]) == ids[i]);
    CHECK(t.read(ids[i]) == all[i]);
  }
  CHECK(t.header().stacks_used.load() == all.size());
  CHECK(t.header().frames_used.load() == frames_before);
  // A second interner over the same table (another thread of the producer) agrees.
  auto other = t.interner();
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(intern(other, all[i]) == ids[i]);
}

TEST_CASE("stacks: depth 0 and depth over kMaxFrames are refused") {
  TestTable t(64, 1024);
  auto in = t.interner();
  std::vector<std::uint64_t> f(wire::kMaxFrames + 1, 0x401000);
  CHECK(in.intern(f.data(), 0) == 0);
  CHECK(in.intern(f.data(), wire::kMaxFrames + 1) == 0);
  std::uint32_t id = in.intern(f.data(), wire::kMaxFrames);
  REQUIRE(id != 0);
  CHECK(t.read(id).size() == wire::kMaxFrames);
  CHECK(t.header().stacks_used.load() == 1);
}

TEST_CASE("stacks: a full table returns 0 and counts the drop; stored stacks stay found") {
  TestTable t(16, 1 << 16);
  auto in = t.interner();
  std::vector<std::vector<std::uint64_t>> stored;
  std::vector<std::uint32_t> ids;
  std::uint64_t dropped = 0;
  for (std::uint64_t s = 0; s < 100; ++s) {
    auto f = make_stack(1000 + s);
    std::uint32_t id = intern(in, f);
    if (id == 0) {
      ++dropped;
      continue;
    }
    CHECK(id < 16);
    stored.push_back(f);
    ids.push_back(id);
  }
  CHECK(stored.size() == 15);  // slot 0 is never used
  CHECK(dropped == 85);
  CHECK(t.header().stacks_dropped.load() == 85);
  CHECK(t.header().stacks_used.load() == 15);
  CHECK(t.slot(0).hash.load() == 0);
  std::set<std::uint32_t> distinct(ids.begin(), ids.end());
  CHECK(distinct.size() == 15);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    CHECK(intern(in, stored[i]) == ids[i]);
    CHECK(t.read(ids[i]) == stored[i]);
  }
  CHECK(t.header().stacks_dropped.load() == 85);
}

TEST_CASE("stacks: the smallest table holds one stack in slot 1") {
  TestTable t(2, 64);
  auto in = t.interner();
  std::vector<std::uint64_t> a = {1, 2, 3}, b = {4, 5};
  CHECK(intern(in, a) == 1);
  CHECK(intern(in, b) == 0);
  CHECK(intern(in, a) == 1);
  CHECK(t.header().stacks_dropped.load() == 1);
}

TEST_CASE("stacks: a slot with the same hash but other frames is not taken for the stack") {
  // A 64-bit hash collision, made by hand: in a 2-slot table every probe visits slot 1.
  TestTable t(2, 64);
  auto in = t.interner();
  std::vector<std::uint64_t> a = {0x401000, 0x402000, 0x403000};
  std::vector<std::uint64_t> b = {0x401000, 0x402000, 0x403008};  // same depth, one frame differs
  REQUIRE(intern(in, a) == 1);
  t.slot(1).hash.store(stacks::hash_frames(b.data(), 3));
  CHECK(intern(in, b) == 0);  // no room for b, and a's slot is not b's
  CHECK(t.header().stacks_dropped.load() == 1);
  CHECK(t.read(1) == a);
  // Same frames, other depth: not equal either.
  std::vector<std::uint64_t> a2 = {0x401000, 0x402000};
  t.slot(1).hash.store(stacks::hash_frames(a2.data(), 2));
  CHECK(intern(in, a2) == 0);
}

TEST_CASE("stacks: a full frames array returns 0 and counts the drop") {
  TestTable t(64, 10);
  auto in = t.interner();
  std::vector<std::uint64_t> a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c = {9, 10, 11, 12};
  std::uint32_t ia = intern(in, a), ib = intern(in, b);
  REQUIRE(ia != 0);
  REQUIRE(ib != 0);
  CHECK(intern(in, c) == 0);
  CHECK(t.header().stacks_dropped.load() == 1);
  CHECK(t.header().stacks_used.load() == 2);
  // What was stored is intact and still found.
  CHECK(t.read(ia) == a);
  CHECK(t.read(ib) == b);
  CHECK(intern(in, a) == ia);
  CHECK(intern(in, b) == ib);
  CHECK(intern(in, c) == 0);
  CHECK(t.header().stacks_dropped.load() == 2);
}

TEST_CASE("stacks: read_stack rejects bad ids and bad slot infos") {
  TestTable t(64, 100);
  auto in = t.interner();
  std::vector<std::uint64_t> a = {11, 22, 33};
  std::uint32_t id = intern(in, a);
  REQUIRE(id != 0);
  CHECK(t.read(id) == a);
  CHECK(t.read(0).empty());
  CHECK(t.read(64).empty());
  CHECK(t.read(65).empty());
  CHECK(t.read(0xFFFFFFFFu).empty());
  std::uint32_t other = id == 5 ? 6 : 5;
  CHECK(t.read(other).empty());  // an empty slot

  auto with_info = [&](std::uint64_t info) {
    t.slot(other).hash.store(0x1234567);
    t.slot(other).info.store(info);
    return t.read(other);
  };
  CHECK(with_info(wire::stack_info(0, 3)).size() == 3);
  CHECK(with_info(wire::stack_info(97, 3)).size() == 3);     // ends exactly at the end
  CHECK(with_info(wire::stack_info(98, 3)).empty());          // one past the end
  CHECK(with_info(wire::stack_info(100, 1)).empty());
  CHECK(with_info(wire::stack_info(0xFFFFFFFFu, 64)).empty());
  CHECK(with_info(wire::stack_info(0, 0)).empty());           // depth 0
  CHECK(with_info(wire::stack_info(0, 65)).empty());          // deeper than kMaxFrames
  CHECK(with_info(wire::stack_info(0, 255)).empty());
  CHECK(with_info(wire::stack_info(0, 3) & ~(1ull << 63)).empty());  // not ready
  CHECK(with_info(0).empty());
  CHECK(with_info(~0ull).empty());

  // The same bounds hold on the producer side: a slot whose info points outside the frames
  // array (a damaged table) is never read through, and interning still terminates.
  TestTable hostile(16, 100);
  std::vector<std::uint64_t> f = {1, 2, 3};
  std::uint64_t h = stacks::hash_frames(f.data(), 3);
  for (std::uint64_t i = 1; i < 16; ++i) {
    hostile.slot(i).hash.store(h);
    hostile.slot(i).info.store(wire::stack_info(0xFFFFFF00u, 3));
  }
  auto hin = hostile.interner();
  CHECK(intern(hin, f) == 0);
  CHECK(hostile.header().stacks_dropped.load() == 1);
  // Claimed slots that never become ready (a claimer that died): bounded waits, then 0.
  for (std::uint64_t i = 1; i < 16; ++i) hostile.slot(i).info.store(0);
  CHECK(intern(hin, f) == 0);
}

TEST_CASE("stacks: hash_frames is never 0 and depends on order and depth") {
  std::vector<std::uint64_t> a = {1, 2, 3};
  std::vector<std::uint64_t> b = {3, 2, 1};
  CHECK(stacks::hash_frames(a.data(), 3) != 0);
  CHECK(stacks::hash_frames(a.data(), 3) != stacks::hash_frames(b.data(), 3));
  CHECK(stacks::hash_frames(a.data(), 3) != stacks::hash_frames(a.data(), 2));
  std::vector<std::uint64_t> zeros(64, 0);
  for (std::uint32_t d = 1; d <= 64; ++d) CHECK(stacks::hash_frames(zeros.data(), d) != 0);
}

TEST_CASE("stacks: 4 threads interning the same 1000 stacks agree") {
  constexpr int kThreads = 4;
  constexpr std::size_t kStacks = 1000;
  TestTable t(1 << 13, kStacks * wire::kMaxFrames * kThreads);
  std::vector<std::vector<std::uint64_t>> all;
  for (std::size_t s = 0; s < kStacks; ++s) all.push_back(make_stack(50000 + s));

  std::vector<std::vector<std::uint32_t>> ids(kThreads, std::vector<std::uint32_t>(kStacks, 0));
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&, k] {
      auto in = t.interner();
      std::vector<std::size_t> order(kStacks);
      for (std::size_t i = 0; i < kStacks; ++i) order[i] = i;
      // Half the threads go in the same order (maximal races on new stacks), half shuffled.
      if (k % 2 == 1) std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(k)));
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (std::size_t i : order) ids[static_cast<std::size_t>(k)][i] = intern(in, all[i]);
    });
  }
  for (auto& th : threads) th.join();
  // Interning again (the table is settled now) finds one of the ids the threads got.
  auto in = t.interner();
  for (std::size_t i = 0; i < kStacks; ++i) {
    std::uint32_t again = intern(in, all[i]);
    bool known = false;
    for (int k = 0; k < kThreads; ++k) known = known || ids[static_cast<std::size_t>(k)][i] == again;
    CHECK(known);
  }

  std::set<std::uint32_t> distinct;
  std::size_t disagreements = 0;
  for (std::size_t i = 0; i < kStacks; ++i) {
    std::set<std::uint32_t> mine;
    for (int k = 0; k < kThreads; ++k) {
      std::uint32_t id = ids[static_cast<std::size_t>(k)][i];
      REQUIRE(id != 0);  // never dropped
      REQUIRE(t.read(id) == all[i]);
      mine.insert(id);
      distinct.insert(id);
    }
    if (mine.size() > 1) ++disagreements;
  }
  // format.h allows a stack to be stored more than once when producers race on it and one
  // stalls between claiming a slot and publishing it; that is rare.
  CHECK(disagreements <= kStacks / 100);
  CHECK(t.header().stacks_used.load() == distinct.size());
  CHECK(distinct.size() >= kStacks);
  CHECK(distinct.size() <= kStacks + kStacks / 100);
  CHECK(t.header().stacks_dropped.load() == 0);
  // Every id maps back to exactly one stack.
  std::set<std::vector<std::uint64_t>> seen_stacks;
  for (std::uint32_t id : distinct) seen_stacks.insert(t.read(id));
  CHECK(seen_stacks.size() == kStacks);
}

namespace {
// A frames array whose memory is allocated lazily: entries below g_backed exist.
std::uint64_t g_backed = 0;
std::vector<std::uint64_t> g_back_calls;
bool back_up_to_8(std::uint64_t end) noexcept {
  g_back_calls.push_back(end);
  if (end > 8) return false;
  g_backed = std::max(g_backed, end);
  return true;
}
}  // namespace

TEST_CASE("stacks: frames are backed before they are written; a refusal drops the stack") {
  g_backed = 0;
  g_back_calls.clear();
  TestTable t(64, 100);
  auto in = t.interner(back_up_to_8);
  std::vector<std::uint64_t> a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c = {9, 10, 11, 12};
  std::uint32_t ia = intern(in, a), ib = intern(in, b);
  REQUIRE(ia != 0);
  REQUIRE(ib != 0);
  CHECK(g_back_calls == std::vector<std::uint64_t>{4, 8});
  CHECK(intern(in, c) == 0);  // entries 8..11 cannot be had
  CHECK(t.header().stacks_dropped.load() == 1);
  CHECK(t.header().stacks_used.load() == 2);
  // Known stacks need no new frames: found without asking.
  g_back_calls.clear();
  CHECK(intern(in, a) == ia);
  CHECK(intern(in, b) == ib);
  CHECK(g_back_calls.empty());
  CHECK(t.read(ia) == a);
  CHECK(t.read(ib) == b);
}
