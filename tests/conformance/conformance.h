// Shared bits of the conformance tests: they run under LD_PRELOAD=libheaplens.so and reach
// heaplens's public API through weak symbols.
#pragma once

#include <heaplens/heaplens.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#pragma weak heaplens_get_counters
#pragma weak heaplens_version

inline bool heaplens_active() { return &heaplens_version != nullptr; }

inline heaplens_counters counters_now() {
  heaplens_counters c{};
  heaplens_get_counters(&c, sizeof(c));
  return c;
}

inline bool is_aligned(const void* p, std::size_t a) {
  return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

inline std::string expected_backend() {
  const char* b = std::getenv("HEAPLENS_ALLOCATOR");
  return b && *b ? b : "jemalloc";
}
