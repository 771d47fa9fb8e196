// The caching device pool (pool/device_pool.h) against a fake driver: addresses come from a
// counter shared by all devices (as with CUDA's unified addressing), consecutive segments
// are adjacent (so coalescing across segments would show), a device can be told to fail above
// a byte limit, and every call is recorded.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "device_pool.h"

using heaplens::pool::DeviceDriver;
using heaplens::pool::DevicePool;
using heaplens::pool::DevicePoolCounters;
using heaplens::pool::DevicePoolLimits;

namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr int kOom = 2;  // cudaErrorMemoryAllocation

struct FakeDriver {
  struct Call {
    bool alloc;
    int device;
    std::uint64_t arg;  // alloc: the size; free: the address
    int rc;
    std::uint64_t addr;  // alloc: the address handed out
  };

  std::mutex mu;
  std::uint64_t next = 0x7f0000000000;
  std::uint64_t limit[DevicePool::kMaxDevices];
  std::uint64_t live_bytes[DevicePool::kMaxDevices] = {};
  std::map<std::uint64_t, std::pair<int, std::uint64_t>> live;  // address -> (device, size)
  std::vector<Call> calls;
  int error = kOom;
  bool fail_frees = false;
  int bad_frees = 0;

  FakeDriver() {
    for (auto& l : limit) l = ~std::uint64_t{0};
  }

  static int do_alloc(void* ctx, int device, std::size_t size, std::uint64_t* out) noexcept {
    auto* f = static_cast<FakeDriver*>(ctx);
    std::lock_guard<std::mutex> lock(f->mu);
    if (f->live_bytes[device] + size > f->limit[device]) {
      f->calls.push_back({true, device, size, f->error, 0});
      return f->error;
    }
    *out = f->next;
    f->next += size;
    f->live[*out] = {device, size};
    f->live_bytes[device] += size;
    f->calls.push_back({true, device, size, 0, *out});
    return 0;
  }
  static int do_free(void* ctx, int device, std::uint64_t ptr) noexcept {
    auto* f = static_cast<FakeDriver*>(ctx);
    std::lock_guard<std::mutex> lock(f->mu);
    auto it = f->live.find(ptr);
    if (it == f->live.end() || it->second.first != device) {
      ++f->bad_frees;
      f->calls.push_back({false, device, ptr, 1, 0});
      return 1;
    }
    f->live_bytes[device] -= it->second.second;
    f->live.erase(it);
    f->calls.push_back({false, device, ptr, f->fail_frees ? 1 : 0, 0});
    return f->fail_frees ? 1 : 0;
  }
  DeviceDriver driver() { return {&do_alloc, &do_free, this}; }

  std::size_t count(bool alloc) {
    std::lock_guard<std::mutex> lock(mu);
    std::size_t n = 0;
    for (const Call& c : calls) n += c.alloc == alloc;
    return n;
  }
  std::size_t allocs() { return count(true); }
  std::size_t frees() { return count(false); }
};

std::uint64_t get(DevicePool& p, int device, std::uint64_t stream, std::size_t size) {
  std::uint64_t a = 0;
  int rc = p.allocate(device, stream, size, &a);
  INFO("allocate(" << device << ", " << stream << ", " << size << ")");
  REQUIRE(rc == 0);
  REQUIRE(a != 0);
  return a;
}

void put(DevicePool& p, std::uint64_t a) { REQUIRE(p.release(a)); }

struct Expect {
  std::uint64_t reserved, in_use, requested, largest, hits, misses, driver_frees, trims;
};

void check_counters(const DevicePoolCounters& c, const Expect& e) {
  CHECK(c.reserved_bytes == e.reserved);
  CHECK(c.in_use_bytes == e.in_use);
  CHECK(c.requested_bytes == e.requested);
  CHECK(c.largest_cached == e.largest);
  CHECK(c.hits == e.hits);
  CHECK(c.misses == e.misses);
  CHECK(c.driver_frees == e.driver_frees);
  CHECK(c.trims == e.trims);
}

bool same(const DevicePoolCounters& a, const DevicePoolCounters& b) {
  return a.reserved_bytes == b.reserved_bytes && a.in_use_bytes == b.in_use_bytes &&
         a.requested_bytes == b.requested_bytes && a.largest_cached == b.largest_cached &&
         a.hits == b.hits && a.misses == b.misses && a.driver_frees == b.driver_frees &&
         a.trims == b.trims;
}

}  // namespace

