// Session segment names (shared/session_name.h): "/heaplens-<uid>-<pid>-<n>".
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include "session_name.h"

namespace name = heaplens::session_name;

namespace {

bool parses(const char* s) {
  std::uint32_t uid = 7, n = 7;
  std::int64_t pid = 7;
  bool ok = name::parse(s, &uid, &pid, &n);
  if (!ok) {
    // A refused name leaves the outputs alone.
    CHECK(uid == 7);
    CHECK(pid == 7);
    CHECK(n == 7);
  }
  return ok;
}

}  // namespace

TEST_CASE("session name: format and parse round-trip") {
  struct Case {
    std::uint32_t uid;
    std::int64_t pid;
    std::uint32_t n;
    const char* text;
  };
  Case cases[] = {
      {0, 1, 0, "/heaplens-0-1-0"},
      {1000, 4242, 3, "/heaplens-1000-4242-3"},
      {UINT32_MAX, INT32_MAX, UINT32_MAX, "/heaplens-4294967295-2147483647-4294967295"},
      {65534, 2, 999, "/heaplens-65534-2-999"},
  };
  for (const Case& c : cases) {
    char buf[name::kMaxName];
    REQUIRE(name::format(buf, sizeof(buf), c.uid, c.pid, c.n));
    CHECK(std::string(buf) == c.text);
    std::uint32_t uid = 0, n = 0;
    std::int64_t pid = 0;
    REQUIRE(name::parse(buf, &uid, &pid, &n));
    CHECK(uid == c.uid);
    CHECK(pid == c.pid);
    CHECK(n == c.n);
    // Without the leading slash too (a /dev/shm directory entry).
    uid = 0, pid = 0, n = 0;
    REQUIRE(name::parse(buf + 1, &uid, &pid, &n));
    CHECK(uid == c.uid);
    CHECK(pid == c.pid);
    CHECK(n == c.n);
  }
  // The longest name fits the documented maximum.
  CHECK(std::strlen("/heaplens-4294967295-2147483647-4294967295") < name::kMaxName);
}

TEST_CASE("session name: format refuses a buffer that is too small, exactly at the boundary") {
  const std::string want = "/heaplens-1000-4242-3";
  char buf[64];
  for (std::size_t size = 0; size <= want.size() + 1; ++size) {
    std::memset(buf, 'x', sizeof(buf));
    bool ok = name::format(buf, size, 1000, 4242, 3);
    INFO("size " << size);
    CHECK(ok == (size >= want.size() + 1));
    if (ok) CHECK(std::string(buf) == want);
    // Never writes past the buffer.
    for (std::size_t i = size; i < sizeof(buf); ++i) REQUIRE(buf[i] == 'x');
  }
}

TEST_CASE("session name: parse rejects everything else") {
  const char* junk[] = {
      "",
      "/",
      "heaplens-",
      "/heaplens-",
      "heaplens-1",
      "heaplens-1-",
      "heaplens-1-2",
      "heaplens-1-2-",
      "heaplens-a-2-3",
      "heaplens-1-b-3",
      "heaplens-1-2-c",
      "heaplens-1-2-3x",
      "heaplens-1-2-3-4",
      "heaplens-1-2-3 ",
      " heaplens-1-2-3",
      "heaplens--1-2-3",
      "heaplens-1--2-3",
      "heaplens-+1-2-3",
      "heaplens-01-2-3",   // leading zeros
      "heaplens-1-02-3",
      "heaplens-1-2-03",
      "heaplens-00-2-3",
      "heaplens-1-0-3",    // pid 0
      "heaplens-4294967296-2-3",        // uid overflow
      "heaplens-1-2147483648-3",        // pid over INT32_MAX
      "heaplens-1-2-4294967296",        // n overflow
      "heaplens-1-2-18446744073709551616",  // 2^64
      "heaplens-1-2-99999999999999999999",  // 20 digits
      "heaplens-1-2-123456789012345678901234567890",
      "heaplen-1-2-3",     // missing prefix
      "Heaplens-1-2-3",
      "xheaplens-1-2-3",
      "//heaplens-1-2-3",
      "/dev/shm/heaplens-1-2-3",
      "heaplens-1-2-3\n",
      "heaplens_1_2_3",
  };
  for (const char* s : junk) {
    INFO("'" << s << "'");
    CHECK_FALSE(parses(s));
  }
  CHECK_FALSE(name::parse(nullptr, nullptr, nullptr, nullptr));
  // Sanity: the checker itself accepts good names.
  CHECK(parses("heaplens-0-1-0"));
  CHECK(parses("/heaplens-0-1-0"));
  CHECK(parses("heaplens-4294967295-2147483647-4294967295"));
}
