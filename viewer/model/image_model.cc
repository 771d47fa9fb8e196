#include "image_model.h"

#include <algorithm>
#include <map>

namespace heaplens::model {

const char* to_string(ImageState s) {
  switch (s) {
    case ImageState::kRunning: return "running";
    case ImageState::kExited: return "exited";
    case ImageState::kExec: return "exec";
    case ImageState::kVanished: return "vanished";
    case ImageState::kCorrupt: return "corrupt";
    case ImageState::kDetached: return "detached";
  }
  return "?";
}

ImageModel::ImageModel(const trace::ImageInfo& info, Window window) : info_(info), window_(window) {
  live_.reserve(1 << 12);
  sites_.reserve(1 << 10);
}

void ImageModel::on_records(std::span<const wire::Record> records) {
  if (past_window_) return;
  records_ += records.size();
  reader::Event e;
  for (const wire::Record& r : records) {
    if (state_ != ImageState::kRunning) {
      // The image's final state is what it held when it wrote End; anything after that
      // (a late free from a destructor that ran after ours) would only blur the leak set.
      ++after_end_;
      continue;
    }
    if (!decoder_.feed(r, &e)) {
      if (decoder_.ended()) {
        state_ = ImageState::kExited;
        end_ns_ = decoder_.time_ns();
      }
      continue;
    }
    if (e.time_ns > window_.to_ns) {
      past_window_ = true;
      return;
    }
    switch (e.op) {
      case wire::Op::kAlloc:
      case wire::Op::kRealloc: alloc(e); break;
      case wire::Op::kFree: release(e); break;
      default: break;  // device operations (8..15): not defined yet by this format version
    }
  }
}

void ImageModel::on_stats(const trace::StatsSnapshot& s) {
  if (s.get(trace::StatsField::kTimeNs) > window_.to_ns) return;
  stats_ = s;
  have_stats_ = true;
  timeline_.on_stats(s);
}

void ImageModel::on_module(const trace::ModuleDef& m) {
  for (auto& have : modules_) {
    if (have.start == m.start && have.path == m.path && have.loaded_ns == m.loaded_ns) {
      have.unloaded_ns = m.unloaded_ns;
      return;
    }
  }
  modules_.push_back(m);
}

void ImageModel::on_end(const trace::ImageEnd& e) {
  if (state_ == ImageState::kRunning || state_ == ImageState::kExited) {
    switch (e.how) {
      case trace::ImageEndHow::kExited: state_ = ImageState::kExited; break;
      case trace::ImageEndHow::kVanished:
        if (state_ != ImageState::kExited) state_ = ImageState::kVanished;
        break;
      case trace::ImageEndHow::kCorrupt: state_ = ImageState::kCorrupt; break;
      case trace::ImageEndHow::kDetached:
        if (state_ != ImageState::kExited) state_ = ImageState::kDetached;
        break;
    }
  }
  if (end_ns_ == 0) end_ns_ = e.end_ns != 0 ? e.end_ns : decoder_.time_ns();
  end_message_ = e.message;
}

void ImageModel::snapshot(SiteStats& s) const {
  if (s.snap_epoch != peak_epoch_) {
    s.peak_blocks = s.live_blocks;
    s.peak_bytes = s.live_bytes;
    s.snap_epoch = peak_epoch_;
  }
}

SiteStats& ImageModel::site(std::uint32_t stack) {
  auto [it, inserted] = sites_.try_emplace(stack);
  // A site born after the latest peak had nothing live at it.
  if (inserted) it->second.snap_epoch = peak_epoch_;
  return it->second;
}

ThreadStats& ImageModel::thread(const reader::Event& e) {
  // Thread slots are reused after 4095 threads; the OS id tells threads apart. A slot never
  // named by a Thread record is kept apart under its negated slot number.
  std::int64_t key = e.tid != 0 ? e.tid : -static_cast<std::int64_t>(e.thread_slot);
  auto [it, inserted] = threads_.try_emplace(key);
  if (inserted) it->second.tid = key;
  return it->second;
}

void ImageModel::alloc(const reader::Event& e) {
  if (e.time_ns < window_.from_ns) return;
  bool sampled = (e.flags & wire::kFlagSampled) != 0;
  Weight w = weight_of(e.size, sampled, info_.sample_interval);
  auto [it, inserted] = live_.try_emplace(e.address);
  if (!inserted) {
    // The address is live already: its free was lost (a dropped record). Retire the old
    // block first so live figures do not count it twice.
    reader::Event f = e;
    f.op = wire::Op::kFree;
    f.flags = 0;
    f.time_ns = 0;  // never "temporary"
    release(f);
    ++lost_frees_;
    it = live_.try_emplace(e.address).first;
  }
  it->second = Block{e.size, e.time_ns, e.stack, static_cast<std::uint16_t>(e.thread_slot),
                     static_cast<std::uint8_t>(e.device & 63), static_cast<std::uint8_t>(sampled)};

  SiteStats& s = site(e.stack);
  snapshot(s);
  s.allocs.add(w.count, w.var_count);
  s.alloc_bytes.add(w.bytes, w.var_bytes);
  s.live_blocks.add(w.count, w.var_count);
  s.live_bytes.add(w.bytes, w.var_bytes);
  ++s.records;

  ThreadStats& t = thread(e);
  t.allocs.add(w.count, w.var_count);
  t.alloc_bytes.add(w.bytes, w.var_bytes);

  SizeClassStats& h = sizes_[size_class(e.size)];
  h.allocs.add(w.count, w.var_count);
  h.bytes.add(w.bytes, w.var_bytes);
  h.live_blocks.add(w.count, w.var_count);
  h.live_bytes.add(w.bytes, w.var_bytes);

  DeviceStats& d = devices_[e.device & 63];
  d.used = true;
  d.allocs.add(w.count, w.var_count);
  d.alloc_bytes.add(w.bytes, w.var_bytes);
  d.live_blocks.add(w.count, w.var_count);
  d.live_bytes.add(w.bytes, w.var_bytes);
  timeline_.allocs.add(e.time_ns, w.count);
  level(e.device & 63).add(e.time_ns, d.live_bytes.value);
  if (d.live_bytes.value > d.peak_bytes) {
    d.peak_bytes = d.live_bytes.value;
    d.peak_time_ns = e.time_ns;
    if ((e.device & 63) == wire::kDeviceHost) {
      ++peak_epoch_;
      peak_host_ = d.live_bytes;
    }
  }
}

void ImageModel::release(const reader::Event& e) {
  auto it = live_.find(e.address);
  if (it == live_.end()) {
    // Not ours to know: allocated before the session (a fork child's inherited blocks), before
    // the window, or its Alloc record was dropped.
    if (window_.from_ns == 0) ++unknown_frees_;
    return;
  }
  Block b = it->second;
  live_.erase(it);
  Weight w = weight_of(b.size, b.sampled != 0, info_.sample_interval);
  SiteStats& s = site(b.stack);
  snapshot(s);
  s.live_blocks.sub(w.count, w.var_count);
  s.live_bytes.sub(w.bytes, w.var_bytes);
  if ((e.flags & wire::kFlagRealloc) == 0 && e.time_ns != 0 && e.time_ns - b.time_ns <= kTemporaryNs)
    s.temporary.add(w.count, w.var_count);
  thread(e).frees.add(w.count, w.var_count);
  DeviceStats& d = devices_[b.device];
  d.live_blocks.sub(w.count, w.var_count);
  d.live_bytes.sub(w.bytes, w.var_bytes);
  SizeClassStats& h = sizes_[size_class(b.size)];
  h.live_blocks.sub(w.count, w.var_count);
  h.live_bytes.sub(w.bytes, w.var_bytes);
  // A free retiring a block whose free was lost carries no time of its own.
  if (e.time_ns != 0) {
    timeline_.frees.add(e.time_ns, w.count);
    level(b.device).add(e.time_ns, d.live_bytes.value);
  }
}

LevelSeries& ImageModel::level(std::uint32_t device) {
  return device == wire::kDeviceHost ? timeline_.host_live : timeline_.device[device];
}

Estimate ImageModel::peak_bytes() const { return peak_host_; }

Estimate ImageModel::site_peak_bytes(const SiteStats& s) const {
  return s.snap_epoch == peak_epoch_ ? s.peak_bytes : s.live_bytes;
}
Estimate ImageModel::site_peak_blocks(const SiteStats& s) const {
  return s.snap_epoch == peak_epoch_ ? s.peak_blocks : s.live_blocks;
}

std::vector<LeakSite> ImageModel::live_sites(std::uint64_t born_before_ns) const {
  std::map<std::pair<std::uint32_t, std::uint32_t>, LeakSite> by;
  for (const auto& [address, b] : live_) {
    (void)address;
    if (b.time_ns >= born_before_ns) continue;
    LeakSite& l = by[{b.stack, b.device}];
    l.stack = b.stack;
    l.device = b.device;
    Weight w = weight_of(b.size, b.sampled != 0, info_.sample_interval);
    l.blocks.add(w.count, w.var_count);
    l.bytes.add(w.bytes, w.var_bytes);
    l.largest = std::max(l.largest, b.size);
    l.unconditional = l.unconditional && b.sampled == 0;
  }
  std::vector<LeakSite> out;
  out.reserve(by.size());
  for (auto& [k, v] : by) out.push_back(v);
  std::sort(out.begin(), out.end(), [](const LeakSite& a, const LeakSite& b) {
    if (a.bytes.value != b.bytes.value) return a.bytes.value > b.bytes.value;
    return a.stack < b.stack;
  });
  return out;
}

const std::vector<std::uint64_t>* ImageModel::stack(std::uint32_t id) const {
  auto it = stacks_.find(id);
  return it == stacks_.end() ? nullptr : &it->second;
}

const trace::SymbolDef* ImageModel::symbol(std::uint64_t pc) const {
  auto it = symbols_.find(pc);
  return it == symbols_.end() ? nullptr : &it->second;
}

}  // namespace heaplens::model