TEST_CASE("device pool: a released block is reused without a driver call") {
  FakeDriver f;
  DevicePool p(f.driver());
  std::uint64_t a = get(p, 0, 7, 1000);
  CHECK(f.allocs() == 1);
  std::size_t size = 0;
  REQUIRE(p.release(a, &size));
  CHECK(size == 1000);
  CHECK(f.frees() == 0);  // cached, not given back

  std::uint64_t b = get(p, 0, 7, 1000);
  CHECK(b == a);
  CHECK(f.allocs() == 1);
  put(p, b);
  std::uint64_t c = get(p, 0, 7, 900);  // same rounded size (1024)
  CHECK(c == a);
  CHECK(f.allocs() == 1);
  auto k = p.counters(0);
  CHECK(k.hits == 2);
  CHECK(k.misses == 1);
  CHECK(k.in_use_bytes == 1024);
  CHECK(k.requested_bytes == 900);
}

TEST_CASE("device pool: sizes are rounded and segments sized by class") {
  struct Case {
    std::uint64_t size, in_use, segment;
  };
  const Case cases[] = {
      {1, 512, 2 * MiB},
      {512, 512, 2 * MiB},
      {513, 1024, 2 * MiB},
      {1 * MiB - 1, 1 * MiB, 2 * MiB},
      {1 * MiB, 1 * MiB, 2 * MiB},                         // the largest small request
      {1 * MiB + 1, 1 * MiB + 512, 20 * MiB},              // large, < 10 MiB: 20 MiB segment
      {10 * MiB - 513, 10 * MiB - 512, 20 * MiB},
      {10 * MiB, 10 * MiB, 10 * MiB},                      // >= 10 MiB: 2 MiB multiples
      {10 * MiB + 1, 10 * MiB + 512, 12 * MiB},            // rest 2 MiB - 512: split off
      {11 * MiB + 1, 12 * MiB, 12 * MiB},                  // rest 1 MiB - 512: goes along
      {100 * MiB + 3, 100 * MiB + 512, 102 * MiB},
  };
  for (const Case& t : cases) {
    INFO("size " << t.size);
    FakeDriver f;
    DevicePool p(f.driver());
    std::uint64_t a = get(p, 0, 0, t.size);
    REQUIRE(f.calls.size() == 1);
    CHECK(f.calls[0].arg == t.segment);
    CHECK(a == f.calls[0].addr);
    auto c = p.counters(0);
    CHECK(c.in_use_bytes == t.in_use);
    CHECK(c.requested_bytes == t.size);
    CHECK(c.reserved_bytes == t.segment);
    CHECK(c.largest_cached == t.segment - t.in_use);
  }
}

TEST_CASE("device pool: blocks are split, best fit, and coalesced on release") {
  FakeDriver f;
  DevicePool p(f.driver());
  std::uint64_t a = get(p, 0, 0, 1000);  // 1024
  std::uint64_t b = get(p, 0, 0, 3000);  // 3072
  std::uint64_t c = get(p, 0, 0, 512);   // 512
  REQUIRE(f.allocs() == 1);
  CHECK(b == a + 1024);
  CHECK(c == b + 3072);
  CHECK(p.counters(0).largest_cached == 2 * MiB - 4608);

  put(p, b);  // a hole of 3072 between two live blocks
  CHECK(p.counters(0).largest_cached == 2 * MiB - 4608);
  std::uint64_t d = get(p, 0, 0, 2048);  // best fit: the hole, not the tail
  CHECK(d == b);
  put(p, d);  // merges with the 1024 left of the hole
  put(p, a);  // merges with the hole: 4096 at a
  std::uint64_t e = get(p, 0, 0, 4096);
  CHECK(e == a);
  put(p, e);
  put(p, c);  // everything merges back into one block
  auto k = p.counters(0);
  CHECK(k.largest_cached == 2 * MiB);
  CHECK(k.in_use_bytes == 0);
  CHECK(k.reserved_bytes == 2 * MiB);
  CHECK(f.allocs() == 1);

  p.trim(0);  // a whole free segment: back to the driver, by its base address
  REQUIRE(f.frees() == 1);
  CHECK(f.calls.back().arg == a);
  CHECK(f.bad_frees == 0);
  CHECK(f.live_bytes[0] == 0);
  CHECK(p.counters(0).reserved_bytes == 0);
}

