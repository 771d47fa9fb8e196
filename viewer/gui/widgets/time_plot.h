#pragma once

#include <span>

#include <imgui.h>

#include "widgets/series.h"
#include "widgets/unit.h"

namespace heaplens::gui {

struct PlotSeries {
  const char* name;
  ImU32 color;
  std::span<const SeriesPoint> points;  // sorted by t, seconds
  bool fill_minmax = true;              // draw the min-max band under the line
  // A level that holds until the next point (live bytes, a rate per bucket): drawn as steps,
  // the last one extended to the right edge, instead of straight lines between points.
  bool step = false;
};

struct PlotView {
  double t0 = 0, t1 = 1;  // visible time range, seconds
  // Follow the data: every frame t0/t1 become the first and last t over all series (live
  // recordings grow). Zooming or panning turns it off, a double click turns it back on.
  // The y range always fits the visible data, and includes 0 unless the data crosses it.
  bool auto_fit = true;
};

struct PlotSelection {
  double t0 = 0, t1 = 0;
  bool active = false;
};

struct PlotMarker {
  double t;
  const char* label;  // may be null
  ImU32 color;
};

struct PlotEvents {
  bool view_changed = false;       // by the user: zoom, pan, double-click refit (not auto_fit)
  bool selection_changed = false;  // drawn, moved or cleared
  bool hovered = false;            // the cursor is over the data area
  double hover_t = 0;              // the time under the cursor when hovered
  ImVec2 plot_min, plot_max;       // the data area on screen this frame
  int points_drawn = 0;            // decimated points drawn, all series together
};

// One wheel notch scales the visible span by this (wheel up zooms in), around the cursor.
inline constexpr double kWheelZoomStep = 0.8;
inline constexpr double kMinPlotSpan = 1e-9;  // seconds; zoom stops here
inline constexpr double kMaxPlotSpan = 1e12;

// The colour of a series' min-max band: the series colour at a quarter of its alpha.
ImU32 minmax_band_color(ImU32 series_color);

// A time plot drawn into the current window at the cursor, `size` pixels (a coordinate <= 0
// takes what is left of the window's content region). Per pixel column of the data area each
// series shows its min-max band (fill_minmax) and a line through its last values; grid lines
// and labels at nice ticks (x in seconds, y in y_unit); a legend; markers as labelled
// vertical lines; the selection as a shaded span; a tooltip with the time and each series'
// value at the cursor.
// Input: wheel over the data area zooms around the cursor; dragging with the left button
// pans; dragging with shift held or with the right button selects a time range (sel);
// a double click clears the selection and turns auto_fit back on. The plot reads io.MouseWheel
// but cannot stop a scrollable parent window from also scrolling: put it in a window or child
// with ImGuiWindowFlags_NoScrollWithMouse.
PlotEvents time_plot(const char* id, PlotView& view, PlotSelection& sel,
                     std::span<const PlotSeries> series, std::span<const PlotMarker> markers,
                     Unit y_unit, ImVec2 size);

}  // namespace heaplens::gui
