#include <imgui.h>

#include <fmt/format.h>

#include "panels.h"
#include "widgets/format_units.h"

namespace heaplens::gui {

namespace {

std::string show_value(double v, Unit unit) {
  switch (unit) {
    case Unit::kBytes: return format_bytes(v);
    case Unit::kSeconds: return format_duration(v);
    case Unit::kPercent: return fmt::format("{:.1f} %", v);
    case Unit::kCount: break;
  }
  return format_count(v);
}

}  // namespace

std::string show(const model::Estimate& e, Unit unit) {
  // An estimate without spread (nothing sampled, or only blocks always recorded) reads plain.
  if (e.exact() || !(e.error() > 0)) return show_value(e.value, unit);
  return fmt::format("{} ±{}", show_value(e.value, unit), show_value(e.error(), unit));
}

std::string show_time(std::uint64_t ns) { return format_duration(static_cast<double>(ns) / 1e9); }

std::vector<SeriesPoint> to_points(const std::vector<model::SeriesBucket>& buckets) {
  std::vector<SeriesPoint> out;
  out.reserve(buckets.size());
  for (const auto& b : buckets) out.push_back({static_cast<double>(b.t_ns) / 1e9, b.min, b.max, b.last});
  return out;
}

void table_row(const char* name, const std::string& value) {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(name);
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(value.c_str());
}

}  // namespace heaplens::gui