TEST_CASE("device pool: coalescing never crosses segments") {
  FakeDriver f;
  DevicePool p(f.driver());
  std::uint64_t x[4];
  for (auto& a : x) a = get(p, 0, 0, 1 * MiB);
  REQUIRE(f.allocs() == 2);
  REQUIRE(f.calls[1].addr == f.calls[0].addr + 2 * MiB);  // the driver's segments touch
  CHECK(x[1] == x[0] + 1 * MiB);
  CHECK(x[2] == x[0] + 2 * MiB);
  for (auto a : x) put(p, a);
  CHECK(p.counters(0).largest_cached == 2 * MiB);  // not 4 MiB
  p.trim(0);
  CHECK(f.frees() == 2);
  CHECK(f.bad_frees == 0);
  CHECK(f.live_bytes[0] == 0);
}

TEST_CASE("device pool: split limits") {
  FakeDriver f;
  DevicePool p(f.driver());

  SECTION("a large block keeps a rest of 1 MiB or less") {
    get(p, 0, 0, 19 * MiB + 1);  // segment 20 MiB, rest 1 MiB - 512
    CHECK(p.counters(0).in_use_bytes == 20 * MiB);
    CHECK(p.counters(0).largest_cached == 0);
    get(p, 0, 0, 19 * MiB);      // rest exactly 1 MiB: still not split
    CHECK(p.counters(0).in_use_bytes == 40 * MiB);
    get(p, 0, 0, 19 * MiB - 512);  // rest 1 MiB + 512: split
    CHECK(p.counters(0).in_use_bytes == 59 * MiB - 512);
    CHECK(p.counters(0).largest_cached == 1 * MiB + 512);
  }

  SECTION("a cached large block goes out whole when the rest would be 1 MiB or less") {
    std::uint64_t a = get(p, 0, 0, 20 * MiB);
    put(p, a);
    std::uint64_t b = get(p, 0, 0, 19 * MiB + 512 * 1024);
    CHECK(b == a);
    CHECK(f.allocs() == 1);
    CHECK(p.counters(0).in_use_bytes == 20 * MiB);
    CHECK(p.counters(0).largest_cached == 0);
  }

  SECTION("a cached block over 2 x request + 20 MiB is not chipped") {
    std::uint64_t big = get(p, 0, 0, 64 * MiB);
    put(p, big);
    REQUIRE(f.allocs() == 1);
    std::uint64_t a = get(p, 0, 0, 22 * MiB - 512);  // 2 x + 20 MiB = 64 MiB - 1 KiB: too small
    CHECK(a != big);
    CHECK(f.allocs() == 2);
    CHECK(f.calls.back().arg == 22 * MiB);
    std::uint64_t b = get(p, 0, 0, 22 * MiB);  // 2 x + 20 MiB = 64 MiB: allowed, split
    CHECK(b == big);
    CHECK(f.allocs() == 2);
    auto c = p.counters(0);
    CHECK(c.hits == 1);
    CHECK(c.misses == 2);
    CHECK(c.largest_cached == 42 * MiB);
    CHECK(c.in_use_bytes == 44 * MiB);  // the first went out whole (rest 512 B)
  }

  SECTION("small requests never come from the large pool, nor large from the small") {
    std::uint64_t big = get(p, 0, 0, 20 * MiB);
    put(p, big);
    std::uint64_t s = get(p, 0, 0, 4096);
    CHECK(f.allocs() == 2);
    CHECK(f.calls.back().arg == 2 * MiB);
    CHECK(s == f.calls.back().addr);
    put(p, s);  // now a whole free 2 MiB small segment, and a free 20 MiB large one
    std::uint64_t l = get(p, 0, 0, 1 * MiB + 1);
    CHECK(l == big);  // from the large pool, not the free 2 MiB small segment
    CHECK(f.allocs() == 2);
    put(p, l);
    std::uint64_t s2 = get(p, 0, 0, 1 * MiB);
    CHECK(s2 == s);
    CHECK(f.allocs() == 2);
  }
}

