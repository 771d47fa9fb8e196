#include <algorithm>
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "headless_imgui.h"
#include "widgets/time_plot.h"

using namespace heaplens::gui;

namespace {

constexpr ImU32 kRed = IM_COL32(230, 40, 40, 255);
constexpr ImU32 kGreen = IM_COL32(40, 230, 90, 255);
const ImVec2 kSize(800, 300);

bool inside(ImVec2 p, ImVec2 lo, ImVec2 hi, float slack) {
  return p.x >= lo.x - slack && p.x <= hi.x + slack && p.y >= lo.y - slack && p.y <= hi.y + slack;
}

// One series, 0..100 s, a sample every 0.1 s; the plot at the window's origin.
struct Plot {
  HeadlessImGui ui;
  std::vector<SeriesPoint> points;
  std::vector<PlotMarker> markers;
  PlotView view;
  PlotSelection sel;
  PlotEvents ev;
  std::function<void()> body = [this] {
    const PlotSeries s{"heap", kRed, points, true};
    ev = time_plot("plot", view, sel, std::span(&s, 1), markers, Unit::kBytes, kSize);
  };

  Plot() {
    for (int i = 0; i <= 1000; ++i) points.push_back(sample(i * 0.1, (i % 50) * 1024.0));
    ui.hover(ImVec2(-1, -1), body);  // the first frame creates the window
    ui.hover(ImVec2(-1, -1), body);
  }

  double width() const { return ev.plot_max.x - ev.plot_min.x; }
  // A point in the data area, fx of the way across; whole pixels, as ImGui floors the mouse.
  ImVec2 at(double fx) const {
    return ImVec2(std::floor(ev.plot_min.x + static_cast<float>(fx * width())),
                  std::floor((ev.plot_min.y + ev.plot_max.y) / 2));
  }
  double time_at(float x) const { return view.t0 + (x - ev.plot_min.x) / width() * (view.t1 - view.t0); }
};

}  // namespace

TEST_CASE("time_plot draws a million points as at most one bucket per pixel column") {
  HeadlessImGui ui;
  std::vector<SeriesPoint> points;
  points.reserve(1'000'000);
  for (int i = 0; i < 1'000'000; ++i) points.push_back(sample(i * 1e-3, (i % 1000) * 1024.0 + i));
  PlotView view;
  PlotSelection sel;
  PlotEvents ev;
  const ImDrawList* list = ui.frame([&] {
    const PlotSeries s{"heap", kRed, points, true};
    ev = time_plot("plot", view, sel, std::span(&s, 1), {}, Unit::kBytes, kSize);
  });

  REQUIRE(list->VtxBuffer.Size > 0);
  REQUIRE(list->CmdBuffer.Size > 0);
  CHECK(ImGui::GetDrawData()->TotalVtxCount >= list->VtxBuffer.Size);
  CHECK(view.t0 == 0);  // auto_fit: the data's range
  CHECK(view.t1 == points.back().t);

  const double width = ev.plot_max.x - ev.plot_min.x;
  CHECK(width > kSize.x / 2);
  CHECK(ev.points_drawn <= static_cast<int>(width) + 2);
  CHECK(ev.points_drawn >= static_cast<int>(width) / 2);
  // The band is one quad between neighbouring buckets: 4 vertices each.
  const auto band = vertices_with_color(*list, minmax_band_color(kRed));
  REQUIRE(!band.empty());
  CHECK(band.size() % 4 == 0);
  CHECK(band.size() / 4 + 1 <= static_cast<std::size_t>(width) + 2);
  // Far fewer vertices than points: nothing was drawn per point.
  CHECK(list->VtxBuffer.Size < 40 * width);

  // Series geometry stays in the data area (a 2 px anti-aliased line's vertices lie half its
  // width plus 1 px out: 2 px); and nothing the widget draws leaves its frame.
  for (ImVec2 p : vertices_with_rgb(*list, kRed)) REQUIRE(inside(p, ev.plot_min, ev.plot_max, 2.0f));
  for (const ImDrawVert& v : list->VtxBuffer) REQUIRE(inside(v.pos, ImVec2(0, 0), kSize, 1.0f));
  // The band spans from the lowest to the highest value: its vertices reach near both ends
  // of the y axis (0 at the bottom, the maximum below the 5% headroom on top).
  float top = kSize.y, bottom = 0;
  for (ImVec2 p : band) {
    top = std::min(top, p.y);
    bottom = std::max(bottom, p.y);
  }
  const float h = ev.plot_max.y - ev.plot_min.y;
  CHECK(bottom > ev.plot_max.y - 0.02f * h);
  CHECK(top < ev.plot_min.y + 0.1f * h);
}

