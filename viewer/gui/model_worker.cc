#include "model_worker.h"

#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>

#include "trace_reader.h"
#include "view_builder.h"

namespace heaplens::gui {

namespace {

std::uint64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

constexpr std::uint64_t kFastEveryNs = 30'000'000;  // header, timeline

std::string describe_source(const SourceSpec& s) {
  switch (s.kind) {
    case SourceSpec::Kind::kFile: return fmt::format("trace {}", s.target);
    case SourceSpec::Kind::kSession: return fmt::format("session {}", s.target);
    case SourceSpec::Kind::kRun: return fmt::format("running {}", s.run.argv.empty() ? "?" : s.run.argv[0]);
  }
  return "?";
}

std::uint32_t pick_image(const model::TraceModel& m, std::uint32_t wanted) {
  if (wanted != UINT32_MAX && wanted < m.images().size() && m.images()[wanted]) return wanted;
  return default_image(m);
}

}  // namespace

// Feeds the model and publishes between chunks: the source's loop is the model thread's loop.
class ModelWorker::Feed : public trace::TraceVisitor {
 public:
  explicit Feed(ModelWorker* w) : w_(w) {}
  void on_command(const trace::CommandDef& c) override { w_->model_.on_command(c); tick(); }
  void on_image(const trace::ImageInfo& i) override { w_->model_.on_image(i); tick(); }
  void on_records(std::uint32_t image, std::span<const wire::Record> r) override {
    w_->model_.on_records(image, r);
    tick();
  }
  void on_stack(const trace::StackDef& s) override { w_->model_.on_stack(s); }
  void on_module(const trace::ModuleDef& m) override { w_->model_.on_module(m); }
  void on_stats(const trace::StatsSnapshot& s) override { w_->model_.on_stats(s); tick(); }
  void on_image_end(const trace::ImageEnd& e) override { w_->model_.on_image_end(e); w_->publish(true); }
  void on_symbol(const trace::SymbolDef& s) override { w_->model_.on_symbol(s); }
  void on_exit(const trace::ExitDef& e) override { w_->model_.on_exit(e); }
  void on_poll() override { tick(); }

 private:
  void tick() { w_->publish(false); }
  ModelWorker* w_;
};

ModelWorker::ModelWorker(SourceSpec spec) : spec_(std::move(spec)) {
  switch (spec_.kind) {
    case SourceSpec::Kind::kFile: trace_path_ = spec_.target; break;
    case SourceSpec::Kind::kSession:
      if (spec_.output.empty()) {
        std::error_code ec;
        std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
        if (ec) dir = "/tmp";
        trace_path_ = (dir / fmt::format("heaplens-view.{}.trace", getpid())).string();
        temporary_trace_ = true;
      } else {
        trace_path_ = spec_.output;
      }
      break;
    case SourceSpec::Kind::kRun:
      trace_path_ = spec_.output.empty()
                        ? fmt::format("heaplens-{}.{}.trace",
                                      std::filesystem::path(spec_.run.argv.at(0)).filename().string(), getpid())
                        : spec_.output;
      spec_.run.trace_path = trace_path_;
      break;
  }
  // Frames the trace has no symbols for yet (a live run symbolizes at its end) are resolved
  // from this machine's files.
  frames_ = std::make_unique<model::FrameResolver>(true);
}

ModelWorker::~ModelWorker() {
  stop();
  join();
  if (temporary_trace_) {
    std::error_code ec;
    std::filesystem::remove(trace_path_, ec);
  }
}

void ModelWorker::start() {
  thread_ = std::thread([this] { run_source(); });
  filter_thread_ = std::thread([this] { filter_loop(); });
}

void ModelWorker::stop() {
  stop_ = true;
  quit_ = true;
  cv_.notify_all();
}

void ModelWorker::join() {
  if (thread_.joinable()) thread_.join();
  quit_ = true;
  cv_.notify_all();
  if (filter_thread_.joinable()) filter_thread_.join();
}

void ModelWorker::request(const ViewRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  bool window_changed = r.window.from_ns != request_.window.from_ns || r.window.to_ns != request_.window.to_ns;
  bool changed = window_changed || r.image != request_.image || r.leak_min_age_ns != request_.leak_min_age_ns ||
                 r.want_tree != request_.want_tree || r.tree_live_bytes != request_.tree_live_bytes ||
                 r.stack != request_.stack || r.sort != request_.sort || r.ascending != request_.ascending;
  if (!changed) return;
  request_ = r;
  ++request_gen_;
  if (window_changed) filtered_ = {};
  cv_.notify_all();
}

Snapshot ModelWorker::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_;
}

Snapshot ModelWorker::filtered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return filtered_;
}

