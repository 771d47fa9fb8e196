// The report's device side without running a program: a synthetic trace model with host and
// CUDA leaks goes through build_report and each rendering (JSON per the CUDA contract, text,
// JUnit) and check's verdict with host and device limits and suppressions.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "render.h"
#include "stream.h"
#include "trace_model.h"

namespace cli = heaplens::cli;
namespace model = heaplens::model;
namespace trace = heaplens::trace;
namespace wire = heaplens::wire;
using heaplens::test::Stream;
using json = nlohmann::ordered_json;  // keys in the order they were written
using Kind = wire::DeviceKind;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint32_t kCuda0 = wire::kDeviceCudaFirst, kCuda1 = wire::kDeviceCudaFirst + 1;

// Stacks: 1 = leaky_host <- main, 2 = cuda_leak <- main, 3 = third_party_gpu <- main.
void add_stacks(trace::TraceVisitor& v) {
  const char* names[] = {"", "leaky_host", "cuda_leak", "third_party_gpu"};
  for (std::uint32_t id = 1; id <= 3; ++id) v.on_stack({0, id, {0xa0 + 0x10 * id, 0xf0}});
  for (std::uint64_t pc : {0xb0, 0xc0, 0xd0, 0xf0}) {
    trace::SymbolDef s;
    s.pc = pc;
    s.function = pc == 0xf0 ? "main" : names[(pc - 0xa0) / 0x10];
    s.file = "app.cu";
    s.line = static_cast<std::uint32_t>(pc);
    v.on_symbol(s);
  }
}

// Host: 100 bytes leaked at stack 1. cuda:0: 4096 device bytes leaked at stack 2 and 512 managed
// bytes at stack 3 (suppressed when asked). cuda:1: 1024 async bytes, freed. The pool is on.
void workload(model::TraceModel& m) {
  trace::ImageInfo info = heaplens::test::full_mode_image(4321);
  info.executable = "/opt/bin/gpu_app";
  m.on_command({{"/opt/bin/gpu_app"}, "/", 0});
  m.on_image(info);
  add_stacks(m);
  Stream s;
  s.time(1 * kMs).alloc(0x1000, 100, 1);
  s.device_alloc(kCuda0, 0x1000, 4096, 2, Kind::kDevice);
  s.time(2 * kMs).device_alloc(kCuda0, 0x2000, 512, 3, Kind::kManaged);
  s.device_alloc(kCuda1, 0x3000, 1024, 2, Kind::kAsync, 0x77);
  s.time(3 * kMs).device_free(kCuda1, 0x3000);
  s.end(4 * kMs);
  m.on_records(0, s.records());
  m.on_stats(heaplens::test::pool_snapshot(0, {8192, 4096, 4096, 3072, 3, 1, 0, 0}, 4 * kMs));
  m.on_exit({4321, 0});
}

struct Built {
  model::TraceModel m;
  model::FrameResolver frames{false};
  model::Suppressions suppressions;
  model::Report rep;
  explicit Built(const char* suppress = nullptr) {
    workload(m);
    std::string error;
    if (suppress != nullptr) REQUIRE(suppressions.load_text(suppress, "test", &error));
    rep = model::build_report(m, frames, suppressions, model::ReportOptions{});
  }
};

std::vector<std::string> keys(const json& j) {
  std::vector<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
  return k;
}

std::string text_of(const model::Report& rep) {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  cli::render_text(rep, model::ReportOptions{}, f);
  std::fclose(f);
  std::string s(buf, size);
  std::free(buf);
  return s;
}

constexpr std::uint64_t kAny = UINT64_MAX;

}  // namespace

TEST_CASE("device leaks are apart from the host's, per device, with suppressions applied") {
  Built b("leak:third_party_gpu\n");
  const model::Report& rep = b.rep;
  REQUIRE(rep.images.size() == 1);
  const model::ImageReport& r = rep.images[0];
  CHECK(r.leaks.bytes.value == 100);
  REQUIRE(r.leaks.sites.size() == 1);
  CHECK(r.leaks.sites[0].stack == 1);
  CHECK(r.peak.value == 100);
  for (const auto* rows : {&r.peak_sites, &r.top_bytes, &r.top_count})
    for (const auto& row : *rows) CHECK(row.stack == 1);
  CHECK(rep.leaked_bytes.value == 100);
  CHECK(rep.device_leaked_bytes.value == 4096);
  CHECK(rep.device_leaked_blocks.value == 1);
  CHECK(rep.device_suppressed_bytes.value == 512);

  REQUIRE(r.devices.size() == 3);
  CHECK(r.devices[0].device == wire::kDeviceHost);
  const model::DeviceRow& c0 = r.devices[1];
  CHECK(c0.name == "cuda:0");
  REQUIRE(c0.leaks.sites.size() == 1);
  CHECK(c0.leaks.sites[0].kind == Kind::kDevice);
  REQUIRE(c0.leaks.suppressed.size() == 1);
  CHECK(c0.leaks.suppressed[0].suppressed_by->pattern == "third_party_gpu");
  CHECK(b.suppressions.all()[0].bytes == 512);
  CHECK(r.devices[2].leaks.sites.empty());

  Built plain;
  CHECK(plain.rep.device_leaked_bytes.value == 4608);
  CHECK(plain.rep.device_leaked_blocks.value == 2);
}

