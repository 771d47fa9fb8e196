#include "report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace heaplens::model {

namespace {

using trace::StatsField;

template <class Key>
void keep_top(std::vector<SiteRow>* rows, std::size_t n, Key key) {
  std::sort(rows->begin(), rows->end(), [&](const SiteRow& a, const SiteRow& b) {
    double ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a.stack < b.stack;
  });
  if (rows->size() > n) rows->resize(n);
}

void fill_counters(ImageReport* r) {
  const ImageModel& m = *r->image;
  if (!m.have_stats()) return;
  const trace::StatsSnapshot& s = m.stats();
  r->have_counters = true;
  r->counter_peak = s.get(StatsField::kPeakLiveBytes);
  r->allocations = s.get(StatsField::kAllocations);
  r->frees = s.get(StatsField::kFrees);
  r->bytes_requested = s.get(StatsField::kBytesRequested);
  r->records_dropped = s.get(StatsField::kRecordsDropped);
  r->records_written = s.get(StatsField::kRecordsWritten);
  r->stacks_dropped = s.get(StatsField::kStacksDropped);
  if (std::uint64_t cpu = s.get(StatsField::kProcessCpuNs); cpu > 0)
    r->overhead = static_cast<double>(s.get(StatsField::kTrackerNs)) / static_cast<double>(cpu);
}

SiteRow leak_row(const ImageModel& m, const LeakSite& l, FrameResolver& frames) {
  SiteRow row;
  row.stack = l.stack;
  row.device = l.device;
  row.kind = l.kind;
  row.frames = frames.stack(m, l.stack);
  row.bytes = l.bytes;
  row.blocks = l.blocks;
  row.count = l.blocks;
  row.largest = l.largest;
  row.unconditional = l.unconditional;
  return row;
}

// Files a live site as leaked or suppressed. What a suppression matched counts only in
// leak-checked images (the ones whose live blocks are leaks).
void add_leak(LeakSet* set, SiteRow row, bool leak_checked, Suppressions& suppressions) {
  if (Suppression* s = suppressions.match(row.frames)) {
    row.suppressed_by = s;
    if (leak_checked) {
      s->sites += 1;
      s->blocks += row.blocks.rounded();
      s->bytes += row.bytes.rounded();
    }
    set->suppressed_bytes += row.bytes;
    set->suppressed_blocks += row.blocks;
    set->suppressed.push_back(std::move(row));
  } else {
    set->bytes += row.bytes;
    set->blocks += row.blocks;
    set->sites.push_back(std::move(row));
  }
}

// Host leaks into the image's set, device leaks into their device's row (rows filled first).
void fill_leaks(ImageReport* r, FrameResolver& frames, Suppressions& suppressions) {
  const ImageModel& m = *r->image;
  for (const LeakSite& l : m.live_sites()) add_leak(&r->leaks, leak_row(m, l, frames), r->leak_checked, suppressions);
  for (const LeakSite& l : m.device_live_sites())
    for (DeviceRow& d : r->devices)
      if (d.device == l.device) add_leak(&d.leaks, leak_row(m, l, frames), r->leak_checked, suppressions);
}

void fill_devices(ImageReport* r) {
  for (DeviceSummary& s : summarize_devices(*r->image)) {
    DeviceRow row;
    static_cast<DeviceSummary&>(row) = std::move(s);
    r->devices.push_back(std::move(row));
  }
}

void fill_sites(ImageReport* r, FrameResolver& frames, const ReportOptions& o) {
  const ImageModel& m = *r->image;
  std::vector<SiteRow> peak, bytes, count, temporary;
  for (const auto& [id, s] : m.sites()) {
    SiteRow row;
    row.stack = id;
    Estimate pb = m.site_peak_bytes(s);
    if (pb.value > 0.5) {
      row.bytes = pb;
      row.blocks = m.site_peak_blocks(s);
      row.count = s.allocs;
      peak.push_back(row);
    }
    row.bytes = s.alloc_bytes;
    row.blocks = s.allocs;
    row.count = s.allocs;
    bytes.push_back(row);
    count.push_back(row);
    if (s.temporary.value > 0.5) {
      row.count = s.temporary;
      temporary.push_back(row);
    }
  }
  keep_top(&peak, o.top, [](const SiteRow& x) { return x.bytes.value; });
  keep_top(&bytes, o.top, [](const SiteRow& x) { return x.bytes.value; });
  keep_top(&count, o.top, [](const SiteRow& x) { return x.count.value; });
  keep_top(&temporary, o.top, [](const SiteRow& x) { return x.count.value; });
  for (auto* v : {&peak, &bytes, &count, &temporary})
    for (SiteRow& row : *v) row.frames = frames.stack(m, row.stack);
  r->peak_sites = std::move(peak);
  r->top_bytes = std::move(bytes);
  r->top_count = std::move(count);
  r->temporary = std::move(temporary);

  for (const auto& [tid, t] : m.threads()) r->threads.push_back({tid, t.allocs, t.alloc_bytes, t.frees});
  std::sort(r->threads.begin(), r->threads.end(), [](const ThreadRow& a, const ThreadRow& b) {
    return a.alloc_bytes.value != b.alloc_bytes.value ? a.alloc_bytes.value > b.alloc_bytes.value : a.tid < b.tid;
  });
}

// Every host figure of a sampled image is an estimate; totals also state what sampling can miss.
// Device figures are exact (device allocations are never sampled); the device rows' host
// entry is marked by summarize_devices().
void approximate_all(ImageReport* r, double interval) {
  double floor = 3 * interval;
  r->peak = approximate(r->peak, floor);
  LeakSet& l = r->leaks;
  l.bytes = approximate(l.bytes, floor);
  l.blocks = approximate(l.blocks);
  l.suppressed_bytes = approximate(l.suppressed_bytes);
  l.suppressed_blocks = approximate(l.suppressed_blocks);
  for (auto* rows : {&l.sites, &l.suppressed, &r->peak_sites, &r->top_bytes, &r->top_count, &r->temporary}) {
    for (SiteRow& row : *rows) {
      // A leak site of large blocks only was recorded block by block: exact.
      if (row.unconditional) continue;
      row.bytes = approximate(row.bytes);
      row.blocks = approximate(row.blocks);
      row.count = approximate(row.count);
    }
  }
  for (ThreadRow& t : r->threads) {
    t.allocs = approximate(t.allocs);
    t.alloc_bytes = approximate(t.alloc_bytes);
    t.frees = approximate(t.frees);
  }
}

void add_totals(Report* rep, const ImageReport& r) {
  rep->leaked_bytes += r.leaks.bytes;
  rep->leaked_blocks += r.leaks.blocks;
  rep->suppressed_bytes += r.leaks.suppressed_bytes;
  rep->suppressed_blocks += r.leaks.suppressed_blocks;
  if (!r.leaks.bytes.exact() || !r.leaks.blocks.exact()) rep->exact = false;
  for (const DeviceRow& d : r.devices) {
    rep->device_leaked_bytes += d.leaks.bytes;
    rep->device_leaked_blocks += d.leaks.blocks;
    rep->device_suppressed_bytes += d.leaks.suppressed_bytes;
    rep->device_suppressed_blocks += d.leaks.suppressed_blocks;
  }
}

}  // namespace

