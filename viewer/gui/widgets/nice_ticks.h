#pragma once

#include <string>
#include <vector>

#include "widgets/unit.h"

namespace heaplens::gui {

struct Tick {
  double value;
  std::string label;
};

// The most generous tick set with at most `max_ticks` ticks (capped at kMaxTicks) inside
// [lo, hi], ascending, all multiples of one "nice" step:
//   kCount, kPercent: 1, 2, 5 x 10^k (counts never step below 1);
//   kBytes: powers of two, at least 1 B (256 MiB, 512 MiB, 768 MiB, 1 GiB);
//   kSeconds: 1, 2, 5 x 10^k below a second, then 1 2 5 10 15 30 s, 1 2 5 10 15 30 min,
//             1 2 3 6 12 h, then 1, 2, 5 x 10^k days.
// Labels come from tick_label with that step, so neighbouring labels never read the same.
// Degenerate input: lo > hi are swapped; lo == hi gives one tick at lo (format_value label);
// a NaN or infinite bound, or max_ticks < 1, gives no ticks; a span too wide for a double
// gives the two bounds. When no multiple of the step falls inside (possible only with
// max_ticks == 1) the single tick is the multiple of a finer nice step nearest the middle.
std::vector<Tick> nice_ticks(double lo, double hi, int max_ticks, Unit unit);

inline constexpr int kMaxTicks = 1000;

// A label that shows `value` exactly to the precision `step` implies, in the unit `value`
// itself reads best in: bytes 1.25 GiB / 1000.125 MiB; seconds 250 ms, 1.5 s, 1 min 05.5 s,
// 1 h 05 min, 2 h; counts 1.5 k; percent 12.5%.
std::string tick_label(double value, double step, Unit unit);

// The smallest nice step (see nice_ticks) that is >= raw.
double nice_step_at_least(double raw, Unit unit);

}  // namespace heaplens::gui
