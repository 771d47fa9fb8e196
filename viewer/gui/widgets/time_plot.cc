#include "widgets/time_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "widgets/decimate.h"
#include "widgets/format_units.h"
#include "widgets/nice_ticks.h"

namespace heaplens::gui {
namespace {

constexpr float kPad = 4.0f;
// A whole number: ImGui then draws an anti-aliased line with its texture, 2 triangles a
// segment; a fractional width takes its geometric path, 6. A series is drawn to screen
// width, so with software GL (llvmpipe sets up every triangle) that was most of a frame.
constexpr float kLineThickness = 2.0f;
enum DragMode : int { kNoDrag = 0, kPan = 1, kSelect = 2 };

// The y-axis margin is sized for a wide label of the unit rather than for this frame's labels,
// so the data area (and the decimation columns) do not jitter as the data changes.
const char* widest_y_label(Unit unit) {
  switch (unit) {
    case Unit::kBytes: return "1023.75 MiB";
    case Unit::kSeconds: return "59 min 59 s";
    case Unit::kCount: return "999.5 k";
    case Unit::kPercent: return "100.5%";
  }
  return "999.5 k";
}

// Screen mapping of the data area, in double until the last step.
struct Mapping {
  ImVec2 min, max;
  double t0, t1, y0, y1;

  float x(double t) const { return static_cast<float>(min.x + (t - t0) / (t1 - t0) * (max.x - min.x)); }
  float y(double v) const { return static_cast<float>(max.y - (v - y0) / (y1 - y0) * (max.y - min.y)); }
};

void fit_to_data(PlotView& view, std::span<const PlotSeries> series) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const PlotSeries& s : series) {
    if (s.points.empty()) continue;
    lo = std::min(lo, s.points.front().t);
    hi = std::max(hi, s.points.back().t);
  }
  if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi)) return;
  if (hi - lo < kMinPlotSpan) {
    lo -= 0.5;
    hi += 0.5;
  }
  view.t0 = lo;
  view.t1 = hi;
}

void make_valid(PlotView& view) {
  if (!std::isfinite(view.t0)) view.t0 = 0;
  if (!std::isfinite(view.t1) || !(view.t1 - view.t0 >= kMinPlotSpan)) view.t1 = view.t0 + 1;
}

// The decimated series cut at the edges of the range, so nothing leaves the data area.
void clip_to_range(std::vector<SeriesPoint>& pts, double t0, double t1, bool step) {
  if (step) {
    // A level holds until the next point: the one before t0 starts at t0 unchanged, the one
    // after t1 is not reached.
    if (pts.size() >= 2 && pts.back().t > t1) pts.pop_back();
    if (!pts.empty() && pts.front().t < t0) pts.front().t = t0;
    if (pts.size() == 1 && pts[0].t > t1) pts.clear();
    return;
  }
  if (pts.size() >= 2 && pts.front().t < t0) pts.front() = interpolate(pts[0], pts[1], t0);
  if (pts.size() >= 2 && pts.back().t > t1) pts.back() = interpolate(pts[pts.size() - 2], pts.back(), t1);
  if (pts.size() == 1 && !(pts[0].t >= t0 && pts[0].t <= t1)) pts.clear();
}

void fit_y(Mapping& m, std::span<const PlotSeries> series, const std::vector<std::vector<SeriesPoint>>& drawn) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto include = [&](double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  for (std::size_t i = 0; i < drawn.size(); ++i) {
    for (const SeriesPoint& p : drawn[i]) {
      include(p.last);
      if (series[i].fill_minmax) {
        include(p.min);
        include(p.max);
      }
    }
  }
  if (!(lo <= hi)) lo = hi = 0;
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  if (hi == lo) hi = lo + 1;
  hi += (hi - lo) * 0.05;
  if (!std::isfinite(hi - lo)) {
    lo = 0;
    hi = 1;
  }
  m.y0 = lo;
  m.y1 = hi;
}

void draw_step_band(ImDrawList* dl, const Mapping& m, const std::vector<SeriesPoint>& pts, ImU32 color) {
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const SeriesPoint& a = pts[i];
    const float xa = m.x(a.t), xb = i + 1 < pts.size() ? m.x(pts[i + 1].t) : m.max.x;
    if (a.max > a.min) dl->AddRectFilled(ImVec2(xa, m.y(a.max)), ImVec2(std::max(xb, xa + 1), m.y(a.min)), color);
  }
}

