// The call tree (top-down from main, or bottom-up from the allocating functions) and the
// flame graph, over live or allocated bytes.
#include <imgui.h>

#include <fmt/format.h>

#include "panels.h"
#include "widgets/format_units.h"

namespace heaplens::gui {

namespace {

const TreeView* tree_of(const Views& v) { return v.windowed ? v.filtered.tree.get() : v.live.tree.get(); }

void tree_options(UiState& ui) {
  ui.request.want_tree = true;
  int metric = ui.request.tree_live_bytes ? 0 : 1;
  ImGui::RadioButton("live bytes", &metric, 0);
  ImGui::SameLine();
  ImGui::RadioButton("allocated bytes", &metric, 1);
  ui.request.tree_live_bytes = metric == 0;
}

void draw_node(const TreeView& t, const CallTree& tree, NodeId node, double root_total, int depth) {
  const CallNode& n = tree.nodes[node];
  const std::string& label = n.key < t.labels.size() ? t.labels[n.key] : "?";
  std::string text = fmt::format("{}  {}  ({:.1f} %)", label, format_bytes(n.total),
                                 root_total > 0 ? 100.0 * n.total / root_total : 0.0);
  ImGuiTreeNodeFlags flags = n.children.empty() ? ImGuiTreeNodeFlags_Leaf : 0;
  if (depth < 2) flags |= ImGuiTreeNodeFlags_DefaultOpen;
  if (ImGui::TreeNodeEx(reinterpret_cast<void*>(static_cast<std::uintptr_t>(node) + 1), flags, "%s", text.c_str())) {
    if (depth < 64)
      for (NodeId c : n.children) draw_node(t, tree, c, root_total, depth + 1);
    ImGui::TreePop();
  }
}

}  // namespace

void draw_call_tree(const Views& v, UiState& ui) {
  ui.drawn.insert("call tree");
  tree_options(ui);
  ImGui::SameLine(0, 24);
  int dir = ui.tree_top_down ? 0 : 1;
  ImGui::RadioButton("top-down", &dir, 0);
  ImGui::SameLine();
  ImGui::RadioButton("bottom-up", &dir, 1);
  ui.tree_top_down = dir == 0;
  const TreeView* t = tree_of(v);
  if (t == nullptr) {
    ImGui::TextUnformatted("building the call tree...");
    return;
  }
  const CallTree& tree = ui.tree_top_down ? t->top_down : t->bottom_up;
  ImGui::BeginChild("tree", ImVec2(0, 0), false);
  if (tree.nodes.empty() || tree.nodes[kRootNode].children.empty()) {
    ImGui::TextUnformatted("(nothing to show)");
  } else {
    for (NodeId r : tree.nodes[kRootNode].children) draw_node(*t, tree, r, tree.root_total(), 0);
  }
  ImGui::EndChild();
}

void draw_flame(const Views& v, UiState& ui) {
  ui.drawn.insert("flame graph");
  tree_options(ui);
  const TreeView* t = tree_of(v);
  if (t == nullptr) {
    ImGui::TextUnformatted("building the flame graph...");
    return;
  }
  FrameLabels labels;
  labels.by_key = t->labels;
  flame_graph("flame", t->top_down, labels, Unit::kBytes, ImGui::GetContentRegionAvail(), ui.flame);
}

}  // namespace heaplens::gui
