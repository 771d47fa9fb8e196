// Runs a program under libheaplens.so and records every process of its tree (forks, execs,
// their children) into one trace while it runs: the program's sessions carry this run's id
// (HEAPLENS_RUN_ID), and each is drained by this process as soon as it appears.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "trace_model.h"

namespace heaplens::record {

struct RunOptions {
  std::vector<std::string> argv;  // the program and its arguments
  std::string mode = "sampled";   // HEAPLENS_MODE
  std::string sample_interval;    // HEAPLENS_SAMPLE_INTERVAL ("" = the library's default)
  bool lossless = false;          // HEAPLENS_ON_FULL=wait and a larger ring
  std::string trace_path;         // "" = derived from the program name and pid
  std::string preload;            // libheaplens.so
};

struct RunResult {
  bool started = false;        // the program was executed
  int exit_code = 0;           // what heaplens should exit with (the program's status)
  int wait_status = 0;
  std::int64_t pid = 0;
  std::string trace_path;
  bool trace_ok = false;       // the trace was written completely
  std::string error;           // one line when !started or !trace_ok
  std::uint64_t trace_bytes = 0, records = 0;
  double seconds = 0;
};

// Runs the program to completion (and every process of its tree that carries this run's
// sessions), feeding `model` (when not null) with the same chunks written to the trace.
RunResult run_program(const RunOptions& options, trace::TraceVisitor* model);

// The path of libheaplens.so: $HEAPLENS_PRELOAD, else next to this executable's build or
// install location. Empty with *error when none is found.
std::string find_preload(std::string* error);

// Records an already running process (by pid or session path) until it exits, the user
// interrupts (SIGINT/SIGTERM) or *stop becomes true; children are not followed. `model` is any
// visitor of the chunks written to the trace (a TraceModel, or a viewer's locked one).
RunResult record_session(const std::string& target, const std::string& trace_path, trace::TraceVisitor* model,
                         const std::atomic<bool>* stop = nullptr);

}  // namespace heaplens::record
