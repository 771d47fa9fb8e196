// Blocks still live, grouped by stack (and, for device memory, by device and kind): the leaks
// once the program exited, or while it runs, those older than a chosen age (what a slow leak
// looks like).
#include <imgui.h>

#include <fmt/format.h>

#include "device_names.h"
#include "panels.h"

namespace heaplens::gui {

namespace {

struct Age {
  const char* label;
  std::uint64_t ns;
};
constexpr Age kAges[] = {{"all live blocks", 0},
                         {"older than 1 s", 1'000'000'000ULL},
                         {"older than 10 s", 10'000'000'000ULL},
                         {"older than 1 min", 60'000'000'000ULL},
                         {"older than 10 min", 600'000'000'000ULL}};

}  // namespace

void draw_leaks(const Views& v, UiState& ui) {
  ui.drawn.insert("leaks");
  ImGui::SetNextItemWidth(180);
  ImGui::Combo("##age", &ui.leak_age, [](void*, int i, const char** out) {
    *out = kAges[i].label;
    return true;
  }, nullptr, static_cast<int>(std::size(kAges)));
  ui.request.leak_min_age_ns = kAges[ui.leak_age].ns;
  const LeaksView* l = v.windowed ? v.filtered.leaks.get() : v.live.leaks.get();
  if (l == nullptr) {
    ImGui::TextUnformatted(v.windowed ? "reading the selected range..." : "no live blocks yet");
    return;
  }
  ImGui::SameLine();
  std::string devices = l->device_blocks.value > 0.5 ? fmt::format("; devices {} in {} blocks", show(l->device_bytes, Unit::kBytes),
                                                                     show(l->device_blocks, Unit::kCount))
                                                     : "";
  ImGui::Text("%s: host %s in %s blocks%s; %zu sites", l->exited ? "leaked at exit" : "live",
              show(l->bytes, Unit::kBytes).c_str(), show(l->blocks, Unit::kCount).c_str(), devices.c_str(), l->leaks.size());
  ImGuiTableFlags flags = ImGuiTableFlags_Resizable | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                          ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("leaks", 7, flags)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("function", ImGuiTableColumnFlags_WidthStretch, 3.0f);
  ImGui::TableSetupColumn("location", ImGuiTableColumnFlags_WidthStretch, 2.0f);
  ImGui::TableSetupColumn("device", 0, 0.8f);
  ImGui::TableSetupColumn("kind", 0, 0.9f);
  ImGui::TableSetupColumn("bytes", 0, 1.4f);
  ImGui::TableSetupColumn("blocks", 0, 1.0f);
  ImGui::TableSetupColumn("largest", 0, 1.0f);
  ImGui::TableHeadersRow();
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(l->leaks.size()));
  while (clipper.Step()) {
    for (int row = clipper.DisplayStart; row < clipper.DisplayEnd; ++row) {
      const LeakView& s = l->leaks[static_cast<std::size_t>(row)];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::PushID(row);
      if (ImGui::Selectable(s.function.c_str(), ui.request.stack == s.stack, ImGuiSelectableFlags_SpanAllColumns))
        ui.request.stack = s.stack;
      ImGui::PopID();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(s.location.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(model::device_name(s.device).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(s.device == wire::kDeviceHost ? "" : model::kind_name(s.kind));
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.bytes, Unit::kBytes).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(s.blocks, Unit::kCount).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(show(model::Estimate{static_cast<double>(s.largest)}, Unit::kBytes).c_str());
    }
  }
  ImGui::EndTable();
}

}  // namespace heaplens::gui
