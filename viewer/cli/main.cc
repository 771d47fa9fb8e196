// heaplens: run a program under the interposer and record it, report on a trace, check a
// program for leaks in CI, list live sessions. Argument parsing only; each subcommand lives
// in its own file.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <fmt/format.h>

#include "commands.h"
#include "config.h"

namespace {

// Sizes as the interposer reads them ("64K", "1MiB"), checked here so a typo is a usage
// error of heaplens rather than a warning from inside the program.
std::string check_size(const std::string& s) {
  std::size_t v = 0;
  if (!heaplens::parse_size(s.c_str(), &v) || v == 0) return "'" + s + "' is not a size (e.g. 4096, 64K, 512KiB, 1M)";
  return {};
}

// CLI11 reads "-1" into a uint64_t as 2^64-1, which would let every leak pass a check: only
// plain decimal digits that fit are limits.
std::string check_count(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    return "'" + s + "' is not a non-negative whole number";
  errno = 0;
  (void)std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return "'" + s + "' is too large";
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace heaplens::cli;
  CLI::App app{"heaplens: live allocation profiler (run, record, report, check, ls, view)", "heaplens"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "heaplens 0.1.0");

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "run PROG under heaplens and record it (and its children) into a trace");
  run_cmd->add_option("-o,--output", run.output, "trace file (default: heaplens-PROG.PID.trace)");
  run_cmd->add_option("--mode", run.mode, "sampled (default), full or off")->check(CLI::IsMember({"sampled", "full", "off"}));
  run_cmd->add_option("--sample-interval", run.sample_interval, "mean bytes between samples (default 512KiB)")->check(check_size);
  run_cmd->add_flag("-q,--quiet", run.quiet, "no summary on stderr");
  run_cmd->add_flag("--view", run.view, "watch it live in the viewer (heaplens-view) while it runs");
  run_cmd->add_option("command", run.argv, "PROG ARGS... (after --)")->required();

  RecordArgs rec;
  auto* rec_cmd = app.add_subcommand("record", "record an already running traced process until it exits (^C stops)");
  rec_cmd->add_option("target", rec.target, "pid, session name (/heaplens-...) or segment path")->required();
  rec_cmd->add_option("-o,--output", rec.output, "trace file (default: heaplens-PROG.PID.trace)");

  ReportArgs rep;
  auto* rep_cmd = app.add_subcommand("report", "print peaks, leaks and top allocation sites of a trace");
  rep_cmd->add_option("trace", rep.trace, "trace file written by run, record or check")->required();
  rep_cmd->add_option("--format", rep.format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  rep_cmd->add_option("--top", rep.top, "rows per table (default 10)")->check(CLI::Range(1, 100000));
  rep_cmd->add_option("--suppressions", rep.suppressions, "LSan-style suppressions for the leak list");

  CheckArgs chk;
  auto* chk_cmd = app.add_subcommand("check", "run PROG in full, lossless mode and fail when it leaks (exit 23)");
  auto* max_bytes = chk_cmd->add_option("--max-leaked-bytes", chk.limits.max_bytes,
                                        "leaked bytes allowed (default 0; unlimited if only --max-leaked-blocks is given)")
                        ->check(check_count);
  auto* max_blocks = chk_cmd->add_option("--max-leaked-blocks", chk.limits.max_blocks,
                                         "leaked blocks allowed (default 0; unlimited if only --max-leaked-bytes is given)")
                         ->check(check_count);
  auto* max_device_bytes =
      chk_cmd->add_option("--max-leaked-device-bytes", chk.limits.max_device_bytes,
                          "leaked GPU bytes allowed, all devices together (default 0; unlimited if only "
                          "--max-leaked-device-blocks is given)")
          ->check(check_count);
  auto* max_device_blocks =
      chk_cmd->add_option("--max-leaked-device-blocks", chk.limits.max_device_blocks,
                          "leaked GPU blocks allowed, all devices together (default 0; unlimited if only "
                          "--max-leaked-device-bytes is given)")
          ->check(check_count);
  chk_cmd->add_option("--suppressions", chk.suppressions, "file of leak:PATTERN lines (repeatable)");
  chk_cmd->add_flag("!--no-default-suppressions", chk.default_suppressions,
                    "do not suppress the C/C++ runtime's own allocations that live until exit");
  chk_cmd->add_option("--junit", chk.junit, "write a JUnit XML report (one testcase per leak site)");
  chk_cmd->add_option("--json", chk.json, "write the report as JSON");
  chk_cmd->add_option("--error-exitcode", chk.error_exitcode, "exit status when leaks exceed the limits (default 23)")
      ->check(CLI::Range(1, 255));
  chk_cmd->add_option("-o,--output", chk.output, "keep the trace in this file (default: a temporary file, removed)");
  chk_cmd->add_option("command", chk.argv, "PROG ARGS... (after --)")->required();

  auto* view_cmd = app.add_subcommand("view", "the live viewer: pick a session, attach to PID|SESSION, or open a trace FILE");
  // Everything after `view` is the viewer's own command line (heaplens-view --help lists it).
  view_cmd->prefix_command();
  view_cmd->allow_extras();
  view_cmd->set_help_flag();

  bool keep_stale = false;
  auto* ls_cmd = app.add_subcommand("ls", "list this user's live sessions; remove stale ones");
  ls_cmd->add_flag("--keep-stale", keep_stale, "report stale sessions without removing them");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, then where to look: CLI11's own output is several lines long.
    fmt::print(stderr, "heaplens: {} (see heaplens --help)\n", e.what());
    return kExitUsage;
  }

  if (*run_cmd && run.view) {
    std::vector<std::string> a{"--run", "--mode", run.mode};
    if (!run.sample_interval.empty()) a.insert(a.end(), {"--sample-interval", run.sample_interval});
    if (!run.output.empty()) a.insert(a.end(), {"-o", run.output});
    a.push_back("--");
    a.insert(a.end(), run.argv.begin(), run.argv.end());
    return view_command(a);
  }
  if (*run_cmd) return run_command(run);
  if (*view_cmd) return view_command(view_cmd->remaining());
  if (*rec_cmd) return record_command(rec);
  if (*rep_cmd) return report_command(rep);
  if (*chk_cmd) {
    // One limit of a pair alone is the limit: the other one must not fail the check at 0.
    auto alone = [](const CLI::Option* given, const CLI::Option* other, std::uint64_t* other_limit) {
      if (given->count() > 0 && other->count() == 0) *other_limit = UINT64_MAX;
    };
    alone(max_bytes, max_blocks, &chk.limits.max_blocks);
    alone(max_blocks, max_bytes, &chk.limits.max_bytes);
    alone(max_device_bytes, max_device_blocks, &chk.limits.max_device_blocks);
    alone(max_device_blocks, max_device_bytes, &chk.limits.max_device_bytes);
    return check_command(chk);
  }
  if (*ls_cmd) return ls_command(!keep_stale);
  return kExitUsage;
}
