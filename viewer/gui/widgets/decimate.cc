#include "widgets/decimate.h"

#include <algorithm>
#include <cmath>

namespace heaplens::gui {

std::vector<SeriesPoint> decimate(std::span<const SeriesPoint> points, double t0, double t1, int columns) {
  std::vector<SeriesPoint> out;
  if (columns <= 0 || points.empty() || !std::isfinite(t0) || !std::isfinite(t1) || !(t0 < t1)) {
    return out;
  }
  const auto first = std::lower_bound(points.begin(), points.end(), t0,
                                      [](const SeriesPoint& p, double t) { return p.t < t; });
  const auto end = std::upper_bound(first, points.end(), t1,
                                    [](double t, const SeriesPoint& p) { return t < p.t; });
  const auto in_range = static_cast<std::size_t>(end - first);
  out.reserve(std::min(in_range, static_cast<std::size_t>(columns)) + 2);

  if (first != points.begin()) out.push_back(*(first - 1));
  const double width = (t1 - t0) / columns;
  int bucket = -1;
  for (auto it = first; it != end; ++it) {
    const double pos = (it->t - t0) / width;
    // Written so NaN lands in column 0 instead of an undefined cast.
    const int column = pos >= columns ? columns - 1 : pos > 0 ? static_cast<int>(pos) : 0;
    if (column > bucket) {
      out.push_back(*it);
      bucket = column;
    } else {
      SeriesPoint& b = out.back();
      b.min = std::min(b.min, it->min);
      b.max = std::max(b.max, it->max);
      b.last = it->last;
    }
  }
  if (end != points.end()) out.push_back(*end);
  return out;
}

}  // namespace heaplens::gui