TEST_CASE("time_plot: the wheel zooms around the cursor, only over the data area") {
  Plot p;
  const ImVec2 cursor = p.at(0.25);
  p.ui.hover(cursor, p.body);
  REQUIRE(p.ev.hovered);
  const double t_cursor = p.ev.hover_t;
  const double span = p.view.t1 - p.view.t0;
  CHECK(t_cursor == Approx(25.0).margin(0.2));

  p.ui.io().MouseWheel = 1;
  p.ui.hover(cursor, p.body);
  CHECK(p.ev.view_changed);
  CHECK_FALSE(p.view.auto_fit);
  CHECK(p.view.t1 - p.view.t0 == Approx(span * kWheelZoomStep));
  CHECK(p.ev.hover_t == Approx(t_cursor).epsilon(1e-9));
  CHECK(p.time_at(cursor.x) == Approx(t_cursor).epsilon(1e-9));

  p.ui.io().MouseWheel = -2;
  p.ui.hover(cursor, p.body);
  CHECK(p.view.t1 - p.view.t0 == Approx(span / kWheelZoomStep));

  p.ui.hover(cursor, p.body);  // no wheel: nothing changes
  CHECK_FALSE(p.ev.view_changed);

  const PlotView before = p.view;
  p.ui.io().MouseWheel = 1;
  p.ui.hover(ImVec2(p.ev.plot_min.x - 10, cursor.y), p.body);  // over the y labels
  CHECK_FALSE(p.ev.view_changed);
  CHECK(p.view.t0 == before.t0);
  CHECK(p.view.t1 == before.t1);
}

TEST_CASE("time_plot: dragging with the left button pans") {
  Plot p;
  const ImVec2 start = p.at(0.5);
  p.ui.hover(start, p.body);
  p.ui.press(start, p.body);
  CHECK_FALSE(p.ev.view_changed);
  const PlotView before = p.view;
  const double span = before.t1 - before.t0;

  p.ui.press(ImVec2(start.x - 100, start.y), p.body);  // held, moved 100 px left
  CHECK(p.ev.view_changed);
  CHECK_FALSE(p.view.auto_fit);
  CHECK(p.view.t1 - p.view.t0 == Approx(span));
  CHECK(p.view.t0 == Approx(before.t0 + 100 / p.width() * span));
  CHECK_FALSE(p.sel.active);
  CHECK_FALSE(p.ev.selection_changed);

  p.ui.release(ImVec2(start.x - 100, start.y), p.body);
  const PlotView after = p.view;
  p.ui.hover(ImVec2(start.x - 300, start.y), p.body);  // moving without a button does nothing
  CHECK(p.view.t0 == after.t0);
}

TEST_CASE("time_plot: shift-drag and right-drag select a range; a double click clears and refits") {
  Plot p;
  const ImVec2 a = p.at(0.2), b = p.at(0.6), c = p.at(0.7);
  const double ta = p.time_at(a.x), tb = p.time_at(b.x), tc = p.time_at(c.x);
  const PlotView before = p.view;

  p.ui.io().KeyShift = true;
  p.ui.hover(a, p.body);
  p.ui.press(a, p.body);
  CHECK_FALSE(p.sel.active);  // a press alone selects nothing
  p.ui.press(b, p.body);
  CHECK(p.ev.selection_changed);
  CHECK_FALSE(p.ev.view_changed);
  REQUIRE(p.sel.active);
  CHECK(p.sel.t0 == Approx(ta));
  CHECK(p.sel.t1 == Approx(tb));
  CHECK(p.view.t0 == before.t0);
  CHECK(p.view.t1 == before.t1);

  p.ui.io().KeyShift = false;  // the drag keeps selecting once started
  p.ui.press(c, p.body);
  CHECK(p.sel.t1 == Approx(tc));
  CHECK(p.view.t0 == before.t0);
  p.ui.release(c, p.body);
  CHECK_FALSE(p.ev.selection_changed);
  CHECK(p.sel.active);

  // Right button, dragged right to left: the selection is still ordered.
  p.ui.hover(c, p.body);
  p.ui.press(c, p.body, 1);
  p.ui.press(a, p.body, 1);
  p.ui.release(a, p.body, 1);
  CHECK(p.sel.t0 == Approx(ta));
  CHECK(p.sel.t1 == Approx(tc));
  CHECK(p.view.t0 == before.t0);

  // Zoom in first, so the refit has something to undo.
  p.ui.io().MouseWheel = 3;
  p.ui.hover(b, p.body);
  REQUIRE_FALSE(p.view.auto_fit);

  p.ui.press(b, p.body);
  p.ui.release(b, p.body);
  p.ui.press(b, p.body);  // second click 2/60 s later: a double click
  CHECK(p.ev.selection_changed);
  CHECK(p.ev.view_changed);
  CHECK_FALSE(p.sel.active);
  CHECK(p.view.auto_fit);
  CHECK(p.view.t0 == p.points.front().t);
  CHECK(p.view.t1 == p.points.back().t);
  p.ui.release(b, p.body);
}

