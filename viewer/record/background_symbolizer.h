// Resolves the frames of a run while the run goes on, on a thread of its own, so the symbols
// are ready when the program ends: reading debug info is slow to start (libc's separate debug
// file alone costs ~0.1 s to open and decompress), and a short program would otherwise wait
// for it at exit.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "symbolizer.h"
#include "trace_types.h"

namespace heaplens::record {

class BackgroundSymbolizer {
 public:
  using Modules = std::shared_ptr<const std::vector<symbols::ModuleRef>>;

  BackgroundSymbolizer();
  ~BackgroundSymbolizer();
  BackgroundSymbolizer(const BackgroundSymbolizer&) = delete;
  BackgroundSymbolizer& operator=(const BackgroundSymbolizer&) = delete;

  // Queues return addresses taken in `image`, whose modules were `modules` (a snapshot the
  // caller does not change afterwards).
  void add(std::uint32_t image, Modules modules, std::vector<std::uint64_t> pcs);
  // Waits until everything queued is resolved and returns the symbols (once).
  std::vector<trace::SymbolDef> finish();

 private:
  struct Job {
    std::uint32_t image;
    Modules modules;
    std::vector<std::uint64_t> pcs;
  };
  void work();

  symbols::Symbolizer symbolizer_;  // used by the worker thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::vector<trace::SymbolDef> done_;
  std::thread thread_;
};

}  // namespace heaplens::record
