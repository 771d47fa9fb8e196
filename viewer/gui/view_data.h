// What the viewer draws, as plain data: built from the model by the model thread and handed to
// the render thread as immutable snapshots, so drawing never waits for records and never
// touches the model. Parts change at different rates (the timeline many times a second, the
// site table a few times, the call tree on demand), so each part is its own snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "widgets/call_tree.h"
#include "device_summary.h"
#include "frames.h"
#include "image_model.h"
#include "size_histogram.h"
#include "timeline.h"

namespace heaplens::gui {

struct ImageEntry {
  std::uint32_t index = 0;
  std::int64_t pid = 0;
  std::string executable;
  model::ImageState state = model::ImageState::kRunning;
};

// Session info and the latest counters of the image shown.
struct HeaderView {
  std::uint64_t generation = 0;
  std::vector<ImageEntry> images;
  std::uint32_t image = 0;  // index of the image shown
  bool have_image = false;
  trace::ImageInfo info;
  model::ImageState state = model::ImageState::kRunning;
  std::string end_message;
  bool sampled = false;
  std::uint64_t now_ns = 0;  // session time of the newest record or counter
  std::uint64_t records = 0, malformed = 0, unknown_frees = 0, lost_frees = 0;
  std::size_t live_blocks = 0, sites = 0;
  bool have_stats = false;
  trace::StatsSnapshot stats;
  model::Estimate peak;
  std::uint64_t peak_time_ns = 0;
  model::Estimate live_bytes;  // host, from the model
  // Host first, then each device used: the header's device totals and the Devices panel.
  std::vector<model::DeviceSummary> devices;
  // The source: what is shown and where it is going.
  std::string source;       // "trace FILE", "pid N", "running PROG"
  std::string trace_path;   // the trace file this view can be re-read from ("" if none)
  bool source_done = false;  // no more records will come
  std::string problem;       // one line: why the source stopped early, or what is damaged
  std::uint64_t newest_record_mono_ns = 0;  // CLOCK_MONOTONIC of the newest record's millisecond
};

struct TimelineView {
  std::vector<model::SeriesBucket> host_live, counter_live, alloc_rate, free_rate, overhead_pct, dropped;
  std::map<std::uint32_t, std::vector<model::SeriesBucket>> device_live;  // by device (1..63) used
  std::vector<model::SeriesBucket> heap_allocated, heap_active, heap_resident, heap_retained, fragmentation_pct;
  std::uint64_t peak_time_ns = 0;
};

struct SiteView {
  std::uint32_t stack = 0;
  std::string function;  // innermost frame's function (or module+offset)
  std::string location;  // file:line, or the module
  model::Estimate live_bytes, live_blocks, alloc_bytes, allocs, peak_bytes, temporary;
};

struct LeakView {
  std::uint32_t stack = 0, device = 0;
  wire::DeviceKind kind = wire::DeviceKind::kUnknown;  // of a device site's blocks
  std::string function, location;
  model::Estimate bytes, blocks;
  std::uint64_t largest = 0;
  bool unconditional = false;
};

// What the site table can be ordered by (largest first unless ascending).
enum class SiteSort { kLive, kLiveBlocks, kAllocated, kAllocs, kAtPeak, kTemporary };
double sort_key(const SiteView& s, SiteSort by);

struct SitesView {
  std::vector<SiteView> sites;  // in `sort` order
  SiteSort sort = SiteSort::kLive;
  bool ascending = false;
  model::Window window;  // the range these figures are for (whole run when whole())
};

struct LeaksView {
  std::vector<LeakView> leaks;
  std::uint64_t min_age_ns = 0;
  bool exited = false;  // the image exited: these are its leaks at exit
  model::Estimate bytes, blocks;                // host sites
  model::Estimate device_bytes, device_blocks;  // device sites, all devices (exact)
};

// Top-down and bottom-up call trees over function names (keys index `labels`).
struct TreeView {
  CallTree top_down, bottom_up;
  std::vector<std::string> labels;
  bool live_bytes = true;  // values are live bytes (else allocated bytes)
};

struct StackView {
  std::uint32_t stack = 0;
  std::vector<model::Frame> frames;
};

struct Snapshot {
  std::shared_ptr<const HeaderView> header;
  std::shared_ptr<const TimelineView> timeline;
  std::shared_ptr<const SitesView> sites;
  std::shared_ptr<const LeaksView> leaks;
  std::shared_ptr<const TreeView> tree;
  std::shared_ptr<const StackView> stack;
  std::shared_ptr<const model::SizeHistogram> sizes;
};

}  // namespace heaplens::gui
