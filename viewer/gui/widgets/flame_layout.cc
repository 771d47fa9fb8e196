#include "widgets/flame_layout.h"

#include <cmath>

namespace heaplens::gui {

std::vector<FlameRect> flame_layout(const CallTree& tree, double width, double min_width, NodeId focus) {
  std::vector<FlameRect> rects;
  if (tree.nodes.empty() || !(width > 0) || !std::isfinite(width) || focus >= tree.nodes.size()) {
    return rects;
  }
  std::vector<NodeId> path;
  for (NodeId at = focus; at != kNoNode; at = tree.nodes[at].parent) path.push_back(at);
  const int focus_depth = static_cast<int>(path.size()) - 1;
  for (int d = 0; d <= focus_depth; ++d) rects.push_back(FlameRect{path[focus_depth - d], d, 0, width});

  const double total = tree.nodes[focus].total;
  if (!(total > 0) || !std::isfinite(total)) return rects;
  const double scale = width / total;

  // Explicit stack: call stacks can be deeper than we would like to recurse.
  std::vector<FlameRect> pending;
  auto push_children = [&](const FlameRect& parent) {
    const auto& children = tree.nodes[parent.node].children;
    double x = parent.x;
    std::vector<FlameRect> row;
    for (NodeId c : children) {
      const double w = tree.nodes[c].total * scale;
      if (w > 0 && w >= min_width) row.push_back(FlameRect{c, parent.depth + 1, x, w});
      if (w > 0) x += w;
    }
    pending.insert(pending.end(), row.rbegin(), row.rend());
  };
  push_children(rects.back());
  while (!pending.empty()) {
    const FlameRect r = pending.back();
    pending.pop_back();
    rects.push_back(r);
    push_children(r);
  }
  return rects;
}

}  // namespace heaplens::gui
