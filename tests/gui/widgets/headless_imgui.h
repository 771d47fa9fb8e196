#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include <imgui.h>

// A Dear ImGui context with no platform or renderer backend: input goes in through ImGuiIO,
// output is the draw data. Time advances by a fixed 1/60 s a frame, so double clicks and
// drag thresholds behave the same on every machine.
class HeadlessImGui {
 public:
  explicit HeadlessImGui(ImVec2 display = ImVec2(1280, 720));
  ~HeadlessImGui();
  HeadlessImGui(const HeadlessImGui&) = delete;
  HeadlessImGui& operator=(const HeadlessImGui&) = delete;

  ImGuiIO& io() { return ImGui::GetIO(); }

  // One frame: `body` runs inside a full-screen window "canvas" with no decoration, background
  // or padding, so widgets start at (0, 0). Returns the canvas's draw list, valid until the
  // next frame.
  const ImDrawList* frame(const std::function<void()>& body);

  // Mouse helpers: each sets the state and runs one frame of `body`.
  const ImDrawList* hover(ImVec2 pos, const std::function<void()>& body);
  const ImDrawList* press(ImVec2 pos, const std::function<void()>& body, int button = 0);
  const ImDrawList* release(ImVec2 pos, const std::function<void()>& body, int button = 0);

 private:
  ImGuiContext* context_;
};

// Draw lists of the last rendered frame whose owner window's name contains `name_part`.
std::vector<const ImDrawList*> draw_lists_named(std::string_view name_part);

// Vertices of `list` whose colour is exactly `color`.
std::vector<ImVec2> vertices_with_color(const ImDrawList& list, ImU32 color);

// Vertices whose colour matches `color` in RGB, whatever their alpha (anti-aliasing fringes
// are the same colour at alpha 0).
std::vector<ImVec2> vertices_with_rgb(const ImDrawList& list, ImU32 color);
