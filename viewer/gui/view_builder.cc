#include "view_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace heaplens::gui {

namespace {

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string frame_function(const model::Frame& f, const model::ImageModel& m) {
  if (!f.function.empty()) return f.function;
  // No symbol (a stripped library): the address inside its file, as addr2line takes it.
  for (const trace::ModuleDef& mod : m.modules())
    if (f.pc >= mod.start && f.pc < mod.end)
      return fmt::format("{}+0x{:x}", basename_of(mod.path), f.pc - mod.load_bias);
  return fmt::format("0x{:x}", f.pc);
}

std::string frame_location(const model::Frame& f) {
  // Tables are narrow: the file's name; the stack view shows the whole path.
  if (!f.file.empty()) return f.line != 0 ? fmt::format("{}:{}", basename_of(f.file), f.line) : basename_of(f.file);
  return basename_of(f.module);
}

std::uint32_t default_image(const model::TraceModel& m) {
  const auto& images = m.images();
  for (std::size_t i = images.size(); i-- > 0;)
    if (images[i] && !images[i]->ended()) return static_cast<std::uint32_t>(i);
  // All ended: the busiest one (after an exec chain or a fork, the process that did the work).
  std::uint32_t best = 0;
  std::uint64_t most = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (images[i] && (images[i]->records() > most || most == 0)) {
      best = static_cast<std::uint32_t>(i);
      most = std::max<std::uint64_t>(images[i]->records(), 1);
    }
  }
  return best;
}

HeaderView build_header(const model::TraceModel& m, std::uint32_t image) {
  HeaderView h;
  for (std::size_t i = 0; i < m.images().size(); ++i) {
    const auto& im = m.images()[i];
    if (!im) continue;
    h.images.push_back({static_cast<std::uint32_t>(i), im->info().pid, im->info().executable, im->state()});
  }
  const model::ImageModel* im = image < m.images().size() ? m.images()[image].get() : nullptr;
  if (im == nullptr) return h;
  h.have_image = true;
  h.image = image;
  h.info = im->info();
  h.state = im->state();
  h.end_message = im->end_message();
  h.sampled = im->sampled();
  h.records = im->records();
  h.malformed = im->malformed();
  h.unknown_frees = im->unknown_frees();
  h.lost_frees = im->lost_frees();
  h.live_blocks = im->live_count();
  h.sites = im->sites().size();
  h.have_stats = im->have_stats();
  h.stats = im->stats();
  h.now_ns = std::max(im->time_ns(), im->have_stats() ? im->stats().get(trace::StatsField::kTimeNs) : 0);
  h.peak = im->peak_bytes();
  h.peak_time_ns = im->peak_time_ns();
  h.live_bytes = im->device(wire::kDeviceHost).live_bytes;
  h.devices = model::summarize_devices(*im);
  if (im->sampled()) {
    h.peak = model::approximate(h.peak);
    h.live_bytes = model::approximate(h.live_bytes);
  }
  // Session time counts from the session's CLOCK_MONOTONIC base, shared by every process.
  if (im->time_ns() != 0) h.newest_record_mono_ns = h.info.clock_base_ns + im->time_ns();
  return h;
}

TimelineView build_timeline(const model::ImageModel& m) {
  const model::Timeline& t = m.timeline();
  TimelineView v;
  v.host_live = t.host_live.buckets();
  v.counter_live = t.counter_live.buckets();
  v.alloc_rate = t.allocs.rates();
  v.free_rate = t.frees.rates();
  v.overhead_pct = t.overhead_pct.buckets();
  v.dropped = t.dropped.buckets();
  for (const auto& [d, s] : t.device) v.device_live[d] = s.buckets();
  v.heap_allocated = t.heap_allocated.buckets();
  v.heap_active = t.heap_active.buckets();
  v.heap_resident = t.heap_resident.buckets();
  v.heap_retained = t.heap_retained.buckets();
  v.fragmentation_pct = t.fragmentation_pct.buckets();
  v.peak_time_ns = m.peak_time_ns();
  return v;
}

SitesView build_sites(const model::ImageModel& m, model::FrameResolver& frames, SiteSort sort, bool ascending) {
  SitesView v;
  v.window = m.window();
  v.sites.reserve(m.sites().size());
  bool approx = m.sampled();
  auto mark = [approx](model::Estimate e) { return approx ? model::approximate(e) : e; };
  for (const auto& [stack, s] : m.sites()) {
    SiteView row;
    row.stack = stack;
    if (const auto* pcs = m.stack(stack); pcs != nullptr && !pcs->empty()) {
      const model::Frame& f = frames.resolve(m, pcs->front());
      row.function = frame_function(f, m);
      row.location = frame_location(f);
    } else {
      row.function = fmt::format("(stack {})", stack);
    }
    row.live_bytes = mark(s.live_bytes);
    row.live_blocks = mark(s.live_blocks);
    row.alloc_bytes = mark(s.alloc_bytes);
    row.allocs = mark(s.allocs);
    row.peak_bytes = mark(m.site_peak_bytes(s));
    row.temporary = mark(s.temporary);
    v.sites.push_back(std::move(row));
  }
  // Sorted here, off the render thread; ties by stack so the order is stable between builds.
  v.sort = sort;
  v.ascending = ascending;
  std::sort(v.sites.begin(), v.sites.end(), [&](const SiteView& a, const SiteView& b) {
    double ka = sort_key(a, sort), kb = sort_key(b, sort);
    if (ka != kb) return ascending ? ka < kb : ka > kb;
    return a.stack < b.stack;
  });
  return v;
}

