// Where a run's chunks go: the trace file and the model the run's summary is computed from,
// fed the same chunks in the same order, so a report of the file and the run's own summary
// cannot disagree.
#pragma once

#include <vector>

#include "trace_reader.h"
#include "trace_writer.h"

namespace heaplens::record {

class WriterVisitor : public trace::TraceVisitor {
 public:
  explicit WriterVisitor(trace::TraceWriter* w) : w_(w) {}
  void on_command(const trace::CommandDef& c) override { w_->add_command(c); }
  void on_image(const trace::ImageInfo& i) override { w_->add_image(i); }
  void on_records(std::uint32_t image, std::span<const wire::Record> r) override { w_->add_records(image, r); }
  void on_stack(const trace::StackDef& s) override { w_->add_stack(s); }
  void on_module(const trace::ModuleDef& m) override { w_->add_module(m); }
  void on_stats(const trace::StatsSnapshot& s) override { w_->add_stats(s); }
  void on_image_end(const trace::ImageEnd& e) override { w_->add_image_end(e); }
  void on_symbol(const trace::SymbolDef& s) override { w_->add_symbol(s); }
  void on_exit(const trace::ExitDef& e) override { w_->add_exit(e); }

 private:
  trace::TraceWriter* w_;
};

class Tee : public trace::TraceVisitor {
 public:
  void add(trace::TraceVisitor* v) {
    if (v != nullptr) to_.push_back(v);
  }
  void on_command(const trace::CommandDef& c) override { for (auto* v : to_) v->on_command(c); }
  void on_image(const trace::ImageInfo& i) override { for (auto* v : to_) v->on_image(i); }
  void on_records(std::uint32_t image, std::span<const wire::Record> r) override { for (auto* v : to_) v->on_records(image, r); }
  void on_stack(const trace::StackDef& s) override { for (auto* v : to_) v->on_stack(s); }
  void on_module(const trace::ModuleDef& m) override { for (auto* v : to_) v->on_module(m); }
  void on_stats(const trace::StatsSnapshot& s) override { for (auto* v : to_) v->on_stats(s); }
  void on_image_end(const trace::ImageEnd& e) override { for (auto* v : to_) v->on_image_end(e); }
  void on_symbol(const trace::SymbolDef& s) override { for (auto* v : to_) v->on_symbol(s); }
  void on_exit(const trace::ExitDef& e) override { for (auto* v : to_) v->on_exit(e); }
  void on_poll() override { for (auto* v : to_) v->on_poll(); }

 private:
  std::vector<trace::TraceVisitor*> to_;
};

}  // namespace heaplens::record