TEST_CASE("device pool: a block freed on one stream is reused only on that stream") {
  FakeDriver f;
  DevicePool p(f.driver());
  const std::uint64_t kA = 0x1000, kB = 0x2000;
  std::uint64_t a = get(p, 0, kA, 4096);
  std::uint64_t seg_a = f.calls[0].addr;
  put(p, a);
  std::uint64_t b = get(p, 0, kB, 4096);
  CHECK(b != a);
  CHECK(f.allocs() == 2);  // a segment of its own
  CHECK((b < seg_a || b >= seg_a + 2 * MiB));
  std::uint64_t a2 = get(p, 0, kA, 4096);
  CHECK(a2 == a);
  // The rest of stream A's segment is not served to B either.
  std::uint64_t b2 = get(p, 0, kB, 8192);
  CHECK((b2 < seg_a || b2 >= seg_a + 2 * MiB));
  CHECK(f.allocs() == 2);  // from B's segment
  // Large pool alike; and the same stream on another device is another cache.
  std::uint64_t la = get(p, 0, kA, 5 * MiB);
  put(p, la);
  std::uint64_t lb = get(p, 0, kB, 5 * MiB);
  CHECK(lb != la);
  std::uint64_t l1 = get(p, 1, kA, 5 * MiB);
  CHECK(l1 != la);
  CHECK(f.allocs() == 5);
  auto c0 = p.counters(0);
  CHECK(c0.hits == 2);
  CHECK(c0.misses == 4);
  CHECK(p.counters(1).misses == 1);
}

TEST_CASE("device pool: a failed driver allocation trims the cache and retries") {
  FakeDriver f;
  f.limit[0] = 64 * MiB;
  DevicePool p(f.driver());
  std::uint64_t big[3];
  for (auto& a : big) a = get(p, 0, 1, 20 * MiB);  // three 20 MiB segments
  for (auto a : big) put(p, a);
  std::uint64_t small = get(p, 0, 1, 4096);        // a 2 MiB segment that stays in use
  REQUIRE(p.counters(0).reserved_bytes == 62 * MiB);
  const std::size_t calls_before = f.calls.size();

  SECTION("the retry succeeds") {
    std::uint64_t a = get(p, 0, 2, 30 * MiB);  // other stream: stream 1's cache does not fit
    // alloc 30 MiB (refused), three frees, alloc 30 MiB.
    REQUIRE(f.calls.size() == calls_before + 5);
    CHECK(f.calls[calls_before].alloc);
    CHECK(f.calls[calls_before].rc == kOom);
    for (int i = 1; i <= 3; ++i) CHECK(!f.calls[calls_before + i].alloc);
    CHECK(f.calls[calls_before + 4].alloc);
    CHECK(f.calls[calls_before + 4].rc == 0);
    CHECK(a == f.calls[calls_before + 4].addr);
    CHECK(f.bad_frees == 0);
    check_counters(p.counters(0), {32 * MiB, 30 * MiB + 4096, 30 * MiB + 4096, 2 * MiB - 4096,
                                   0, 5, 3, 1});
    CHECK(p.owns(small));
  }

  SECTION("still failing: the driver's error comes back, nothing else changes") {
    f.error = 222;
    const auto before = p.counters(0);
    std::uint64_t out = 0xdead;
    CHECK(p.allocate(0, 1, 100 * MiB, &out) == 222);
    CHECK(out == 0xdead);
    CHECK(f.calls.size() == calls_before + 5);  // failed alloc, 3 frees, failed retry
    auto after = p.counters(0);
    CHECK(after.in_use_bytes == before.in_use_bytes);
    CHECK(after.requested_bytes == before.requested_bytes);
    CHECK(after.hits == before.hits);
    CHECK(after.misses == before.misses);
    CHECK(after.trims == before.trims + 1);
    CHECK(after.driver_frees == before.driver_frees + 3);
    CHECK(after.reserved_bytes == before.reserved_bytes - 60 * MiB);
    CHECK(f.live_bytes[0] == after.reserved_bytes);

    // Nothing left to trim and no smaller segment to try: one driver call, no change at all.
    CHECK(p.allocate(0, 1, 100 * MiB, &out) == 222);
    CHECK(out == 0xdead);
    CHECK(f.calls.size() == calls_before + 6);
    CHECK(same(p.counters(0), after));
  }
}

