#pragma once

namespace heaplens::gui {

// What a plotted value measures; decides formatting and which tick steps count as "nice".
// kPercent values are percentages (0-100), not fractions.
enum class Unit { kBytes, kSeconds, kCount, kPercent };

}  // namespace heaplens::gui
