#include "widgets/flame_graph.h"

#include <cmath>
#include <string>

#include "widgets/flame_layout.h"
#include "widgets/format_units.h"

namespace heaplens::gui {
namespace {

constexpr float kTextPad = 3.0f;
constexpr const char* kCut = "..";

// The longest prefix of `label` (whole UTF-8 characters) that fits `room` pixels with ".."
// after it; the whole label when it fits as is, empty when not even ".." does.
std::string fit_label(std::string_view label, float room) {
  if (ImGui::CalcTextSize(label.data(), label.data() + label.size()).x <= room) return std::string(label);
  const float cut_w = ImGui::CalcTextSize(kCut).x;
  if (cut_w > room) return {};
  std::size_t lo = 0, hi = label.size();  // lo fits, hi does not
  while (hi - lo > 1) {
    const std::size_t mid = (lo + hi) / 2;
    if (ImGui::CalcTextSize(label.data(), label.data() + mid).x + cut_w <= room) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  while (lo > 0 && (static_cast<unsigned char>(label[lo]) & 0xC0) == 0x80) --lo;
  return std::string(label.substr(0, lo)) + kCut;
}

std::string share(double part, double whole) {
  return whole > 0 ? format_percent(100.0 * part / whole) : std::string("-");
}

void tooltip(const CallTree& tree, NodeId node, NodeId zoom, const FrameLabels& labels, Unit unit) {
  const CallNode& n = tree.nodes[node];
  const std::string_view label = labels(n.key);
  ImGui::BeginTooltip();
  ImGui::TextUnformatted(label.data(), label.data() + label.size());
  ImGui::Text("total: %s (%s of all)", format_value(n.total, unit).c_str(),
              share(n.total, tree.root_total()).c_str());
  ImGui::Text("self: %s", format_value(n.self, unit).c_str());
  if (zoom != kRootNode && node != zoom) {
    const std::string_view zoom_label = labels(tree.nodes[zoom].key);
    ImGui::Text("%s of %.*s", share(n.total, tree.nodes[zoom].total).c_str(), static_cast<int>(zoom_label.size()),
                zoom_label.data());
  }
  ImGui::EndTooltip();
}

}  // namespace

ImU32 flame_color(std::string_view label) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : label) {
    h ^= c;
    h *= 16777619u;
  }
  const float hue = 0.12f * static_cast<float>(h & 0xff) / 255.0f;  // red .. orange-yellow
  const float sat = 0.55f + 0.3f * static_cast<float>((h >> 8) & 0xff) / 255.0f;
  const float val = 0.85f + 0.15f * static_cast<float>((h >> 16) & 0xff) / 255.0f;
  float r, g, b;
  ImGui::ColorConvertHSVtoRGB(hue, sat, val, r, g, b);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, b, 1.0f));
}

FlameEvents flame_graph(const char* id, const CallTree& tree, const FrameLabels& labels, Unit value_unit,
                        ImVec2 size, FlameState& state) {
  FlameEvents ev;
  ImGui::PushID(id);
  const bool visible = ImGui::BeginChild("##flame", size, false, ImGuiWindowFlags_None);
  const float width = ImGui::GetContentRegionAvail().x;
  if (visible && !tree.nodes.empty() && width >= 1) {
    const NodeId zoom = resolve_key_path(tree, state.zoom_path);
    const int zoom_depth = tree.nodes[zoom].depth;
    ev.zoom = zoom;
    ev.bar_height = ImGui::GetTextLineHeight() + 2 * kTextPad;
    ev.width = width;
    ev.origin = ImGui::GetCursorScreenPos();

    const std::vector<FlameRect> rects = flame_layout(tree, width, kFlameMinBarWidth, zoom);
    int max_depth = 0;
    for (const FlameRect& r : rects) max_depth = std::max(max_depth, r.depth);
    ImGui::InvisibleButton("##bars", ImVec2(width, (max_depth + 1) * ev.bar_height));

    if (ImGui::IsItemHovered()) {
      const ImVec2 mouse = ImGui::GetIO().MousePos;
      const int row = static_cast<int>(std::floor((mouse.y - ev.origin.y) / ev.bar_height));
      const double x = mouse.x - ev.origin.x;
      for (const FlameRect& r : rects) {
        if (r.depth == row && x >= r.x && x < r.x + r.w) {
          ev.hovered = r.node;
          break;
        }
      }
    }

    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 clip_min = dl->GetClipRectMin(), clip_max = dl->GetClipRectMax();
    const ImU32 text = IM_COL32(20, 20, 20, 255);
    for (const FlameRect& r : rects) {
      const float y = ev.origin.y + r.depth * ev.bar_height;
      if (y + ev.bar_height < clip_min.y || y > clip_max.y) continue;
      const std::string_view label = labels(tree.nodes[r.node].key);
      ImU32 color = r.node == kRootNode ? IM_COL32(150, 150, 150, 255) : flame_color(label);
      // The zoom's ancestors are context, not data of the zoomed view: drawn faded.
      if (r.depth < zoom_depth) color = (color & ~IM_COL32_A_MASK) | (IM_COL32(0, 0, 0, 110));
      const ImVec2 a(ev.origin.x + static_cast<float>(r.x), y);
      // A one-pixel gap separates neighbours once bars are wide enough to spare it.
      const ImVec2 b(ev.origin.x + static_cast<float>(r.x + r.w) - (r.w > 3 ? 1.0f : 0.0f), y + ev.bar_height - 1);
      dl->AddRectFilled(a, b, color);
      if (r.node == ev.hovered) dl->AddRect(a, b, IM_COL32(255, 255, 255, 255), 0.0f, 0, 1.5f);
      const std::string shown = fit_label(label, b.x - a.x - 2 * kTextPad);
      if (!shown.empty()) dl->AddText(ImVec2(a.x + kTextPad, y + kTextPad), text, shown.c_str());
    }

    if (ev.hovered != kNoNode && ImGui::IsItemClicked(ImGuiMouseButton_Left)) {
      ev.clicked = ev.hovered;
      if (ev.clicked != zoom) {
        state.zoom_path = key_path(tree, ev.clicked);
        ev.zoom = ev.clicked;
        ev.zoom_changed = true;
      }
    }
    if (ev.hovered != kNoNode) tooltip(tree, ev.hovered, zoom, labels, value_unit);
  }
  ImGui::EndChild();
  ImGui::PopID();
  return ev;
}

}  // namespace heaplens::gui
