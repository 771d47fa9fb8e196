#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "backend_system.h"
#include "pool.h"
#include "tracked_range.h"

namespace pool = heaplens::pool;

namespace {

void start_pool() {
  pool::Settings s;
  s.backend = pool::Backend::jemalloc;
  s.large_threshold = 64 * 1024;
  static bool started = false;
  if (!started) {
    started = true;
    pool::init(s);
    // This test program's own malloc is jemalloc's too, so jemalloc's per-thread byte totals
    // include Catch2's allocations: count explicit sizes instead (lending is tested with a
    // fake lender in counters_test.cc and end to end under the preload).
    pool::counters_set_lender(nullptr);
  }
}

bool aligned(const void* p, std::size_t a) { return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0; }

}  // namespace

TEST_CASE("pool: allocations have at least the requested usable size and are counted") {
  start_pool();
  auto before = pool::sum_counters();
  std::vector<void*> blocks;
  std::uint64_t usable_sum = 0;
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{16},
                           std::size_t{100}, std::size_t{4096}, std::size_t{65535}}) {
    void* p = pool::alloc(size, 0, false);
    REQUIRE(p != nullptr);
    CHECK(pool::usable_size(p) >= size);
    usable_sum += pool::usable_size(p);
    std::memset(p, 0xab, size);
    blocks.push_back(p);
  }
  auto mid = pool::sum_counters();
  CHECK(mid.allocations - before.allocations == blocks.size());
  CHECK(mid.bytes_requested - before.bytes_requested == 0 + 1 + 7 + 16 + 100 + 4096 + 65535);
  CHECK(mid.bytes_allocated - before.bytes_allocated == usable_sum);
  CHECK(mid.large_allocations == before.large_allocations);
  for (void* p : blocks) pool::release(p);
  auto after = pool::sum_counters();
  CHECK(after.frees - before.frees == blocks.size());
  CHECK(after.bytes_freed - before.bytes_freed == usable_sum);
}

TEST_CASE("pool: requests at the threshold take the large path") {
  start_pool();
  auto before = pool::sum_counters();
  void* small = pool::alloc(64 * 1024 - 1, 0, false);
  void* large = pool::alloc(64 * 1024, 0, false);
  void* huge = pool::alloc(std::size_t{32} << 20, 0, true);
  REQUIRE(small);
  REQUIRE(large);
  REQUIRE(huge);
  auto mid = pool::sum_counters();
  CHECK(mid.large_allocations - before.large_allocations == 2);
  // Zeroed memory from the large path really is zero.
  auto* bytes = static_cast<unsigned char*>(huge);
  bool all_zero = true;
  for (std::size_t i = 0; i < (std::size_t{32} << 20); i += 4093) all_zero &= bytes[i] == 0;
  CHECK(all_zero);
  pool::release(small);
  pool::release(large);
  pool::release(huge);
}

TEST_CASE("pool: alignment is honoured on both paths") {
  start_pool();
  for (std::size_t align : {std::size_t{32}, std::size_t{64}, std::size_t{4096}, std::size_t{1} << 21}) {
    for (std::size_t size : {std::size_t{1}, std::size_t{100}, std::size_t{200000}}) {
      void* p = pool::alloc(size, align, false);
      REQUIRE(p != nullptr);
      CHECK(aligned(p, align));
      CHECK(pool::usable_size(p) >= size);
      pool::release(p);
    }
  }
}

TEST_CASE("pool: resize keeps contents across the small/large boundary") {
  start_pool();
  auto* p = static_cast<unsigned char*>(pool::alloc(100, 0, false));
  for (int i = 0; i < 100; ++i) p[i] = static_cast<unsigned char>(i);
  auto before = pool::sum_counters();
  p = static_cast<unsigned char*>(pool::resize(p, 1 << 20));  // small -> large
  REQUIRE(p != nullptr);
  for (int i = 0; i < 100; ++i) REQUIRE(p[i] == i);
  p = static_cast<unsigned char*>(pool::resize(p, 50));  // large -> small
  REQUIRE(p != nullptr);
  for (int i = 0; i < 50; ++i) REQUIRE(p[i] == i);
  auto after = pool::sum_counters();
  CHECK(after.allocations - before.allocations == 2);
  CHECK(after.frees - before.frees == 2);
  CHECK(after.large_allocations - before.large_allocations == 1);
  pool::release(p);
}

