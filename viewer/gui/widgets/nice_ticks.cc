#include "widgets/nice_ticks.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "widgets/format_units.h"

namespace heaplens::gui {
namespace {

// The ladder is finite per decade, so a few hundred steps cover every double; the cap only
// guards against a raw step that no ladder value reaches (rounding at the edges of range).
constexpr int kMaxLadderClimb = 4096;

double decimal_125(double raw) {
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * base >= raw * (1 - 1e-12)) return m * base;
  }
  return 10 * base;
}

double power_of_two(double raw) {
  double s = std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(raw))));
  if (s < raw) s *= 2;
  if (s / 2 >= raw) s /= 2;
  return s;
}

double seconds_step(double raw) {
  if (raw <= 1) return decimal_125(raw);
  static constexpr std::array<double, 18> kLadder = {
      1,   2,   5,    10,   15,   30,   60,    120,   300,
      600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400};
  for (double s : kLadder) {
    if (s >= raw) return s;
  }
  return 86400 * decimal_125(raw / 86400);
}

// How many decimals `x` needs to print exactly (up to 9).
int decimals_for(double x) {
  for (int d = 0; d < 9; ++d) {
    const double scaled = x * std::pow(10.0, d);
    if (std::abs(scaled - std::round(scaled)) <= 1e-9 * std::max(1.0, std::abs(scaled))) return d;
  }
  return 9;
}

