#pragma once

#include <span>

namespace heaplens::gui {

// One point of a time series. A raw sample has min == max == last; a point can also stand
// for a bucket of samples (min of their values, max, and the value of the latest).
struct SeriesPoint {
  double t;
  double min, max, last;
};

inline SeriesPoint sample(double t, double value) { return SeriesPoint{t, value, value, value}; }

// The latest point at or before t in a series sorted by t, or nullptr when t precedes it.
const SeriesPoint* point_at(std::span<const SeriesPoint> points, double t);

// a and b interpolated linearly at t (min, max and last alike); a when a.t == b.t.
SeriesPoint interpolate(const SeriesPoint& a, const SeriesPoint& b, double t);

}  // namespace heaplens::gui
