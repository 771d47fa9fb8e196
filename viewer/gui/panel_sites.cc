// Allocation sites: one row per stack, sortable by any figure; a click shows its whole stack.
#include <imgui.h>

#include <algorithm>
#include <numeric>

#include "panels.h"

namespace heaplens::gui {

namespace {

enum Column { kFunction, kLocation, kLive, kLiveBlocks, kAllocated, kAllocs, kAtPeak, kTemporary, kColumns };

SiteSort sort_of(int column) {
  switch (column) {
    case kLiveBlocks: return SiteSort::kLiveBlocks;
    case kAllocated: return SiteSort::kAllocated;
    case kAllocs: return SiteSort::kAllocs;
    case kAtPeak: return SiteSort::kAtPeak;
    case kTemporary: return SiteSort::kTemporary;
    default: return SiteSort::kLive;
  }
}

// The model thread sorts the rows; until a re-sorted snapshot arrives after a click on a
// header, the table sorts its copy once.
struct Order {
  const SitesView* rows = nullptr;
  SiteSort sort = SiteSort::kLive;
  bool ascending = false;
  std::vector<std::uint32_t> index;
};

}  // namespace

void draw_sites(const Views& v, UiState& ui) {
  ui.drawn.insert("sites");
  const SitesView* sites = v.windowed ? v.filtered.sites.get() : v.live.sites.get();
  if (sites == nullptr) {
    ImGui::TextUnformatted(v.windowed ? "reading the selected range..." : "no allocation sites yet");
    return;
  }
  ImGui::Text("%zu sites%s", sites->sites.size(), v.windowed ? " (allocated in the selected range; live at its end)" : "");
  static Order order;
  ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_Resizable | ImGuiTableFlags_RowBg |
                          ImGuiTableFlags_ScrollY | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingStretchProp;
  float table_height = ui.request.stack != UINT32_MAX ? ImGui::GetContentRegionAvail().y * 0.6f : 0.0f;
  if (!ImGui::BeginTable("sites", kColumns, flags, ImVec2(0, table_height))) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("function", ImGuiTableColumnFlags_NoSort | ImGuiTableColumnFlags_WidthStretch, 3.0f);
  ImGui::TableSetupColumn("location", ImGuiTableColumnFlags_NoSort | ImGuiTableColumnFlags_WidthStretch, 2.0f);
  ImGui::TableSetupColumn("live", ImGuiTableColumnFlags_DefaultSort | ImGuiTableColumnFlags_PreferSortDescending, 1.4f);
  ImGui::TableSetupColumn("live blocks", ImGuiTableColumnFlags_PreferSortDescending, 1.0f);
  ImGui::TableSetupColumn("allocated", ImGuiTableColumnFlags_PreferSortDescending, 1.4f);
  ImGui::TableSetupColumn("allocations", ImGuiTableColumnFlags_PreferSortDescending, 1.0f);
  ImGui::TableSetupColumn("at peak", ImGuiTableColumnFlags_PreferSortDescending, 1.4f);
  ImGui::TableSetupColumn("temporary", ImGuiTableColumnFlags_PreferSortDescending, 1.0f);
  ImGui::TableHeadersRow();

  if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs != nullptr && specs->SpecsCount > 0) {
    ui.request.sort = sort_of(specs->Specs[0].ColumnIndex);
    ui.request.ascending = specs->Specs[0].SortDirection == ImGuiSortDirection_Ascending;
    specs->SpecsDirty = false;
  }
  if (order.rows != sites || order.sort != ui.request.sort || order.ascending != ui.request.ascending) {
    order.rows = sites;
    order.sort = ui.request.sort;
    order.ascending = ui.request.ascending;
    order.index.resize(sites->sites.size());
    std::iota(order.index.begin(), order.index.end(), 0u);
    if (sites->sort != order.sort || sites->ascending != order.ascending) {
      SiteSort by = order.sort;
      bool asc = order.ascending;
      std::stable_sort(order.index.begin(), order.index.end(), [&](std::uint32_t a, std::uint32_t b) {
        double ka = sort_key(sites->sites[a], by), kb = sort_key(sites->sites[b], by);
        return asc ? ka < kb : ka > kb;
      });
    }
  }

  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(order.index.size()));
  while (clipper.Step()) {
    for (int row = clipper.DisplayStart; row < clipper.DisplayEnd; ++row) {
      const SiteView& s = sites->sites[order.index[static_cast<std::size_t>(row)]];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::PushID(static_cast<int>(s.stack));
      bool selected = ui.request.stack == s.stack;
      if (ImGui::Selectable(s.function.c_str(), selected, ImGuiSelectableFlags_SpanAllColumns))
        ui.request.stack = selected ? UINT32_MAX : s.stack;
      ImGui::PopID();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(s.location.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.live_bytes, Unit::kBytes).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.live_blocks, Unit::kCount).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.alloc_bytes, Unit::kBytes).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.allocs, Unit::kCount).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.peak_bytes, Unit::kBytes).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.temporary, Unit::kCount).c_str());
    }
  }
  ImGui::EndTable();
  if (ui.request.stack != UINT32_MAX) draw_stack(v, ui);
}

void draw_stack(const Views& v, UiState& ui) {
  ui.drawn.insert("stack");
  const StackView* st = v.live.stack.get();
  ImGui::Separator();
  if (st == nullptr || st->stack != ui.request.stack) {
    ImGui::TextUnformatted("symbolizing...");
    return;
  }
  ImGui::Text("stack %u (innermost first)", st->stack);
  ImGui::BeginChild("stack frames", ImVec2(0, 0), false);
  int i = 0;
  for (const model::Frame& f : st->frames) {
    ImGui::Text("#%-2d %s", i++, model::describe(f).c_str());
    for (const auto& in : f.inlined)
      ImGui::Text("    inlined into %s (%s:%u)", in.function.c_str(), in.file.c_str(), in.line);
  }
  if (st->frames.empty()) ImGui::TextUnformatted("(no frames recorded for this stack)");
  ImGui::EndChild();
}

}  // namespace heaplens::gui
