// heaplens's settings, read from HEAPLENS_* environment variables (documented in
// docs/configuration.md). Parsing never allocates (it runs inside the first malloc of the
// process) and never fails: a malformed value yields one problem line and the default.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../pool/recorder.h"
#include "../pool/settings.h"

namespace heaplens {

// The sampling interval R: one sample per this many allocated bytes on average. Chosen by
// benchmark (docs/benchmarks.md, docs/tracker.md): the densest interval whose cost stays
// within the overhead target on the allocation-heavy workloads.
inline constexpr std::size_t kDefaultSampleInterval = std::size_t{512} << 10;
inline constexpr std::size_t kDefaultRingBytes = std::size_t{1} << 20;

struct TrackerConfig {
  pool::RecordMode mode = pool::RecordMode::sampled;  // HEAPLENS_MODE
  std::size_t sample_interval = kDefaultSampleInterval;  // HEAPLENS_SAMPLE_INTERVAL
  bool wait_when_full = false;                           // HEAPLENS_ON_FULL=wait
  std::size_t ring_bytes = kDefaultRingBytes;            // HEAPLENS_RING_SIZE (power of two)
  bool keep_session = false;                             // HEAPLENS_KEEP_SESSION
  std::uint64_t run_id = 0;                              // HEAPLENS_RUN_ID
  bool cuda_pool = false;  // the CUDA caching pool is on (said in the session header)
};

// The CUDA layer (interposer/cuda/).
struct CudaConfig {
  bool enabled = true;  // HEAPLENS_CUDA: 0 makes every CUDA hook pass straight through
  bool pool = false;    // HEAPLENS_CUDA_POOL: cudaMalloc/cudaFree served by the caching pool
};

struct Config {
  pool::Settings pool;
  TrackerConfig tracker;
  CudaConfig cuda;
  bool summary = false;  // HEAPLENS_SUMMARY: one line of exact counters on stderr at exit
};

struct ConfigProblems {
  static constexpr int kMax = 8;
  static constexpr std::size_t kLine = 240;
  char lines[kMax][kLine];
  int count = 0;
};

// `get` returns the value of a variable or nullptr; `names` lists every variable of the
// environment (nullptr-terminated, "NAME=value" strings) so unknown HEAPLENS_* names can be
// reported; it may be nullptr.
using EnvGet = const char* (*)(const char* name);
Config parse_config(EnvGet get, const char* const* names, ConfigProblems* problems) noexcept;

// Value parsers, exposed for tests. Sizes accept a decimal number with an optional binary
// suffix: k/K/KiB, m/M/MiB, g/G/GiB (KB, MB, GB mean the same).
bool parse_size(const char* text, std::size_t* out) noexcept;
bool parse_bool(const char* text, bool* out) noexcept;

}  // namespace heaplens