double sort_key(const SiteView& s, SiteSort by) {
  switch (by) {
    case SiteSort::kLive: return s.live_bytes.value;
    case SiteSort::kLiveBlocks: return s.live_blocks.value;
    case SiteSort::kAllocated: return s.alloc_bytes.value;
    case SiteSort::kAllocs: return s.allocs.value;
    case SiteSort::kAtPeak: return s.peak_bytes.value;
    case SiteSort::kTemporary: return s.temporary.value;
  }
  return 0;
}

LeaksView build_leaks(const model::ImageModel& m, model::FrameResolver& frames, std::uint64_t min_age_ns) {
  LeaksView v;
  v.min_age_ns = min_age_ns;
  v.exited = m.state() == model::ImageState::kExited;
  auto name = [&](LeakView& row) {
    if (const auto* pcs = m.stack(row.stack); pcs != nullptr && !pcs->empty()) {
      const model::Frame& f = frames.resolve(m, pcs->front());
      row.function = frame_function(f, m);
      row.location = frame_location(f);
    } else {
      row.function = fmt::format("(stack {})", row.stack);
    }
  };
  auto add = [&](const model::LeakSite& l) {
    LeakView row;
    row.stack = l.stack;
    row.device = l.device;
    row.kind = l.kind;
    name(row);
    row.bytes = m.sampled() && !l.unconditional ? model::approximate(l.bytes) : l.bytes;
    row.blocks = m.sampled() && !l.unconditional ? model::approximate(l.blocks) : l.blocks;
    row.largest = l.largest;
    row.unconditional = l.unconditional;
    bool host = l.device == wire::kDeviceHost;
    (host ? v.bytes : v.device_bytes) += row.bytes;
    (host ? v.blocks : v.device_blocks) += row.blocks;
    v.leaks.push_back(std::move(row));
  };
  std::uint64_t now = m.ended() && m.end_ns() != 0 ? m.end_ns() : m.time_ns();
  std::uint64_t born_before = min_age_ns == 0 ? UINT64_MAX : (now > min_age_ns ? now - min_age_ns : 0);
  if (!m.ended() && min_age_ns == 0) {
    // Scanning a million live host blocks several times a second would starve the records:
    // the host's groups come from the sites' live figures.
    for (const auto& [stack, s] : m.sites()) {
      if (!(s.live_blocks.value > 0.5)) continue;
      model::LeakSite l;
      l.stack = stack;
      l.bytes = s.live_bytes;
      l.blocks = s.live_blocks;
      l.unconditional = false;
      add(l);
    }
  } else {
    for (const model::LeakSite& l : m.live_sites(born_before)) add(l);
  }
  // Device blocks are few: always from the live set, split by device and kind.
  for (const model::LeakSite& l : m.device_live_sites(born_before)) add(l);
  std::stable_sort(v.leaks.begin(), v.leaks.end(), [](const LeakView& a, const LeakView& b) {
    if (a.bytes.value != b.bytes.value) return a.bytes.value > b.bytes.value;
    return a.device != b.device ? a.device < b.device : a.stack < b.stack;
  });
  return v;
}

TreeView build_tree(const model::ImageModel& m, model::FrameResolver& frames, bool live_bytes) {
  TreeView v;
  v.live_bytes = live_bytes;
  std::unordered_map<std::string, std::uint32_t> keys;
  std::vector<std::uint32_t> flat;     // every sample's keys, one after the other
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::vector<double> values;
  for (const auto& [stack, s] : m.sites()) {
    double value = live_bytes ? s.live_bytes.value : s.alloc_bytes.value;
    if (!(value > 0)) continue;
    const auto* pcs = m.stack(stack);
    if (pcs == nullptr) continue;
    std::size_t begin = flat.size();
    for (std::uint64_t pc : *pcs) {
      const model::Frame& f = frames.resolve(m, pc);
      // Inlined callers are frames of their own in a call tree, innermost first.
      auto add = [&](const std::string& name) {
        auto [it, inserted] = keys.try_emplace(name, static_cast<std::uint32_t>(v.labels.size()));
        if (inserted) v.labels.push_back(name);
        flat.push_back(it->second);
      };
      add(frame_function(f, m));
      for (const auto& in : f.inlined) add(in.function.empty() ? "(inlined)" : in.function);
    }
    spans.emplace_back(begin, flat.size() - begin);
    values.push_back(value);
  }
  std::vector<StackSample> samples;
  samples.reserve(spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i)
    samples.push_back({std::span<const std::uint32_t>(flat.data() + spans[i].first, spans[i].second), values[i]});
  v.top_down = build_call_tree(samples, Direction::kTopDown);
  v.bottom_up = build_call_tree(samples, Direction::kBottomUp);
  return v;
}

StackView build_stack(const model::ImageModel& m, model::FrameResolver& frames, std::uint32_t stack) {
  StackView v;
  v.stack = stack;
  v.frames = frames.stack(m, stack);
  return v;
}

}  // namespace heaplens::gui
