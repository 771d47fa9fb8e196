// Names of session segments: "/heaplens-<uid>-<pid>-<n>" under POSIX shared memory
// (/dev/shm on Linux). <n> counts the images a pid ran (an exec keeps the pid and starts a
// new session). Formatting never allocates: the producer calls it inside malloc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heaplens::session_name {

inline constexpr const char* kPrefix = "heaplens-";
inline constexpr std::size_t kMaxName = 64;

// Writes "/heaplens-<uid>-<pid>-<n>" (NUL-terminated) into out; false if it does not fit.
bool format(char* out, std::size_t size, std::uint32_t uid, std::int64_t pid, std::uint32_t n);

// Parses a name with or without the leading '/'; false unless it is exactly of that form.
bool parse(const char* name, std::uint32_t* uid, std::int64_t* pid, std::uint32_t* n);

}  // namespace heaplens::session_name
