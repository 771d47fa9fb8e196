// The Poisson byte sampler (pool/sampler.h): weighting each sampled allocation by 1/p with
// p = sample_probability(size, R) must give unbiased totals, and a block of s bytes must be
// sampled with probability 1 - exp(-s/R) whatever came before it.
#include <catch2/catch.hpp>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sampler.h"

namespace pool = heaplens::pool;

namespace {

constexpr std::uint64_t kMiB = 1 << 20;

// A deterministic mix: 90% 16..1024 bytes, ~10% 4..64 KiB, 0.1% 1 MiB.
struct SizeMix {
  std::uint64_t state;
  explicit SizeMix(std::uint64_t seed) : state(seed) {}
  std::uint64_t next() {
    std::uint64_t r = pool::splitmix64(state);
    std::uint64_t pick = r % 1000;
    std::uint64_t v = r >> 20;
    if (pick < 900) return 16 + v % 1009;
    if (pick < 999) return 4096 + v % (61440 + 1);
    return kMiB;
  }
};

struct Estimate {
  double true_bytes = 0, true_count = 0;
  double est_bytes = 0, est_count = 0;
  double var_bytes = 0, var_count = 0;  // of the estimators, exact for this sequence
  double mean_sampled = 0, var_sampled = 0;
  std::uint64_t sampled = 0;
};

Estimate run(std::uint64_t interval, std::uint64_t seed, std::uint64_t n) {
  pool::Sampler s(interval, seed);
  SizeMix mix(seed ^ 0x5555);
  // Sizes are at most 64 KiB + 1 MiB: count them to compute the variance once per size.
  std::vector<std::uint64_t> histogram(64 * 1024 + 1, 0);
  std::uint64_t mib = 0;
  Estimate e;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t size = mix.next();
    if (size == kMiB) ++mib;
    else ++histogram[size];
    if (s.sample(size)) {
      double p = pool::sample_probability(size, interval);
      e.est_bytes += static_cast<double>(size) / p;
      e.est_count += 1.0 / p;
      ++e.sampled;
    }
  }
  auto add = [&](std::uint64_t size, std::uint64_t count) {
    if (count == 0) return;
    double p = pool::sample_probability(size, interval);
    double c = static_cast<double>(count), sz = static_cast<double>(size);
    e.true_bytes += c * sz;
    e.true_count += c;
    e.var_bytes += c * sz * sz * (1 - p) / p;
    e.var_count += c * (1 - p) / p;
    e.mean_sampled += c * p;
    e.var_sampled += c * p * (1 - p);
  };
  for (std::uint64_t size = 0; size < histogram.size(); ++size) add(size, histogram[size]);
  add(kMiB, mib);
  return e;
}

}  // namespace

TEST_CASE("sampler: sample_probability is 1 - exp(-s/R)") {
  CHECK(pool::sample_probability(0, 512 * 1024) == 0.0);
  CHECK(pool::sample_probability(100, 0) == 1.0);
  CHECK(pool::sample_probability(512 * 1024, 512 * 1024) == Approx(1 - std::exp(-1.0)).epsilon(1e-12));
  CHECK(pool::sample_probability(16, 512 * 1024) == Approx(16.0 / (512 * 1024)).epsilon(1e-4));
  CHECK(pool::sample_probability(1, 1ull << 40) > 0.0);  // no cancellation to 0
  CHECK(pool::sample_probability(1ull << 40, 1) == 1.0);
  double last = 0;
  for (std::uint64_t s = 1; s < (1ull << 30); s *= 3) {
    double p = pool::sample_probability(s, 64 * 1024);
    if (last < 1.0) CHECK(p > last);
    else CHECK(p == 1.0);
    CHECK(p <= 1.0);
    last = p;
  }
}

TEST_CASE("sampler: countdowns are exponential with mean R") {
  for (std::uint64_t interval : {std::uint64_t{64 * 1024}, std::uint64_t{512 * 1024}}) {
    std::uint64_t rng = 12345;
    constexpr int kDraws = 400000;
    double sum = 0;
    int below_median = 0;
    std::int64_t min = INT64_MAX;
    for (int i = 0; i < kDraws; ++i) {
      std::int64_t c = pool::draw_countdown(rng, interval);
      min = std::min(min, c);
      sum += static_cast<double>(c);
      if (static_cast<double>(c) < std::log(2.0) * static_cast<double>(interval)) ++below_median;
    }
    double r = static_cast<double>(interval);
    double se = r / std::sqrt(static_cast<double>(kDraws));
    CHECK(min >= 1);
    CHECK(std::abs(sum / kDraws - (r - 0.5)) < 5 * se);
    CHECK(std::abs(below_median - kDraws / 2) < 5 * std::sqrt(kDraws / 4.0));
  }
}

