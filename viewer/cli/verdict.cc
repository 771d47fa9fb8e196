#include "render.h"

namespace heaplens::cli {

CheckVerdict judge(const model::Report& r, const LeakLimits& limits, int program_exit, int error_exitcode) {
  CheckVerdict v;
  v.limits = limits;
  v.host_over = r.leaked_bytes.rounded() > limits.max_bytes || r.leaked_blocks.rounded() > limits.max_blocks;
  v.device_over = r.device_leaked_bytes.rounded() > limits.max_device_bytes ||
                  r.device_leaked_blocks.rounded() > limits.max_device_blocks;
  if (program_exit != 0) {
    v.kind = CheckVerdict::Kind::kProgramFailed;
    v.exit_code = program_exit;
  } else if (v.host_over || v.device_over) {
    v.kind = CheckVerdict::Kind::kLeaks;
    v.exit_code = error_exitcode;
  }
  return v;
}

const char* to_string(CheckVerdict::Kind k) {
  switch (k) {
    case CheckVerdict::Kind::kClean: return "clean";
    case CheckVerdict::Kind::kLeaks: return "leaks";
    case CheckVerdict::Kind::kProgramFailed: return "program-failed";
  }
  return "?";
}

}  // namespace heaplens::cli