TEST_CASE("report JSON: a devices entry per memory, host first, as the contract shapes it") {
  Built b("leak:third_party_gpu\n");
  cli::CheckVerdict v = cli::judge(b.rep, {kAny, kAny, 4096, 1}, 0, 23);
  json root = json::parse(cli::render_json(b.rep, model::ReportOptions{}, &v));
  const json& p = root["processes"][0];
  // Host-only figures stay host-only.
  CHECK(p["leaks"]["bytes"] == 100);
  REQUIRE(p["leaks"]["sites"].size() == 1);
  CHECK_FALSE(p["leaks"]["sites"][0].contains("device"));
  CHECK(p["peak"]["bytes"] == 100);

  const json& devices = p["devices"];
  REQUIRE(devices.size() == 3);
  const json& host = devices[0];
  CHECK(keys(host) == std::vector<std::string>{"device", "name", "allocations", "bytes", "frees", "peak_bytes",
                                               "peak_time_ns", "live_bytes", "live_blocks", "leaks"});
  CHECK(host["device"] == 0);
  CHECK(host["name"] == "host");
  json process_totals = p["leaks"];
  process_totals.erase("sites");
  CHECK(host["leaks"] == process_totals);

  const json& c0 = devices[1];
  CHECK(keys(c0) == std::vector<std::string>{"device", "name", "allocations", "bytes", "frees", "peak_bytes",
                                             "peak_time_ns", "live_bytes", "live_blocks", "leaks", "by_kind", "pool"});
  CHECK(c0["device"] == 1);
  CHECK(c0["name"] == "cuda:0");
  CHECK(c0["allocations"] == 2);
  CHECK(c0["bytes"] == 4608);
  CHECK(c0["frees"] == 0);
  CHECK(c0["peak_bytes"] == 4608);
  CHECK(c0["peak_time_ns"] == 2 * kMs);
  CHECK(c0["live_bytes"] == 4608);
  CHECK(c0["live_blocks"] == 2);
  const json& leaks = c0["leaks"];
  CHECK(keys(leaks) == std::vector<std::string>{"bytes", "blocks", "exact", "suppressed_bytes", "suppressed_blocks", "sites"});
  CHECK(leaks["bytes"] == 4096);
  CHECK(leaks["blocks"] == 1);
  CHECK(leaks["exact"] == true);
  CHECK(leaks["suppressed_bytes"] == 512);
  CHECK(leaks["suppressed_blocks"] == 1);
  REQUIRE(leaks["sites"].size() == 2);
  const json& site = leaks["sites"][0];
  CHECK(site["device"] == 1);
  CHECK(site["device_name"] == "cuda:0");
  CHECK(site["kind"] == "device");
  CHECK(site["suppressed_by"] == nullptr);
  CHECK(site["stack"][0]["function"] == "cuda_leak");
  CHECK(leaks["sites"][1]["kind"] == "managed");
  CHECK(leaks["sites"][1]["suppressed_by"] == "leak:third_party_gpu");
  CHECK(keys(c0["by_kind"]) == std::vector<std::string>{"device", "managed"});
  CHECK(c0["by_kind"]["device"] == json{{"allocations", 1}, {"bytes", 4096}, {"live_bytes", 4096}, {"peak_bytes", 4096}});
  const json& pool = c0["pool"];
  CHECK(keys(pool) == std::vector<std::string>{"reserved_bytes", "in_use_bytes", "requested_bytes", "cached_bytes",
                                               "largest_cached", "hits", "misses", "hit_rate", "fragmentation",
                                               "driver_frees", "trims"});
  CHECK(pool["cached_bytes"] == 4096);
  CHECK(pool["hit_rate"].get<double>() == Approx(0.75));
  CHECK(pool["fragmentation"].get<double>() == Approx(0.25));

  const json& c1 = devices[2];
  CHECK(c1["name"] == "cuda:1");
  CHECK(c1["frees"] == 1);
  CHECK(c1["peak_bytes"] == 1024);
  CHECK(c1["live_bytes"] == 0);
  CHECK(c1["leaks"]["sites"].empty());
  CHECK(c1["by_kind"]["async"]["peak_bytes"] == 1024);

  CHECK(root["totals"]["leaked_bytes"] == 100);
  CHECK(root["totals"]["device_leaked_bytes"] == 4096);
  CHECK(root["totals"]["device_leaked_blocks"] == 1);
  CHECK(root["verdict"] == "clean");
  CHECK(root["thresholds"]["max_leaked_device_bytes"] == 4096);
  CHECK(root["thresholds"]["max_leaked_device_blocks"] == 1);
}