void draw_step_line(ImDrawList* dl, const Mapping& m, const std::vector<SeriesPoint>& pts, ImU32 color) {
  if (pts.empty()) return;
  std::vector<ImVec2> line;
  line.reserve(pts.size() * 2 + 1);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const float x = m.x(pts[i].t);
    if (i > 0) line.emplace_back(x, m.y(pts[i - 1].last));
    line.emplace_back(x, m.y(pts[i].last));
  }
  line.emplace_back(m.max.x, m.y(pts.back().last));
  dl->AddPolyline(line.data(), static_cast<int>(line.size()), color, ImDrawFlags_None, kLineThickness);
}

void draw_band(ImDrawList* dl, const Mapping& m, const std::vector<SeriesPoint>& pts, ImU32 color) {
  if (pts.size() < 2) return;
  const auto quads = static_cast<int>(pts.size() - 1);
  const ImVec2 uv = ImGui::GetFontTexUvWhitePixel();
  dl->PrimReserve(quads * 6, quads * 4);
  for (int i = 0; i < quads; ++i) {
    const SeriesPoint &a = pts[i], &b = pts[i + 1];
    const float xa = m.x(a.t), xb = m.x(b.t);
    dl->PrimQuadUV(ImVec2(xa, m.y(a.max)), ImVec2(xb, m.y(b.max)), ImVec2(xb, m.y(b.min)),
                   ImVec2(xa, m.y(a.min)), uv, uv, uv, uv, color);
  }
}

void draw_line(ImDrawList* dl, const Mapping& m, const std::vector<SeriesPoint>& pts, ImU32 color) {
  if (pts.size() == 1) {
    dl->AddCircleFilled(ImVec2(m.x(pts[0].t), m.y(pts[0].last)), 2.0f, color);
    return;
  }
  std::vector<ImVec2> line;
  line.reserve(pts.size());
  for (const SeriesPoint& p : pts) line.emplace_back(m.x(p.t), m.y(p.last));
  dl->AddPolyline(line.data(), static_cast<int>(line.size()), color, ImDrawFlags_None, kLineThickness);
}

void draw_grid(ImDrawList* dl, const Mapping& m, ImVec2 frame_min, ImVec2 frame_max, Unit y_unit) {
  const float line_h = ImGui::GetTextLineHeight();
  const ImU32 grid = ImGui::GetColorU32(ImGuiCol_Text, 0.12f);
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_TextDisabled);

  const int max_y = std::max(2, static_cast<int>((m.max.y - m.min.y) / (line_h * 2.5f)));
  for (const Tick& t : nice_ticks(m.y0, m.y1, max_y, y_unit)) {
    const float y = m.y(t.value);
    dl->AddLine(ImVec2(m.min.x, y), ImVec2(m.max.x, y), grid);
    const ImVec2 size = ImGui::CalcTextSize(t.label.c_str());
    const ImVec2 pos(std::max(frame_min.x, m.min.x - kPad - size.x),
                     std::clamp(y - size.y / 2, frame_min.y, std::max(frame_min.y, frame_max.y - size.y)));
    dl->AddText(pos, text, t.label.c_str());
  }

  const int max_x = std::max(2, static_cast<int>((m.max.x - m.min.x) / (line_h * 7)));
  float free_from = -std::numeric_limits<float>::infinity();  // labels never overlap
  for (const Tick& t : nice_ticks(m.t0, m.t1, max_x, Unit::kSeconds)) {
    const float x = m.x(t.value);
    dl->AddLine(ImVec2(x, m.min.y), ImVec2(x, m.max.y), grid);
    const ImVec2 size = ImGui::CalcTextSize(t.label.c_str());
    const float left = std::clamp(x - size.x / 2, frame_min.x, std::max(frame_min.x, frame_max.x - size.x));
    if (left < free_from) continue;
    dl->AddText(ImVec2(left, m.max.y + kPad), text, t.label.c_str());
    free_from = left + size.x + 2 * kPad;
  }
}

void draw_selection(ImDrawList* dl, const Mapping& m, const PlotSelection& sel) {
  if (!sel.active) return;
  const double a = std::max(sel.t0, m.t0), b = std::min(sel.t1, m.t1);
  if (!(a <= b)) return;
  const float xa = m.x(a), xb = m.x(b);
  dl->AddRectFilled(ImVec2(xa, m.min.y), ImVec2(xb, m.max.y), IM_COL32(110, 150, 255, 50));
  dl->AddLine(ImVec2(xa, m.min.y), ImVec2(xa, m.max.y), IM_COL32(110, 150, 255, 160));
  dl->AddLine(ImVec2(xb, m.min.y), ImVec2(xb, m.max.y), IM_COL32(110, 150, 255, 160));
}