TEST_CASE("device pool: without a cache to trim, a smaller segment is tried once") {
  FakeDriver f;
  f.limit[0] = 10 * MiB;
  DevicePool p(f.driver());
  std::uint64_t a = get(p, 0, 0, 2 * MiB + 512 * KiB);  // 20 MiB refused, then 4 MiB
  REQUIRE(f.calls.size() == 2);
  CHECK(f.calls[0].arg == 20 * MiB);
  CHECK(f.calls[0].rc == kOom);
  CHECK(f.calls[1].arg == 4 * MiB);
  CHECK(a == f.calls[1].addr);
  check_counters(p.counters(0), {4 * MiB, 2 * MiB + 512 * KiB, 2 * MiB + 512 * KiB,
                                 1 * MiB + 512 * KiB, 0, 1, 0, 0});
  // 8 MiB: 20 MiB refused, 8 MiB refused too (4 + 8 > 10); the trim finds nothing whole.
  std::uint64_t out = 0;
  CHECK(p.allocate(0, 0, 8 * MiB, &out) == kOom);
  CHECK(f.calls.size() == 4);
  CHECK(p.counters(0).trims == 0);
}

TEST_CASE("device pool: counters are exact through a scripted sequence") {
  FakeDriver f;
  DevicePool p(f.driver());
  // reserved, in_use, requested, largest, hits, misses, driver_frees, trims
  std::uint64_t a = get(p, 0, 0, 100);
  check_counters(p.counters(0), {2 * MiB, 512, 100, 2 * MiB - 512, 0, 1, 0, 0});
  std::uint64_t b = get(p, 0, 0, 5 * MiB);
  check_counters(p.counters(0), {22 * MiB, 5 * MiB + 512, 5 * MiB + 100, 15 * MiB, 0, 2, 0, 0});
  std::uint64_t c = get(p, 0, 0, 700);
  check_counters(p.counters(0), {22 * MiB, 5 * MiB + 1536, 5 * MiB + 800, 15 * MiB, 1, 2, 0, 0});
  put(p, b);
  check_counters(p.counters(0), {22 * MiB, 1536, 800, 20 * MiB, 1, 2, 0, 0});
  std::uint64_t d = get(p, 0, 0, 12 * MiB);
  CHECK(d == b);
  check_counters(p.counters(0), {22 * MiB, 12 * MiB + 1536, 12 * MiB + 800, 8 * MiB, 2, 2, 0, 0});
  put(p, a);
  check_counters(p.counters(0), {22 * MiB, 12 * MiB + 1024, 12 * MiB + 700, 8 * MiB, 2, 2, 0, 0});
  p.trim(0);  // no segment is wholly free
  check_counters(p.counters(0), {22 * MiB, 12 * MiB + 1024, 12 * MiB + 700, 8 * MiB, 2, 2, 0, 0});
  CHECK(f.frees() == 0);
  put(p, c);
  put(p, d);
  check_counters(p.counters(0), {22 * MiB, 0, 0, 20 * MiB, 2, 2, 0, 0});
  p.trim(0);
  check_counters(p.counters(0), {0, 0, 0, 0, 2, 2, 2, 0});
  CHECK(f.live_bytes[0] == 0);
  CHECK(f.bad_frees == 0);
  check_counters(p.counters(1), {0, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("device pool: many threads on two devices") {
  FakeDriver f;
  f.limit[1] = 96 * MiB;  // device 1 runs out now and then: trims under contention
  DevicePool p(f.driver());
  constexpr int kThreads = 8;
  constexpr int kOps = 4000;
  constexpr int kMaxLive = 8;

  std::mutex map_mu;
  std::map<std::uint64_t, std::uint64_t> handed_out;  // address -> end, every device
  std::atomic<int> overlaps{0}, bad_releases{0};
  std::atomic<std::uint64_t> served[2] = {0, 0};

  auto worker = [&](int t) {
    const int device = t % 2;
    const std::uint64_t stream = 100 + (t / 2) % 2;
    std::uint64_t x = 0x9e3779b97f4a7c15ULL * (t + 1);
    auto next = [&x] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    std::vector<std::pair<std::uint64_t, std::size_t>> mine;
    auto drop = [&](std::size_t i) {
      auto [addr, size] = mine[i];
      mine[i] = mine.back();
      mine.pop_back();
      {
        std::lock_guard<std::mutex> lock(map_mu);
        handed_out.erase(addr);  // before the pool may hand it out again
      }
      std::size_t got = 0;
      if (!p.release(addr, &got) || got != size) ++bad_releases;
    };
    for (int op = 0; op < kOps; ++op) {
      std::uint64_t r = next();
      if (!mine.empty() && (mine.size() >= kMaxLive || r % 2 == 0)) {
        drop(static_cast<std::size_t>(r % mine.size()));
        continue;
      }
      std::size_t size = (r >> 8) % 16 == 0 ? 1 * MiB + (r >> 16) % (30 * MiB)
                                             : 1 + (r >> 16) % (64 * KiB);
      std::uint64_t addr = 0;
      if (p.allocate(device, stream, size, &addr) != 0) continue;
      ++served[device];
      {
        std::lock_guard<std::mutex> lock(map_mu);
        auto it = handed_out.lower_bound(addr);
        if (it != handed_out.end() && it->first < addr + size) ++overlaps;
        if (it != handed_out.begin() && std::prev(it)->second > addr) ++overlaps;
        handed_out[addr] = addr + size;
      }
      mine.emplace_back(addr, size);
    }
    while (!mine.empty()) drop(mine.size() - 1);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();

  CHECK(overlaps == 0);
  CHECK(bad_releases == 0);
  CHECK(f.bad_frees == 0);
  for (int d = 0; d < 2; ++d) {
    INFO("device " << d);
    auto c = p.counters(d);
    CHECK(c.in_use_bytes == 0);
    CHECK(c.requested_bytes == 0);
    CHECK(c.hits + c.misses == served[d]);
    CHECK(c.hits > 0);
    CHECK(c.reserved_bytes == f.live_bytes[d]);
    std::size_t driver_allocs = 0, driver_frees = 0;
    for (const auto& call : f.calls) {
      if (call.device != d || call.rc != 0) continue;
      (call.alloc ? driver_allocs : driver_frees)++;
    }
    CHECK(c.misses == driver_allocs);
    CHECK(c.driver_frees == driver_frees);
    p.trim(d);  // everything coalesced back into whole segments: all of it goes back
    CHECK(p.counters(d).reserved_bytes == 0);
    CHECK(f.live_bytes[d] == 0);
  }
  CHECK(f.bad_frees == 0);
}

TEST_CASE("device pool: devices out of range and odd requests bypass the pool") {
  FakeDriver f;
  DevicePool p(f.driver());
  std::uint64_t out = 0xdead;
  CHECK(p.allocate(-1, 0, 4096, &out) == DevicePool::kBypass);
  CHECK(p.allocate(DevicePool::kMaxDevices, 0, 4096, &out) == DevicePool::kBypass);
  CHECK(p.allocate(0, 0, 0, &out) == DevicePool::kBypass);
  CHECK(p.allocate(0, 0, DevicePool::kMaxRequest + 1, &out) == DevicePool::kBypass);
  CHECK(p.allocate(0, 0, 4096, nullptr) == DevicePool::kBypass);
  CHECK(out == 0xdead);
  CHECK(f.calls.empty());
  check_counters(p.counters(-1), {0, 0, 0, 0, 0, 0, 0, 0});
  check_counters(p.counters(DevicePool::kMaxDevices), {0, 0, 0, 0, 0, 0, 0, 0});
  p.trim(-1);
  p.trim(DevicePool::kMaxDevices);
  std::uint64_t a = get(p, DevicePool::kMaxDevices - 1, 0, 4096);  // the last one is served
  CHECK(f.calls.size() == 1);
  CHECK(f.calls[0].device == DevicePool::kMaxDevices - 1);
  CHECK(p.counters(DevicePool::kMaxDevices - 1).in_use_bytes == 4096);
  CHECK(p.release(a));
}

TEST_CASE("device pool: foreign, interior and released addresses are not the pool's") {
  FakeDriver f;
  DevicePool p(f.driver());
  CHECK_FALSE(p.release(0));
  CHECK_FALSE(p.release(0x1234));
  CHECK_FALSE(p.owns(0x1234));
  std::uint64_t a = get(p, 0, 0, 4096);
  std::uint64_t seg = f.calls[0].addr;
  std::size_t size = 77;
  CHECK_FALSE(p.release(a + 512, &size));  // interior
  CHECK(size == 77);
  CHECK(p.holds(a + 512));
  CHECK(p.owns(a));
  CHECK_FALSE(p.owns(a + 512));
  CHECK(p.release(a));
  CHECK_FALSE(p.release(a));  // a second release
  CHECK_FALSE(p.owns(a));
  CHECK(p.holds(a));  // cached: the caller must not hand it to the driver
  CHECK(p.holds(seg + 2 * MiB - 1));
  CHECK_FALSE(p.holds(seg + 2 * MiB));
  CHECK_FALSE(p.holds(seg - 1));
  CHECK_FALSE(p.holds(0x1234));
  auto c = p.counters(0);
  CHECK(c.in_use_bytes == 0);
  CHECK(c.largest_cached == 2 * MiB);
  p.trim(0);
  CHECK_FALSE(p.holds(a));
  CHECK(f.bad_frees == 0);
}

TEST_CASE("device pool: a bookkeeping limit refuses before taking driver memory") {
  FakeDriver f;
  SECTION("a miss needs two records") {
    DevicePool p(f.driver(), DevicePoolLimits{1});
    std::uint64_t out = 0xdead;
    CHECK(p.allocate(0, 0, 4096, &out) == DevicePool::kNoMetadata);
    CHECK(out == 0xdead);
    CHECK(f.calls.empty());
    check_counters(p.counters(0), {0, 0, 0, 0, 0, 0, 0, 0});
  }
  SECTION("a split needs one") {
    DevicePool p(f.driver(), DevicePoolLimits{2});
    std::uint64_t a = get(p, 0, 0, 4096);  // the segment's two pieces
    const auto before = p.counters(0);
    std::uint64_t out = 0xdead;
    CHECK(p.allocate(0, 0, 4096, &out) == DevicePool::kNoMetadata);
    CHECK(out == 0xdead);
    CHECK(f.calls.size() == 1);
    CHECK(same(p.counters(0), before));
    put(p, a);  // the two pieces merge: one record free again
    std::uint64_t b = get(p, 0, 0, 8192);
    CHECK(b == a);
    CHECK(f.calls.size() == 1);
  }
}

TEST_CASE("device pool: release_all gives everything back; the destructor nothing") {
  FakeDriver f;
  std::uint64_t live0 = 0, kept = 0;
  {
    DevicePool p(f.driver());
    live0 = get(p, 0, 0, 4096);
    put(p, get(p, 0, 0, 30 * MiB));
    get(p, 1, 5, 3 * MiB);
    REQUIRE(f.allocs() == 3);
    p.release_all();
    CHECK(f.frees() == 3);
    CHECK(f.bad_frees == 0);
    CHECK(f.live.empty());
    check_counters(p.counters(0), {0, 0, 0, 0, 0, 2, 2, 0});
    check_counters(p.counters(1), {0, 0, 0, 0, 0, 1, 1, 0});
    CHECK_FALSE(p.owns(live0));
    CHECK_FALSE(p.release(live0));
    CHECK_FALSE(p.holds(live0));
    kept = get(p, 0, 0, 4096);  // still usable; this one stays with the driver
  }
  CHECK(f.frees() == 3);
  CHECK(f.live.count(kept) == 1);
}

TEST_CASE("device pool: a segment the driver refuses to free is forgotten all the same") {
  FakeDriver f;
  f.fail_frees = true;
  DevicePool p(f.driver());
  put(p, get(p, 0, 0, 4096));
  p.trim(0);
  CHECK(f.frees() == 1);
  auto c = p.counters(0);
  CHECK(c.reserved_bytes == 0);
  CHECK(c.driver_frees == 1);
  CHECK(c.largest_cached == 0);
  get(p, 0, 0, 4096);  // a fresh segment
  CHECK(f.allocs() == 2);
}
