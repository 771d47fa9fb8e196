#pragma once

#include <vector>

#include "widgets/call_tree.h"

namespace heaplens::gui {

struct FlameRect {
  NodeId node;
  int depth;  // 0: the root ("all")
  double x;   // from the left edge, in the units of `width`
  double w;
};

// Lays out the subtree of `focus` across [0, width]: focus and each of its ancestors get the
// full width at their depth (so the way back out stays visible and clickable); below focus,
// every node gets width * total / focus.total, children left to right in the tree's order
// (by total descending) starting at their parent's x. Nodes narrower than min_width, or not
// wider than 0, are left out with their whole subtree (the space they take stays empty).
// Order: pre-order (a node before its children, children left to right), so it is
// deterministic. Empty for an empty tree, a width that is not > 0, or an unknown focus; just
// the full-width path to focus when focus.total is not > 0.
std::vector<FlameRect> flame_layout(const CallTree& tree, double width, double min_width,
                                    NodeId focus = kRootNode);

}  // namespace heaplens::gui