void draw_markers(ImDrawList* dl, const Mapping& m, std::span<const PlotMarker> markers) {
  const float line_h = ImGui::GetTextLineHeight();
  for (const PlotMarker& mk : markers) {
    if (!(mk.t >= m.t0 && mk.t <= m.t1)) continue;
    const float x = m.x(mk.t);
    dl->AddLine(ImVec2(x, m.min.y), ImVec2(x, m.max.y), mk.color);
    if (mk.label == nullptr) continue;
    const ImVec2 size = ImGui::CalcTextSize(mk.label);
    const float left = std::clamp(x + kPad, m.min.x, std::max(m.min.x, m.max.x - size.x));
    dl->AddText(ImVec2(left, m.max.y - line_h - kPad), mk.color, mk.label);
  }
}

void draw_legend(ImDrawList* dl, const Mapping& m, std::span<const PlotSeries> series) {
  if (series.empty()) return;
  const float line_h = ImGui::GetTextLineHeight();
  const float swatch = line_h * 0.6f;
  float widest = 0;
  for (const PlotSeries& s : series) widest = std::max(widest, ImGui::CalcTextSize(s.name ? s.name : "").x);
  const ImVec2 box_min(m.min.x + kPad, m.min.y + kPad);
  const ImVec2 box_max(box_min.x + 3 * kPad + swatch + widest, box_min.y + kPad + series.size() * line_h);
  dl->AddRectFilled(box_min, box_max, ImGui::GetColorU32(ImGuiCol_PopupBg, 0.75f));
  float y = box_min.y + kPad / 2;
  for (const PlotSeries& s : series) {
    const ImVec2 sw(box_min.x + kPad, y + (line_h - swatch) / 2);
    dl->AddRectFilled(sw, ImVec2(sw.x + swatch, sw.y + swatch), s.color);
    dl->AddText(ImVec2(sw.x + swatch + kPad, y), ImGui::GetColorU32(ImGuiCol_Text), s.name ? s.name : "");
    y += line_h;
  }
}

void tooltip(double t, std::span<const PlotSeries> series, Unit y_unit) {
  ImGui::BeginTooltip();
  ImGui::TextUnformatted(format_duration(t).c_str());
  const float line_h = ImGui::GetTextLineHeight();
  for (const PlotSeries& s : series) {
    const ImVec2 at = ImGui::GetCursorScreenPos();
    ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(at.x, at.y + line_h * 0.2f),
                                              ImVec2(at.x + line_h * 0.6f, at.y + line_h * 0.8f), s.color);
    ImGui::Dummy(ImVec2(line_h * 0.6f, line_h));
    ImGui::SameLine();
    const SeriesPoint* p = point_at(s.points, t);
    const std::string value = p ? format_value(p->last, y_unit) : std::string("-");
    ImGui::Text("%s: %s", s.name ? s.name : "", value.c_str());
    if (p && p->min != p->max) {
      ImGui::SameLine();
      ImGui::TextDisabled("(%s .. %s)", format_value(p->min, y_unit).c_str(), format_value(p->max, y_unit).c_str());
    }
  }
  ImGui::EndTooltip();
}

bool same(const PlotSelection& a, const PlotSelection& b) {
  return a.active == b.active && (!a.active || (a.t0 == b.t0 && a.t1 == b.t1));
}

}  // namespace

ImU32 minmax_band_color(ImU32 series_color) {
  const ImU32 alpha = (series_color >> IM_COL32_A_SHIFT) & 0xff;
  return (series_color & ~IM_COL32_A_MASK) | ((alpha / 4) << IM_COL32_A_SHIFT);
}