std::string trimmed_fixed(double x, int decimals) {
  std::string s = fmt::format("{:.{}f}", x, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string scaled_label(double value, double step, double base, int max_power,
                         const char* const* units, const char* sep) {
  const double a = std::abs(value);
  int k = 0;
  double factor = 1;
  while (k < max_power && a >= factor * base) {
    factor *= base;
    ++k;
  }
  return fmt::format("{}{}{}{}", value < 0 ? "-" : "", trimmed_fixed(a / factor, decimals_for(step / factor)),
                     sep, units[k]);
}

// "05", "05.5": seconds within a minute, zero-padded like a clock.
std::string clock_seconds(double s, int decimals) {
  std::string text = trimmed_fixed(s, decimals);
  const auto dot = text.find('.');
  if ((dot == std::string::npos ? text.size() : dot) < 2) text = fmt::format("0{}", text);
  return text;
}

std::string seconds_label(double value, double step) {
  const double a = std::abs(value);
  const char* sign = value < 0 ? "-" : "";
  if (a < 60) {
    static constexpr std::array<const char*, 4> kNames = {"ns", "\xC2\xB5s", "ms", "s"};
    static constexpr std::array<double, 4> kFactors = {1e-9, 1e-6, 1e-3, 1};
    const int k = a == 0 ? 3 : a < 1e-6 ? 0 : a < 1e-3 ? 1 : a < 1 ? 2 : 3;
    return fmt::format("{}{} {}", sign, trimmed_fixed(a / kFactors[k], decimals_for(step / kFactors[k])),
                       kNames[k]);
  }
  const int decimals = step < 1 ? decimals_for(step) : 0;
  const double unit = std::pow(10.0, decimals);
  // Round once, at the label's precision, so 59.96 s never prints as "60 s".
  const double total = std::round(a * unit) / unit;
  double minutes = std::floor(total / 60);
  double secs = std::round((total - minutes * 60) * unit) / unit;
  if (secs >= 60) {
    minutes += 1;
    secs -= 60;
  }
  const std::string sec_text = secs == 0 ? "" : fmt::format(" {} s", clock_seconds(secs, decimals));
  if (minutes < 60) return fmt::format("{}{:.0f} min{}", sign, minutes, sec_text);
  const double hours = std::floor(minutes / 60);
  const double mins = minutes - hours * 60;
  if (mins == 0 && secs == 0) return fmt::format("{}{:.0f} h", sign, hours);
  return fmt::format("{}{:.0f} h {:02.0f} min{}", sign, hours, mins, sec_text);
}

Tick tick(double value, std::string label) { return Tick{value, std::move(label)}; }

}  // namespace

double nice_step_at_least(double raw, Unit unit) {
  if (std::isnan(raw) || raw <= 0) raw = std::numeric_limits<double>::min();
  switch (unit) {
    case Unit::kBytes: return power_of_two(std::max(raw, 1.0));
    case Unit::kSeconds: return seconds_step(raw);
    case Unit::kCount: return decimal_125(std::max(raw, 1.0));
    case Unit::kPercent: return decimal_125(raw);
  }
  return decimal_125(raw);
}

std::string tick_label(double value, double step, Unit unit) {
  if (!std::isfinite(value)) return format_value(value, unit);
  if (!(step > 0) || !std::isfinite(step)) return format_value(value, unit);
  value += 0.0;  // -0.0 -> 0.0: no "-0" labels
  switch (unit) {
    case Unit::kBytes: {
      static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
      return scaled_label(value, step, 1024, 4, kUnits, " ");
    }
    case Unit::kCount: {
      static constexpr const char* kUnits[] = {"", " k", " M", " G", " T"};
      return scaled_label(value, step, 1000, 4, kUnits, "");
    }
    case Unit::kPercent:
      return fmt::format("{}{}%", value < 0 ? "-" : "", trimmed_fixed(std::abs(value), decimals_for(step)));
    case Unit::kSeconds: return seconds_label(value, step);
  }
  return format_value(value, unit);
}

std::vector<Tick> nice_ticks(double lo, double hi, int max_ticks, Unit unit) {
  std::vector<Tick> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || max_ticks < 1) return ticks;
  if (lo > hi) std::swap(lo, hi);
  max_ticks = std::min(max_ticks, kMaxTicks);
  if (lo == hi) {
    ticks.push_back(tick(lo + 0.0, format_value(lo + 0.0, unit)));
    return ticks;
  }
  const double span = hi - lo;
  if (!std::isfinite(span)) {
    ticks.push_back(tick(lo, format_value(lo, unit)));
    if (max_ticks > 1) ticks.push_back(tick(hi, format_value(hi, unit)));
    return ticks;
  }

  // Multiples of the step inside [lo, hi]; computed in doubles so no overflow.
  auto first_multiple = [&](double s) { return std::ceil(lo / s); };
  auto count = [&](double s) { return std::floor(hi / s) - first_multiple(s) + 1; };

  double step = nice_step_at_least(span / max_ticks, unit);
  for (int i = 0; i < kMaxLadderClimb && !(count(step) <= max_ticks); ++i) {
    step = nice_step_at_least(step * (1 + 1e-9), unit);
  }
  if (!(step > 0) || !std::isfinite(step) || !(count(step) <= max_ticks)) {
    ticks.push_back(tick(lo, format_value(lo, unit)));
    return ticks;
  }
  if (count(step) < 1) {
    // Only with max_ticks == 1 and no multiple of the step inside: take the multiple of a
    // finer step that is closest to the middle.
    for (int i = 0; i < kMaxLadderClimb && !(count(step) >= 1); ++i) step = nice_step_at_least(step / 2.6, unit);
    if (!(count(step) >= 1)) {
      ticks.push_back(tick(lo, format_value(lo, unit)));
      return ticks;
    }
    const double v = std::clamp(std::round((lo + hi) / 2 / step) * step, first_multiple(step) * step,
                                std::floor(hi / step) * step) + 0.0;
    ticks.push_back(tick(std::clamp(v, lo, hi), tick_label(v, step, unit)));
    return ticks;
  }
  const double n = count(step);
  const double k0 = first_multiple(step);
  ticks.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < static_cast<int>(n); ++i) {
    // k * step can land an ulp outside [lo, hi]; the grid line belongs on the edge then.
    const double v = std::clamp((k0 + i) * step, lo, hi) + 0.0;
    if (!ticks.empty() && v <= ticks.back().value) continue;  // steps below an ulp
    ticks.push_back(tick(v, tick_label(v, step, unit)));
  }
  return ticks;
}

}  // namespace heaplens::gui