void ModelWorker::publish(bool force) {
  std::uint64_t now = mono_ns();
  std::uint64_t gen;
  ViewRequest req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gen = request_gen_;
    req = request_;
  }
  bool asked = gen != served_gen_;
  if (!force && !asked && now - last_fast_ < kFastEveryNs) return;
  served_gen_ = gen;
  // A request rebuilds only what it changes: a click on a row must not rebuild the tables.
  bool new_age = asked && req.leak_min_age_ns != served_.leak_min_age_ns;
  bool new_tree = asked && (req.want_tree != served_.want_tree || req.tree_live_bytes != served_.tree_live_bytes);
  served_ = req;
  std::uint32_t index = pick_image(model_, req.image);
  const model::ImageModel* im = index < model_.images().size() ? model_.images()[index].get() : nullptr;
  // Another image (asked for, or the default moved to a new process): every part is stale.
  bool new_image = im != published_image_;
  published_image_ = im;

  Snapshot s = snapshot();
  auto header = std::make_shared<HeaderView>(build_header(model_, index));
  header->generation = ++generation_;
  header->source = describe_source(spec_);
  header->trace_path = trace_path_;
  header->source_done = done_.load();
  header->problem = problem_;
  s.header = header;
  last_fast_ = now;
  if (im != nullptr) s.timeline = std::make_shared<TimelineView>(build_timeline(*im));
  {
    // The header and timeline go out first: symbolizing new frames for the tables can take a
    // while (a module's debug info is read on first use), and must not delay them.
    std::lock_guard<std::mutex> lock(mu_);
    snap_.header = s.header;
    snap_.timeline = s.timeline;
  }
  if (im != nullptr) {
    bool first_sites = !s.sites || s.sites->sites.empty() != im->sites().empty();
    bool sort_changed = s.sites && (s.sites->sort != req.sort || s.sites->ascending != req.ascending);
    if (force || new_image || first_sites || sort_changed || sites_.due(now)) {
      std::uint64_t t0 = mono_ns();
      s.sites = std::make_shared<SitesView>(build_sites(*im, *frames_, req.sort, req.ascending));
      s.sizes = std::make_shared<model::SizeHistogram>(im->sizes());
      sites_.done(t0, mono_ns());
    }
    if (force || new_image || new_age || leaks_.due(now)) {
      std::uint64_t t0 = mono_ns();
      s.leaks = std::make_shared<LeaksView>(build_leaks(*im, *frames_, req.leak_min_age_ns));
      leaks_.done(t0, mono_ns());
    }
    if (req.want_tree && (force || new_image || new_tree || !s.tree || tree_.due(now))) {
      std::uint64_t t0 = mono_ns();
      s.tree = std::make_shared<TreeView>(build_tree(*im, *frames_, req.tree_live_bytes));
      tree_.done(t0, mono_ns());
    }
    if (req.stack != UINT32_MAX && (new_image || req.stack != published_stack_ || !s.stack)) {
      s.stack = std::make_shared<StackView>(build_stack(*im, *frames_, req.stack));
      published_stack_ = req.stack;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  snap_ = std::move(s);
}

void ModelWorker::run_source() {
  Feed feed(this);
  switch (spec_.kind) {
    case SourceSpec::Kind::kFile: {
      trace::ReadResult r = trace::read_trace(spec_.target, feed);
      model_.finish();
      if (r.status != trace::ReadResult::Status::kComplete) problem_ = r.message;
      result_.started = true;
      result_.trace_path = spec_.target;
      result_.trace_ok = r.status == trace::ReadResult::Status::kComplete;
      result_.exit_code = r.status == trace::ReadResult::Status::kError ? 1 : 0;
      break;
    }
    case SourceSpec::Kind::kSession:
      result_ = record::record_session(spec_.target, trace_path_, &feed, &stop_);
      model_.finish();
      if (!result_.error.empty()) problem_ = result_.error;
      break;
    case SourceSpec::Kind::kRun:
      result_ = record::run_program(spec_.run, &feed);
      model_.finish();
      if (!result_.error.empty()) problem_ = result_.error;
      break;
  }
  done_ = true;
  publish(true);
  // The source is finished; keep serving the UI's requests (another image, the call tree, a
  // stack) from the final model until the viewer closes.
  while (!quit_) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return quit_.load() || request_gen_ != served_gen_; });
    }
    if (quit_) break;
    std::uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      gen = request_gen_;
    }
    if (gen != served_gen_) publish(false);
  }
}

void ModelWorker::filter_loop() {
  std::uint64_t served = 0;
  while (!quit_) {
    ViewRequest req;
    std::uint64_t gen;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return quit_.load() || request_gen_ != served; });
      if (quit_) return;
      gen = request_gen_;
      req = request_;
    }
    if (gen == served) continue;
    served = gen;
    if (req.window.whole()) continue;
    filtering_ = true;
    // The trace holds everything written so far (a live source flushes it a few times a
    // second); a model of the window re-reads it from the start.
    model::TraceModel windowed(req.window);
    trace::ReadResult r = trace::read_trace(trace_path_, windowed);
    windowed.finish();
    model::FrameResolver frames(true);
    Snapshot s;
    std::uint32_t index = pick_image(windowed, req.image);
    auto header = std::make_shared<HeaderView>(build_header(windowed, index));
    if (r.status == trace::ReadResult::Status::kError) header->problem = r.message;
    s.header = header;
    if (const model::ImageModel* im = windowed.image(index)) {
      s.sites = std::make_shared<SitesView>(build_sites(*im, frames, req.sort, req.ascending));
      s.leaks = std::make_shared<LeaksView>(build_leaks(*im, frames, 0));
      s.sizes = std::make_shared<model::SizeHistogram>(im->sizes());
      if (req.want_tree) s.tree = std::make_shared<TreeView>(build_tree(*im, frames, req.tree_live_bytes));
    }
    filtering_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    // Only if nobody asked for another window meanwhile.
    if (request_.window.from_ns == req.window.from_ns && request_.window.to_ns == req.window.to_ns) filtered_ = s;
  }
}

}  // namespace heaplens::gui
