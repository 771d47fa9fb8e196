// heaplens-view: the live viewer. `heaplens view [TARGET]` and `heaplens run --view` start it.
//   heaplens-view                      pick one of this user's live sessions
//   heaplens-view PID|SESSION          attach to a running traced process and follow it
//   heaplens-view FILE                 open a trace file
//   heaplens-view --run [--mode M] [--sample-interval S] [-o FILE] -- PROG ARGS...
// Headless (tests, docs): --screenshot PNG [--frames N] [--size WxH] [--exit-when-done]
// [--state-json FILE].
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>

#include "app.h"
#include "session_reader.h"
#include "trace_reader.h"

namespace {

bool parse_size(const std::string& s, int* w, int* h) {
  int a = 0, b = 0;
  char x = 0, extra = 0;
  if (std::sscanf(s.c_str(), "%d%c%d%c", &a, &x, &b, &extra) != 3 || (x != 'x' && x != 'X')) return false;
  if (a < 64 || b < 64 || a > 8192 || b > 8192) return false;
  *w = a;
  *h = b;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace heaplens;
  CLI::App app{"heaplens view: the live allocation viewer", "heaplens view"};
  std::vector<std::string> args;
  bool run = false;
  std::string mode = "sampled", interval, output, size = "1280x800";
  gui::AppOptions o;
  app.add_flag("--run", run, "run PROG ARGS... (after --) under heaplens and view it live");
  app.add_option("--mode", mode, "with --run: sampled (default), full or off")->check(CLI::IsMember({"sampled", "full", "off"}));
  app.add_option("--sample-interval", interval, "with --run: mean bytes between samples");
  app.add_option("-o,--output", output, "trace file to write (--run, or when attaching to a session)");
  app.add_option("--screenshot", o.screenshot, "write the last frame to this PNG file");
  app.add_option("--frames", o.frames, "stop after N frames")->check(CLI::Range(1, 1000000));
  app.add_option("--size", size, "window size WxH (default 1280x800)");
  app.add_flag("--exit-when-done", o.exit_when_done, "stop once the program or file is finished");
  app.add_option("--state-json", o.state_json, "write what was drawn and the model's state as JSON at the end");
  app.add_flag("!--no-vsync", o.vsync, "draw as fast as possible (frame-rate measurements)");
  app.add_option("target", args, "trace file, pid or session; with --run: PROG ARGS...");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "heaplens view: {} (see heaplens view --help)\n", e.what());
    return 2;
  }
  if (!parse_size(size, &o.width, &o.height)) {
    fmt::print(stderr, "heaplens view: --size {} is not WxH (64..8192 each)\n", size);
    return 2;
  }

  if (run) {
    if (args.empty()) {
      fmt::print(stderr, "heaplens view: --run needs a program after --\n");
      return 2;
    }
    gui::SourceSpec s;
    s.kind = gui::SourceSpec::Kind::kRun;
    s.run.argv = args;
    s.run.mode = mode;
    s.run.sample_interval = interval;
    s.run.lossless = mode == "full";
    s.output = output;
    std::string error;
    s.run.preload = record::find_preload(&error);
    if (s.run.preload.empty()) {
      fmt::print(stderr, "heaplens view: {}\n", error);
      return 125;
    }
    o.source = s;
  } else if (args.size() > 1) {
    fmt::print(stderr, "heaplens view: one target at most (a trace file, a pid or a session); use --run -- PROG ARGS\n");
    return 2;
  } else if (args.size() == 1) {
    const std::string& t = args[0];
    gui::SourceSpec s;
    std::error_code ec;
    bool numeric = t.find_first_not_of("0123456789") == std::string::npos;
    if (!numeric && std::filesystem::is_regular_file(t, ec) && t.rfind("/dev/shm/", 0) != 0) {
      if (!trace::looks_like_trace(t)) {
        fmt::print(stderr, "heaplens view: {} is not a heaplens trace file\n", t);
        return 1;
      }
      s.kind = gui::SourceSpec::Kind::kFile;
    } else if (numeric || t.rfind("/heaplens-", 0) == 0 || t.rfind("/dev/shm/", 0) == 0) {
      s.kind = gui::SourceSpec::Kind::kSession;
      s.output = output;
    } else {
      fmt::print(stderr, "heaplens view: {}: no such trace file, pid or session\n", t);
      return 1;
    }
    s.target = t;
    if (s.kind == gui::SourceSpec::Kind::kSession) {
      // Say now, in one line, when there is nothing to attach to, rather than in a window.
      std::string error;
      auto probe = numeric ? reader::Session::open_pid(std::stoll(t), reader::Access::kObserve, &error)
                           : reader::Session::open(t, reader::Access::kObserve, &error);
      if (!probe) {
        fmt::print(stderr, "heaplens view: {}\n", error);
        return 1;
      }
      if (std::uint64_t by = probe->active_consumer_pid(); by != 0) {
        fmt::print(stderr,
                   "heaplens view: process {} is being recorded by pid {} (a session has one reader); view that "
                   "recording's trace file instead\n",
                   probe->info().pid, by);
        return 1;
      }
    }
    o.source = s;
  }
  return gui::run_viewer(o);
}
