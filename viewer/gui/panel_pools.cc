// The host pool's efficiency from jemalloc's statistics (the session's counter snapshots):
// what the program holds, what the allocator's pages hold, what is resident, and what was
// given back to the OS. The CUDA caching pool's figures are in the Devices panel.
#include <imgui.h>

#include <fmt/format.h>

#include "panels.h"
#include "widgets/format_units.h"

namespace heaplens::gui {

void draw_pools(const Views& v, UiState& ui) {
  ui.drawn.insert("pools");
  const HeaderView* h = v.live.header.get();
  const TimelineView* t = v.live.timeline.get();
  if (h == nullptr || !h->have_stats) {
    ImGui::TextUnformatted("no allocator statistics yet (they come with the session's counter snapshots)");
    return;
  }
  using trace::StatsField;
  double allocated = static_cast<double>(h->stats.get(StatsField::kHeapAllocated));
  double active = static_cast<double>(h->stats.get(StatsField::kHeapActive));
  double resident = static_cast<double>(h->stats.get(StatsField::kHeapResident));
  double mapped = static_cast<double>(h->stats.get(StatsField::kHeapMapped));
  double retained = static_cast<double>(h->stats.get(StatsField::kHeapRetained));
  if (active <= 0) {
    ImGui::TextUnformatted("this session's backend reports no pool statistics (HEAPLENS_BACKEND=system)");
  } else if (ImGui::BeginTable("pool", 2, ImGuiTableFlags_SizingStretchProp)) {
    // Widths from the start: a table's first frame has not measured its contents yet.
    ImGui::TableSetupColumn("what", ImGuiTableColumnFlags_WidthStretch, 3.0f);
    ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch, 2.0f);
    table_row("allocated (held by the program)", format_bytes(allocated));
    table_row("active (pages with live blocks)", format_bytes(active));
    table_row("fragmentation (1 - allocated/active)", fmt::format("{:.1f} %", 100.0 * (1.0 - allocated / active)));
    table_row("resident", format_bytes(resident));
    table_row("mapped", format_bytes(mapped));
    table_row("returned to the OS (retained)", format_bytes(retained));
    ImGui::EndTable();
  }
  if (t != nullptr && active > 0) {
    std::vector<SeriesPoint> a = to_points(t->heap_allocated), b = to_points(t->heap_active), c = to_points(t->heap_resident),
                             d = to_points(t->heap_retained);
    PlotSeries series[] = {{"allocated", IM_COL32(80, 160, 255, 255), a, false, true},
                           {"active", IM_COL32(255, 180, 60, 255), b, false, true},
                           {"resident", IM_COL32(120, 220, 120, 255), c, false, true},
                           {"retained", IM_COL32(160, 160, 160, 255), d, false, true}};
    static PlotView view;
    static PlotSelection sel;
    time_plot("pool", view, sel, series, {}, Unit::kBytes, ImVec2(-1, std::max(120.0f, ImGui::GetContentRegionAvail().y - 30)));
  }
  bool device_pool = false;
  for (const model::DeviceSummary& d : h->devices) device_pool = device_pool || d.pool.has_value();
  ImGui::TextDisabled(device_pool ? "CUDA caching pool: see the Devices tab" : "CUDA caching pool: off in this session");
}

}  // namespace heaplens::gui