TEST_CASE("time_plot: a click without a drag selects nothing") {
  Plot p;
  const ImVec2 a = p.at(0.4);
  p.ui.hover(a, p.body);
  p.ui.press(a, p.body, 1);
  p.ui.release(a, p.body, 1);
  CHECK_FALSE(p.sel.active);
  CHECK_FALSE(p.ev.selection_changed);
}

TEST_CASE("time_plot: hover shows a tooltip, markers are drawn where they are") {
  Plot p;
  p.markers = {{50.0, "peak", kGreen}, {500.0, "outside", IM_COL32(10, 10, 250, 255)}};
  p.ui.hover(p.at(0.75), p.body);  // a tooltip window stays hidden on its first frame
  const ImDrawList* list = p.ui.hover(p.at(0.75), p.body);
  REQUIRE(p.ev.hovered);
  CHECK(p.ev.hover_t == Approx(75).margin(0.2));
  const auto tips = draw_lists_named("Tooltip");
  REQUIRE(tips.size() == 1);
  CHECK(tips[0]->VtxBuffer.Size > 0);

  const float x_peak = p.ev.plot_min.x + static_cast<float>((50.0 - p.view.t0) / (p.view.t1 - p.view.t0) * p.width());
  const auto green = vertices_with_rgb(*list, kGreen);
  REQUIRE(!green.empty());
  CHECK(std::any_of(green.begin(), green.end(), [&](ImVec2 v) { return std::abs(v.x - x_peak) < 1.5f; }));
  for (ImVec2 v : green) CHECK(inside(v, p.ev.plot_min, p.ev.plot_max, 1.5f));
  CHECK(vertices_with_rgb(*list, IM_COL32(10, 10, 250, 255)).empty());

  p.ui.hover(ImVec2(-1, -1), p.body);
  CHECK_FALSE(p.ev.hovered);
  CHECK(draw_lists_named("Tooltip").empty());
}

TEST_CASE("time_plot: empty and tiny series") {
  HeadlessImGui ui;
  PlotView view;
  PlotSelection sel;
  PlotEvents ev;
  std::vector<SeriesPoint> one = {sample(5, 100)};
  std::vector<SeriesPoint> none;
  const ImDrawList* list = ui.frame([&] {
    const PlotSeries s[] = {{"one", kRed, one, true}, {"none", kGreen, none, false}};
    ev = time_plot("plot", view, sel, s, {}, Unit::kCount, ImVec2(0, 0));  // size from the window
  });
  CHECK(ev.points_drawn == 1);
  CHECK(view.t0 < 5);
  CHECK(view.t1 > 5);
  CHECK(ev.plot_max.x > 1000);  // took the window's width
  CHECK(!vertices_with_rgb(*list, kRed).empty());

  ui.frame([&] { ev = time_plot("plot", view, sel, {}, {}, Unit::kSeconds, ImVec2(300, 200)); });
  CHECK(ev.points_drawn == 0);
  CHECK(view.t0 < view.t1);
}

TEST_CASE("time_plot: a step series holds each level until the next point and to the right edge") {
  HeadlessImGui ui;
  // Levels 0 B from 0 s, 1 KiB from 2 s, 0 B again from 6 s; view 0..10 s.
  std::vector<SeriesPoint> pts = {sample(0, 0), sample(2, 1024), sample(6, 0)};
  PlotView view{0, 10, false};
  PlotSelection sel;
  PlotEvents ev;
  auto body = [&] {
    PlotSeries s{"level", kGreen, pts, false, true};
    ev = time_plot("steps", view, sel, std::span(&s, 1), {}, Unit::kBytes, kSize);
  };
  ui.hover(ImVec2(-1, -1), body);
  const ImDrawList* dl = ui.hover(ImVec2(-1, -1), body);
  std::vector<ImVec2> v = vertices_with_rgb(*dl, kGreen);
  REQUIRE(!v.empty());
  auto x_at = [&](double t) { return ev.plot_min.x + static_cast<float>(t / 10.0) * (ev.plot_max.x - ev.plot_min.x); };
  // y of a value: the y range fits 0..1 KiB with 5 % headroom on top.
  auto y_of = [&](double value) {
    return ev.plot_max.y - static_cast<float>(value / (1024 * 1.05)) * (ev.plot_max.y - ev.plot_min.y);
  };
  const float top = y_of(1024), bottom = y_of(0);
  float right = ev.plot_min.x;
  for (ImVec2 p : v) right = std::max(right, p.x);
  // The line reaches the right edge (the last level holds), not just the last point at 6 s.
  CHECK(right >= ev.plot_max.x - 2);
  // Steps have corners where a line would not: at 2 s on the old (bottom) level and at 6 s on
  // the held (top) level; a straight line from (2 s, 1 KiB) to (6 s, 0) has neither.
  auto near = [&](double t, float y) {
    return std::any_of(v.begin(), v.end(), [&](ImVec2 p) { return std::fabs(p.x - x_at(t)) < 3 && std::fabs(p.y - y) < 3; });
  };
  CHECK(near(2, bottom));
  CHECK(near(6, top));
}
