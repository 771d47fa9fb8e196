#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "widgets/decimate.h"

using namespace heaplens::gui;

namespace {

bool same_point(const SeriesPoint& a, const SeriesPoint& b) {
  return a.t == b.t && a.min == b.min && a.max == b.max && a.last == b.last;
}

// t = 0..9, values chosen so each half has a distinct min, max and last.
const std::vector<SeriesPoint> kTen = {sample(0, 5), sample(1, 9), sample(2, 1), sample(3, 4), sample(4, 6),
                                       sample(5, 2), sample(6, 8), sample(7, 0), sample(8, 7), sample(9, 3)};

}  // namespace

TEST_CASE("decimate: buckets hold min of mins, max of maxes, last of the last point") {
  const auto out = decimate(kTen, 0, 10, 2);  // [0, 5) and [5, 10]
  REQUIRE(out.size() == 2);
  CHECK(same_point(out[0], SeriesPoint{0, 1, 9, 6}));  // t of the bucket's first point
  CHECK(same_point(out[1], SeriesPoint{5, 0, 8, 3}));

  const auto fives = decimate(kTen, 0, 10, 5);  // pairs
  REQUIRE(fives.size() == 5);
  CHECK(same_point(fives[2], SeriesPoint{4, 2, 6, 2}));
}

TEST_CASE("decimate: points that already are buckets combine their ranges") {
  const std::vector<SeriesPoint> pts = {{0, 3, 10, 4}, {1, -2, 5, 5}, {2, 0, 20, 1}, {3, 1, 1, 1}};
  const auto out = decimate(pts, 0, 4, 1);
  REQUIRE(out.size() == 1);
  CHECK(same_point(out[0], SeriesPoint{0, -2, 20, 1}));
}

TEST_CASE("decimate: t1 itself goes into the last bucket") {
  const auto out = decimate(kTen, 0, 9, 3);  // [0,3) [3,6) [6,9]
  REQUIRE(out.size() == 3);
  CHECK(same_point(out[2], SeriesPoint{6, 0, 8, 3}));
}

TEST_CASE("decimate: the neighbours outside the range come along unchanged") {
  std::vector<SeriesPoint> pts = {sample(-2, 100), sample(-1, 50)};
  pts.insert(pts.end(), kTen.begin(), kTen.end());
  pts.push_back(sample(11, 70));
  pts.push_back(sample(12, 80));
  const auto out = decimate(pts, 0, 10, 2);
  REQUIRE(out.size() == 4);
  CHECK(same_point(out[0], sample(-1, 50)));
  CHECK(same_point(out[1], SeriesPoint{0, 1, 9, 6}));
  CHECK(same_point(out[2], SeriesPoint{5, 0, 8, 3}));
  CHECK(same_point(out[3], sample(11, 70)));

  // Nothing inside: just the two neighbours, so the line still crosses the view.
  const auto gap = decimate(pts, 9.5, 10.5, 100);
  REQUIRE(gap.size() == 2);
  CHECK(same_point(gap[0], sample(9, 3)));
  CHECK(same_point(gap[1], sample(11, 70)));
  // All data before the range: only the last point before it.
  const auto after = decimate(pts, 20, 30, 10);
  REQUIRE(after.size() == 1);
  CHECK(same_point(after[0], sample(12, 80)));
}

TEST_CASE("decimate: a series sparser than the columns comes back unchanged") {
  const auto out = decimate(kTen, 0, 10, 1000);
  REQUIRE(out.size() == kTen.size());
  for (std::size_t i = 0; i < kTen.size(); ++i) CHECK(same_point(out[i], kTen[i]));
}

TEST_CASE("decimate: invalid input gives nothing") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(decimate({}, 0, 10, 10).empty());
  CHECK(decimate(kTen, 0, 10, 0).empty());
  CHECK(decimate(kTen, 0, 10, -5).empty());
  CHECK(decimate(kTen, 5, 5, 10).empty());
  CHECK(decimate(kTen, 6, 5, 10).empty());
  CHECK(decimate(kTen, nan, 5, 10).empty());
  CHECK(decimate(kTen, 0, inf, 10).empty());
}

TEST_CASE("decimate: a million points come down to the columns, extremes kept") {
  std::vector<SeriesPoint> pts;
  pts.reserve(1'000'000);
  for (int i = 0; i < 1'000'000; ++i) pts.push_back(sample(i * 1e-3, std::sin(i * 0.001) * 1000 + (i % 7)));
  const double t0 = 100, t1 = 900;
  const int columns = 800;
  const auto out = decimate(pts, t0, t1, columns);
  CHECK(out.size() <= static_cast<std::size_t>(columns) + 2);
  CHECK(out.size() == static_cast<std::size_t>(columns) + 2);  // dense: every column filled
  CHECK(out.front().t < t0);
  CHECK(out.back().t > t1);

  double true_min = INFINITY, true_max = -INFINITY;
  for (const SeriesPoint& p : pts) {
    if (p.t >= t0 && p.t <= t1) {
      true_min = std::min(true_min, p.min);
      true_max = std::max(true_max, p.max);
    }
  }
  double got_min = INFINITY, got_max = -INFINITY;
  for (std::size_t i = 1; i + 1 < out.size(); ++i) {
    got_min = std::min(got_min, out[i].min);
    got_max = std::max(got_max, out[i].max);
    CHECK(out[i].t >= t0 + (i - 1) * (t1 - t0) / columns - 1e-9);  // bucket i-1 starts here
    CHECK(out[i].t < t0 + i * (t1 - t0) / columns + 1e-9);
  }
  CHECK(got_min == true_min);
  CHECK(got_max == true_max);
}

TEST_CASE("point_at and interpolate") {
  CHECK(point_at(kTen, -1) == nullptr);
  REQUIRE(point_at(kTen, 3.5) != nullptr);
  CHECK(point_at(kTen, 3.5)->t == 3);
  CHECK(point_at(kTen, 3)->t == 3);
  CHECK(point_at(kTen, 100)->t == 9);
  const SeriesPoint mid = interpolate(SeriesPoint{0, 0, 10, 4}, SeriesPoint{2, 2, 20, 8}, 1);
  CHECK(same_point(mid, SeriesPoint{1, 1, 15, 6}));
}
