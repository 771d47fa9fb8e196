#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "widgets/format_units.h"

using namespace heaplens::gui;

namespace {
constexpr double KiB = 1024.0, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("format_bytes: 1024 steps, three significant digits, zeros dropped") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1023.7) == "1 KiB");  // rounds into the next unit, never "1024 B"
  CHECK(format_bytes(KiB) == "1 KiB");
  CHECK(format_bytes(1.5 * KiB) == "1.5 KiB");
  CHECK(format_bytes(1.25 * KiB) == "1.25 KiB");
  CHECK(format_bytes(1.5 * MiB) == "1.5 MiB");
  CHECK(format_bytes(12.34 * GiB) == "12.3 GiB");
  CHECK(format_bytes(256 * MiB) == "256 MiB");
  CHECK(format_bytes(TiB) == "1 TiB");
  CHECK(format_bytes(2048 * TiB) == "2048 TiB");  // TiB is the last unit
  CHECK(format_bytes(-1.5 * MiB) == "-1.5 MiB");
  CHECK(format_bytes(kNaN) == "n/a");
  CHECK(format_bytes(kInf) == "inf");
  CHECK(format_bytes(-kInf) == "-inf");
}

TEST_CASE("format_duration: sub-minute units, then clock-like minutes and hours") {
  CHECK(format_duration(0) == "0 s");
  CHECK(format_duration(0.25) == "250 ms");
  CHECK(format_duration(1.5) == "1.50 s");
  CHECK(format_duration(1) == "1 s");
  CHECK(format_duration(12.5) == "12.5 s");
  CHECK(format_duration(0.0015) == "1.50 ms");
  CHECK(format_duration(12.3e-6) == "12.3 \xC2\xB5s");
  CHECK(format_duration(5e-9) == "5 ns");
  CHECK(format_duration(0.9996) == "1.00 s");  // not "1000 ms"
  CHECK(format_duration(125) == "2 min 05 s");
  CHECK(format_duration(120) == "2 min");
  CHECK(format_duration(59.96) == "1 min");  // not "60.0 s"
  CHECK(format_duration(3900) == "1 h 05 min");
  CHECK(format_duration(7200) == "2 h");
  CHECK(format_duration(-0.25) == "-250 ms");
  CHECK(format_duration(1e-10) == "0 s");
  CHECK(format_duration(kNaN) == "n/a");
  CHECK(format_duration(-kInf) == "-inf");
}

TEST_CASE("format_count: 1000 steps with one decimal") {
  CHECK(format_count(0) == "0");
  CHECK(format_count(999) == "999");
  CHECK(format_count(12.5) == "12.5");
  CHECK(format_count(1000) == "1 k");
  CHECK(format_count(1234) == "1.2 k");
  CHECK(format_count(12345) == "12.3 k");
  CHECK(format_count(123456) == "123 k");
  CHECK(format_count(999999) == "1 M");
  CHECK(format_count(3.4e6) == "3.4 M");
  CHECK(format_count(2.5e12) == "2.5 T");
  CHECK(format_count(5e15) == "5000 T");
  CHECK(format_count(-1500) == "-1.5 k");
  CHECK(format_count(kNaN) == "n/a");
}

TEST_CASE("format_percent, format_rate and format_value") {
  CHECK(format_percent(12.5) == "12.5%");
  CHECK(format_percent(100) == "100%");
  CHECK(format_percent(0.123) == "0.12%");
  CHECK(format_percent(-3) == "-3%");
  CHECK(format_rate(1.5 * MiB) == "1.5 MiB/s");
  CHECK(format_value(1.5 * MiB, Unit::kBytes) == "1.5 MiB");
  CHECK(format_value(0.25, Unit::kSeconds) == "250 ms");
  CHECK(format_value(1234, Unit::kCount) == "1.2 k");
  CHECK(format_value(50, Unit::kPercent) == "50%");
}
