#include "session_name.h"

#include <fmt/format.h>

#include <cstring>

namespace heaplens::session_name {

bool format(char* out, std::size_t size, std::uint32_t uid, std::int64_t pid, std::uint32_t n) {
  if (size == 0) return false;
  auto r = fmt::format_to_n(out, size - 1, "/{}{}-{}-{}", kPrefix, uid, pid, n);
  if (r.size >= size) return false;
  out[r.size] = '\0';
  return true;
}

namespace {

// Reads a decimal number ending at `end` (the char after it); no sign, no leading zeros
// beyond "0", at most 19 digits.
bool number(const char*& s, char end, std::uint64_t* out) {
  const char* start = s;
  std::uint64_t v = 0;
  while (*s >= '0' && *s <= '9') {
    if (s - start >= 19) return false;
    v = v * 10 + static_cast<std::uint64_t>(*s - '0');
    ++s;
  }
  if (s == start || *s != end || (*start == '0' && s - start > 1)) return false;
  *out = v;
  return true;
}

}  // namespace

bool parse(const char* name, std::uint32_t* uid, std::int64_t* pid, std::uint32_t* n) {
  if (name == nullptr) return false;
  if (*name == '/') ++name;
  std::size_t prefix = std::strlen(kPrefix);
  if (std::strncmp(name, kPrefix, prefix) != 0) return false;
  const char* s = name + prefix;
  std::uint64_t u = 0, p = 0, k = 0;
  if (!number(s, '-', &u) || u > UINT32_MAX) return false;
  ++s;
  if (!number(s, '-', &p) || p == 0 || p > INT32_MAX) return false;
  ++s;
  if (!number(s, '\0', &k) || k > UINT32_MAX) return false;
  *uid = static_cast<std::uint32_t>(u);
  *pid = static_cast<std::int64_t>(p);
  *n = static_cast<std::uint32_t>(k);
  return true;
}

}  // namespace heaplens::session_name
