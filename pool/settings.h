// Settings the hybrid pool is started with. Parsed from HEAPLENS_* by the interposer
// (interposer/config.h); the pool itself never reads the environment.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heaplens::pool {

enum class Backend : std::uint8_t {
  jemalloc,  // jemalloc's non-standard API (mallocx & co.): cannot recurse into our malloc
  system,    // glibc's allocator, reached through its __libc_* entry points
};

inline constexpr std::size_t kDefaultLargeThreshold = std::size_t{256} << 10;  // 256 KiB

struct Settings {
  Backend backend = Backend::jemalloc;
  // Requests of at least this many bytes take the large path (and are always recorded by
  // the tracker). Must be >= 1.
  std::size_t large_threshold = kDefaultLargeThreshold;
};

const char* backend_name(Backend b);

}  // namespace heaplens::pool
