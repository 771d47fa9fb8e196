// The viewer's panels. Each draws one part of a snapshot with Dear ImGui and records what the
// user asked for (a range, an image, a stack) in UiState; none touches the model.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "widgets/flame_graph.h"
#include "model_worker.h"
#include "widgets/time_plot.h"
#include "view_data.h"

namespace heaplens::gui {

struct UiState {
  ViewRequest request;
  PlotView timeline_view;
  PlotSelection selection;
  bool cursor_on = false;      // time cursor: show the state at cursor_s
  float cursor_s = 0;
  int leak_age = 0;            // index into the leak-age choices
  bool tree_top_down = true;
  FlameState flame;
  int sizes_live = 0;          // size histogram: 0 allocations, 1 live blocks
  // Screenshot runs select each tab once so every panel is drawn (see App).
  int force_tab = -1;
  std::set<std::string> drawn;  // panels drawn in this frame
};

// The figures a panel shows: the range's when a range (or the time cursor) is active and
// its re-read is done, else the whole run's.
struct Views {
  const Snapshot& live;
  const Snapshot& filtered;
  bool windowed = false;  // a window is requested
  bool filtering = false;  // ... and its figures are not there yet
};

void draw_header(const Views& v, UiState& ui);
void draw_timeline(const Views& v, UiState& ui, float height);
void draw_sites(const Views& v, UiState& ui);
void draw_stack(const Views& v, UiState& ui);
void draw_call_tree(const Views& v, UiState& ui);
void draw_flame(const Views& v, UiState& ui);
void draw_leaks(const Views& v, UiState& ui);
void draw_devices(const Views& v, UiState& ui);
void draw_pools(const Views& v, UiState& ui);
void draw_sizes(const Views& v, UiState& ui);
void draw_session(const Views& v, UiState& ui);

// "12.3 MiB" when exact, "12.3 MiB ±0.4 MiB" when estimated.
std::string show(const model::Estimate& e, Unit unit);
std::string show_time(std::uint64_t ns);
// A model series as plot points (seconds).
std::vector<SeriesPoint> to_points(const std::vector<model::SeriesBucket>& buckets);
// One "name | value" row of a two-column table.
void table_row(const char* name, const std::string& value);

}  // namespace heaplens::gui
