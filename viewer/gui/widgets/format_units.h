#pragma once

#include <string>

#include "widgets/unit.h"

// Human-readable values for labels and tooltips. Every formatter accepts negatives (a "-"
// prefix) and prints "n/a" for NaN and "inf" / "-inf" for infinities.
namespace heaplens::gui {

// 1024 steps up to TiB, at most three significant digits, trailing zeros dropped:
// "512 B", "1.5 MiB", "12.3 GiB", "1 KiB" (1023.7 rounds up into the next unit).
std::string format_bytes(double bytes);

// ns / µs / ms / s below a minute with three significant digits ("250 ms", "1.50 s",
// "12.5 s"); values that are whole in their unit print bare ("250 ms", "1 s"). From a minute
// on, whole seconds: "2 min 05 s", "2 min"; from an hour on, whole minutes: "1 h 05 min",
// "3 h". Magnitudes under half a nanosecond print "0 s".
std::string format_duration(double seconds);

// 1000 steps (k, M, G, T): "999", "12.5", "1.2 k", "12.3 k", "123 k", "3.4 M".
std::string format_count(double count);

// A percentage (0-100), three significant digits, zeros dropped: "12.5%", "100%", "0.12%".
std::string format_percent(double percent);

// Bytes per second: "1.5 MiB/s".
std::string format_rate(double bytes_per_second);

std::string format_value(double value, Unit unit);

}  // namespace heaplens::gui