Report build_report(TraceModel& model, FrameResolver& frames, Suppressions& suppressions,
                    const ReportOptions& options) {
  model.finish();
  Report rep;
  rep.command = model.command();
  rep.exit = model.exit();
  std::uint32_t index = 0;
  for (const auto& image : model.images()) {
    std::uint32_t i = index++;
    if (!image) continue;
    ImageReport r;
    r.image = image.get();
    r.index = i;
    r.leak_checked = image->state() == ImageState::kExited;
    r.peak = image->peak_bytes();
    r.peak_time_ns = image->peak_time_ns();
    fill_counters(&r);
    fill_devices(&r);
    // What an exec'd image held went away with it: not a leak, and not worth listing.
    if (image->state() != ImageState::kExec) fill_leaks(&r, frames, suppressions);
    fill_sites(&r, frames, options);
    if (image->sampled()) approximate_all(&r, static_cast<double>(image->info().sample_interval));
    if (r.leak_checked) add_totals(&rep, r);
    if (r.records_dropped > 0 || image->malformed() > 0) rep.exact = false;
    rep.images.push_back(std::move(r));
  }
  rep.symbol_problems = frames.problems();
  return rep;
}

std::string human_bytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = std::fabs(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (bytes < 0) v = -v;
  if (u == 0) return fmt::format("{:.0f} B", v);
  return fmt::format("{:.{}f} {}", v, v < 10 ? 2 : v < 100 ? 1 : 0, kUnits[u]);
}

std::string human_estimate(const Estimate& e) {
  if (e.exact()) return human_bytes(e.value);
  return fmt::format("{} ± {} (estimate)", human_bytes(e.value), human_bytes(e.error()));
}

}  // namespace heaplens::model