TEST_CASE("sampler: weighted samples estimate total bytes and blocks within 3%") {
  constexpr std::uint64_t kAllocations = 10'000'000;
  for (std::uint64_t interval : {std::uint64_t{512 * 1024}, std::uint64_t{64 * 1024}}) {
    for (std::uint64_t seed : {std::uint64_t{1}, std::uint64_t{0xC0FFEE}}) {
      Estimate e = run(interval, seed, kAllocations);
      double bytes_err = (e.est_bytes - e.true_bytes) / e.true_bytes;
      double count_err = (e.est_count - e.true_count) / e.true_count;
      double bytes_z = (e.est_bytes - e.true_bytes) / std::sqrt(e.var_bytes);
      double count_z = (e.est_count - e.true_count) / std::sqrt(e.var_count);
      INFO("R " << interval << " seed " << seed << ": " << e.sampled << " sampled; bytes error " << bytes_err
                << " (z " << bytes_z << "), count error " << count_err << " (z " << count_z << ")");
      CHECK(e.true_count == kAllocations);
      CHECK(std::abs(bytes_err) < 0.03);
      // The block count is the noisier estimate (16-byte blocks are sampled with p = 3e-5):
      // at R = 512 KiB one standard deviation is about 1.4% for this mix.
      CHECK(std::abs(count_err) < 0.03);
      // Within a few standard deviations of the estimator, too (a much tighter test for
      // bytes: one standard deviation is about 0.3% at R = 512 KiB).
      CHECK(std::abs(bytes_z) < 4.5);
      CHECK(std::abs(count_z) < 4.5);
      // The number of samples is the sum of the probabilities (about one per R bytes).
      CHECK(std::abs(static_cast<double>(e.sampled) - e.mean_sampled) < 5 * std::sqrt(e.var_sampled));
    }
  }
}

TEST_CASE("sampler: a block of s bytes is sampled with probability 1 - exp(-s/R)") {
  constexpr std::uint64_t kR = 512 * 1024;
  struct Case {
    std::uint64_t size;
    std::uint64_t n;
  };
  for (Case c : {Case{64, 2'000'000}, Case{4096, 1'000'000}, Case{65536, 400'000}, Case{kR, 200'000},
                 Case{4 * kR, 100'000}}) {
    // Alone, and interleaved with other sizes (memorylessness: what came before must not
    // matter).
    for (bool interleaved : {false, true}) {
      pool::Sampler s(kR, 777 + c.size);
      std::uint64_t hits = 0;
      for (std::uint64_t i = 0; i < c.n; ++i) {
        if (interleaved) {
          s.sample(100);
          s.sample(3000 + i % 5000);
        }
        if (s.sample(c.size)) ++hits;
      }
      double p = pool::sample_probability(c.size, kR);
      double n = static_cast<double>(c.n);
      double sd = std::sqrt(n * p * (1 - p));
      INFO("size " << c.size << (interleaved ? " interleaved" : " alone") << ": " << hits << " of " << c.n
                   << ", expected " << n * p << " +- " << sd);
      CHECK(std::abs(static_cast<double>(hits) - n * p) < 5 * sd + 1);
    }
  }
}

TEST_CASE("sampler: the same seed gives the same decisions, another seed others") {
  pool::Sampler a(64 * 1024, 99), b(64 * 1024, 99), c(64 * 1024, 100);
  int same_ab = 0, same_ac = 0, hits = 0;
  for (int i = 0; i < 100000; ++i) {
    bool x = a.sample(1000), y = b.sample(1000), z = c.sample(1000);
    same_ab += x == y;
    same_ac += x == z && x;
    hits += x;
  }
  CHECK(same_ab == 100000);
  CHECK(hits > 0);
  CHECK(same_ac < hits);
}
