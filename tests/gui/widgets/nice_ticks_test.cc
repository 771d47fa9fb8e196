#include <climits>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "widgets/nice_ticks.h"

using namespace heaplens::gui;

namespace {

constexpr double MiB = 1024.0 * 1024, GiB = MiB * 1024;

std::vector<std::string> labels(const std::vector<Tick>& ticks) {
  std::vector<std::string> out;
  for (const Tick& t : ticks) out.push_back(t.label);
  return out;
}

std::vector<double> values(const std::vector<Tick>& ticks) {
  std::vector<double> out;
  for (const Tick& t : ticks) out.push_back(t.value);
  return out;
}

bool is_decimal_125(double step) {
  const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  for (double m : {1.0, 2.0, 5.0}) {
    if (std::abs(mantissa - m) < 1e-6) return true;
  }
  return false;
}

bool is_nice(double step, Unit unit) {
  switch (unit) {
    case Unit::kBytes: {
      int e = 0;
      return std::frexp(step, &e) == 0.5 && step >= 1;
    }
    case Unit::kSeconds:
      if (step < 1) return is_decimal_125(step);
      for (double s : {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200}) {
        if (step == s) return true;
      }
      return std::fmod(step, 86400) == 0 && is_decimal_125(step / 86400);
    case Unit::kCount: return step >= 1 && is_decimal_125(step);
    case Unit::kPercent: return is_decimal_125(step);
  }
  return false;
}

// What every tick set must satisfy: bounded count, ascending, inside [lo, hi], one nice step,
// distinct labels.
void check_properties(double lo, double hi, int max_ticks, Unit unit) {
  INFO("lo=" << lo << " hi=" << hi << " max=" << max_ticks);
  const auto ticks = nice_ticks(lo, hi, max_ticks, unit);
  REQUIRE(!ticks.empty());
  REQUIRE(static_cast<int>(ticks.size()) <= max_ticks);
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    CHECK(ticks[i].value >= lo);
    CHECK(ticks[i].value <= hi);
    if (i > 0) CHECK(ticks[i].value > ticks[i - 1].value);
  }
  if (ticks.size() >= 2) {
    const double step = ticks[1].value - ticks[0].value;
    CHECK(is_nice(step, unit));
    for (std::size_t i = 2; i < ticks.size(); ++i) {
      // Differences of large values carry their rounding error: compare at their scale.
      CHECK(ticks[i].value - ticks[i - 1].value == Approx(step).margin(std::abs(ticks[i].value) * 1e-14));
    }
    // The step is about the finest allowed: the ladder's widest gap is 2.5, so unless the
    // unit's smallest step (1 B, 1 count) stopped the descent, more than
    // (max_ticks - 1) / 2.5 - 1 ticks fit.
    const bool smallest = (unit == Unit::kBytes || unit == Unit::kCount) && step == 1;
    if (!smallest) CHECK(static_cast<double>(ticks.size()) > (max_ticks - 1) / 2.5 - 1);
  }
  const auto l = labels(ticks);
  CHECK(std::set<std::string>(l.begin(), l.end()).size() == l.size());
}

}  // namespace

