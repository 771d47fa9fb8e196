#include "timeline.h"

#include <algorithm>
#include <cmath>

namespace heaplens::model {

void LevelSeries::add(std::uint64_t t, double v) {
  if (!std::isfinite(v)) return;
  // Out-of-order samples (a Time record of another thread's batch) join the newest bucket
  // rather than reorder history.
  if (!b_.empty() && t < b_.back().t_ns + width_) {
    SeriesBucket& last = b_.back();
    last.min = std::min(last.min, v);
    last.max = std::max(last.max, v);
    last.last = v;
    return;
  }
  b_.push_back({t - t % width_, v, v, v});
  if (b_.size() > kMaxBuckets) coarsen();
}

void LevelSeries::coarsen() {
  while (b_.size() > kMaxBuckets / 2) {
    width_ *= 2;
    std::size_t out = 0;
    for (std::size_t i = 0; i < b_.size(); ++i) {
      SeriesBucket b = b_[i];
      std::uint64_t start = b.t_ns - b.t_ns % width_;
      if (out > 0 && b_[out - 1].t_ns == start) {
        SeriesBucket& into = b_[out - 1];
        into.min = std::min(into.min, b.min);
        into.max = std::max(into.max, b.max);
        into.last = b.last;
      } else {
        b_[out++] = {start, b.min, b.max, b.last};
      }
    }
    b_.resize(out);
  }
}

void RateSeries::add(std::uint64_t t, double n) {
  if (!std::isfinite(n)) return;
  total_ += n;
  if (!b_.empty() && t < b_.back().t_ns + width_) {
    b_.back().n += n;
    return;
  }
  b_.push_back({t - t % width_, n});
  if (b_.size() > kMaxBuckets) coarsen();
}

void RateSeries::coarsen() {
  while (b_.size() > kMaxBuckets / 2) {
    width_ *= 2;
    std::size_t out = 0;
    for (std::size_t i = 0; i < b_.size(); ++i) {
      std::uint64_t start = b_[i].t_ns - b_[i].t_ns % width_;
      if (out > 0 && b_[out - 1].t_ns == start) {
        b_[out - 1].n += b_[i].n;
      } else {
        b_[out++] = {start, b_[i].n};
      }
    }
    b_.resize(out);
  }
}

std::vector<SeriesBucket> RateSeries::rates() const {
  std::vector<SeriesBucket> out;
  out.reserve(b_.size() + 1);
  double per_second = 1e9 / static_cast<double>(width_);
  for (const Sum& s : b_) {
    // A gap between buckets is a stretch without events: show it as zero, not as a line
    // interpolated between two busy buckets.
    if (!out.empty() && s.t_ns > out.back().t_ns + width_) out.push_back({out.back().t_ns + width_, 0, 0, 0});
    double r = s.n * per_second;
    out.push_back({s.t_ns, r, r, r});
  }
  return out;
}

void Timeline::on_stats(const trace::StatsSnapshot& s) {
  using trace::StatsField;
  std::uint64_t t = s.get(StatsField::kTimeNs);
  counter_live.add(t, static_cast<double>(s.get(StatsField::kLiveBytes)));
  dropped.add(t, static_cast<double>(s.get(StatsField::kRecordsDropped)));
  std::uint64_t tracker = s.get(StatsField::kTrackerNs), cpu = s.get(StatsField::kProcessCpuNs);
  if (have_prev_ && cpu > prev_cpu_ns_ && tracker >= prev_tracker_ns_) {
    double pct = 100.0 * static_cast<double>(tracker - prev_tracker_ns_) / static_cast<double>(cpu - prev_cpu_ns_);
    overhead_pct.add(t, std::min(pct, 100.0));
  }
  prev_tracker_ns_ = tracker;
  prev_cpu_ns_ = cpu;
  have_prev_ = true;
  double allocated = static_cast<double>(s.get(StatsField::kHeapAllocated));
  double active = static_cast<double>(s.get(StatsField::kHeapActive));
  if (active > 0) {
    heap_allocated.add(t, allocated);
    heap_active.add(t, active);
    heap_resident.add(t, static_cast<double>(s.get(StatsField::kHeapResident)));
    heap_retained.add(t, static_cast<double>(s.get(StatsField::kHeapRetained)));
    fragmentation_pct.add(t, 100.0 * std::max(0.0, 1.0 - allocated / active));
  }
}

}  // namespace heaplens::model
