#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sample_stacks.h"

#include "headless_imgui.h"
#include "widgets/flame_graph.h"
#include "widgets/flame_layout.h"

using namespace heaplens::gui;
using namespace heaplens::gui::test;

namespace {

const std::vector<std::string> kNames = {
    "", "alloc_site_a", "f", "main", "alloc_site_b",
    "g_with_a_name_far_too_long_for_its_bar_to_hold_it_so_it_gets_cut_short_with_two_dots"};
const ImVec2 kSize(540, 300);

struct Flame {
  HeadlessImGui ui;
  CallTree tree = build_call_tree(kSamples, Direction::kTopDown);
  FlameState state;
  FlameEvents ev;
  std::function<void()> body = [this] {
    ev = flame_graph("flame", tree, FrameLabels{kNames}, Unit::kBytes, kSize, state);
  };

  Flame() {
    ui.hover(ImVec2(-1, -1), body);
    ui.hover(ImVec2(-1, -1), body);
  }
  // The middle of the bar at `depth` that covers fraction fx of the width.
  ImVec2 at(int depth, double fx) const {
    return ImVec2(std::floor(ev.origin.x + static_cast<float>(fx * ev.width)),
                  std::floor(ev.origin.y + (depth + 0.5f) * ev.bar_height));
  }
  NodeId node(std::vector<std::uint32_t> keys) const {
    const NodeId n = resolve_key_path(tree, keys);
    REQUIRE(key_path(tree, n) == keys);
    return n;
  }
  void click(ImVec2 pos) {
    ui.hover(pos, body);
    ui.press(pos, body);
    ui.release(pos, body);
  }
};

}  // namespace

TEST_CASE("flame_graph draws one bar per laid-out node, coloured by label") {
  Flame f;
  CHECK(f.ev.width == kSize.x);
  CHECK(f.ev.bar_height > 0);
  const auto lists = draw_lists_named("##flame");
  REQUIRE(lists.size() == 1);
  const ImDrawList& list = *lists[0];
  REQUIRE(list.VtxBuffer.Size > 0);
  // "f" appears twice in the tree (f and f -> f), "main" once: 4 vertices a rectangle.
  CHECK(vertices_with_color(list, flame_color("f")).size() == 8);
  CHECK(vertices_with_color(list, flame_color("main")).size() == 4);
  for (const ImDrawVert& v : list.VtxBuffer) {
    CHECK(v.pos.x >= f.ev.origin.x - 1);
    CHECK(v.pos.x <= f.ev.origin.x + kSize.x + 1);
  }
  // The long label is cut to its bar (g: 7/27 of the width, starting at 18/27).
  const float g_right = f.ev.origin.x + kSize.x * 25 / 27;
  const float row2_top = f.ev.origin.y + 2 * f.ev.bar_height;
  int text_in_g = 0;
  for (ImVec2 v : vertices_with_color(list, IM_COL32(20, 20, 20, 255))) {
    if (v.y >= row2_top && v.y < row2_top + f.ev.bar_height && v.x > f.ev.origin.x + kSize.x * 18 / 27) {
      ++text_in_g;
      CHECK(v.x <= g_right);
    }
  }
  CHECK(text_in_g > 0);
}

TEST_CASE("flame_color is stable and tells labels apart") {
  CHECK(flame_color("malloc_wrapper") == flame_color(std::string("malloc_") + "wrapper"));
  CHECK(flame_color("f") != flame_color("g"));
  CHECK(((flame_color("f") >> IM_COL32_A_SHIFT) & 0xff) == 0xff);
}

TEST_CASE("flame_graph: hover names the bar under the cursor") {
  Flame f;
  f.ui.hover(f.at(1, 0.5), f.body);
  f.ui.hover(f.at(1, 0.5), f.body);  // a tooltip window stays hidden on its first frame
  CHECK(f.ev.hovered == f.node({kMain}));
  CHECK(draw_lists_named("Tooltip").size() == 1);
  f.ui.hover(f.at(2, 0.8), f.body);  // g spans 18/27 .. 25/27
  CHECK(f.ev.hovered == f.node({kMain, kG}));
  f.ui.hover(f.at(1, 0.95), f.body);  // right of main: the empty stack's share, no bar
  CHECK(f.ev.hovered == kNoNode);
  CHECK(draw_lists_named("Tooltip").empty());
}

