#include "config.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>

namespace heaplens {
namespace {

bool iequals(const char* a, const char* b) noexcept {
  for (; *a && *b; ++a, ++b) {
    char x = (*a >= 'A' && *a <= 'Z') ? char(*a + 32) : *a;
    char y = (*b >= 'A' && *b <= 'Z') ? char(*b + 32) : *b;
    if (x != y) return false;
  }
  return *a == *b;
}

template <typename... Args>
void add_problem(ConfigProblems* p, fmt::format_string<Args...> f, Args&&... args) noexcept {
  if (p == nullptr || p->count >= ConfigProblems::kMax) return;
  char* line = p->lines[p->count++];
  auto r = fmt::format_to_n(line, ConfigProblems::kLine - 1, f, std::forward<Args>(args)...);
  line[r.size < ConfigProblems::kLine - 1 ? r.size : ConfigProblems::kLine - 1] = '\0';
}

// Quoted values are cut short in messages: the environment is not ours to echo at length.
struct Shown {
  char text[48];
  explicit Shown(const char* v) noexcept {
    std::size_t n = std::strlen(v);
    if (n < sizeof(text)) {
      std::memcpy(text, v, n + 1);
    } else {
      std::memcpy(text, v, sizeof(text) - 4);
      std::memcpy(text + sizeof(text) - 4, "...", 4);
    }
  }
};

constexpr const char* kKnown[] = {"HEAPLENS_ALLOCATOR",   "HEAPLENS_LARGE_THRESHOLD",
                                  "HEAPLENS_SUMMARY",     "HEAPLENS_MODE",
                                  "HEAPLENS_SAMPLE_INTERVAL", "HEAPLENS_ON_FULL",
                                  "HEAPLENS_RING_SIZE",   "HEAPLENS_KEEP_SESSION",
                                  "HEAPLENS_RUN_ID",      "HEAPLENS_CUDA",
                                  "HEAPLENS_CUDA_POOL"};

bool parse_run_id(const char* v, std::uint64_t* out) noexcept {
  std::uint64_t x = 0;
  int n = 0;
  for (; *v != '\0'; ++v, ++n) {
    int d = (*v >= '0' && *v <= '9') ? *v - '0' : (*v >= 'a' && *v <= 'f') ? *v - 'a' + 10
          : (*v >= 'A' && *v <= 'F') ? *v - 'A' + 10 : -1;
    if (d < 0 || n == 16) return false;
    x = (x << 4) | static_cast<std::uint64_t>(d);
  }
  *out = x;
  return true;
}

void parse_tracker(EnvGet get, TrackerConfig* t, ConfigProblems* problems) noexcept {
  if (const char* v = get("HEAPLENS_MODE"); v != nullptr && *v != '\0') {
    if (iequals(v, "sampled")) {
      t->mode = pool::RecordMode::sampled;
    } else if (iequals(v, "full")) {
      t->mode = pool::RecordMode::full;
    } else if (iequals(v, "off")) {
      t->mode = pool::RecordMode::off;
    } else {
      add_problem(problems, "HEAPLENS_MODE='{}' is not sampled, full or off; using sampled", Shown(v).text);
    }
  }
  if (const char* v = get("HEAPLENS_SAMPLE_INTERVAL"); v != nullptr && *v != '\0') {
    std::size_t size = 0;
    if (parse_size(v, &size) && size > 0 && size <= (std::size_t{1} << 40)) {
      t->sample_interval = size;
    } else {
      add_problem(problems,
                  "HEAPLENS_SAMPLE_INTERVAL='{}' is not a size in 1..1TiB (e.g. 4096, 64K, 1MiB); "
                  "using {}KiB",
                  Shown(v).text, kDefaultSampleInterval >> 10);
    }
  }
  if (const char* v = get("HEAPLENS_ON_FULL"); v != nullptr && *v != '\0') {
    if (iequals(v, "drop")) {
      t->wait_when_full = false;
    } else if (iequals(v, "wait")) {
      t->wait_when_full = true;
    } else {
      add_problem(problems, "HEAPLENS_ON_FULL='{}' is not drop or wait; using drop", Shown(v).text);
    }
  }
  if (const char* v = get("HEAPLENS_RING_SIZE"); v != nullptr && *v != '\0') {
    std::size_t size = 0;
    if (parse_size(v, &size) && size >= 4096 && size <= (std::size_t{1} << 36) && (size & (size - 1)) == 0) {
      t->ring_bytes = size;
    } else {
      add_problem(problems,
                  "HEAPLENS_RING_SIZE='{}' is not a power of two in 4KiB..64GiB (e.g. 1MiB, 64M); "
                  "using 1MiB",
                  Shown(v).text);
    }
  }
  if (const char* v = get("HEAPLENS_KEEP_SESSION"); v != nullptr && *v != '\0') {
    if (!parse_bool(v, &t->keep_session))
      add_problem(problems, "HEAPLENS_KEEP_SESSION='{}' is not 0/1/true/false/yes/no/on/off; using 0",
                  Shown(v).text);
  }
  if (const char* v = get("HEAPLENS_RUN_ID"); v != nullptr && *v != '\0') {
    if (!parse_run_id(v, &t->run_id))
      add_problem(problems, "HEAPLENS_RUN_ID='{}' is not 1..16 hex digits; using none", Shown(v).text);
  }
}

}  // namespace

bool parse_size(const char* text, std::size_t* out) noexcept {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  unsigned long long value = 0;
  const char* s = text;
  for (; *s >= '0' && *s <= '9'; ++s) {
    if (__builtin_mul_overflow(value, 10ULL, &value) ||
        __builtin_add_overflow(value, static_cast<unsigned long long>(*s - '0'), &value))
      return false;
  }
  unsigned shift = 0;
  if (*s != '\0') {
    switch (*s) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      default: return false;
    }
    const char* rest = s + 1;
    if (!(*rest == '\0' || iequals(rest, "iB") || iequals(rest, "B"))) return false;
  }
  if (shift && value > (std::numeric_limits<unsigned long long>::max() >> shift)) return false;
  value <<= shift;
  if (value > std::numeric_limits<std::size_t>::max()) return false;
  *out = static_cast<std::size_t>(value);
  return true;
}

