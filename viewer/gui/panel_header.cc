// The line above everything: which process, its state, the headline figures, and problems.
#include <imgui.h>

#include <fmt/format.h>

#include "panels.h"
#include "widgets/format_units.h"

namespace heaplens::gui {

void draw_header(const Views& v, UiState& ui) {
  ui.drawn.insert("header");
  const HeaderView* h = v.live.header.get();
  if (h == nullptr) {
    ImGui::TextUnformatted("waiting for the first records...");
    return;
  }
  if (h->images.size() > 1) {
    // fork and exec make one image each: pick which one the panels show.
    auto label = [](const ImageEntry& e) {
      return fmt::format("{} (pid {}, image {}) {}", e.executable, e.pid, e.index, model::to_string(e.state));
    };
    std::string current = "?";
    for (const auto& e : h->images)
      if (e.index == h->image) current = label(e);
    ImGui::SetNextItemWidth(360);
    if (ImGui::BeginCombo("##image", current.c_str())) {
      for (const auto& e : h->images) {
        bool selected = e.index == h->image;
        if (ImGui::Selectable(label(e).c_str(), selected)) {
          ui.request.image = e.index;
          ui.request.stack = UINT32_MAX;
        }
      }
      ImGui::EndCombo();
    }
    ImGui::SameLine();
  }
  if (!h->have_image) {
    ImGui::Text("%s: no process yet", h->source.c_str());
    return;
  }
  ImGui::Text("%s  pid %lld  [%s%s]", h->info.executable.c_str(), static_cast<long long>(h->info.pid),
              model::to_string(h->state), h->source_done ? "" : ", live");
  ImGui::SameLine(0, 24);
  ImGui::Text("live %s   peak %s at %s", show(h->live_bytes, Unit::kBytes).c_str(), show(h->peak, Unit::kBytes).c_str(),
              show_time(h->peak_time_ns).c_str());
  // Each device's own totals beside the host's (the Devices tab has the rest).
  constexpr std::size_t kShown = 4;
  for (std::size_t i = 1; i < h->devices.size() && i <= kShown; ++i) {
    const model::DeviceSummary& d = h->devices[i];
    ImGui::SameLine(0, 24);
    ImGui::Text("%s live %s   peak %s", d.name.c_str(), show(d.live_bytes, Unit::kBytes).c_str(),
                show(d.peak_bytes, Unit::kBytes).c_str());
  }
  if (h->devices.size() > kShown + 1) {
    ImGui::SameLine(0, 24);
    ImGui::TextDisabled("+%zu devices", h->devices.size() - kShown - 1);
  }
  if (h->have_stats) {
    using trace::StatsField;
    ImGui::SameLine(0, 24);
    std::uint64_t cpu = h->stats.get(StatsField::kProcessCpuNs);
    double overhead = cpu > 0 ? 100.0 * static_cast<double>(h->stats.get(StatsField::kTrackerNs)) / static_cast<double>(cpu) : 0;
    ImGui::Text("records %s  dropped %s  overhead %.2f %%",
                format_count(static_cast<double>(h->stats.get(StatsField::kRecordsWritten))).c_str(),
                format_count(static_cast<double>(h->stats.get(StatsField::kRecordsDropped))).c_str(), overhead);
  }
  if (!h->problem.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.3f, 1), "%s", h->problem.c_str());
  if (!h->end_message.empty() && h->state == model::ImageState::kCorrupt)
    ImGui::TextColored(ImVec4(1, 0.4f, 0.3f, 1), "session damaged: %s", h->end_message.c_str());
  if (v.windowed) {
    const auto& w = ui.request.window;
    ImGui::TextColored(ImVec4(0.5f, 0.8f, 1, 1), "tables show allocations made from %s to %s%s",
                       show_time(w.from_ns).c_str(), show_time(w.to_ns).c_str(),
                       v.filtering ? " (reading...)" : "");
  }
}

}  // namespace heaplens::gui
