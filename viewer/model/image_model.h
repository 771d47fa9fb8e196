// The state of one traced process image, built from its records: which blocks are live, what
// each allocation site (stack) allocated, freed and still holds, the peak and what was live at
// it, per-thread and per-device totals. Every front end (the CLI's report and check, the
// viewer) reads these figures; none aggregates records on its own.
//
// Host memory (device 0) and device memory (CUDA devices, shared/format.h) are kept apart:
// sites, threads, sizes, the peak and its "live at peak", the rates and the host live series
// are the host's alone; each device has its own exact figures (device allocations are never
// sampled), by kind, its own peak and live series, and its own live blocks, identified by
// (device, address).
//
// Memory is bounded by what is live plus the number of distinct stacks and threads, never by
// the number of records: a block is forgotten when it is freed.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "device_pool.h"
#include "estimate.h"
#include "event_decoder.h"
#include "format.h"
#include "size_histogram.h"
#include "timeline.h"
#include "trace_types.h"

namespace heaplens::model {

// Allocations freed within this time count as temporary. Records carry millisecond time (a
// Time record whenever the millisecond changes), so this is the finest meaningful threshold.
inline constexpr std::uint64_t kTemporaryNs = 1'000'000;

// Host allocation sites (stacks).
struct SiteStats {
  Estimate allocs, alloc_bytes;      // every allocation (and realloc) made here
  Estimate live_blocks, live_bytes;  // still live now (at exit, once the image ended)
  Estimate peak_blocks, peak_bytes;  // live at the image's host peak
  Estimate temporary;                // allocations freed within kTemporaryNs
  std::uint64_t records = 0;         // allocation records behind the figures
  std::uint64_t snap_epoch = 0;      // see ImageModel::peak_epoch_
};

struct ThreadStats {
  std::int64_t tid = 0;
  Estimate allocs, alloc_bytes, frees;
};

// A device's allocations of one wire::DeviceKind: exact (every device allocation is recorded).
struct KindStats {
  std::uint64_t allocs = 0, alloc_bytes = 0, live_blocks = 0, live_bytes = 0;
  std::uint64_t peak_bytes = 0;  // the most this kind held at once (its own peak)
};
inline constexpr std::size_t kDeviceKinds = static_cast<std::size_t>(wire::DeviceKind::kCount);

struct DeviceStats {
  Estimate allocs, alloc_bytes, frees, live_bytes, live_blocks;
  double peak_bytes = 0;
  std::uint64_t peak_time_ns = 0;
  bool used = false;
  std::array<KindStats, kDeviceKinds> kinds{};  // CUDA devices, by wire::DeviceKind
};

struct LeakSite {
  std::uint32_t stack = 0;
  std::uint32_t device = 0;
  wire::DeviceKind kind = wire::DeviceKind::kUnknown;  // of a device site's blocks
  Estimate blocks, bytes;
  std::uint64_t largest = 0;  // requested size of the largest block
  bool unconditional = true;  // every block was recorded unconditionally (weight 1)
};

// A time range of session time. A model built for a window counts only the allocations made
// inside it, and stops at its end: its live figures are what was live then (the viewer's
// range selection and time cursor).
struct Window {
  std::uint64_t from_ns = 0, to_ns = UINT64_MAX;
  bool whole() const { return from_ns == 0 && to_ns == UINT64_MAX; }
};

enum class ImageState { kRunning, kExited, kExec, kVanished, kCorrupt, kDetached };
const char* to_string(ImageState s);

class ImageModel {
 public:
  explicit ImageModel(const trace::ImageInfo& info, Window window = {});

  void on_records(std::span<const wire::Record> records);
  void on_stack(const trace::StackDef& s) { stacks_[s.id] = s.frames; }
  void on_module(const trace::ModuleDef& m);
  void on_stats(const trace::StatsSnapshot& s);
  void on_symbol(const trace::SymbolDef& s) { symbols_[s.pc] = s; }
  void on_end(const trace::ImageEnd& e);
  // A later image of the same pid exists: this one was replaced by exec, not killed.
  void mark_exec() { if (state_ == ImageState::kVanished) state_ = ImageState::kExec; }

  const trace::ImageInfo& info() const { return info_; }
  ImageState state() const { return state_; }
  bool ended() const { return state_ != ImageState::kRunning; }
  const std::string& end_message() const { return end_message_; }
  bool sampled() const { return info_.mode == static_cast<std::uint32_t>(wire::Mode::kSampled); }
  std::uint64_t time_ns() const { return decoder_.time_ns(); }
  std::uint64_t end_ns() const { return end_ns_; }

  // Host memory (device 0) and each device; index = the record's device field.
  const DeviceStats& device(std::uint32_t d) const { return devices_[d & 63]; }
  static constexpr std::uint32_t kDevices = 64;
  // The CUDA caching pool of a device (1 + ordinal), as of the latest counter snapshot; none
  // when the pool was off (or the device has none).
  std::optional<DevicePoolStats> device_pool(std::uint32_t d) const;
  // The host peak: estimated requested bytes live at once (exact in full mode).
  Estimate peak_bytes() const;
  std::uint64_t peak_time_ns() const { return devices_[0].peak_time_ns; }