TEST_CASE("without the pool a device has no pool object; without devices, the host alone") {
  model::TraceModel m;
  m.on_image(heaplens::test::full_mode_image(1));
  Stream s;
  s.alloc(0x10, 8, 1).device_alloc(kCuda0, 0x10, 8, 1, Kind::kDevice).end(kMs);
  m.on_records(0, s.records());
  model::FrameResolver frames(false);
  model::Suppressions none;
  model::Report rep = model::build_report(m, frames, none, {});
  json root = json::parse(cli::render_json(rep, {}, nullptr));
  const json& devices = root["processes"][0]["devices"];
  REQUIRE(devices.size() == 2);
  CHECK_FALSE(devices[1].contains("pool"));

  model::TraceModel host_only;
  host_only.on_image(heaplens::test::full_mode_image(2));
  Stream h;
  h.alloc(0x10, 8, 1).end(kMs);
  host_only.on_records(0, h.records());
  model::Report hr = model::build_report(host_only, frames, none, {});
  json hj = json::parse(cli::render_json(hr, {}, nullptr));
  REQUIRE(hj["processes"][0]["devices"].size() == 1);
  CHECK(hj["processes"][0]["devices"][0]["name"] == "host");
  CHECK(hj["totals"]["device_leaked_bytes"] == 0);
}

TEST_CASE("check's verdict weighs host and device leaks against their own limits") {
  Built b;  // host 100 B / 1 block; devices 4608 B / 2 blocks
  using K = cli::CheckVerdict::Kind;
  auto verdict = [&](cli::LeakLimits l, int program_exit = 0) { return cli::judge(b.rep, l, program_exit, 23); };
  cli::CheckVerdict v = verdict({});
  CHECK(v.kind == K::kLeaks);
  CHECK(v.exit_code == 23);
  CHECK(v.host_over);
  CHECK(v.device_over);
  // Host allowed, devices at the default 0: still the leak exit code.
  v = verdict({kAny, kAny, 0, 0});
  CHECK(v.kind == K::kLeaks);
  CHECK_FALSE(v.host_over);
  CHECK(v.device_over);
  CHECK(verdict({kAny, kAny, 4608, 2}).kind == K::kClean);
  CHECK(verdict({kAny, kAny, 4607, kAny}).kind == K::kLeaks);  // one limit alone: the other unlimited
  CHECK(verdict({kAny, kAny, kAny, 1}).kind == K::kLeaks);
  CHECK(verdict({100, 1, kAny, kAny}).kind == K::kClean);
  CHECK(verdict({99, kAny, kAny, kAny}).kind == K::kLeaks);
  v = verdict({}, 3);
  CHECK(v.kind == K::kProgramFailed);
  CHECK(v.exit_code == 3);
  // Suppressed device sites do not count.
  Built suppressed("leak:third_party_gpu\nleak:cuda_leak\n");
  CHECK(cli::judge(suppressed.rep, {kAny, kAny, 0, 0}, 0, 23).kind == K::kClean);
}

TEST_CASE("JUnit: one testcase per device leak site, named with its device; each fails on its own limits") {
  Built b("leak:third_party_gpu\n");
  cli::CheckVerdict v = cli::judge(b.rep, {kAny, kAny, 0, 0}, 0, 23);
  std::string xml = cli::render_junit(b.rep, v, 1.0);
  INFO(xml);
  CHECK(xml.find("name=\"leak in leaky_host") != std::string::npos);
  CHECK(xml.find("name=\"leak on cuda:0 in cuda_leak") != std::string::npos);
  CHECK(xml.find("[gpu_app]") != std::string::npos);
  CHECK(xml.find("third_party_gpu") == std::string::npos);  // suppressed: no testcase
  CHECK(xml.find("tests=\"2\" failures=\"1\"") != std::string::npos);  // the host's is within its limits
  CHECK(xml.find("4096 bytes in 1 blocks of device memory leaked\"") != std::string::npos);
}

TEST_CASE("text report: a section per device with kinds, the pool and leak sites") {
  Built b;
  std::string text = text_of(b.rep);
  INFO(text);
  CHECK(text.find("cuda:0: 2 allocations (4.50 KiB), 0 frees, peak 4.50 KiB at 0.002 s, leaked 4.50 KiB in 2 blocks") !=
        std::string::npos);
  CHECK(text.find("by kind: device 1 allocation, 4.00 KiB, peak 4.00 KiB, live 4.00 KiB; managed 1 allocation") !=
        std::string::npos);
  CHECK(text.find("caching pool: reserved 8.00 KiB, in use 4.00 KiB (requested 4.00 KiB), cached 4.00 KiB, hit rate "
                  "75.0% (3 hits, 1 misses), fragmentation 25.0%") != std::string::npos);
  CHECK(text.find("#1 4.00 KiB in 1 block of device memory on cuda:0") != std::string::npos);
  CHECK(text.find("at cuda_leak") != std::string::npos);
  CHECK(text.find("cuda:1: 1 allocation (1.00 KiB), 1 free, peak 1.00 KiB at 0.002 s, leaked 0 B in 0 blocks") !=
        std::string::npos);
  // The host's leak line is the host's alone.
  CHECK(text.find("leaked at exit: 100 B in 1 blocks (exact)") != std::string::npos);
}
