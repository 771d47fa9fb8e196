#include "widgets/format_units.h"

#include <array>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace heaplens::gui {
namespace {

std::string non_finite(double v) {
  if (std::isnan(v)) return "n/a";
  return v > 0 ? "inf" : "-inf";
}

const char* sign_of(double v) { return v < 0 ? "-" : ""; }

// Decisions use std::round rather than parsing the printed text: strtod would follow the
// process locale, fmt does not.
bool rounds_to_at_least(double a, int decimals, double limit) {
  const double scale = std::pow(10.0, decimals);
  return std::round(a * scale) >= limit * scale;
}

// Fixed-point with three significant digits for 0 <= a < 1000 ("1.50", "12.5", "250").
std::string three_significant(double a) {
  if (!rounds_to_at_least(a, 2, 10)) return fmt::format("{:.2f}", a);
  if (!rounds_to_at_least(a, 1, 100)) return fmt::format("{:.1f}", a);
  return fmt::format("{:.0f}", a);
}

std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

bool whole(double x) { return std::abs(x - std::round(x)) <= 1e-9 * std::max(1.0, std::abs(x)); }

// Scales |v| by `step` until it would print below `step` (after rounding to three significant
// digits), up to the last unit.
template <std::size_t N>
std::string scaled(double v, double step, const std::array<const char*, N>& units, const char* sep) {
  double a = std::abs(v);
  std::size_t k = 0;
  while (k + 1 < N && (a >= step || rounds_to_at_least(a, 0, step))) {
    a /= step;
    ++k;
  }
  return fmt::format("{}{}{}{}", sign_of(v), trim_zeros(three_significant(a)), sep, units[k]);
}

std::string sub_minute(double a) {
  struct Scale { double factor; const char* name; };
  static constexpr std::array<Scale, 4> kScales = {
      {{1e9, "ns"}, {1e6, "\xC2\xB5s"}, {1e3, "ms"}, {1, "s"}}};
  std::size_t k = a < 1e-6 ? 0 : a < 1e-3 ? 1 : a < 1 ? 2 : 3;
  double x = a * kScales[k].factor;
  // 999.6 ms prints as 1.00 s, not 1000 ms.
  while (k + 1 < kScales.size() && rounds_to_at_least(x, 0, 1000)) {
    ++k;
    x = a * kScales[k].factor;
  }
  const std::string digits = whole(x) ? fmt::format("{:.0f}", x) : three_significant(x);
  return fmt::format("{} {}", digits, kScales[k].name);
}

}  // namespace

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes)) return non_finite(bytes);
  static constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  return scaled(bytes, 1024.0, kUnits, " ");
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return non_finite(seconds);
  const double a = std::abs(seconds);
  if (a < 0.5e-9) return "0 s";
  const char* sign = sign_of(seconds);
  if (a < 60 && !rounds_to_at_least(a, a < 10 ? 2 : 1, 60)) return fmt::format("{}{}", sign, sub_minute(a));
  // Beyond ~30 000 years whole minutes no longer fit an integer; hours with exponent.
  if (a >= 1e12) return fmt::format("{}{:.3g} h", sign, a / 3600);
  const auto total_s = static_cast<std::int64_t>(std::llround(a));
  if (total_s < 3600) {
    const auto m = total_s / 60, s = total_s % 60;
    return s == 0 ? fmt::format("{}{} min", sign, m) : fmt::format("{}{} min {:02} s", sign, m, s);
  }
  const auto total_min = static_cast<std::int64_t>(std::llround(a / 60));
  const auto h = total_min / 60, m = total_min % 60;
  return m == 0 ? fmt::format("{}{} h", sign, h) : fmt::format("{}{} h {:02} min", sign, h, m);
}

std::string format_count(double count) {
  if (!std::isfinite(count)) return non_finite(count);
  const double a = std::abs(count);
  if (!rounds_to_at_least(a, 0, 1000)) {
    return fmt::format("{}{}", sign_of(count),
                       whole(a) ? fmt::format("{:.0f}", a) : trim_zeros(three_significant(a)));
  }
  static constexpr std::array<const char*, 5> kUnits = {"", "k", "M", "G", "T"};
  double x = a;
  std::size_t k = 0;
  while (k + 1 < kUnits.size() && rounds_to_at_least(x, 0, 1000)) {
    x /= 1000;
    ++k;
  }
  // One decimal is plenty for a count: "1.2 k", "12.3 k", "123 k".
  const std::string digits = rounds_to_at_least(x, 1, 100) ? fmt::format("{:.0f}", x)
                                                           : trim_zeros(fmt::format("{:.1f}", x));
  return fmt::format("{}{} {}", sign_of(count), digits, kUnits[k]);
}

std::string format_percent(double percent) {
  if (!std::isfinite(percent)) return non_finite(percent);
  const double a = std::abs(percent);
  const std::string digits =
      rounds_to_at_least(a, 0, 1000) ? fmt::format("{:.0f}", a) : trim_zeros(three_significant(a));
  return fmt::format("{}{}%", sign_of(percent), digits);
}

std::string format_rate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second)) return non_finite(bytes_per_second);
  return format_bytes(bytes_per_second) + "/s";
}

std::string format_value(double value, Unit unit) {
  switch (unit) {
    case Unit::kBytes: return format_bytes(value);
    case Unit::kSeconds: return format_duration(value);
    case Unit::kCount: return format_count(value);
    case Unit::kPercent: return format_percent(value);
  }
  return format_count(value);
}

}  // namespace heaplens::gui