  const absl::flat_hash_map<std::uint32_t, SiteStats>& sites() const { return sites_; }
  // A site's figures at the host peak (the epoch bookkeeping resolved).
  Estimate site_peak_bytes(const SiteStats& s) const;
  Estimate site_peak_blocks(const SiteStats& s) const;
  const std::unordered_map<std::int64_t, ThreadStats>& threads() const { return threads_; }

  // Host blocks live now grouped by stack, largest first. After the image exited these are its
  // leaks. With born_before_ns: only blocks allocated before then (older than an age).
  std::vector<LeakSite> live_sites(std::uint64_t born_before_ns = UINT64_MAX) const;
  // The same for device blocks, grouped by (stack, device, kind): a stack that allocated two
  // kinds is two sites. Cheap at any time: device blocks are few.
  std::vector<LeakSite> device_live_sites(std::uint64_t born_before_ns = UINT64_MAX) const;
  std::size_t live_count() const { return live_.size(); }  // host blocks
  std::size_t device_live_count() const { return device_live_.size(); }

  const std::vector<std::uint64_t>* stack(std::uint32_t id) const;
  const std::vector<trace::ModuleDef>& modules() const { return modules_; }
  const trace::SymbolDef* symbol(std::uint64_t pc) const;
  const Timeline& timeline() const { return timeline_; }
  const SizeHistogram& sizes() const { return sizes_; }
  const Window& window() const { return window_; }
  bool have_stats() const { return have_stats_; }
  const trace::StatsSnapshot& stats() const { return stats_; }

  // Records that made no sense (decoder-level garbage, frees of unknown blocks after the
  // start, events after End): a trace from a lossy or hostile source still reports.
  std::uint64_t malformed() const { return decoder_.malformed() + after_end_; }
  std::uint64_t unknown_frees() const { return unknown_frees_; }
  std::uint64_t lost_frees() const { return lost_frees_; }  // an address allocated twice
  std::uint64_t records() const { return records_; }

 private:
  struct Block {
    std::uint64_t size;
    std::uint64_t time_ns;
    std::uint32_t stack;
    std::uint16_t thread_slot;
    std::uint8_t device;
    std::uint8_t sampled : 1;
    std::uint8_t kind : 7;  // wire::DeviceKind of a device block
  };

  void alloc(const reader::Event& e);
  void release(const reader::Event& e);
  // Accounts a block gone (freed, or its free lost: e.time_ns 0).
  void retire(const Block& b, const reader::Event& e);
  // Adds b at (b.device, address); false if a block was live there (*old: it, now replaced).
  bool place(std::uint64_t address, const Block& b, Block* old);
  // Removes the block a Free names into *out; false if none is live there.
  bool take(std::uint32_t device, std::uint64_t address, Block* out);
  template <class Blocks>
  std::vector<LeakSite> group_live(const Blocks& blocks, std::uint64_t born_before_ns) const;
  SiteStats& site(std::uint32_t stack);
  ThreadStats& thread(const reader::Event& e);
  void snapshot(SiteStats& s) const;
  LevelSeries& level(std::uint32_t device);

  trace::ImageInfo info_;
  Window window_;
  bool past_window_ = false;
  reader::EventDecoder decoder_;
  ImageState state_ = ImageState::kRunning;
  std::string end_message_;
  std::uint64_t end_ns_ = 0;
  // Host blocks are many (the hot path: by address alone); device blocks are few, by
  // (address, device): pinned host memory and VMM handles can share a host block's number.
  // A flat (Swiss) table: a live program replaces hundreds of thousands of blocks a second
  // among a million live ones, and std::unordered_map's node per block made its lookups
  // and erases the viewer's largest cost.
  absl::flat_hash_map<std::uint64_t, Block> live_;
  std::map<std::pair<std::uint64_t, std::uint32_t>, Block> device_live_;
  absl::flat_hash_map<std::uint32_t, SiteStats> sites_;  // flat as live_: prefetched the same way
  std::unordered_map<std::int64_t, ThreadStats> threads_;
  std::array<DeviceStats, kDevices> devices_{};
  // The host peak's "who was live" without copying every site at every new peak: each new
  // peak starts an epoch; a site about to change copies its live figures into its peak
  // figures first if it has not done so in this epoch. A site untouched since the peak
  // still has its peak-time figures in live_*.
  std::uint64_t peak_epoch_ = 0;
  Estimate peak_host_;
  std::unordered_map<std::uint32_t, std::vector<std::uint64_t>> stacks_;
  std::vector<trace::ModuleDef> modules_;
  std::unordered_map<std::uint64_t, trace::SymbolDef> symbols_;
  trace::StatsSnapshot stats_;
  bool have_stats_ = false;
  Timeline timeline_;
  SizeHistogram sizes_{};
  std::uint64_t unknown_frees_ = 0, lost_frees_ = 0, after_end_ = 0, records_ = 0;
};

}  // namespace heaplens::model
