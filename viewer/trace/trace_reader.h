// Reads a trace file (trace_format.h) chunk by chunk, in order, with bounded memory (one
// block at a time). Every byte is untrusted: a damaged or hostile file ends reading with a
// one-line error, never a crash, a hang or an unbounded allocation; a file cut short (its
// writer was killed) reads up to its last complete block and says so.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "trace_types.h"

namespace heaplens::trace {

// Receives chunks in file order. Default implementations ignore the chunk.
class TraceVisitor {
 public:
  virtual ~TraceVisitor() = default;
  virtual void on_command(const CommandDef&) {}
  virtual void on_image(const ImageInfo&) {}
  // `records` is valid during the call only.
  virtual void on_records(std::uint32_t /*image*/, std::span<const wire::Record> /*records*/) {}
  virtual void on_stack(const StackDef&) {}
  virtual void on_module(const ModuleDef&) {}
  virtual void on_stats(const StatsSnapshot&) {}
  virtual void on_image_end(const ImageEnd&) {}
  virtual void on_symbol(const SymbolDef&) {}
  virtual void on_exit(const ExitDef&) {}
  // Not a chunk: a live recorder calls this on every turn of its loop, records or not, so a
  // visitor that shows live views can refresh them when the source goes quiet.
  virtual void on_poll() {}
};

struct ReadResult {
  enum class Status {
    kComplete,   // read to the End chunk
    kTruncated,  // the file ends early (no End chunk, or a partial last block): all complete
                 // blocks were delivered
    kError,      // unreadable or corrupt: `message` says where and why; chunks before it were
                 // delivered
  };
  Status status = Status::kError;
  std::string message;  // one line; empty for kComplete
  std::uint64_t blocks = 0, chunks = 0, records = 0;
  std::uint64_t file_bytes = 0, raw_bytes = 0;
};

// Reads `path` from start to end, calling `visitor` for every chunk. Chunks referring to an
// image that no Image chunk introduced are an error.
ReadResult read_trace(const std::string& path, TraceVisitor& visitor);

// True if the file starts with the trace magic (to tell a trace from a pid or session name).
bool looks_like_trace(const std::string& path);

}  // namespace heaplens::trace
