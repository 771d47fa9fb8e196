// Moves one live session into trace chunks: its records in ring order, each stack before the
// first record that uses it, modules as they appear (and again when unloaded), counter
// snapshots, and finally how the image ended.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "background_symbolizer.h"
#include "session_reader.h"
#include "trace_reader.h"

namespace heaplens::record {

class SessionDrain {
 public:
  // Every new frame is also handed to `symbolizer` (with the modules mapped when its stack
  // was drained).
  SessionDrain(std::unique_ptr<reader::Session> session, std::uint32_t image, std::uint32_t image_of_pid,
               trace::TraceVisitor* out, BackgroundSymbolizer* symbolizer);

  // Moves what is there now (up to a bounded batch). Returns the number of records moved.
  std::size_t pump(std::uint64_t now_ns);
  bool finished() const { return finished_; }
  // Ends the image as kDetached (the recorder stops while the producer still runs).
  void detach();
  const reader::SessionInfo& info() const { return session_->info(); }
  std::uint32_t image() const { return image_; }

 private:
  void emit_stacks(std::span<const wire::Record> records);
  void emit_modules();
  void emit_stats();
  void end(trace::ImageEndHow how, const std::string& message);

  std::unique_ptr<reader::Session> session_;
  std::uint32_t image_;
  trace::TraceVisitor* out_;
  std::vector<wire::Record> buf_;
  std::unordered_set<std::uint32_t> stacks_seen_;
  BackgroundSymbolizer* symbolizer_;
  BackgroundSymbolizer::Modules module_refs_;
  std::unordered_set<std::uint64_t> pcs_seen_;
  std::vector<std::uint64_t> unloaded_seen_;  // per module index: the unloaded_ns last emitted
  std::uint64_t last_stats_ns_ = 0;
  bool saw_end_ = false;
  bool finished_ = false;
};

}  // namespace heaplens::record
