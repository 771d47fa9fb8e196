#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "counters.h"

namespace pool = heaplens::pool;

TEST_CASE("single-thread counters and peak are exact") {
  pool::counters_reset_for_testing();
  pool::count_alloc(10, 16, false);
  pool::count_alloc(1000, 1024, false);
  pool::count_free(16);
  pool::count_alloc(300000, 311296, true);   // peak: 1024 + 311296
  pool::count_free(311296);
  pool::count_realloc(1024, 2000, 2048, false);
  auto s = pool::sum_counters();
  CHECK(s.allocations == 4);
  CHECK(s.frees == 3);
  CHECK(s.bytes_requested == 10 + 1000 + 300000 + 2000);
  CHECK(s.bytes_allocated == 16 + 1024 + 311296 + 2048);
  CHECK(s.bytes_freed == 16 + 311296 + 1024);
  CHECK(s.live_bytes == 2048);
  CHECK(s.peak_live_bytes == 1024 + 311296);
  CHECK(s.large_allocations == 1);
}

TEST_CASE("small changes below the slack still move the single-thread peak") {
  pool::counters_reset_for_testing();
  for (int i = 0; i < 100; ++i) pool::count_alloc(8, 8, false);  // 800 bytes, never published
  for (int i = 0; i < 100; ++i) pool::count_free(8);
  auto s = pool::sum_counters();
  CHECK(s.peak_live_bytes == 800);
  CHECK(s.live_bytes == 0);
}

TEST_CASE("threads' counts survive their exit and sum exactly") {
  pool::counters_init();
  pool::counters_reset_for_testing();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < kPerThread; ++i) pool::count_alloc(24, 32, false);
      for (int i = 0; i < kPerThread / 2; ++i) pool::count_free(32);
    });
  }
  // Summing while they run must be safe (values are monotonic, live is clamped).
  for (int i = 0; i < 1000; ++i) {
    auto s = pool::sum_counters();
    CHECK(s.allocations <= std::uint64_t{kThreads} * kPerThread);
  }
  for (auto& t : threads) t.join();
  auto s = pool::sum_counters();
  CHECK(s.allocations == std::uint64_t{kThreads} * kPerThread);
  CHECK(s.frees == std::uint64_t{kThreads} * kPerThread / 2);
  CHECK(s.live_bytes == std::uint64_t{kThreads} * kPerThread / 2 * 32);
  // Peak is exact up to (threads - 1) * slack: the true peak lies between these.
  CHECK(s.peak_live_bytes >= s.live_bytes);
  CHECK(s.peak_live_bytes <= std::uint64_t{kThreads} * kPerThread * 32);
}

TEST_CASE("cross-thread frees balance live bytes") {
  pool::counters_init();
  pool::counters_reset_for_testing();
  std::thread producer([] {
    for (int i = 0; i < 50000; ++i) pool::count_alloc(100, 112, false);
  });
  producer.join();
  std::thread consumer([] {
    for (int i = 0; i < 50000; ++i) pool::count_free(112);
  });
  consumer.join();
  auto s = pool::sum_counters();
  CHECK(s.live_bytes == 0);
  CHECK(s.allocations == 50000);
  CHECK(s.frees == 50000);
  CHECK(s.peak_live_bytes >= 50000 * 112 - heaplens::pool::kPeakSlack);
  CHECK(s.peak_live_bytes <= 50000 * 112);
}

TEST_CASE("many short-lived threads: every count survives their exit") {
  pool::counters_init();
  pool::counters_reset_for_testing();
  for (int round = 0; round < 200; ++round) {
    std::thread t([] { pool::count_alloc(1, 8, false); });
    t.join();
  }
  auto s = pool::sum_counters();
  CHECK(s.allocations == 200);
  CHECK(s.bytes_allocated == 1600);
  CHECK(s.threads == 200);
}

