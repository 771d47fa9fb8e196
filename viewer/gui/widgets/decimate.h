#pragma once

#include <span>
#include <vector>

#include "widgets/series.h"

namespace heaplens::gui {

// Reduces a series sorted by t to at most `columns` buckets over [t0, t1], one per equal
// slice of the range (one per pixel column when columns is the plot's width). Bucket i holds
// the points with t in [t0 + i*w, t0 + (i+1)*w), the last one also t1 itself. A bucket's t
// is the t of its first point (so a series sparser than the columns comes back unchanged),
// min is the min of the mins, max the max of the maxes, last the last of its last point.
// Around the buckets: the last point before t0 and the first point after t1, unchanged, when
// they exist, so a line drawn through the result reaches both edges. At most columns + 2
// points; O(log n + points in range).
// Empty result for columns <= 0, no points, a NaN or infinite bound, or t0 >= t1. Unsorted
// input gives a wrong but still bounded result.
std::vector<SeriesPoint> decimate(std::span<const SeriesPoint> points, double t0, double t1, int columns);

}  // namespace heaplens::gui