TEST_CASE("nice_ticks: counts and percentages step by 1, 2, 5 x 10^k") {
  const auto t = nice_ticks(0, 10, 6, Unit::kCount);
  CHECK(values(t) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(labels(t) == std::vector<std::string>{"0", "2", "4", "6", "8", "10"});
  CHECK(labels(nice_ticks(-1000, 1000, 5, Unit::kCount)) ==
        std::vector<std::string>{"-1 k", "-500", "0", "500", "1 k"});
  CHECK(labels(nice_ticks(0, 3, 10, Unit::kCount)) == std::vector<std::string>{"0", "1", "2", "3"});
  CHECK(labels(nice_ticks(0, 100, 5, Unit::kPercent)) == std::vector<std::string>{"0%", "50%", "100%"});
  CHECK(labels(nice_ticks(0, 1, 3, Unit::kPercent)) == std::vector<std::string>{"0%", "0.5%", "1%"});
  CHECK(labels(nice_ticks(1200, 1900, 8, Unit::kCount)) ==
        std::vector<std::string>{"1.2 k", "1.3 k", "1.4 k", "1.5 k", "1.6 k", "1.7 k", "1.8 k", "1.9 k"});
}

TEST_CASE("nice_ticks: bytes step by powers of two") {
  const auto t = nice_ticks(0, 1.3 * GiB, 6, Unit::kBytes);
  CHECK(labels(t) == std::vector<std::string>{"0 B", "256 MiB", "512 MiB", "768 MiB", "1 GiB", "1.25 GiB"});
  CHECK(labels(nice_ticks(0, 3, 10, Unit::kBytes)) == std::vector<std::string>{"0 B", "1 B", "2 B", "3 B"});
  CHECK(labels(nice_ticks(0, 4096, 5, Unit::kBytes)) ==
        std::vector<std::string>{"0 B", "1 KiB", "2 KiB", "3 KiB", "4 KiB"});
  // Zoomed in far: the labels carry the digits that tell neighbours apart.
  const auto zoomed = nice_ticks(1000 * MiB, 1001 * MiB, 10, Unit::kBytes);
  CHECK(zoomed.size() == 9);
  CHECK(zoomed[0].label == "1000 MiB");
  CHECK(zoomed[1].label == "1000.125 MiB");
  CHECK(zoomed.back().label == "1001 MiB");
}

TEST_CASE("nice_ticks: seconds step like a clock") {
  CHECK(labels(nice_ticks(0, 300, 6, Unit::kSeconds)) ==
        std::vector<std::string>{"0 s", "1 min", "2 min", "3 min", "4 min", "5 min"});
  CHECK(labels(nice_ticks(0, 45, 4, Unit::kSeconds)) == std::vector<std::string>{"0 s", "15 s", "30 s", "45 s"});
  CHECK(labels(nice_ticks(0, 1, 5, Unit::kSeconds)) == std::vector<std::string>{"0 s", "500 ms", "1 s"});
  CHECK(labels(nice_ticks(60, 61, 3, Unit::kSeconds)) ==
        std::vector<std::string>{"1 min", "1 min 00.5 s", "1 min 01 s"});
  CHECK(labels(nice_ticks(0, 4 * 3600, 5, Unit::kSeconds)) ==
        std::vector<std::string>{"0 s", "1 h", "2 h", "3 h", "4 h"});
  CHECK(labels(nice_ticks(3600, 3600 + 90, 4, Unit::kSeconds)) ==
        std::vector<std::string>{"1 h", "1 h 00 min 30 s", "1 h 01 min", "1 h 01 min 30 s"});
  CHECK(labels(nice_ticks(0, 0.002, 3, Unit::kSeconds)) == std::vector<std::string>{"0 s", "1 ms", "2 ms"});
  CHECK(values(nice_ticks(0, 10 * 86400, 6, Unit::kSeconds)) ==
        std::vector<double>{0, 2 * 86400, 4 * 86400, 6 * 86400, 8 * 86400, 10 * 86400});
}

TEST_CASE("nice_ticks: properties over many ranges") {
  for (Unit unit : {Unit::kBytes, Unit::kSeconds, Unit::kCount, Unit::kPercent}) {
    for (double lo : {0.0, 1.0, 37.0, 1234.5, 1e6, -5e4}) {
      for (double span : {1.0, 7.5, 100.0, 1e3, 65536.0, 3.7e6, 1e9, 5e12}) {
        for (int max_ticks : {2, 3, 5, 8, 13}) check_properties(lo, lo + span, max_ticks, unit);
      }
    }
  }
  check_properties(0.1, 0.35, 4, Unit::kSeconds);
  check_properties(0.001, 0.0017, 6, Unit::kPercent);
}

TEST_CASE("nice_ticks: degenerate input ends, bounded") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(nice_ticks(nan, 1, 5, Unit::kCount).empty());
  CHECK(nice_ticks(0, inf, 5, Unit::kBytes).empty());
  CHECK(nice_ticks(-inf, inf, 5, Unit::kSeconds).empty());
  CHECK(nice_ticks(0, 10, 0, Unit::kCount).empty());
  CHECK(nice_ticks(0, 10, -3, Unit::kCount).empty());

  const auto same = nice_ticks(5 * MiB, 5 * MiB, 5, Unit::kBytes);
  REQUIRE(same.size() == 1);
  CHECK(same[0].value == 5 * MiB);
  CHECK(same[0].label == "5 MiB");

  CHECK(values(nice_ticks(10, 0, 6, Unit::kCount)) == values(nice_ticks(0, 10, 6, Unit::kCount)));

  CHECK(nice_ticks(0, 1e300, INT_MAX, Unit::kCount).size() <= static_cast<std::size_t>(kMaxTicks));
  const auto full = nice_ticks(-1e308, 1e308, 5, Unit::kCount);  // the span overflows
  CHECK(values(full) == std::vector<double>{-1e308, 1e308});

  // Spans at or below an ulp of the bounds: must stop, stay inside and ascend.
  for (auto [lo, hi] : {std::pair{1e15, 1e15 + 0.125}, std::pair{1e300, 1e300 * (1 + 1e-15)},
                        std::pair{0.0, 1e-310}, std::pair{1.0, std::nextafter(1.0, 2.0)}}) {
    for (Unit unit : {Unit::kBytes, Unit::kSeconds, Unit::kCount, Unit::kPercent}) {
      const auto t = nice_ticks(lo, hi, 7, unit);
      CHECK(t.size() <= 7);
      for (std::size_t i = 0; i < t.size(); ++i) {
        CHECK(t[i].value >= lo);
        CHECK(t[i].value <= hi);
        if (i > 0) CHECK(t[i].value > t[i - 1].value);
      }
    }
  }

  const auto one = nice_ticks(3, 17, 1, Unit::kCount);
  REQUIRE(one.size() == 1);
  CHECK(one[0].value == 10);
  const auto zero = nice_ticks(-0.4, 0.4, 3, Unit::kPercent);  // step 0.5: only 0 inside
  REQUIRE(zero.size() == 1);
  CHECK(zero[0].label == "0%");  // never "-0%"
}
