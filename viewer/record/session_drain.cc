#include "session_drain.h"

namespace heaplens::record {

namespace {
constexpr std::size_t kBatch = 1 << 16;
constexpr std::uint64_t kStatsEveryNs = 100'000'000;
}  // namespace

SessionDrain::SessionDrain(std::unique_ptr<reader::Session> session, std::uint32_t image,
                           std::uint32_t image_of_pid, trace::TraceVisitor* out,
                           BackgroundSymbolizer* symbolizer)
    : session_(std::move(session)), image_(image), out_(out), symbolizer_(symbolizer) {
  const reader::SessionInfo& s = session_->info();
  trace::ImageInfo i;
  i.image = image;
  i.pid = s.pid;
  i.ppid = s.ppid;
  i.image_of_pid = image_of_pid;
  i.mode = static_cast<std::uint32_t>(s.mode);
  i.on_full = static_cast<std::uint32_t>(s.on_full);
  i.backend = s.backend;
  i.sample_interval = s.sample_interval;
  i.large_threshold = s.large_threshold;
  i.start_realtime_ns = s.start_realtime_ns;
  i.clock_base_ns = s.clock_base_ns;
  i.executable = s.executable;
  i.session = s.path;
  out_->on_image(i);
  buf_.reserve(kBatch);
}

void SessionDrain::emit_stacks(std::span<const wire::Record> records) {
  std::vector<std::uint64_t> new_pcs;
  for (const wire::Record& r : records) {
    auto op = static_cast<wire::Op>(r.w0 & 0xF);
    if (op == wire::Op::kEnd) saw_end_ = true;
    if (op != wire::Op::kAlloc && op != wire::Op::kRealloc && op < wire::Op::kFirstDeviceOp) continue;
    std::uint32_t id = wire::decode(r).stack;
    if (id == 0 || stacks_seen_.count(id)) continue;
    // The producer publishes a stack before any record that names it.
    std::vector<std::uint64_t> frames = session_->stack(id);
    if (frames.empty()) continue;  // invalid id (hostile or damaged): the model shows "no stack"
    stacks_seen_.insert(id);
    for (std::uint64_t pc : frames)
      if (pcs_seen_.insert(pc).second) new_pcs.push_back(pc);
    out_->on_stack({image_, id, std::move(frames)});
  }
  if (symbolizer_ != nullptr && !new_pcs.empty()) symbolizer_->add(image_, module_refs_, std::move(new_pcs));
}

void SessionDrain::emit_modules() {
  std::vector<reader::Module> mods = session_->modules();
  bool changed = !module_refs_;
  for (std::size_t i = 0; i < mods.size(); ++i) {
    const reader::Module& m = mods[i];
    bool is_new = i >= unloaded_seen_.size();
    if (!is_new && unloaded_seen_[i] == m.unloaded_ns) continue;
    if (is_new) unloaded_seen_.push_back(m.unloaded_ns);
    else unloaded_seen_[i] = m.unloaded_ns;
    changed = true;
    trace::ModuleDef d;
    d.image = image_;
    d.load_bias = m.load_bias;
    d.start = m.start;
    d.end = m.end;
    d.loaded_ns = m.loaded_ns;
    d.unloaded_ns = m.unloaded_ns;
    d.build_id = m.build_id;
    d.path = m.path;
    out_->on_module(d);
  }
  if (changed) {
    // A new snapshot: jobs already queued keep the one they were given.
    auto refs = std::make_shared<std::vector<symbols::ModuleRef>>();
    for (const reader::Module& m : mods) refs->push_back({m.path, m.build_id, m.load_bias, m.start, m.end});
    module_refs_ = std::move(refs);
  }
}

void SessionDrain::emit_stats() {
  reader::LiveStats s = session_->stats();
  trace::StatsSnapshot t;
  t.image = image_;
  using F = trace::StatsField;
  t.set(F::kTimeNs, s.published_ns);
  t.set(F::kRecordsWritten, s.records_written);
  t.set(F::kRecordsDropped, s.records_dropped);
  t.set(F::kEventsSampled, s.events_sampled);
  t.set(F::kEventsUnrecorded, s.events_unrecorded);
  t.set(F::kStacksUsed, s.stacks_used);
  t.set(F::kStacksDropped, s.stacks_dropped);
  t.set(F::kFramesUsed, s.frames_used);
  t.set(F::kModuleCount, s.module_count);
  t.set(F::kTrackerNs, s.tracker_ns);
  t.set(F::kProcessCpuNs, s.process_cpu_ns);
  t.set(F::kAllocations, s.allocations);
  t.set(F::kFrees, s.frees);
  t.set(F::kBytesRequested, s.bytes_requested);
  t.set(F::kBytesAllocated, s.bytes_allocated);
  t.set(F::kBytesFreed, s.bytes_freed);
  t.set(F::kLiveBytes, s.live_bytes);
  t.set(F::kPeakLiveBytes, s.peak_live_bytes);
  t.set(F::kLargeAllocations, s.large_allocations);
  t.set(F::kThreads, s.threads);
  t.set(F::kHeapAllocated, s.heap_allocated);
  t.set(F::kHeapActive, s.heap_active);
  t.set(F::kHeapResident, s.heap_resident);
  t.set(F::kHeapMapped, s.heap_mapped);
  t.set(F::kHeapRetained, s.heap_retained);
  t.set(F::kCudaPool, session_->info().cuda_pool ? 1 : 0);
  for (std::uint32_t i = 0; i < trace::kPoolDevices; ++i) {
    using C = trace::PoolCounter;
    const reader::LiveStats::DevicePool& p = s.pool[i];
    t.set(trace::pool_field(i, C::kReservedBytes), p.reserved_bytes);
    t.set(trace::pool_field(i, C::kInUseBytes), p.in_use_bytes);
    t.set(trace::pool_field(i, C::kRequestedBytes), p.requested_bytes);
    t.set(trace::pool_field(i, C::kLargestCached), p.largest_cached);
    t.set(trace::pool_field(i, C::kHits), p.hits);
    t.set(trace::pool_field(i, C::kMisses), p.misses);
    t.set(trace::pool_field(i, C::kDriverFrees), p.driver_frees);
    t.set(trace::pool_field(i, C::kTrims), p.trims);
  }
  out_->on_stats(t);
}

void SessionDrain::end(trace::ImageEndHow how, const std::string& message) {
  emit_modules();
  emit_stats();
  trace::ImageEnd e;
  e.image = image_;
  e.how = how;
  e.torn_records = session_->torn();
  e.message = message;
  out_->on_image_end(e);
  session_->unlink_name();
  finished_ = true;
}

std::size_t SessionDrain::pump(std::uint64_t now_ns) {
  if (finished_) return 0;
  buf_.clear();
  std::string error;
  reader::Session::Drain d = session_->drain(&buf_, kBatch, &error);
  if (!buf_.empty()) {
    // Modules first: a new stack's frames may lie in a library loaded a moment ago.
    emit_modules();
    emit_stacks(buf_);
    out_->on_records(image_, buf_);
  }
  if (now_ns - last_stats_ns_ >= kStatsEveryNs) {
    last_stats_ns_ = now_ns;
    emit_modules();
    emit_stats();
  }
  if (d == reader::Session::Drain::kFinished) {
    end(saw_end_ ? trace::ImageEndHow::kExited : trace::ImageEndHow::kVanished, "");
  } else if (d == reader::Session::Drain::kCorrupt) {
    end(trace::ImageEndHow::kCorrupt, error);
  }
  return buf_.size();
}

void SessionDrain::detach() {
  if (!finished_) end(trace::ImageEndHow::kDetached, "recording stopped while the process ran");
}

}  // namespace heaplens::record
