// What is being shown: program, pid, mode, sampling interval, records written and dropped,
// and where the trace goes.
#include <imgui.h>

#include <fmt/format.h>

#include "panels.h"
#include "widgets/format_units.h"

namespace heaplens::gui {

void draw_session(const Views& v, UiState& ui) {
  ui.drawn.insert("session");
  const HeaderView* h = v.live.header.get();
  if (h == nullptr || !h->have_image) {
    ImGui::TextUnformatted("no session yet");
    return;
  }
  if (!ImGui::BeginTable("session", 2, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg)) return;
  // Widths from the start: a table's first frame has not measured its contents yet.
  ImGui::TableSetupColumn("what", ImGuiTableColumnFlags_WidthStretch, 2.0f);
  ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch, 3.0f);
  const auto& i = h->info;
  const char* mode = i.mode == static_cast<std::uint32_t>(wire::Mode::kFull)      ? "full (every allocation)"
                     : i.mode == static_cast<std::uint32_t>(wire::Mode::kSampled) ? "sampled"
                                                                                   : "off";
  table_row("program", i.executable);
  table_row("pid / parent", fmt::format("{} / {}", i.pid, i.ppid));
  table_row("state", model::to_string(h->state));
  table_row("mode", mode);
  if (h->sampled) {
    table_row("sampling interval", format_bytes(static_cast<double>(i.sample_interval)));
    table_row("always recorded from", format_bytes(static_cast<double>(i.large_threshold)));
  }
  table_row("backend", i.backend == 0 ? "jemalloc pool" : "system malloc");
  table_row("source", h->source + (h->source_done ? " (finished)" : " (live)"));
  table_row("trace file", h->trace_path.empty() ? "-" : h->trace_path);
  table_row("session time", show_time(h->now_ns));
  table_row("records read", format_count(static_cast<double>(h->records)));
  if (h->have_stats) {
    using trace::StatsField;
    table_row("records written", format_count(static_cast<double>(h->stats.get(StatsField::kRecordsWritten))));
    table_row("records dropped", format_count(static_cast<double>(h->stats.get(StatsField::kRecordsDropped))));
    table_row("allocations (exact)", format_count(static_cast<double>(h->stats.get(StatsField::kAllocations))));
    table_row("frees (exact)", format_count(static_cast<double>(h->stats.get(StatsField::kFrees))));
    table_row("peak live (exact, usable bytes)", format_bytes(static_cast<double>(h->stats.get(StatsField::kPeakLiveBytes))));
    table_row("threads", fmt::format("{}", h->stats.get(StatsField::kThreads)));
  }
  table_row("live blocks / sites", fmt::format("{} / {}", h->live_blocks, h->sites));
  if (h->malformed + h->unknown_frees + h->lost_frees > 0)
    table_row("unusual records", fmt::format("{} malformed, {} frees of unknown blocks, {} lost frees", h->malformed,
                                       h->unknown_frees, h->lost_frees));
  ImGui::EndTable();
}

}  // namespace heaplens::gui
