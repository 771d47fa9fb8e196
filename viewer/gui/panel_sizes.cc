// Allocation sizes by power-of-two class: how many allocations (or live blocks) and bytes.
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>

#include "panels.h"
#include "widgets/format_units.h"

namespace heaplens::gui {

void draw_sizes(const Views& v, UiState& ui) {
  ui.drawn.insert("sizes");
  ImGui::RadioButton("allocations", &ui.sizes_live, 0);
  ImGui::SameLine();
  ImGui::RadioButton("live blocks", &ui.sizes_live, 1);
  const model::SizeHistogram* h = v.windowed ? v.filtered.sizes.get() : v.live.sizes.get();
  if (h == nullptr) {
    ImGui::TextUnformatted("no allocations yet");
    return;
  }
  bool live = ui.sizes_live == 1;
  double top = 0;
  for (const auto& c : *h) top = std::max(top, live ? c.live_blocks.value : c.allocs.value);
  if (!(top > 0)) {
    ImGui::TextUnformatted("(none)");
    return;
  }
  if (!ImGui::BeginTable("sizes", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingStretchProp))
    return;
  ImGui::TableSetupColumn("size", 0, 1.2f);
  ImGui::TableSetupColumn(live ? "live blocks" : "allocations", 0, 1.2f);
  ImGui::TableSetupColumn("bytes", 0, 1.2f);
  ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthStretch, 4.0f);
  ImGui::TableHeadersRow();
  for (int k = 0; k < model::kSizeClasses; ++k) {
    const model::SizeClassStats& c = (*h)[static_cast<std::size_t>(k)];
    double n = live ? c.live_blocks.value : c.allocs.value;
    if (!(n > 0.5)) continue;
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    std::string range = k == 0 ? "0 B" : fmt::format("{} -", format_bytes(static_cast<double>(model::size_class_floor(k))));
    ImGui::TextUnformatted(range.c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(format_count(n).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(format_bytes(live ? c.live_bytes.value : c.bytes.value).c_str());
    ImGui::TableNextColumn();
    ImGui::ProgressBar(static_cast<float>(n / top), ImVec2(-1, 0), "");
  }
  ImGui::EndTable();
}

}  // namespace heaplens::gui
