// Figures over time for the viewer's timeline and pools panels, in bounded memory: each
// series keeps at most kMaxBuckets time buckets and doubles its bucket width (merging
// neighbours) when it would exceed that, so an hour-long run costs what a second-long one does.
// Times are nanoseconds of session time (the records' clock); integer bucket bounds keep
// neighbouring samples out of each other's buckets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "trace_types.h"

namespace heaplens::model {

// A bucket of samples.
struct SeriesBucket {
  std::uint64_t t_ns = 0;  // start of the bucket: a multiple of the series' width
  double min = 0, max = 0, last = 0;
};

inline constexpr std::size_t kMaxBuckets = 4096;
inline constexpr std::uint64_t kFirstBucketNs = 1'000'000;  // records carry millisecond time

// A level (live bytes, resident bytes...): its min, max and last value per bucket.
class LevelSeries {
 public:
  void add(std::uint64_t t_ns, double v);
  const std::vector<SeriesBucket>& buckets() const { return b_; }
  std::uint64_t width_ns() const { return width_; }
  bool empty() const { return b_.empty(); }
  double last() const { return b_.empty() ? 0 : b_.back().last; }

 private:
  void coarsen();
  std::vector<SeriesBucket> b_;
  std::uint64_t width_ = kFirstBucketNs;
};

// Events per second (allocations, frees): a sum per bucket, shown as sum / width.
class RateSeries {
 public:
  void add(std::uint64_t t_ns, double n);
  // One point per bucket with min = max = last = its rate per second.
  std::vector<SeriesBucket> rates() const;
  std::uint64_t width_ns() const { return width_; }
  double total() const { return total_; }

 private:
  struct Sum {
    std::uint64_t t_ns;
    double n;
  };
  void coarsen();
  std::vector<Sum> b_;
  std::uint64_t width_ = kFirstBucketNs;
  double total_ = 0;
};

// Everything the timeline and pools panels plot for one image.
struct Timeline {
  LevelSeries host_live;                        // estimated requested host bytes live (model)
  std::map<std::uint32_t, LevelSeries> device;  // exact live bytes per device (1..63) that was used
  RateSeries allocs, frees;                     // estimated host allocations / frees per second
  // From the session's exact counters (every counter snapshot):
  LevelSeries counter_live;     // live bytes as the pool counts them (exact, even when sampled)
  LevelSeries overhead_pct;     // tracker CPU / process CPU between two snapshots, in %
  LevelSeries dropped;          // records dropped so far
  LevelSeries heap_allocated, heap_active, heap_resident, heap_retained;
  LevelSeries fragmentation_pct;  // 1 - allocated / active, in %

  void on_stats(const trace::StatsSnapshot& s);

 private:
  std::uint64_t prev_tracker_ns_ = 0, prev_cpu_ns_ = 0;
  bool have_prev_ = false;
};

}  // namespace heaplens::model