PlotEvents time_plot(const char* id, PlotView& view, PlotSelection& sel,
                     std::span<const PlotSeries> series, std::span<const PlotMarker> markers,
                     Unit y_unit, ImVec2 size) {
  PlotEvents ev;
  ImGui::PushID(id);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  if (size.x <= 0) size.x = avail.x;
  if (size.y <= 0) size.y = avail.y;
  size.x = std::max(size.x, 1.0f);
  size.y = std::max(size.y, 1.0f);

  const float line_h = ImGui::GetTextLineHeight();
  const ImVec2 frame_min = ImGui::GetCursorScreenPos();
  const ImVec2 frame_max(frame_min.x + size.x, frame_min.y + size.y);
  Mapping m{};
  m.min = ImVec2(frame_min.x + ImGui::CalcTextSize(widest_y_label(y_unit)).x + 2 * kPad, frame_min.y + kPad);
  m.max = ImVec2(std::max(m.min.x + 1, frame_max.x - 2 * kPad),
                 std::max(m.min.y + 1, frame_max.y - line_h - 2 * kPad));
  ev.plot_min = m.min;
  ev.plot_max = m.max;

  ImGui::InvisibleButton("##plot", size, ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight);
  const bool item_hovered = ImGui::IsItemHovered();
  const bool active = ImGui::IsItemActive();
  ImGuiIO& io = ImGui::GetIO();
  const ImVec2 mouse = io.MousePos;
  const bool over_data = item_hovered && mouse.x >= m.min.x && mouse.x <= m.max.x &&
                         mouse.y >= m.min.y && mouse.y <= m.max.y;

  if (view.auto_fit) fit_to_data(view, series);
  make_valid(view);
  const PlotSelection sel_before = sel;
  const double width_px = m.max.x - m.min.x;
  auto time_at = [&](float x) {  // under the view as it is now, not as the frame began
    return std::clamp(view.t0 + (x - m.min.x) / width_px * (view.t1 - view.t0), view.t0, view.t1);
  };

  // The drag mode is fixed when the button goes down: releasing shift mid-drag must not
  // turn a selection into a pan.
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID mode_key = ImGui::GetID("##drag_mode");
  if (ImGui::IsItemActivated()) {
    const bool select = ImGui::IsMouseDown(ImGuiMouseButton_Right) || io.KeyShift;
    storage->SetInt(mode_key, select ? kSelect : kPan);
  }
  if (!active) storage->SetInt(mode_key, kNoDrag);

  if (item_hovered && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
    sel = PlotSelection{};
    view.auto_fit = true;
    fit_to_data(view, series);
    make_valid(view);
    storage->SetInt(mode_key, kNoDrag);
    ev.view_changed = true;
  }

  const int mode = storage->GetInt(mode_key, kNoDrag);
  if (active && mode == kPan && io.MouseDelta.x != 0) {
    const double dt = -io.MouseDelta.x / width_px * (view.t1 - view.t0);
    view.t0 += dt;
    view.t1 += dt;
    view.auto_fit = false;
    ev.view_changed = true;
  }
  if (active && mode == kSelect) {
    const ImGuiMouseButton button = ImGui::IsMouseDown(ImGuiMouseButton_Right) ? ImGuiMouseButton_Right
                                                                               : ImGuiMouseButton_Left;
    if (ImGui::IsMouseDragging(button)) {
      const double a = time_at(io.MouseClickedPos[button].x), b = time_at(mouse.x);
      sel = PlotSelection{std::min(a, b), std::max(a, b), true};
    }
  }
  if (over_data && io.MouseWheel != 0) {
    const double span = view.t1 - view.t0;
    const double new_span = std::clamp(span * std::pow(kWheelZoomStep, io.MouseWheel), kMinPlotSpan, kMaxPlotSpan);
    const double f = new_span / span;
    const double at = time_at(mouse.x);
    view.t0 = at - (at - view.t0) * f;
    view.t1 = at + (view.t1 - at) * f;
    view.auto_fit = false;
    ev.view_changed = true;
  }
  make_valid(view);
  ev.selection_changed = !same(sel, sel_before);
  m.t0 = view.t0;
  m.t1 = view.t1;

  const int columns = std::max(1, static_cast<int>(width_px));
  std::vector<std::vector<SeriesPoint>> drawn(series.size());
  for (std::size_t i = 0; i < series.size(); ++i) {
    drawn[i] = decimate(series[i].points, m.t0, m.t1, columns);
    clip_to_range(drawn[i], m.t0, m.t1, series[i].step);
    ev.points_drawn += static_cast<int>(drawn[i].size());
  }
  fit_y(m, series, drawn);

  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(m.min, m.max, ImGui::GetColorU32(ImGuiCol_FrameBg));
  draw_grid(dl, m, frame_min, frame_max, y_unit);
  dl->PushClipRect(m.min, m.max, true);
  draw_selection(dl, m, sel);
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (!series[i].fill_minmax) continue;
    if (series[i].step) {
      draw_step_band(dl, m, drawn[i], minmax_band_color(series[i].color));
    } else {
      draw_band(dl, m, drawn[i], minmax_band_color(series[i].color));
    }
  }
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (series[i].step) {
      draw_step_line(dl, m, drawn[i], series[i].color);
    } else {
      draw_line(dl, m, drawn[i], series[i].color);
    }
  }
  draw_markers(dl, m, markers);
  draw_legend(dl, m, series);
  if (over_data) {
    ev.hovered = true;
    ev.hover_t = time_at(mouse.x);
    dl->AddLine(ImVec2(mouse.x, m.min.y), ImVec2(mouse.x, m.max.y), ImGui::GetColorU32(ImGuiCol_Text, 0.4f));
  }
  dl->PopClipRect();
  dl->AddRect(m.min, m.max, ImGui::GetColorU32(ImGuiCol_Border));
  if (ev.hovered) tooltip(ev.hover_t, series, y_unit);
  ImGui::PopID();
  return ev;
}

}  // namespace heaplens::gui
