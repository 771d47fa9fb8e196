// An estimated quantity from sampled records: the Horvitz-Thompson sum (each recorded
// allocation stands for 1/p of itself) and an unbiased estimate of its variance, so every
// figure a report prints can carry an error bound. Records that were not sampled (full mode,
// or at least the large threshold) have p = 1 and add no variance: a sum of only those is
// exact.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace heaplens::model {

struct Estimate {
  double value = 0;
  double variance = 0;
  // From a sampled recording: even with no variance (nothing sampled, or only blocks that
  // are always recorded) it is not exact, since unsampled allocations are not in it.
  bool approx = false;
  // Least error to state: what sampling can miss entirely (see approximate()).
  double floor = 0;

  void add(double x, double var) { value += x; variance += var; }
  void sub(double x, double var) { value -= x; variance -= var; }
  Estimate& operator+=(const Estimate& o) {
    value += o.value;
    variance += o.variance;
    approx = approx || o.approx;
    floor += o.floor;
    return *this;
  }
  bool exact() const { return !approx && variance <= 0.5; }
  // Half-width of the ~95 % interval (1.96 standard deviations), at least `floor`.
  double error() const { return std::max(floor, variance > 0 ? 1.96 * std::sqrt(variance) : 0.0); }
  std::uint64_t rounded() const { return value > 0 ? static_cast<std::uint64_t>(value + 0.5) : 0; }
};

// Marks a figure of a sampled recording as an estimate. With a floor: unsampled bytes hide
// with probability exp(-bytes/R), so about 3 R can go unseen at 95 % confidence.
inline Estimate approximate(Estimate e, double floor = 0) {
  e.approx = true;
  e.floor = std::max(e.floor, floor);
  return e;
}

// What one recorded block stands for.
struct Weight {
  double count = 1;       // allocations it represents (1/p)
  double bytes = 0;       // bytes it represents (size/p)
  double var_count = 0;   // its contribution to the variance of a count estimate
  double var_bytes = 0;   // ... of a byte estimate
};

// p = 1 - exp(-size/R): the probability that the Poisson sampler with mean interval R picked a
// block of `size` bytes (shared/format.h, kFlagSampled).
inline Weight weight_of(std::uint64_t size, bool sampled, std::uint64_t interval) {
  Weight w;
  double s = static_cast<double>(size);
  if (!sampled || interval == 0) {
    w.bytes = s;
    return w;
  }
  double p = -std::expm1(-s / static_cast<double>(interval));
  if (!(p > 0)) p = 1e-12;  // a 0-byte sample: weight it as rare, never divide by zero
  w.count = 1 / p;
  w.bytes = s / p;
  // Var of (x/p)·Bernoulli(p) is x²(1-p)/p; dividing by p once more makes the sum over the
  // recorded blocks an unbiased estimate of it.
  w.var_count = (1 - p) / (p * p);
  w.var_bytes = s * s * (1 - p) / (p * p);
  return w;
}

}  // namespace heaplens::model
