// The report's renderings: readable text (report, check's stderr, run's summary), JSON for
// tools, and JUnit XML for CI systems (one testcase per leak site).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "leak_limits.h"
#include "report.h"

namespace heaplens::cli {

struct CheckVerdict {
  LeakLimits limits;
  enum class Kind { kClean, kLeaks, kProgramFailed } kind = Kind::kClean;
  bool host_over = false, device_over = false;  // which limits the leaks exceed
  int exit_code = 0;
};
const char* to_string(CheckVerdict::Kind k);

// A failed program (program_exit != 0) is its own verdict, with its status; otherwise leaks over
// either limit fail with error_exitcode.
CheckVerdict judge(const model::Report& r, const LeakLimits& limits, int program_exit, int error_exitcode);

void render_text(const model::Report& r, const model::ReportOptions& o, std::FILE* out);
// The leak part only (check's stderr), ending with the verdict.
void render_check_text(const model::Report& r, const CheckVerdict& v, std::FILE* out);
// One line per process image (run's summary).
void render_summary(const model::Report& r, std::FILE* out);

std::string render_json(const model::Report& r, const model::ReportOptions& o, const CheckVerdict* v);
std::string render_junit(const model::Report& r, const CheckVerdict& v, double seconds);

// "exited with 3", "killed by signal 9 (Killed)".
std::string describe_status(int wait_status);

}  // namespace heaplens::cli
