// The viewer's window: GLFW + OpenGL 3 + Dear ImGui, the render loop, the session picker, and
// the headless outputs for tests and docs (a PNG of the last frame, a JSON of what was drawn
// and of the model's state, frame-rate and latency figures).
#pragma once

#include <optional>
#include <string>

#include "model_worker.h"

namespace heaplens::gui {

struct AppOptions {
  std::optional<SourceSpec> source;  // none: pick a live session
  int width = 1280, height = 800;
  std::string screenshot;    // write the last frame here (PNG)
  int frames = 0;            // stop after this many frames (0: when the window is closed)
  bool exit_when_done = false;  // stop once the source finished (and `frames` more were drawn)
  std::string state_json;    // write what was drawn and the model's state here at the end
  bool vsync = true;
};

// Returns the process's exit status: the program's for a run, 1 when the window cannot be
// opened or the source could not be read, else 0.
int run_viewer(const AppOptions& options);

}  // namespace heaplens::gui