TEST_CASE("pool: an impossible request fails without side effects") {
  start_pool();
  auto before = pool::sum_counters();
  CHECK(pool::alloc(PTRDIFF_MAX, 0, false) == nullptr);
  void* p = pool::alloc(16, 0, false);
  CHECK(pool::resize(p, PTRDIFF_MAX) == nullptr);
  pool::release(p);
  auto after = pool::sum_counters();
  CHECK(after.allocations - before.allocations == 1);
  CHECK(after.frees - before.frees == 1);
}

TEST_CASE("pool: live and peak bytes follow a known pattern exactly on one thread") {
  start_pool();
  auto before = pool::sum_counters();
  std::vector<void*> blocks;
  std::uint64_t live = 0;
  for (int i = 0; i < 1000; ++i) {
    blocks.push_back(pool::alloc(1000, 0, false));
    live += pool::usable_size(blocks.back());
  }
  std::uint64_t expected_peak = before.live_bytes + live;
  for (void* p : blocks) pool::release(p);
  auto after = pool::sum_counters();
  CHECK(after.live_bytes == before.live_bytes);
  CHECK(after.peak_live_bytes == std::max<std::uint64_t>(before.peak_live_bytes, expected_peak));
}

TEST_CASE("pool: blocks freed on another thread are counted there") {
  start_pool();
  auto before = pool::sum_counters();
  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(pool::alloc(48, 0, false));
  std::thread([&] { for (void* p : blocks) pool::release(p); }).join();
  auto after = pool::sum_counters();
  CHECK(after.allocations - before.allocations == 10000);
  CHECK(after.frees - before.frees == 10000);
  CHECK(after.live_bytes == before.live_bytes);
}

TEST_CASE("pool: jemalloc statistics are real numbers") {
  start_pool();
  void* p = pool::alloc(8 << 20, 0, false);
  pool::HeapStats s;
  REQUIRE(pool::heap_stats(&s));
  CHECK(s.allocated >= (8u << 20));
  CHECK(s.active >= s.allocated);
  CHECK(s.mapped >= s.active);
  CHECK(s.resident > 0);
  pool::release(p);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Not under sanitizers: their runtimes take over some of glibc's __libc_* entry points
// (ASan intercepts __libc_memalign), so glibc's chunk headers are not there to read.
TEST_CASE("system backend: glibc blocks, usable sizes as glibc reports them") {
  namespace sys = heaplens::pool::system_backend;
  for (std::size_t size : {std::size_t{1}, std::size_t{24}, std::size_t{1000}, std::size_t{200000},
                           std::size_t{4} << 20}) {
    void* p = sys::alloc(size, 0, false);
    REQUIRE(p != nullptr);
    CHECK(sys::usable(p) >= size);
    CHECK(sys::usable(p) < size + 4096 + 32);
    std::memset(p, 1, sys::usable(p));  // the whole usable size is ours to write
    void* q = sys::resize(p, size * 2);
    REQUIRE(q != nullptr);
    CHECK(sys::usable(q) >= size * 2);
    sys::release(q);
  }
  void* z = sys::alloc(5000, 0, true);
  bool zero = true;
  for (int i = 0; i < 5000; ++i) zero &= static_cast<unsigned char*>(z)[i] == 0;
  CHECK(zero);
  sys::release(z);
  void* a = sys::alloc(100, 256, true);
  CHECK(aligned(a, 256));
  CHECK(static_cast<unsigned char*>(a)[99] == 0);
  sys::release(a);
}
#endif

TEST_CASE("tracked range: the heap above and below it falls in different slots of jemalloc's leaf cache") {
  // jemalloc's free() fast path caches 16 radix-tree leaves of 1 GiB, slot (address >> 30) % 16.
  // Blocks right above and right below the reservation are size() apart: a multiple of 16 GiB
  // made them evict each other on every switch (free() then always took its slow path).
  REQUIRE(pool::tracked_range::reserve());
  std::size_t gib = pool::tracked_range::size() >> 30;
  CHECK(gib >= 1);
  CHECK(gib % 16 != 0);
  CHECK(gib % 16 != 15);  // the chunk containing the end may be the next one
}
