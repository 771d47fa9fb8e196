// The decoded contents of trace chunks (trace_format.h), shared by the writer and the reader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format.h"
#include "trace_format.h"

namespace heaplens::trace {

struct ImageInfo {
  std::uint32_t image = 0;
  std::int64_t pid = 0, ppid = 0;
  std::uint32_t image_of_pid = 0;
  std::uint32_t mode = 0, on_full = 0, backend = 0;
  std::uint64_t sample_interval = 0, large_threshold = 0;
  std::uint64_t start_realtime_ns = 0, clock_base_ns = 0;
  std::string executable, session;
};

struct StackDef {
  std::uint32_t image = 0, id = 0;
  std::vector<std::uint64_t> frames;  // innermost first
};

struct ModuleDef {
  std::uint32_t image = 0;
  std::uint64_t load_bias = 0, start = 0, end = 0, loaded_ns = 0, unloaded_ns = 0;
  std::vector<std::uint8_t> build_id;
  std::string path;
};

static_assert(kPoolDevices == wire::SessionHeader::kPoolDevices);
static_assert(kPoolCounters * sizeof(std::uint64_t) == sizeof(wire::SessionHeader::DevicePool));

struct StatsSnapshot {
  std::uint32_t image = 0;
  std::uint64_t v[static_cast<std::size_t>(StatsField::kCount)] = {};
  std::uint64_t get(StatsField f) const { return v[static_cast<std::size_t>(f)]; }
  void set(StatsField f, std::uint64_t x) { v[static_cast<std::size_t>(f)] = x; }
};

struct ImageEnd {
  std::uint32_t image = 0;
  ImageEndHow how = ImageEndHow::kExited;
  std::uint64_t end_ns = 0, torn_records = 0, malformed_records = 0;
  std::string message;
};

struct InlineFrame {
  std::string function, file;
  std::uint32_t line = 0;
};

struct SymbolDef {
  std::uint32_t image = 0;
  std::uint64_t pc = 0;
  std::uint32_t line = 0, column = 0;
  std::string function, file, module;
  std::vector<InlineFrame> inlined;  // inlined callers of `function`, innermost first
};

struct ExitDef {
  std::int64_t pid = 0;
  std::int32_t wait_status = 0;
};

struct CommandDef {
  std::vector<std::string> argv;
  std::string cwd;
  std::uint64_t start_realtime_ns = 0;
};

}  // namespace heaplens::trace