TEST_CASE("flame_graph: click zooms in, a click on an ancestor or 'all' zooms out") {
  Flame f;
  const NodeId g = f.node({kMain, kG});
  f.click(f.at(2, 0.8));
  CHECK(f.state.zoom_path == std::vector<std::uint32_t>{kMain, kG});

  f.ui.hover(f.at(2, 0.05), f.body);  // g now fills its row
  CHECK(f.ev.zoom == g);
  CHECK(f.ev.hovered == g);
  f.ui.hover(f.at(3, 0.05), f.body);
  CHECK(f.ev.hovered == f.node({kMain, kG, kSiteA}));

  f.click(f.at(1, 0.5));  // the ancestor main
  CHECK(f.state.zoom_path == std::vector<std::uint32_t>{kMain});

  f.click(f.at(2, 0.1));  // f, under main
  CHECK(f.state.zoom_path == std::vector<std::uint32_t>{kMain, kF});
  f.ui.hover(f.at(3, 0.9), f.body);  // f -> f: 15/18 .. 18/18 of the zoomed width
  CHECK(f.ev.hovered == f.node({kMain, kF, kF}));

  f.click(f.at(0, 0.5));  // "all"
  CHECK(f.state.zoom_path.empty());
  f.ui.hover(f.at(2, 0.8), f.body);
  CHECK(f.ev.zoom == kRootNode);
  CHECK(f.ev.hovered == g);
}

TEST_CASE("flame_graph: the click event and its zoom change come on the clicking frame") {
  Flame f;
  const ImVec2 pos = f.at(2, 0.1);
  f.ui.hover(pos, f.body);
  f.ui.press(pos, f.body);
  CHECK(f.ev.clicked == f.node({kMain, kF}));
  CHECK(f.ev.zoom_changed);
  CHECK(f.ev.zoom == f.node({kMain, kF}));
  f.ui.release(pos, f.body);
  CHECK(f.ev.clicked == kNoNode);
  CHECK_FALSE(f.ev.zoom_changed);

  f.ui.press(pos, f.body);  // the zoomed node again: reported, but no change
  CHECK(f.ev.clicked == f.node({kMain, kF}));
  CHECK_FALSE(f.ev.zoom_changed);
  f.ui.release(pos, f.body);
}

TEST_CASE("flame_graph: the zoom follows its key path into a rebuilt tree") {
  Flame f;
  f.click(f.at(2, 0.8));  // g
  const std::vector<std::uint32_t> extra = {kSiteB, kG, kMain};
  std::vector<StackSample> more = {{extra, 50}};
  more.insert(more.end(), kSamples.begin(), kSamples.end());
  f.tree = build_call_tree(more, Direction::kTopDown);
  f.ui.hover(ImVec2(-1, -1), f.body);
  CHECK(f.ev.zoom == f.node({kMain, kG}));
  CHECK(f.tree.nodes[f.ev.zoom].total == 57);
}

TEST_CASE("flame_graph: an empty tree draws the root alone") {
  HeadlessImGui ui;
  const CallTree empty = build_call_tree({}, Direction::kBottomUp);
  FlameState state;
  FlameEvents ev;
  ui.frame([&] { ev = flame_graph("flame", empty, FrameLabels{}, Unit::kCount, ImVec2(200, 100), state); });
  CHECK(ev.zoom == kRootNode);
  const CallTree none;
  ui.frame([&] { ev = flame_graph("flame", none, FrameLabels{}, Unit::kCount, ImVec2(200, 100), state); });
  CHECK(ev.hovered == kNoNode);
}
