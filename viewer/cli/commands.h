// The subcommands of `heaplens`. Each returns the process's exit status.
//
// Exit statuses: run and check exit with the program's own status (128+N when a signal N
// ended it); check exits with its --error-exitcode (23) when leaks exceed the limits; 125
// when heaplens itself could not do its job (no libheaplens.so, unwritable trace, a program
// that cannot be executed gives 126/127 as a shell would); 2 for a bad command line; 1 for a
// trace or session that cannot be read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "leak_limits.h"

namespace heaplens::cli {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitBadInput = 1;
inline constexpr int kExitOwnFailure = 125;

struct RunArgs {
  std::vector<std::string> argv;
  std::string mode = "sampled";
  std::string sample_interval;
  std::string output;
  bool quiet = false;
  bool view = false;
};
int run_command(const RunArgs& a);

struct RecordArgs {
  std::string target;  // pid, session name or path
  std::string output;
};
int record_command(const RecordArgs& a);

struct ReportArgs {
  std::string trace;
  std::string format = "text";
  std::size_t top = 10;
  std::string suppressions;
};
int report_command(const ReportArgs& a);

struct CheckArgs {
  std::vector<std::string> argv;
  LeakLimits limits;
  std::vector<std::string> suppressions;
  bool default_suppressions = true;
  std::string junit, json, output;
  int error_exitcode = 23;
};
int check_command(const CheckArgs& a);

int ls_command(bool clean);

// Replaces this process with the viewer (heaplens-view ARGS...); returns only on failure.
int view_command(const std::vector<std::string>& args);

}  // namespace heaplens::cli
