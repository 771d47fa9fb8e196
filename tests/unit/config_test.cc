#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "config.h"

using heaplens::Config;
using heaplens::ConfigProblems;
using heaplens::parse_bool;
using heaplens::parse_config;
using heaplens::parse_size;
namespace pool = heaplens::pool;

namespace {

std::map<std::string, std::string> g_env;

const char* fake_get(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

struct Parsed {
  Config config;
  std::vector<std::string> problems;
};

Parsed parse(std::map<std::string, std::string> env) {
  g_env = std::move(env);
  std::vector<std::string> entries;
  for (auto& [k, v] : g_env) entries.push_back(k + "=" + v);
  std::vector<const char*> names;
  for (auto& e : entries) names.push_back(e.c_str());
  names.push_back(nullptr);
  ConfigProblems problems;
  Parsed out;
  out.config = parse_config(fake_get, names.data(), &problems);
  for (int i = 0; i < problems.count; ++i) out.problems.emplace_back(problems.lines[i]);
  return out;
}

}  // namespace

TEST_CASE("sizes parse with binary suffixes and reject junk") {
  std::size_t v = 0;
  CHECK((parse_size("0", &v) && v == 0));
  CHECK((parse_size("4096", &v) && v == 4096));
  CHECK((parse_size("256K", &v) && v == 256 * 1024));
  CHECK((parse_size("256k", &v) && v == 256 * 1024));
  CHECK((parse_size("1MiB", &v) && v == 1 << 20));
  CHECK((parse_size("2mb", &v) && v == 2 << 20));
  CHECK((parse_size("3G", &v) && v == 3ULL << 30));
  CHECK((parse_size("16EiB", &v) == false));
  CHECK_FALSE(parse_size("", &v));
  CHECK_FALSE(parse_size("-1", &v));
  CHECK_FALSE(parse_size("12 K", &v));
  CHECK_FALSE(parse_size("K", &v));
  CHECK_FALSE(parse_size("1.5M", &v));
  CHECK_FALSE(parse_size("1Kx", &v));
  CHECK_FALSE(parse_size("99999999999999999999999", &v));  // overflows 64 bits
  CHECK_FALSE(parse_size("17179869184G", &v));             // 2^64 after the shift
  CHECK_FALSE(parse_size(nullptr, &v));
}

TEST_CASE("booleans accept the usual spellings") {
  bool b = false;
  for (const char* t : {"1", "true", "TRUE", "yes", "On"}) CHECK((parse_bool(t, &b) && b));
  for (const char* f : {"0", "false", "No", "off"}) CHECK((parse_bool(f, &b) && !b));
  CHECK_FALSE(parse_bool("2", &b));
  CHECK_FALSE(parse_bool("", &b));
  CHECK_FALSE(parse_bool("yess", &b));
}

TEST_CASE("no settings give the documented defaults") {
  Parsed p = parse({{"PATH", "/bin"}});
  CHECK(p.config.pool.backend == pool::Backend::jemalloc);
  CHECK(p.config.pool.large_threshold == 256 * 1024);
  CHECK_FALSE(p.config.summary);
  CHECK(p.problems.empty());
}

TEST_CASE("valid settings are applied") {
  Parsed p = parse({{"HEAPLENS_ALLOCATOR", "System"},
                    {"HEAPLENS_LARGE_THRESHOLD", "1MiB"},
                    {"HEAPLENS_SUMMARY", "yes"}});
  CHECK(p.config.pool.backend == pool::Backend::system);
  CHECK(p.config.pool.large_threshold == 1 << 20);
  CHECK(p.config.summary);
  CHECK(p.problems.empty());
}

TEST_CASE("malformed values give one line each and the default") {
  Parsed p = parse({{"HEAPLENS_ALLOCATOR", "tcmalloc"},
                    {"HEAPLENS_LARGE_THRESHOLD", "0"},
                    {"HEAPLENS_SUMMARY", "maybe"}});
  CHECK(p.config.pool.backend == pool::Backend::jemalloc);
  CHECK(p.config.pool.large_threshold == 256 * 1024);
  CHECK_FALSE(p.config.summary);
  REQUIRE(p.problems.size() == 3);
  CHECK(p.problems[0] == "HEAPLENS_ALLOCATOR='tcmalloc' is not jemalloc or system; using jemalloc");
  CHECK(p.problems[1].find("HEAPLENS_LARGE_THRESHOLD='0'") == 0);
  CHECK(p.problems[2].find("HEAPLENS_SUMMARY='maybe'") == 0);
  for (auto& line : p.problems) CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("empty values count as unset") {
  Parsed p = parse({{"HEAPLENS_ALLOCATOR", ""}, {"HEAPLENS_LARGE_THRESHOLD", ""}});
  CHECK(p.config.pool.backend == pool::Backend::jemalloc);
  CHECK(p.problems.empty());
}

TEST_CASE("unknown HEAPLENS_ variables are reported, others ignored") {
  Parsed p = parse({{"HEAPLENS_SUMARY", "1"}, {"HEAPLENSX", "1"}, {"MY_HEAPLENS_X", "1"}});
  REQUIRE(p.problems.size() == 1);
  CHECK(p.problems[0] == "unknown setting HEAPLENS_SUMARY ignored (see docs/configuration.md)");
}

TEST_CASE("hostile values are cut short and never overflow the problem table") {
  std::string huge(100000, 'x');
  std::map<std::string, std::string> env{{"HEAPLENS_ALLOCATOR", huge}};
  for (int i = 0; i < 20; ++i) env["HEAPLENS_BOGUS_" + std::to_string(i)] = "1";
  Parsed p = parse(env);
  CHECK(p.problems.size() == ConfigProblems::kMax);
  for (auto& line : p.problems) CHECK(line.size() < ConfigProblems::kLine);
  CHECK(p.problems[0].find("...") != std::string::npos);
}

TEST_CASE("HEAPLENS_RUN_ID takes 1..16 hex digits") {
  CHECK(parse({{"HEAPLENS_RUN_ID", "1f"}}).config.tracker.run_id == 0x1f);
  CHECK(parse({{"HEAPLENS_RUN_ID", "FFFFFFFFFFFFFFFF"}}).config.tracker.run_id == UINT64_MAX);
  for (const char* bad : {"xyz", "12345678901234567", "-1", "0x12"}) {
    Parsed p = parse({{"HEAPLENS_RUN_ID", bad}});
    CHECK(p.config.tracker.run_id == 0);
    REQUIRE(p.problems.size() == 1);
    CHECK(p.problems[0].find("HEAPLENS_RUN_ID=") == 0);
  }
}

TEST_CASE("HEAPLENS_CUDA and HEAPLENS_CUDA_POOL") {
  Parsed d = parse({});
  CHECK(d.config.cuda.enabled);
  CHECK_FALSE(d.config.cuda.pool);
  CHECK_FALSE(d.config.tracker.cuda_pool);
  Parsed on = parse({{"HEAPLENS_CUDA_POOL", "1"}});
  CHECK(on.config.cuda.pool);
  CHECK(on.config.tracker.cuda_pool);  // the session header says so
  CHECK(on.problems.empty());
  // No hooks, no pool: the pool lives inside the hooks.
  Parsed off = parse({{"HEAPLENS_CUDA", "off"}, {"HEAPLENS_CUDA_POOL", "yes"}});
  CHECK_FALSE(off.config.cuda.enabled);
  CHECK_FALSE(off.config.cuda.pool);
  CHECK_FALSE(off.config.tracker.cuda_pool);
  Parsed bad = parse({{"HEAPLENS_CUDA", "gpu"}, {"HEAPLENS_CUDA_POOL", "2"}});
  CHECK(bad.config.cuda.enabled);
  CHECK_FALSE(bad.config.cuda.pool);
  REQUIRE(bad.problems.size() == 2);
  CHECK(bad.problems[0] == "HEAPLENS_CUDA='gpu' is not 0/1/true/false/yes/no/on/off; using 1");
  CHECK(bad.problems[1] == "HEAPLENS_CUDA_POOL='2' is not 0/1/true/false/yes/no/on/off; using 0");
}
