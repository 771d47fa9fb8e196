// One-line diagnostics on stderr from inside the host process.
//
// Not spdlog: its registry and sinks allocate and take locks, and these lines are written
// from inside malloc, possibly before libc finished starting. fmt formats into a stack
// buffer and one write(2) emits the line, so it neither allocates nor interleaves.
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace heaplens {

inline void write_line(const char* text, std::size_t len) noexcept {
  int saved = errno;
  while (len > 0) {
    ssize_t n = ::write(STDERR_FILENO, text, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text += n;
    len -= static_cast<std::size_t>(n);
  }
  errno = saved;
}

template <typename... Args>
void log_line(fmt::format_string<Args...> f, Args&&... args) noexcept {
  char buf[512];
  constexpr std::size_t kPrefix = sizeof("heaplens: ") - 1;
  std::memcpy(buf, "heaplens: ", kPrefix);
  auto r = fmt::format_to_n(buf + kPrefix, sizeof(buf) - kPrefix - 1, f, std::forward<Args>(args)...);
  std::size_t n = kPrefix + (r.size < sizeof(buf) - kPrefix - 1 ? r.size : sizeof(buf) - kPrefix - 1);
  buf[n++] = '\n';
  write_line(buf, n);
}

}  // namespace heaplens
