// `heaplens check`: run a program in full, lossless mode and judge its leaks against limits,
// the way CI wants it: a readable report on stderr, JSON and JUnit files, and an exit status
// that tells "leaked" (23), "the program failed" (its own status) and "clean" (0) apart.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "commands.h"
#include "render.h"
#include "runner.h"

namespace heaplens::cli {

using record::RunOptions;
using record::RunResult;
using record::run_program;
using record::find_preload;

namespace {

// Opened before the program runs, so an unwritable path fails at once, not after a long test.
struct OutputFile {
  std::string path;
  int fd = -1;
  bool open(const std::string& p, std::string* error) {
    path = p;
    fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) *error = fmt::format("cannot write '{}': {}", p, std::strerror(errno));
    return fd >= 0;
  }
  bool write_all(const std::string& text, std::string* error) {
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = fmt::format("cannot write '{}': {}", path, std::strerror(n < 0 ? errno : ENOSPC));
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
      fd = -1;
      *error = fmt::format("cannot write '{}': {}", path, std::strerror(errno));
      return false;
    }
    fd = -1;
    return true;
  }
  ~OutputFile() {
    if (fd >= 0) ::close(fd);
  }
};

std::string temporary_trace(std::string* error) {
  const char* dir = getenv("TMPDIR");
  std::string templ = std::string(dir && *dir ? dir : "/tmp") + "/heaplens-check-XXXXXX";
  int fd = mkstemp(templ.data());
  if (fd < 0) {
    *error = fmt::format("cannot create a temporary trace in {}: {}", dir && *dir ? dir : "/tmp", std::strerror(errno));
    return {};
  }
  close(fd);
  return templ;
}

}  // namespace

int check_command(const CheckArgs& a) {
  std::string error;
  model::Suppressions suppressions;
  if (a.default_suppressions) suppressions.add_builtin();
  for (const auto& f : a.suppressions) {
    if (!suppressions.load_file(f, &error)) {
      fmt::print(stderr, "heaplens: {}\n", error);
      return kExitOwnFailure;
    }
  }
  OutputFile junit, json;
  if ((!a.junit.empty() && !junit.open(a.junit, &error)) || (!a.json.empty() && !json.open(a.json, &error))) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitOwnFailure;
  }
  RunOptions o;
  o.argv = a.argv;
  o.mode = "full";
  o.lossless = true;
  o.preload = find_preload(&error);
  if (o.preload.empty()) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitOwnFailure;
  }
  bool temporary = a.output.empty();
  o.trace_path = temporary ? temporary_trace(&error) : a.output;
  if (o.trace_path.empty()) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitOwnFailure;
  }

  model::TraceModel model;
  RunResult res = run_program(o, &model);
  if (temporary) unlink(o.trace_path.c_str());
  if (!res.started) {
    fmt::print(stderr, "heaplens: {}\n", res.error);
    return res.exit_code != 0 ? res.exit_code : kExitOwnFailure;
  }
  if (!res.trace_ok && !temporary) fmt::print(stderr, "heaplens: the trace is incomplete: {}\n", res.error);

  model::FrameResolver frames(false);
  model::ReportOptions options;
  model::Report rep = model::build_report(model, frames, suppressions, options);
  rep.trace_path = temporary ? "" : o.trace_path;

  CheckVerdict v = judge(rep, a.limits, res.exit_code, a.error_exitcode);
  render_check_text(rep, v, stderr);
  for (const auto& s : suppressions.all())
    if (s.sites > 0)
      fmt::print(stderr, "heaplens: suppressed by leak:{} ({}): {} bytes in {} blocks at {} sites\n", s.pattern, s.origin,
                 s.bytes, s.blocks, s.sites);
  if (!a.json.empty() && !json.write_all(render_json(rep, options, &v), &error)) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitOwnFailure;
  }
  if (!a.junit.empty() && !junit.write_all(render_junit(rep, v, res.seconds), &error)) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitOwnFailure;
  }
  return v.exit_code;
}

}  // namespace heaplens::cli
