// The viewer's model thread: runs the source (a trace file, a live session it drains, or a
// program it runs), feeds the model, and publishes snapshots (view_data.h) for the render
// thread at a few rates: the header and timeline ~30 times a second, the tables a few times a
// second, the call tree and a selected stack on demand. A second thread re-reads the trace for
// a selected time range, so a range filter never stalls the live model.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "runner.h"
#include "trace_model.h"
#include "view_data.h"

namespace heaplens::gui {

struct SourceSpec {
  enum class Kind { kFile, kSession, kRun };
  Kind kind = Kind::kFile;
  std::string target;          // kFile: the trace; kSession: a pid, session name or path
  std::string output;          // kSession/kRun: the trace to write ("" = kSession: a temporary file)
  record::RunOptions run;      // kRun
};

// What the UI asks for; read by the model thread at its next publish.
struct ViewRequest {
  std::uint32_t image = UINT32_MAX;  // UINT32_MAX: the default image
  std::uint64_t leak_min_age_ns = 0;
  bool want_tree = false;
  bool tree_live_bytes = true;
  std::uint32_t stack = UINT32_MAX;  // a stack to symbolize in full
  model::Window window;              // range filter (whole: none)
  SiteSort sort = SiteSort::kLive;   // the site table's order
  bool ascending = false;
};

// Rebuilds a part of the view at least `min_ns` apart and never more often than ten times
// its own build time, so however large the model, the model thread spends at most about a
// tenth of its time on views and the rest on records.
struct Cadence {
  std::uint64_t min_ns;
  std::uint64_t last = 0, cost = 0;
  bool due(std::uint64_t now) const { return last == 0 || now - last >= std::max(min_ns, cost * 10); }
  void done(std::uint64_t start, std::uint64_t end) {
    last = end;
    cost = end - start;
  }
};

class ModelWorker {
 public:
  explicit ModelWorker(SourceSpec spec);
  ~ModelWorker();
  ModelWorker(const ModelWorker&) = delete;
  ModelWorker& operator=(const ModelWorker&) = delete;

  void start();
  // Stops a session source (detaches); a running program is recorded until it exits.
  void stop();
  void join();

  void request(const ViewRequest& r);
  Snapshot snapshot() const;
  // Figures for the requested window (empty parts until the re-read finished).
  Snapshot filtered() const;
  bool filtering() const { return filtering_.load(); }

  bool done() const { return done_.load(); }
  const record::RunResult& result() const { return result_; }  // valid once done()

 private:
  class Feed;
  void run_source();
  void publish(bool force);
  void serve_requests();
  void filter_loop();

  SourceSpec spec_;
  std::string trace_path_;
  bool temporary_trace_ = false;
  model::TraceModel model_;
  std::unique_ptr<model::FrameResolver> frames_;
  std::thread thread_, filter_thread_;
  std::atomic<bool> stop_{false}, done_{false}, quit_{false}, filtering_{false};
  record::RunResult result_;

  mutable std::mutex mu_;  // guards snap_, filtered_, request_, request_gen_
  std::condition_variable cv_;
  Snapshot snap_, filtered_;
  ViewRequest request_;
  std::uint64_t request_gen_ = 0;

  // Model-thread state.
  std::uint64_t generation_ = 0, served_gen_ = 0;
  ViewRequest served_;  // the request the published parts were built for
  const model::ImageModel* published_image_ = nullptr;
  std::uint64_t last_fast_ = 0;
  Cadence sites_{100'000'000}, leaks_{250'000'000}, tree_{500'000'000};
  std::uint32_t published_stack_ = UINT32_MAX;
  std::string problem_;
};

}  // namespace heaplens::gui
