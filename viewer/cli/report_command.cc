// `heaplens report`: read a trace into the model and print it.
#include <fmt/format.h>

#include "commands.h"
#include "render.h"
#include "trace_model.h"
#include "trace_reader.h"

namespace heaplens::cli {

int report_command(const ReportArgs& a) {
  model::Suppressions suppressions;
  suppressions.add_builtin();
  std::string error;
  if (!a.suppressions.empty() && !suppressions.load_file(a.suppressions, &error)) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitBadInput;
  }
  model::TraceModel model;
  trace::ReadResult read = trace::read_trace(a.trace, model);
  // A trace with no process in it (an error, or cut short before its first block) has
  // nothing to report: say why and fail.
  if (read.status != trace::ReadResult::Status::kComplete && model.images().empty()) {
    fmt::print(stderr, "heaplens: {}\n", read.message);
    return kExitBadInput;
  }
  // Symbols the trace lacks (its recorder was stopped before it resolved them) come from
  // this machine's files when their build-ids match.
  model::FrameResolver frames(true);
  model::ReportOptions options;
  options.top = a.top;
  model::Report rep = model::build_report(model, frames, suppressions, options);
  rep.trace_path = a.trace;
  rep.complete = read.status == trace::ReadResult::Status::kComplete;
  rep.trace_message = read.message;
  if (a.format == "json") {
    std::string text = render_json(rep, options, nullptr);
    fwrite(text.data(), 1, text.size(), stdout);
  } else {
    render_text(rep, options, stdout);
  }
  if (read.status != trace::ReadResult::Status::kComplete)
    fmt::print(stderr, "heaplens: {}\n", read.message);  // the reader's messages name the file
  return read.status == trace::ReadResult::Status::kError ? kExitBadInput : 0;
}

}  // namespace heaplens::cli
