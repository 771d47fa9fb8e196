#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <imgui.h>

#include "widgets/call_tree.h"
#include "widgets/frame_labels.h"
#include "widgets/unit.h"

namespace heaplens::gui {

struct FlameState {
  // The zoomed-into node as its key path (see key_path), so the zoom survives rebuilding the
  // tree from newer data; empty: not zoomed.
  std::vector<std::uint32_t> zoom_path;
};

struct FlameEvents {
  NodeId clicked = kNoNode;  // the bar clicked this frame
  NodeId hovered = kNoNode;  // the bar under the cursor
  NodeId zoom = kRootNode;   // the node drawn full width, after this frame's click
  bool zoom_changed = false;
  // Geometry of this frame: bar (depth d) spans y in [origin.y + d * bar_height, + bar_height),
  // x from origin.x across `width` as flame_layout lays it out.
  ImVec2 origin;
  float bar_height = 0;
  float width = 0;
};

// Bars narrower than this many pixels are not drawn (nor their subtrees).
inline constexpr double kFlameMinBarWidth = 2.0;

// The colour of a frame's bar: warm hues picked by an FNV-1a hash of the label, so the same
// function keeps its colour across frames, runs and trees.
ImU32 flame_color(std::string_view label);

// An icicle-style flame graph of `tree` (the root "all" on top, depth growing downward) in a
// child window of `size` (scrolls when the tree is deeper than it). Bars are flame_layout
// rectangles of the zoomed node, labelled with the frame's name cut to the bar's width.
// Hover: tooltip with the label, total, self (in value_unit) and share of the root total.
// Click on a bar: it becomes the zoom (state.zoom_path); the ancestors of the zoom stay drawn
// full width above it, so clicking one of them, or the "all" bar, zooms back out.
FlameEvents flame_graph(const char* id, const CallTree& tree, const FrameLabels& labels, Unit value_unit,
                        ImVec2 size, FlameState& state);

}  // namespace heaplens::gui
