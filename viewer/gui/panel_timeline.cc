// Live bytes (host and each device), allocation and free rates and the tracker's overhead over
// time. The three plots share one time axis; dragging a range (shift or right button) filters
// the tables, and a time cursor shows the state at one moment.
#include <imgui.h>

#include <algorithm>

#include <fmt/format.h>

#include "device_names.h"
#include "panels.h"

namespace heaplens::gui {

namespace {

ImU32 device_color(std::uint32_t d) {
  static const ImU32 colors[] = {IM_COL32(230, 120, 60, 255), IM_COL32(190, 90, 220, 255), IM_COL32(60, 200, 200, 255),
                                 IM_COL32(220, 200, 60, 255)};
  return colors[d % 4];
}

}  // namespace

void draw_timeline(const Views& v, UiState& ui, float height) {
  ui.drawn.insert("timeline");
  const TimelineView* t = v.live.timeline.get();
  const HeaderView* h = v.live.header.get();
  if (t == nullptr || h == nullptr) {
    ImGui::TextUnformatted("no timeline yet");
    return;
  }
  // Live bytes.
  std::vector<SeriesPoint> host = to_points(t->host_live), counter = to_points(t->counter_live);
  std::vector<std::vector<SeriesPoint>> devices;
  std::vector<std::string> device_names;
  for (const auto& [d, b] : t->device_live) {
    devices.push_back(to_points(b));
    device_names.push_back(model::device_name(d));
  }
  // Host and each device side by side, each its own series (never one sum of both).
  std::vector<PlotSeries> live;
  live.push_back({h->sampled ? "host (sampled estimate)" : "host", IM_COL32(80, 160, 255, 255), host, true, true});
  if (!counter.empty() && h->sampled) live.push_back({"host (exact counters)", IM_COL32(120, 220, 120, 200), counter, false, true});
  for (std::size_t i = 0; i < devices.size(); ++i)
    live.push_back({device_names[i].c_str(), device_color(static_cast<std::uint32_t>(i)), devices[i], true, true});
  std::vector<PlotMarker> markers;
  if (h->peak.value > 0) markers.push_back({static_cast<double>(t->peak_time_ns) / 1e9, "peak", IM_COL32(255, 90, 90, 255)});
  if (ui.cursor_on) markers.push_back({ui.cursor_s, "cursor", IM_COL32(255, 255, 255, 200)});

  // One time axis for the three plots: following the data means the whole session so far.
  PlotView view = ui.timeline_view;
  if (view.auto_fit) {
    view.t0 = 0;
    view.t1 = std::max(static_cast<double>(h->now_ns) / 1e9, 1e-3);
  }
  view.auto_fit = false;
  float rest = std::max(60.0f, height * 0.22f);
  PlotEvents e1 = time_plot("live bytes", view, ui.selection, live, markers, Unit::kBytes,
                            ImVec2(-1, std::max(120.0f, height - 2 * rest - 40)));
  // Rates and overhead.
  std::vector<SeriesPoint> allocs = to_points(t->alloc_rate), frees = to_points(t->free_rate);
  PlotSeries rates[] = {{"allocations/s", IM_COL32(255, 180, 60, 255), allocs, false, true},
                        {"frees/s", IM_COL32(160, 160, 160, 255), frees, false, true}};
  PlotEvents e2 = time_plot("rates", view, ui.selection, rates, markers, Unit::kCount, ImVec2(-1, rest));
  std::vector<SeriesPoint> overhead = to_points(t->overhead_pct), dropped = to_points(t->dropped);
  PlotSeries over[] = {{"tracker overhead % of process CPU", IM_COL32(255, 100, 160, 255), overhead, false, true}};
  PlotEvents e3 = time_plot("overhead", view, ui.selection, over, markers, Unit::kPercent, ImVec2(-1, rest));
  if (view.auto_fit) {
    ui.timeline_view.auto_fit = true;  // a double click: follow the data again
  } else if (e1.view_changed || e2.view_changed || e3.view_changed) {
    ui.timeline_view = view;
  }
  if (!dropped.empty() && dropped.back().last > 0) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1, 0.6f, 0.3f, 1), "%.0f records dropped", dropped.back().last);
  }

  // The time cursor: the state at one moment (allocations up to it, live as then).
  double end_s = static_cast<double>(h->now_ns) / 1e9;
  ImGui::Checkbox("time cursor", &ui.cursor_on);
  if (ui.cursor_on) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(-1);
    ui.cursor_s = std::clamp(ui.cursor_s, 0.0f, static_cast<float>(end_s));
    ImGui::SliderFloat("##cursor", &ui.cursor_s, 0.0f, static_cast<float>(std::max(end_s, 1e-3)), "%.3f s");
  }
  // What the tables show: a selected range first, else the cursor's moment, else everything.
  auto ns = [](double s) { return static_cast<std::uint64_t>(std::max(0.0, s) * 1e9); };
  if (ui.selection.active && ui.selection.t1 > ui.selection.t0) {
    ui.request.window = {ns(ui.selection.t0), ns(ui.selection.t1)};
  } else if (ui.cursor_on) {
    ui.request.window = {0, ns(ui.cursor_s)};
  } else {
    ui.request.window = {};
  }
}

}  // namespace heaplens::gui
