// Poisson sampling by bytes (the scheme of jemalloc's prof, tcmalloc and heapprofd).
//
// Every allocated byte is a sampling point with probability 1/R. Each thread keeps a
// countdown of bytes to its next sample, drawn from an exponential distribution of mean R;
// the fast path subtracts the size and tests the sign, nothing else. An allocation that
// takes the countdown below zero is sampled and a fresh countdown is drawn. Because the
// exponential distribution is memoryless, an allocation of s bytes is then sampled with
// p = 1 - exp(-s/R) regardless of what came before, and counting it with weight s/p bytes
// (1/p blocks) gives unbiased totals. See weight() and docs/tracker.md.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace heaplens::pool {

// xoshiro-style generator state; splitmix64 seeds it.
inline std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Bytes until the next sample: exponential with mean `interval`, at least 1. Slow path only
// (a log and a multiply).
inline std::int64_t draw_countdown(std::uint64_t& rng, std::uint64_t interval) noexcept {
  double u = static_cast<double>(splitmix64(rng) >> 11) * 0x1.0p-53;  // [0, 1)
  double bytes = -std::log1p(-u) * static_cast<double>(interval);
  if (!(bytes >= 1.0)) return 1;
  if (bytes > 9.0e18) return INT64_MAX;
  return static_cast<std::int64_t>(bytes);
}

// Probability that a block of `size` bytes is sampled, and its weight in bytes and blocks.
inline double sample_probability(std::uint64_t size, std::uint64_t interval) noexcept {
  if (interval == 0) return 1.0;
  return -std::expm1(-static_cast<double>(size) / static_cast<double>(interval));
}

// The sampler of one thread; the pool keeps its state in static TLS, tests use it directly.
struct Sampler {
  std::int64_t countdown = 0;  // 0: the first allocation draws
  std::uint64_t rng = 0;
  std::uint64_t interval = 0;

  Sampler() = default;
  Sampler(std::uint64_t interval_bytes, std::uint64_t seed) noexcept
      : rng(seed), interval(interval_bytes) {
    countdown = draw_countdown(rng, interval);
  }

  // The fast path's test; on true call sampled().
  bool tick(std::size_t size) noexcept {
    countdown -= static_cast<std::int64_t>(size);
    return countdown < 0;
  }
  // After a tick that crossed zero: redraws; true if the allocation is sampled (always).
  void redraw() noexcept { countdown = draw_countdown(rng, interval); }

  bool sample(std::size_t size) noexcept {
    if (!tick(size)) return false;
    redraw();
    return true;
  }
};

}  // namespace heaplens::pool
