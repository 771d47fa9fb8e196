// `heaplens run` and `heaplens record`: record into a trace, then print a short summary
// computed from the same chunks the trace received.
#include <fmt/format.h>

#include "commands.h"
#include "render.h"
#include "runner.h"

namespace heaplens::cli {

using record::RunOptions;
using record::RunResult;
using record::run_program;
using record::find_preload;
using record::record_session;

namespace {

void summarize(const RunResult& res, model::TraceModel& model, std::FILE* out) {
  model::FrameResolver frames(false);
  model::Suppressions suppressions;
  suppressions.add_builtin();
  model::ReportOptions options;
  options.top = 0;
  model::Report rep = model::build_report(model, frames, suppressions, options);
  render_summary(rep, out);
  fmt::print(out, "heaplens: trace {} ({}, {} records); report: heaplens report {}\n", res.trace_path,
             model::human_bytes(static_cast<double>(res.trace_bytes)), res.records, res.trace_path);
}

}  // namespace

int run_command(const RunArgs& a) {
  std::string error;
  RunOptions o;
  o.argv = a.argv;
  o.mode = a.mode;
  o.sample_interval = a.sample_interval;
  o.lossless = a.mode == "full";
  o.trace_path = a.output;
  o.preload = find_preload(&error);
  if (o.preload.empty()) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitOwnFailure;
  }
  // The model only feeds the summary: `run -q` prints none and so keeps none (it was a
  // quarter of the recorder's CPU on allocation-heavy programs, taken from the program).
  model::TraceModel model;
  RunResult res = run_program(o, a.quiet ? nullptr : &model);
  if (!res.started) {
    fmt::print(stderr, "heaplens: {}\n", res.error);
    return res.exit_code != 0 ? res.exit_code : kExitOwnFailure;
  }
  if (!res.trace_ok) fmt::print(stderr, "heaplens: the trace is incomplete: {}\n", res.error);
  if (!a.quiet) {
    fmt::print(stderr, "heaplens: {} (pid {}) {} after {:.2f} s\n", a.argv[0], res.pid, describe_status(res.wait_status),
               res.seconds);
    summarize(res, model, stderr);
  }
  return res.exit_code;
}

int record_command(const RecordArgs& a) {
  model::TraceModel model;
  RunResult res = record_session(a.target, a.output, &model);
  if (!res.started) {
    fmt::print(stderr, "heaplens: {}\n", res.error);
    return kExitBadInput;
  }
  if (!res.trace_ok) fmt::print(stderr, "heaplens: the trace is incomplete: {}\n", res.error);
  summarize(res, model, stderr);
  return res.trace_ok ? 0 : kExitOwnFailure;
}

}  // namespace heaplens::cli