namespace {
// A fake backend's per-thread totals of usable bytes.
thread_local std::uint64_t t_fake_allocated = 1000;  // nonzero: blocks start mid-stream
thread_local std::uint64_t t_fake_freed = 500;
bool fake_lend(pool::LentTotals* out) {
  out->allocated = &t_fake_allocated;
  out->freed = &t_fake_freed;
  return true;
}
}  // namespace

TEST_CASE("lent totals: bytes come from the backend, counts from the calls") {
  pool::counters_init();
  pool::counters_reset_for_testing();
  pool::counters_set_lender(fake_lend);
  std::thread([] {
    REQUIRE(pool::bytes_lent());  // claims the block; earlier totals are not ours
    t_fake_allocated += 64;
    pool::count_alloc_lent(50, false);
    t_fake_allocated += 1 << 20;
    pool::count_alloc_lent(1000000, true);
    t_fake_freed += 64;
    pool::count_free_lent();
    t_fake_allocated += 128;
    t_fake_freed += 1 << 20;
    pool::count_realloc_lent(100, false);
  }).join();
  auto s = pool::sum_counters();
  CHECK(s.allocations == 3);
  CHECK(s.frees == 2);
  CHECK(s.bytes_requested == 50 + 1000000 + 100);
  CHECK(s.large_allocations == 1);
  CHECK(s.bytes_allocated == 64 + (1 << 20) + 128);
  CHECK(s.bytes_freed == 64 + (1 << 20));
  CHECK(s.live_bytes == 128);
  CHECK(s.peak_live_bytes == 64 + (1 << 20));

  // The next thread's own totals start elsewhere; the sums go on.
  std::thread([] {
    REQUIRE(pool::bytes_lent());
    t_fake_allocated += 32;
    pool::count_alloc_lent(20, false);
  }).join();
  s = pool::sum_counters();
  CHECK(s.threads == 2);
  CHECK(s.allocations == 4);
  CHECK(s.bytes_allocated == 64 + (1 << 20) + 128 + 32);
  CHECK(s.live_bytes == 160);
  pool::counters_set_lender(nullptr);
}

TEST_CASE("lent totals: the peak is exact on one thread, checked before frees and at exit") {
  pool::counters_init();
  pool::counters_reset_for_testing();
  pool::counters_set_lender(fake_lend);
  std::thread([] {
    REQUIRE(pool::bytes_lent());
    // Climb in steps smaller than the publishing slack: nothing is published on the way.
    for (int i = 0; i < 100; ++i) {
      REQUIRE(pool::bytes_lent());
      t_fake_allocated += 96;
      pool::count_alloc_lent(90, false);
    }
    for (int i = 0; i < 40; ++i) {
      REQUIRE(pool::bytes_lent_before_release());
      t_fake_freed += 96;
      pool::count_free_lent();
    }
    // A realloc that shrinks right after growing: the growth counts.
    REQUIRE(pool::bytes_lent());
    t_fake_allocated += 32;
    pool::count_alloc_lent(30, false);
    REQUIRE(pool::bytes_lent_before_release());
    t_fake_allocated += 16;
    t_fake_freed += 96;
    pool::count_realloc_lent(10, false);
    auto s = pool::sum_counters();
    CHECK(s.live_bytes == 60 * 96 + 32 + 16 - 96);
    CHECK(s.peak_live_bytes == 100 * 96);
  }).join();
  auto s = pool::sum_counters();
  CHECK(s.peak_live_bytes == 100 * 96);

  // A thread that only grows: its highest point is its end, seen when it exits.
  pool::counters_reset_for_testing();
  std::thread([] {
    for (int i = 0; i < 10; ++i) {
      REQUIRE(pool::bytes_lent());
      t_fake_allocated += 1000;
      pool::count_alloc_lent(1000, false);
    }
  }).join();
  std::thread([] {
    REQUIRE(pool::bytes_lent_before_release());
    t_fake_freed += 10000;  // frees the other thread's blocks
    pool::count_free_lent();
  }).join();
  s = pool::sum_counters();
  CHECK(s.live_bytes == 0);
  CHECK(s.peak_live_bytes == 10000);
  pool::counters_set_lender(nullptr);
}
