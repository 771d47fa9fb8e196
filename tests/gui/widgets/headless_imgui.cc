#include "headless_imgui.h"

HeadlessImGui::HeadlessImGui(ImVec2 display) : context_(ImGui::CreateContext()) {
  ImGui::SetCurrentContext(context_);
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.LogFilename = nullptr;
  io.DisplaySize = display;
  io.DeltaTime = 1.0f / 60.0f;
  // What the OpenGL 3 backend announces; lets a draw list grow past 64k vertices.
  io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;
  unsigned char* pixels = nullptr;
  int width = 0, height = 0;
  io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowPadding = ImVec2(0, 0);
  style.WindowBorderSize = 0;
}

HeadlessImGui::~HeadlessImGui() { ImGui::DestroyContext(context_); }

const ImDrawList* HeadlessImGui::frame(const std::function<void()>& body) {
  ImGui::SetCurrentContext(context_);
  ImGui::NewFrame();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io().DisplaySize);
  ImGui::Begin("canvas", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBackground |
                   ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoBringToFrontOnFocus);
  const ImDrawList* list = ImGui::GetWindowDrawList();
  body();
  ImGui::End();
  ImGui::Render();
  return list;
}

const ImDrawList* HeadlessImGui::hover(ImVec2 pos, const std::function<void()>& body) {
  io().MousePos = pos;
  return frame(body);
}

const ImDrawList* HeadlessImGui::press(ImVec2 pos, const std::function<void()>& body, int button) {
  io().MousePos = pos;
  io().MouseDown[button] = true;
  return frame(body);
}

const ImDrawList* HeadlessImGui::release(ImVec2 pos, const std::function<void()>& body, int button) {
  io().MousePos = pos;
  io().MouseDown[button] = false;
  return frame(body);
}

std::vector<const ImDrawList*> draw_lists_named(std::string_view name_part) {
  std::vector<const ImDrawList*> lists;
  const ImDrawData* data = ImGui::GetDrawData();
  if (data == nullptr) return lists;
  for (int i = 0; i < data->CmdListsCount; ++i) {
    const ImDrawList* l = data->CmdLists[i];
    if (l->_OwnerName != nullptr && std::string_view(l->_OwnerName).find(name_part) != std::string_view::npos) {
      lists.push_back(l);
    }
  }
  return lists;
}

std::vector<ImVec2> vertices_with_color(const ImDrawList& list, ImU32 color) {
  std::vector<ImVec2> out;
  for (const ImDrawVert& v : list.VtxBuffer) {
    if (v.col == color) out.push_back(v.pos);
  }
  return out;
}

std::vector<ImVec2> vertices_with_rgb(const ImDrawList& list, ImU32 color) {
  std::vector<ImVec2> out;
  for (const ImDrawVert& v : list.VtxBuffer) {
    if ((v.col & ~IM_COL32_A_MASK) == (color & ~IM_COL32_A_MASK)) out.push_back(v.pos);
  }
  return out;
}