bool parse_bool(const char* text, bool* out) noexcept {
  if (text == nullptr) return false;
  for (const char* t : {"1", "true", "yes", "on"})
    if (iequals(text, t)) return *out = true, true;
  for (const char* f : {"0", "false", "no", "off"})
    if (iequals(text, f)) return *out = false, true;
  return false;
}

Config parse_config(EnvGet get, const char* const* names, ConfigProblems* problems) noexcept {
  Config c;
  if (const char* v = get("HEAPLENS_ALLOCATOR"); v != nullptr && *v != '\0') {
    if (iequals(v, "jemalloc")) {
      c.pool.backend = pool::Backend::jemalloc;
    } else if (iequals(v, "system")) {
      c.pool.backend = pool::Backend::system;
    } else {
      add_problem(problems, "HEAPLENS_ALLOCATOR='{}' is not jemalloc or system; using jemalloc",
                  Shown(v).text);
    }
  }
  if (const char* v = get("HEAPLENS_LARGE_THRESHOLD"); v != nullptr && *v != '\0') {
    std::size_t size = 0;
    if (parse_size(v, &size) && size > 0) {
      c.pool.large_threshold = size;
    } else {
      add_problem(problems,
                  "HEAPLENS_LARGE_THRESHOLD='{}' is not a size > 0 (e.g. 262144, 256K, 1MiB); "
                  "using 256KiB",
                  Shown(v).text);
    }
  }
  if (const char* v = get("HEAPLENS_SUMMARY"); v != nullptr && *v != '\0') {
    if (!parse_bool(v, &c.summary))
      add_problem(problems, "HEAPLENS_SUMMARY='{}' is not 0/1/true/false/yes/no/on/off; using 0",
                  Shown(v).text);
  }
  parse_tracker(get, &c.tracker, problems);
  if (const char* v = get("HEAPLENS_CUDA"); v != nullptr && *v != '\0') {
    if (!parse_bool(v, &c.cuda.enabled))
      add_problem(problems, "HEAPLENS_CUDA='{}' is not 0/1/true/false/yes/no/on/off; using 1", Shown(v).text);
  }
  if (const char* v = get("HEAPLENS_CUDA_POOL"); v != nullptr && *v != '\0') {
    if (!parse_bool(v, &c.cuda.pool))
      add_problem(problems, "HEAPLENS_CUDA_POOL='{}' is not 0/1/true/false/yes/no/on/off; using 0", Shown(v).text);
  }
  c.cuda.pool = c.cuda.pool && c.cuda.enabled;
  c.tracker.cuda_pool = c.cuda.pool;
  for (; names != nullptr && *names != nullptr; ++names) {
    const char* entry = *names;
    if (std::strncmp(entry, "HEAPLENS_", 9) != 0) continue;
    const char* eq = std::strchr(entry, '=');
    std::size_t len = eq ? static_cast<std::size_t>(eq - entry) : std::strlen(entry);
    bool known = false;
    for (const char* k : kKnown) known |= (std::strlen(k) == len && std::strncmp(k, entry, len) == 0);
    if (!known) {
      char name[48];
      std::size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
      std::memcpy(name, entry, n);
      name[n] = '\0';
      add_problem(problems, "unknown setting {} ignored (see docs/configuration.md)", name);
    }
  }
  return c;
}

}  // namespace heaplens
