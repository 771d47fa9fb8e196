#include "widgets/series.h"

#include <algorithm>

namespace heaplens::gui {

const SeriesPoint* point_at(std::span<const SeriesPoint> points, double t) {
  const auto after = std::upper_bound(points.begin(), points.end(), t,
                                      [](double v, const SeriesPoint& p) { return v < p.t; });
  return after == points.begin() ? nullptr : &*(after - 1);
}

SeriesPoint interpolate(const SeriesPoint& a, const SeriesPoint& b, double t) {
  if (!(b.t != a.t)) return SeriesPoint{t, a.min, a.max, a.last};
  const double f = (t - a.t) / (b.t - a.t);
  auto mix = [f](double x, double y) { return x + (y - x) * f; };
  return SeriesPoint{t, mix(a.min, b.min), mix(a.max, b.max), mix(a.last, b.last)};
}

}  // namespace heaplens::gui
