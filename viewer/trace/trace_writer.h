// Writes a trace file (trace_format.h) as it is produced: chunks are buffered and compressed
// into one zstd frame per block, written with write(2) as soon as a block is flushed.
// Not thread-safe: one writer per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "trace_types.h"

namespace heaplens::trace {

class TraceWriter {
 public:
  // Creates (truncates) `path`. On failure returns nullptr and a one-line *error naming the
  // path and the reason.
  static std::unique_ptr<TraceWriter> create(const std::string& path, std::string* error,
                                             int compression_level = 3);
  ~TraceWriter();  // closes the file without an End chunk if close() was not called
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Each add_* appends one chunk to the current block; a block that reaches its target size
  // (1 MiB uncompressed) is flushed. They return false once a write has failed (see error()).
  bool add_command(const CommandDef& c);
  bool add_image(const ImageInfo& i);
  bool add_records(std::uint32_t image, std::span<const wire::Record> records);  // split as needed
  bool add_stack(const StackDef& s);
  bool add_module(const ModuleDef& m);
  bool add_stats(const StatsSnapshot& s);
  bool add_image_end(const ImageEnd& e);
  bool add_symbol(const SymbolDef& s);
  bool add_exit(const ExitDef& e);

  // Compresses and writes the pending block (no-op when empty).
  bool flush();
  // Writes the End chunk, flushes, fsyncs nothing, closes. Returns false on any failure.
  bool close();

  const std::string& error() const { return error_; }
  std::uint64_t bytes_written() const { return bytes_written_; }  // compressed, incl. header
  std::uint64_t raw_bytes() const { return raw_bytes_; }            // chunk bytes before compression

 private:
  TraceWriter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
  std::uint64_t bytes_written_ = 0, raw_bytes_ = 0;
};

}  // namespace heaplens::trace
