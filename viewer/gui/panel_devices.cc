// Host and each device side by side: allocations, the peak and when, what is live (leaked, once
// the program exited), each device's kinds of memory, and the CUDA caching pool's efficiency
// when it served the program (HEAPLENS_CUDA_POOL=1).
#include <imgui.h>

#include <fmt/format.h>

#include "device_names.h"
#include "panels.h"
#include "widgets/format_units.h"

namespace heaplens::gui {

namespace {

void cells(const std::vector<std::string>& values) {
  ImGui::TableNextRow();
  for (const std::string& v : values) {
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(v.c_str());
  }
}

std::string bytes(std::uint64_t b) { return format_bytes(static_cast<double>(b)); }

void draw_pool(const model::DeviceSummary& d) {
  const model::DevicePoolStats& p = *d.pool;
  ImGui::Text("%s caching pool", d.name.c_str());
  if (!ImGui::BeginTable(("pool " + d.name).c_str(), 2, ImGuiTableFlags_SizingStretchProp)) return;
  ImGui::TableSetupColumn("what", ImGuiTableColumnFlags_WidthStretch, 3.0f);
  ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch, 2.0f);
  table_row("reserved (from the driver)", bytes(p.reserved_bytes));
  table_row("in use (requested)", fmt::format("{} ({})", bytes(p.in_use_bytes), bytes(p.requested_bytes)));
  table_row("cached for reuse", bytes(p.cached_bytes));
  table_row("largest cached block", bytes(p.largest_cached));
  table_row("hit rate", fmt::format("{:.1f} % ({} hits, {} misses)", 100 * p.hit_rate(), p.hits, p.misses));
  table_row("fragmentation (1 - largest/cached)", fmt::format("{:.1f} %", 100 * p.fragmentation()));
  table_row("given back to the driver", fmt::format("{} blocks, {} trims", p.driver_frees, p.trims));
  ImGui::EndTable();
}

}  // namespace

void draw_devices(const Views& v, UiState& ui) {
  ui.drawn.insert("devices");
  const HeaderView* h = v.live.header.get();
  if (h == nullptr || !h->have_image) {
    ImGui::TextUnformatted("no process yet");
    return;
  }
  if (h->devices.size() <= 1) ImGui::TextDisabled("no device memory in this process: host only");
  const char* live = h->state == model::ImageState::kExited ? "leaked" : "live";
  ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("devices", 6, flags)) {
    ImGui::TableSetupColumn("memory", ImGuiTableColumnFlags_WidthStretch, 1.4f);
    ImGui::TableSetupColumn("allocations", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("allocated", ImGuiTableColumnFlags_WidthStretch, 1.2f);
    ImGui::TableSetupColumn("peak", ImGuiTableColumnFlags_WidthStretch, 1.2f);
    ImGui::TableSetupColumn("at", ImGuiTableColumnFlags_WidthStretch, 0.8f);
    ImGui::TableSetupColumn(live, ImGuiTableColumnFlags_WidthStretch, 1.6f);
    ImGui::TableHeadersRow();
    for (const model::DeviceSummary& d : h->devices) {
      cells({d.name, show(d.allocs, Unit::kCount), show(d.alloc_bytes, Unit::kBytes), show(d.peak_bytes, Unit::kBytes),
             show_time(d.peak_time_ns),
             fmt::format("{} in {} blocks", show(d.live_bytes, Unit::kBytes), show(d.live_blocks, Unit::kCount))});
      // Each kind's peak is its own (the most of that kind live at once), not its share of the device's.
      for (const auto& [kind, k] : d.kinds)
        cells({fmt::format("   {}", model::kind_name(kind)), format_count(static_cast<double>(k.allocs)), bytes(k.alloc_bytes),
               bytes(k.peak_bytes), "", fmt::format("{} in {} blocks", bytes(k.live_bytes), k.live_blocks)});
    }
    ImGui::EndTable();
  }
  bool any_pool = false;
  for (const model::DeviceSummary& d : h->devices) {
    if (!d.pool) continue;
    any_pool = true;
    ImGui::Separator();
    draw_pool(d);
  }
  if (!any_pool && h->devices.size() > 1) ImGui::TextDisabled("CUDA caching pool: off (HEAPLENS_CUDA_POOL=1 turns it on)");
}

}  // namespace heaplens::gui
