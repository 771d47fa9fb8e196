// What `heaplens report` and `heaplens check` print, as data: built once from a TraceModel
// and rendered as text, JSON or JUnit by the CLI. Every figure says whether it is exact or an
// estimate from sampled records (with its ~95 % error bound). The process's peak, leaks and
// site tables are its host memory's; each device (CUDA) has a row of its own with its own leaks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "device_summary.h"
#include "frames.h"
#include "suppressions.h"
#include "trace_model.h"

namespace heaplens::model {

struct ReportOptions {
  std::size_t top = 10;              // rows per table
  std::size_t max_frames = 16;       // frames shown per stack in text
};

struct SiteRow {
  std::uint32_t stack = 0;
  std::uint32_t device = 0;
  wire::DeviceKind kind = wire::DeviceKind::kUnknown;  // device leak rows: their blocks' kind
  std::vector<Frame> frames;
  Estimate bytes, blocks;  // what the table is about (leaked, live at peak, allocated...)
  Estimate count;          // allocations (top tables) — or blocks again
  std::uint64_t largest = 0;
  // Leak rows: all its blocks were recorded unconditionally (at least the large threshold),
  // so in a sampled recording its figures are still exact (for the blocks that large).
  bool unconditional = false;
  const Suppression* suppressed_by = nullptr;
};

struct ThreadRow {
  std::int64_t tid = 0;  // < 0: an unnamed thread slot
  Estimate allocs, alloc_bytes, frees;
};

// Blocks still live when recording ended (leaks, once the image exited), suppressions applied.
struct LeakSet {
  std::vector<SiteRow> sites;  // unsuppressed, largest first (all of them)
  std::vector<SiteRow> suppressed;
  Estimate bytes, blocks, suppressed_bytes, suppressed_blocks;
};

// The host first, then each device used. The host's leaks are the image's (ImageReport::leaks),
// not repeated here.
struct DeviceRow : DeviceSummary {
  LeakSet leaks;  // devices only
};

struct ImageReport {
  const ImageModel* image = nullptr;
  std::uint32_t index = 0;
  bool leak_checked = false;  // it exited normally: what is still live is leaked
  Estimate peak;              // requested bytes live at the host peak (model)
  std::uint64_t peak_time_ns = 0;
  bool have_counters = false;
  std::uint64_t counter_peak = 0;  // exact peak of allocator (usable) bytes, from the counters
  std::uint64_t allocations = 0, frees = 0, bytes_requested = 0;  // exact counters
  std::uint64_t records_dropped = 0, records_written = 0, stacks_dropped = 0;
  double overhead = -1;  // tracker CPU / process CPU; < 0 unknown

  LeakSet leaks;  // host blocks

  std::vector<SiteRow> peak_sites;   // live at the peak, largest first
  std::vector<SiteRow> top_bytes;    // allocated bytes
  std::vector<SiteRow> top_count;    // allocation count
  std::vector<SiteRow> temporary;    // allocations freed within kTemporaryNs
  std::vector<ThreadRow> threads;
  std::vector<DeviceRow> devices;
};

struct Report {
  std::vector<ImageReport> images;
  trace::CommandDef command;
  std::optional<trace::ExitDef> exit;
  std::string trace_path;
  bool complete = true;
  std::string trace_message;  // why the trace is incomplete or damaged
  // Of the leak-checked images: host, and all devices together (exact).
  Estimate leaked_bytes, leaked_blocks, suppressed_bytes, suppressed_blocks;
  Estimate device_leaked_bytes, device_leaked_blocks, device_suppressed_bytes, device_suppressed_blocks;
  bool exact = true;  // every leak figure is exact and nothing was dropped
  std::vector<std::string> symbol_problems;
};

Report build_report(TraceModel& model, FrameResolver& frames, Suppressions& suppressions,
                    const ReportOptions& options);

// Human units: "1.5 MiB", "512 B".
std::string human_bytes(double bytes);
// "12.3 MiB" exact, or "12.3 MiB ± 0.4 MiB (estimate)".
std::string human_estimate(const Estimate& e);

}  // namespace heaplens::model
