#include "image_model.h"

#include <algorithm>
#include <map>
#include <tuple>

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
  // Events are decoded a batch ahead of their use, and the live-block slot each one will
  // touch is prefetched: with a million live blocks nearly every lookup misses the cache,
  // and waiting for them one at a time was most of the model's time.
  constexpr std::size_t kBatch = 16;
  std::array<reader::Event, kBatch> batch;
  std::size_t n = 0;
  auto apply = [&] {
    for (std::size_t i = 0; i < n; ++i)
      if (batch[i].device == wire::kDeviceHost) live_.prefetch(batch[i].address);
    // Then each host event's site: an allocation names it, a free's is its block's (the
    // block's slot was prefetched above, so these lookups overlap instead of queueing).
    for (std::size_t i = 0; i < n; ++i) {
      const reader::Event& e = batch[i];
      if (e.device != wire::kDeviceHost) continue;
      if (e.op == wire::Op::kFree) {
        if (auto it = live_.find(e.address); it != live_.end()) sites_.prefetch(it->second.stack);
      } else {
        sites_.prefetch(e.stack);
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      const reader::Event& e = batch[i];
      switch (e.op) {
        case wire::Op::kAlloc:
        case wire::Op::kRealloc: alloc(e); break;
        case wire::Op::kFree: release(e); break;
        default: break;  // ops 8..15 are reserved: readers skip them
      }
    }
    n = 0;
  };
  for (const wire::Record& r : records) {
    if (state_ != ImageState::kRunning) {
      // The image's final state is what it held when it wrote End; anything after that
      // (a late free from a destructor that ran after ours) would only blur the leak set.
      ++after_end_;
      continue;
    }
    if (!decoder_.feed(r, &batch[n])) {
      if (decoder_.ended()) {
        apply();
        state_ = ImageState::kExited;
        end_ns_ = decoder_.time_ns();
      }
      continue;
    }
    if (batch[n].time_ns > window_.to_ns) {
      apply();
      past_window_ = true;
      return;
    }
    if (++n == kBatch) apply();
  }
  apply();
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

namespace {

// Puts b at key; false if a block was there (*old: it, now replaced by b).
template <class Map, class Key, class Block>
bool put(Map& map, const Key& key, const Block& b, Block* old) {
  auto [it, inserted] = map.try_emplace(key, b);
  if (!inserted) {
    *old = it->second;
    it->second = b;
  }
  return inserted;
}

}  // namespace

bool ImageModel::place(std::uint64_t address, const Block& b, Block* old) {
  if (b.device == wire::kDeviceHost) return put(live_, address, b, old);
  return put(device_live_, std::pair{address, std::uint32_t{b.device}}, b, old);
}

bool ImageModel::take(std::uint32_t device, std::uint64_t address, Block* out) {
  if (device == wire::kDeviceHost) {
    auto it = live_.find(address);
    if (it == live_.end()) return false;
    *out = it->second;
    live_.erase(it);
    return true;
  }
  auto it = device_live_.find({address, device});
  if (it == device_live_.end()) {
    // Device pointers are unique across devices (unified addressing): a free recorded on
    // another device than its allocation (the current device changed in between) is still
    // that block's. Never a host block's: those numbers may coincide.
    it = device_live_.lower_bound({address, wire::kDeviceCudaFirst});
    if (it == device_live_.end() || it->first.first != address) return false;
  }
  *out = it->second;
  device_live_.erase(it);
  return true;
}

void ImageModel::alloc(const reader::Event& e) {
  if (e.time_ns < window_.from_ns) return;
  std::uint32_t device = e.device & 63;
  bool host = device == wire::kDeviceHost;
  // Device memory is never sampled (shared/format.h): every device block weighs 1.
  bool sampled = host && (e.flags & wire::kFlagSampled) != 0;
  Weight w = weight_of(e.size, sampled, info_.sample_interval);
  Block b{e.size, e.time_ns, e.stack, static_cast<std::uint16_t>(e.thread_slot), static_cast<std::uint8_t>(device),
          static_cast<std::uint8_t>(sampled), static_cast<std::uint8_t>(host ? 0 : static_cast<unsigned>(e.device_kind))};
  Block old{};
  if (!place(e.address, b, &old)) {
    // The address is live already: its free was lost (a dropped record). Retire the old
    // block first so live figures do not count it twice.
    reader::Event f = e;
    f.op = wire::Op::kFree;
    f.flags = 0;
    f.time_ns = 0;  // never "temporary"
    retire(old, f);
    ++lost_frees_;
  }

  if (host) {
    // Before a new peak starts its epoch: the site's live figures then include this block.
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
    timeline_.allocs.add(e.time_ns, w.count);
  } else {
    KindStats& k = devices_[device].kinds[b.kind];
    ++k.allocs;
    k.alloc_bytes += e.size;
    ++k.live_blocks;
    k.live_bytes += e.size;
    k.peak_bytes = std::max(k.peak_bytes, k.live_bytes);
  }

  DeviceStats& d = devices_[device];
  d.used = true;
  d.allocs.add(w.count, w.var_count);
  d.alloc_bytes.add(w.bytes, w.var_bytes);
  d.live_blocks.add(w.count, w.var_count);
  d.live_bytes.add(w.bytes, w.var_bytes);
  level(device).add(e.time_ns, d.live_bytes.value);
  if (d.live_bytes.value > d.peak_bytes) {
    d.peak_bytes = d.live_bytes.value;
    d.peak_time_ns = e.time_ns;
    if (host) {
      ++peak_epoch_;
      peak_host_ = d.live_bytes;
    }
  }
}

void ImageModel::release(const reader::Event& e) {
  Block b{};
  if (!take(e.device & 63, e.address, &b)) {
    // Not ours to know: allocated before the session (a fork child's inherited blocks), before
    // the window, or its Alloc record was dropped.
    if (window_.from_ns == 0) ++unknown_frees_;
    return;
  }
  retire(b, e);
}

void ImageModel::retire(const Block& b, const reader::Event& e) {
  Weight w = weight_of(b.size, b.sampled != 0, info_.sample_interval);
  if (b.device == wire::kDeviceHost) {
    SiteStats& s = site(b.stack);
    snapshot(s);
    s.live_blocks.sub(w.count, w.var_count);
    s.live_bytes.sub(w.bytes, w.var_bytes);
    if ((e.flags & wire::kFlagRealloc) == 0 && e.time_ns != 0 && e.time_ns - b.time_ns <= kTemporaryNs)
      s.temporary.add(w.count, w.var_count);
    thread(e).frees.add(w.count, w.var_count);
    SizeClassStats& h = sizes_[size_class(b.size)];
    h.live_blocks.sub(w.count, w.var_count);
    h.live_bytes.sub(w.bytes, w.var_bytes);
    if (e.time_ns != 0) timeline_.frees.add(e.time_ns, w.count);
  } else {
    KindStats& k = devices_[b.device].kinds[b.kind];
    --k.live_blocks;
    k.live_bytes -= b.size;
  }
  DeviceStats& d = devices_[b.device];
  d.frees.add(w.count, w.var_count);
  d.live_blocks.sub(w.count, w.var_count);
  d.live_bytes.sub(w.bytes, w.var_bytes);
  // A free retiring a block whose free was lost carries no time of its own.
  if (e.time_ns != 0) level(b.device).add(e.time_ns, d.live_bytes.value);
}

LevelSeries& ImageModel::level(std::uint32_t device) {
  return device == wire::kDeviceHost ? timeline_.host_live : timeline_.device[device];
}

Estimate ImageModel::peak_bytes() const { return peak_host_; }

std::optional<DevicePoolStats> ImageModel::device_pool(std::uint32_t d) const {
  if (!have_stats_) return std::nullopt;
  return model::device_pool(stats_, d);
}

Estimate ImageModel::site_peak_bytes(const SiteStats& s) const {
  return s.snap_epoch == peak_epoch_ ? s.peak_bytes : s.live_bytes;
}
Estimate ImageModel::site_peak_blocks(const SiteStats& s) const {
  return s.snap_epoch == peak_epoch_ ? s.peak_blocks : s.live_blocks;
}

template <class Blocks>
std::vector<LeakSite> ImageModel::group_live(const Blocks& blocks, std::uint64_t born_before_ns) const {
  std::map<std::tuple<std::uint32_t, std::uint32_t, unsigned>, LeakSite> by;
  for (const auto& [key, b] : blocks) {
    (void)key;
    if (b.time_ns >= born_before_ns) continue;
    LeakSite& l = by[{b.stack, b.device, b.kind}];
    l.stack = b.stack;
    l.device = b.device;
    l.kind = static_cast<wire::DeviceKind>(b.kind);
    Weight w = weight_of(b.size, b.sampled != 0, info_.sample_interval);
    l.blocks.add(w.count, w.var_count);
    l.bytes.add(w.bytes, w.var_bytes);
    l.largest = std::max(l.largest, b.size);
    l.unconditional = l.unconditional && b.sampled == 0;
  }
  std::vector<LeakSite> out;
  out.reserve(by.size());
  for (auto& [k, v] : by) out.push_back(v);
  // Largest first; ties in (stack, device, kind) order (the map's), so the order is stable.
  std::stable_sort(out.begin(), out.end(),
                   [](const LeakSite& a, const LeakSite& b) { return a.bytes.value > b.bytes.value; });
  return out;
}

std::vector<LeakSite> ImageModel::live_sites(std::uint64_t born_before_ns) const {
  return group_live(live_, born_before_ns);
}

std::vector<LeakSite> ImageModel::device_live_sites(std::uint64_t born_before_ns) const {
  return group_live(device_live_, born_before_ns);
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
