#include "background_symbolizer.h"

namespace heaplens::record {

BackgroundSymbolizer::BackgroundSymbolizer() : thread_([this] { work(); }) {}

BackgroundSymbolizer::~BackgroundSymbolizer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundSymbolizer::add(std::uint32_t image, Modules modules, std::vector<std::uint64_t> pcs) {
  if (pcs.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back({image, std::move(modules), std::move(pcs)});
  }
  cv_.notify_all();
}

void BackgroundSymbolizer::work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, nothing left
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    std::vector<trace::SymbolDef> out;
    out.reserve(job.pcs.size());
    for (std::uint64_t pc : job.pcs) {
      symbols::Location l = symbolizer_.resolve(*job.modules, pc);
      trace::SymbolDef s;
      s.image = job.image;
      s.pc = pc;
      s.line = l.line;
      s.column = l.column;
      s.function = std::move(l.function);
      s.file = std::move(l.file);
      s.module = std::move(l.module);
      for (auto& i : l.inlined) s.inlined.push_back({std::move(i.function), std::move(i.file), i.line});
      out.push_back(std::move(s));
    }
    lock.lock();
    for (auto& s : out) done_.push_back(std::move(s));
    cv_.notify_all();
  }
}

std::vector<trace::SymbolDef> BackgroundSymbolizer::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;  // the worker drains the queue, then returns
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return std::move(done_);
}

}  // namespace heaplens::record
