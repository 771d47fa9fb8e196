#include "app.h"

#include <time.h>
#include <unistd.h>

#define GL_SILENCE_DEPRECATION
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb_image_write.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>

#include "panels.h"
#include "widgets/format_units.h"
#include "session_reader.h"

namespace heaplens::gui {

namespace {

std::string g_glfw_error;
constexpr std::uint64_t kFrameNs = 16'666'667;

std::uint64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool write_png(const std::string& path, int w, int h) {
  std::vector<unsigned char> pixels(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  stbi_flip_vertically_on_write(1);  // GL's rows go bottom-up
  return stbi_write_png(path.c_str(), w, h, 4, pixels.data(), w * 4) != 0;
}

// What a frame asks of the GL: with software GL (Mesa's llvmpipe, what Xvfb has) the time of
// a frame goes mostly to setting up triangles and to shading the pixels they cover, so these
// two figures, unlike frame times, say what a change to the panels costs on any machine.
struct DrawCost {
  std::uint64_t triangles = 0;
  double covered_screens = 0;  // the triangles' summed area over the framebuffer's
};

DrawCost measure_draw(const ImDrawData* dd) {
  DrawCost c;
  double area = 0;
  for (int l = 0; l < dd->CmdListsCount; ++l) {
    const ImDrawList* cl = dd->CmdLists[l];
    for (int i = 0; i + 2 < cl->IdxBuffer.Size; i += 3) {
      const ImVec2 a = cl->VtxBuffer[cl->IdxBuffer[i]].pos, b = cl->VtxBuffer[cl->IdxBuffer[i + 1]].pos,
                   d = cl->VtxBuffer[cl->IdxBuffer[i + 2]].pos;
      area += std::fabs((b.x - a.x) * (d.y - a.y) - (d.x - a.x) * (b.y - a.y)) / 2;
    }
    c.triangles += static_cast<std::uint64_t>(cl->IdxBuffer.Size / 3);
  }
  const double screen = static_cast<double>(dd->DisplaySize.x) * dd->DisplaySize.y;
  c.covered_screens = screen > 0 ? area / screen : 0;
  return c;
}

// Tabs of one bar; in screenshot runs, `force` selects one programmatically.
bool tab(const char* name, int index, int force) {
  ImGuiTabItemFlags flags = force >= 0 && force == index ? ImGuiTabItemFlags_SetSelected : 0;
  return ImGui::BeginTabItem(name, nullptr, flags);
}

void draw_main(const Views& v, UiState& ui) {
  ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(vp->WorkPos);
  ImGui::SetNextWindowSize(vp->WorkSize);
  // No background of its own: it covers the whole framebuffer, which glClear already filled
  // with the same colour. With software GL (Mesa's llvmpipe) every covered pixel is shaded
  // and blended, and this one quad was more than half the pixels of a frame.
  ImGui::Begin("heaplens", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoBackground);
  draw_header(v, ui);
  ImGui::Separator();
  float total = ImGui::GetContentRegionAvail().y;
  float timeline_h = std::max(200.0f, total * 0.42f);
  // The plots take the mouse wheel for zooming: the child must not scroll with it.
  ImGui::BeginChild("timeline", ImVec2(0, timeline_h), false, ImGuiWindowFlags_NoScrollWithMouse);
  draw_timeline(v, ui, timeline_h);
  ImGui::EndChild();

  float width = ImGui::GetContentRegionAvail().x;
  ImGui::BeginChild("left", ImVec2(width * 0.6f, 0), true);
  if (ImGui::BeginTabBar("left tabs")) {
    int f = ui.force_tab >= 0 ? ui.force_tab % 3 : -1;
    bool tree_shown = false;
    if (tab("Allocation sites", 0, f)) {
      draw_sites(v, ui);
      ImGui::EndTabItem();
    }
    if (tab("Call tree", 1, f)) {
      draw_call_tree(v, ui);
      tree_shown = true;
      ImGui::EndTabItem();
    }
    if (tab("Flame graph", 2, f)) {
      draw_flame(v, ui);
      tree_shown = true;
      ImGui::EndTabItem();
    }
    ui.request.want_tree = tree_shown;
    ImGui::EndTabBar();
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("right", ImVec2(0, 0), true);
  if (ImGui::BeginTabBar("right tabs")) {
    int f = ui.force_tab >= 0 ? ui.force_tab % 5 : -1;
    if (tab("Leaks", 0, f)) {
      draw_leaks(v, ui);
      ImGui::EndTabItem();
    }
    if (tab("Devices", 1, f)) {
      draw_devices(v, ui);
      ImGui::EndTabItem();
    }
    if (tab("Pools", 2, f)) {
      draw_pools(v, ui);
      ImGui::EndTabItem();
    }
    if (tab("Sizes", 3, f)) {
      draw_sizes(v, ui);
      ImGui::EndTabItem();
    }
    if (tab("Session", 4, f)) {
      draw_session(v, ui);
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  ImGui::EndChild();
  ImGui::End();
}

// No target given: this user's live sessions, looked at once a second; one is opened.
struct PickerRow {
  std::string path, executable;
  std::int64_t pid = 0;
  std::uint64_t live_bytes = 0, recorder = 0;
};

std::optional<SourceSpec> draw_picker(std::vector<PickerRow>& rows, std::uint64_t& last_scan) {
  std::uint64_t now = mono_ns();
  if (now - last_scan > 1'000'000'000ULL) {
    rows.clear();
    for (const auto& e : reader::list_sessions(static_cast<std::uint32_t>(getuid()))) {
      if (!e.alive) continue;
      std::string error;
      auto s = reader::Session::open(e.path, reader::Access::kObserve, &error);
      if (!s) continue;
      rows.push_back({e.path, s->info().executable, e.pid, s->stats().live_bytes, s->active_consumer_pid()});
    }
    last_scan = now;
  }
  std::optional<SourceSpec> chosen;
  ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(vp->WorkPos);
  ImGui::SetNextWindowSize(vp->WorkSize);
  ImGui::Begin("sessions", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove);
  ImGui::TextUnformatted("Live heaplens sessions of this user (programs running with LD_PRELOAD=libheaplens.so):");
  ImGui::Separator();
  if (ImGui::BeginTable("picker", 5, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp)) {
    ImGui::TableSetupColumn("pid", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("program", ImGuiTableColumnFlags_WidthStretch, 4.0f);
    ImGui::TableSetupColumn("live", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("recorded by", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableHeadersRow();
    for (const PickerRow& r : rows) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%lld", static_cast<long long>(r.pid));
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.executable.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_bytes(static_cast<double>(r.live_bytes)).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.recorder != 0 ? fmt::format("pid {}", r.recorder).c_str() : "-");
      ImGui::TableNextColumn();
      ImGui::PushID(r.path.c_str());
      if (r.recorder != 0) {
        ImGui::TextDisabled("(being recorded)");
      } else if (ImGui::SmallButton("open")) {
        SourceSpec spec;
        spec.kind = SourceSpec::Kind::kSession;
        spec.target = r.path;
        chosen = spec;
      }
      ImGui::PopID();
    }
    ImGui::EndTable();
  }
  if (rows.empty()) ImGui::TextDisabled("(none yet: start one with `heaplens run --view -- PROG`, or LD_PRELOAD)");
  ImGui::End();
  return chosen;
}

}  // namespace

int run_viewer(const AppOptions& o) {
  glfwSetErrorCallback([](int, const char* what) { g_glfw_error = what != nullptr ? what : "?"; });
  if (!glfwInit()) {
    fmt::print(stderr, "heaplens view: cannot open a window: {} (no display? set DISPLAY or run under xvfb-run)\n",
               g_glfw_error);
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  GLFWwindow* window = glfwCreateWindow(o.width, o.height, "heaplens", nullptr, nullptr);
  if (window == nullptr) {
    fmt::print(stderr, "heaplens view: cannot open a window: {}\n", g_glfw_error);
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(o.vsync ? 1 : 0);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // never write imgui.ini into the user's directory
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");

  std::unique_ptr<ModelWorker> worker;
  if (o.source) {
    worker = std::make_unique<ModelWorker>(*o.source);
    worker->start();
  }
  std::vector<PickerRow> sessions;
  std::uint64_t last_scan = 0;
  UiState ui;
  bool headless = !o.screenshot.empty() || !o.state_json.empty() || o.frames > 0;
  constexpr int kCycleFrames = 8;  // screenshot runs show every tab once, then the first ones
  std::set<std::string> drawn_ever;
  int frame = 0, frames_after_done = 0;
  bool png_ok = true;
  std::vector<double> frame_ms, frame_ms_final, latency_ms, latency_at_s;
  std::uint64_t last_frame = mono_ns(), last_record_seen = 0;
  const std::uint64_t t_start = last_frame;
  Snapshot live, filtered;
  DrawCost last_draw;

  while (!glfwWindowShouldClose(window)) {
    glfwPollEvents();
    if (!worker) {
      // The picker.
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      if (auto spec = draw_picker(sessions, last_scan)) {
        worker = std::make_unique<ModelWorker>(*spec);
        worker->start();
      }
      ui.drawn.insert("picker");
    } else {
      live = worker->snapshot();
      bool windowed = !ui.request.window.whole();
      if (windowed) filtered = worker->filtered();
      Views v{live, filtered, windowed, windowed && (worker->filtering() || !filtered.sites)};
      ui.force_tab = !headless ? -1 : frame < kCycleFrames ? frame : frame == kCycleFrames ? 0 : -1;
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      draw_main(v, ui);
    }
    ImGui::Render();
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(window, &fw, &fh);
    glViewport(0, 0, fw, fh);
    const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];  // the main window draws none
    glClearColor(bg.x, bg.y, bg.z, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());

    bool source_done = worker && worker->done() && live.header && live.header->source_done;
    if (source_done) ++frames_after_done;
    bool last = (o.frames > 0 && !o.exit_when_done && frame + 1 >= o.frames) ||
                (o.exit_when_done && source_done && frames_after_done >= std::max(o.frames, kCycleFrames + 2));
    if (last && !o.screenshot.empty()) png_ok = write_png(o.screenshot, fw, fh);
    if (last) last_draw = measure_draw(ImGui::GetDrawData());
    glfwSwapBuffers(window);

    std::uint64_t now = mono_ns();
    // With vsync asked for, never draw faster than 60 Hz: a virtual display (Xvfb) does not
    // block the swap, and every frame not drawn is CPU left for the model and the program.
    if (o.vsync && now - last_frame < kFrameNs) {
      timespec ts{0, static_cast<long>(kFrameNs - (now - last_frame))};
      nanosleep(&ts, nullptr);
      now = mono_ns();
    }
    // Frame times after the first second (start-up is not the steady state), apart while
    // records stream in and once the source is finished.
    if (now - t_start > 1'000'000'000ULL)
      (source_done ? frame_ms_final : frame_ms).push_back(static_cast<double>(now - last_frame) / 1e6);
    last_frame = now;
    // Record-to-screen latency: the newest record's millisecond reached this frame now.
    if (live.header && live.header->newest_record_mono_ns > last_record_seen && !live.header->source_done &&
        live.header->newest_record_mono_ns <= now) {
      if (last_record_seen != 0) {
        latency_ms.push_back(static_cast<double>(now - live.header->newest_record_mono_ns) / 1e6);
        latency_at_s.push_back(static_cast<double>(now - t_start) / 1e9);
      }
      last_record_seen = live.header->newest_record_mono_ns;
    }
    for (const auto& d : ui.drawn) drawn_ever.insert(d);
    if (worker) worker->request(ui.request);
    ++frame;
    if (last) break;
    ui.drawn.clear();
  }

  int code = 0;
  if (worker) {
    if (o.source && o.source->kind == SourceSpec::Kind::kRun && !worker->done())
      fmt::print(stderr, "heaplens view: window closed; still recording the program until it exits\n");
    worker->stop();
    worker->join();
    const record::RunResult& r = worker->result();
    code = r.exit_code;
    if (o.source && o.source->kind != SourceSpec::Kind::kFile && !r.error.empty() && !r.started)
      fmt::print(stderr, "heaplens view: {}\n", r.error);
  }
  if (!o.state_json.empty()) {
    nlohmann::json j;
    j["frames"] = frame;
    j["panels_drawn"] = drawn_ever;
    j["last_frame_panels"] = ui.drawn;
    j["last_frame_draw"] = {{"triangles", last_draw.triangles}, {"covered_screens", last_draw.covered_screens}};
    auto frames_json = [](const std::vector<double>& ms) {
      double p50 = percentile(ms, 0.5);
      return nlohmann::json{{"p50", p50}, {"p95", percentile(ms, 0.95)}, {"max", percentile(ms, 1.0)},
                            {"count", ms.size()}, {"fps_median", p50 > 0 ? 1000.0 / p50 : 0.0}};
    };
    j["frame_ms_live"] = frames_json(frame_ms);
    j["frame_ms_final"] = frames_json(frame_ms_final);
    const char* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
    j["gl_renderer"] = renderer != nullptr ? renderer : "?";
    j["latency_ms"] = {{"p50", percentile(latency_ms, 0.5)}, {"p95", percentile(latency_ms, 0.95)},
                       {"max", percentile(latency_ms, 1.0)}, {"count", latency_ms.size()}};
    nlohmann::json series = nlohmann::json::array();  // [seconds since the viewer started, ms]
    for (std::size_t i = 0; i < latency_ms.size(); ++i) series.push_back({latency_at_s[i], latency_ms[i]});
    j["latency_series"] = series;
    if (live.header) {
      const HeaderView& h = *live.header;
      j["source_done"] = h.source_done;
      j["problem"] = h.problem;
      j["state"] = model::to_string(h.state);
      j["pid"] = h.info.pid;
      j["images"] = h.images.size();
      j["live_bytes"] = h.live_bytes.value;
      j["peak_bytes"] = h.peak.value;
      j["records"] = h.records;
      j["sites"] = h.sites;
      j["live_blocks"] = h.live_blocks;
    }
    if (live.timeline) {
      nlohmann::json s = nlohmann::json::array();
      for (const auto& b : live.timeline->host_live) s.push_back({static_cast<double>(b.t_ns) / 1e9, b.min, b.max, b.last});
      j["host_live"] = s;
    }
    if (live.leaks) j["leaks"] = {{"bytes", live.leaks->bytes.value}, {"blocks", live.leaks->blocks.value},
                                  {"sites", live.leaks->leaks.size()}};
    if (live.sites) {
      nlohmann::json top = nlohmann::json::array();
      for (std::size_t i = 0; i < live.sites->sites.size() && i < 20; ++i)
        top.push_back({{"function", live.sites->sites[i].function}, {"live_bytes", live.sites->sites[i].live_bytes.value}});
      j["top_sites"] = top;
    }
    if (!o.source) {
      nlohmann::json pids = nlohmann::json::array();
      for (const PickerRow& r : sessions) pids.push_back(r.pid);
      j["picker_pids"] = pids;
    }
    j["exit_code"] = code;
    std::ofstream out(o.state_json);
    out << j.dump(1) << "\n";
    if (!out) {
      fmt::print(stderr, "heaplens view: cannot write {}\n", o.state_json);
      code = code != 0 ? code : 1;
    }
  }
  if (!png_ok) {
    fmt::print(stderr, "heaplens view: cannot write {}\n", o.screenshot);
    code = code != 0 ? code : 1;
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return code;
}

}  // namespace heaplens::gui
