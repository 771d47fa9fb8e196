// Device memory in the model: blocks keyed by (device, address), exact per-device figures and
// kinds, host figures untouched by device blocks, the caching pool's counters, and the
// side-by-side summary every front end shows.
#include <catch2/catch.hpp>

#include "device_summary.h"
#include "image_model.h"
#include "stream.h"

using heaplens::model::ImageModel;
using heaplens::model::KindStats;
using heaplens::test::Stream;
namespace model = heaplens::model;
namespace wire = heaplens::wire;
namespace trace = heaplens::trace;
using Kind = wire::DeviceKind;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint32_t kCuda0 = wire::kDeviceCudaFirst, kCuda1 = wire::kDeviceCudaFirst + 1;

const KindStats& kind(const ImageModel& m, std::uint32_t device, Kind k) {
  return m.device(device).kinds[static_cast<std::size_t>(k)];
}

}  // namespace

TEST_CASE("host and device blocks at the same address do not collide") {
  ImageModel m(heaplens::test::full_mode_image(1));
  Stream s;
  s.time(1 * kMs).alloc(0x1000, 100, 1);                          // host
  s.device_alloc(kCuda0, 0x1000, 4096, 2, Kind::kPinnedHost);       // pinned host memory, same number
  s.device_alloc(kCuda1, 0x1000, 8192, 3, Kind::kVmm);              // a VMM handle, same number
  s.time(2 * kMs).free_(0x1000);                                    // the host block only
  m.on_records(s.records());
  CHECK(m.lost_frees() == 0);
  CHECK(m.unknown_frees() == 0);
  CHECK(m.live_count() == 0);
  CHECK(m.device_live_count() == 2);
  CHECK(m.device(0).live_bytes.value == 0);
  CHECK(m.device(kCuda0).live_bytes.value == 4096);
  CHECK(m.device(kCuda1).live_bytes.value == 8192);

  Stream t;
  t.time(3 * kMs).device_free(kCuda1, 0x1000);  // only cuda:1's
  m.on_records(t.records());
  CHECK(m.device(kCuda0).live_bytes.value == 4096);
  CHECK(m.device(kCuda1).live_bytes.value == 0);
  CHECK(m.device(kCuda1).frees.value == 1);
  auto sites = m.device_live_sites();
  REQUIRE(sites.size() == 1);
  CHECK(sites[0].device == kCuda0);
  CHECK(sites[0].kind == Kind::kPinnedHost);
}

TEST_CASE("a device free finds its block on another device, never a host block") {
  ImageModel m(heaplens::test::full_mode_image(1));
  Stream s;
  s.alloc(0x7000, 10, 1).device_alloc(kCuda1, 0x9000, 64, 2, Kind::kDevice);
  // cudaFree after cudaSetDevice(0): the record names the current device, not the block's.
  s.device_free(kCuda0, 0x9000);
  // A device free of a host block's number is not the host block's.
  s.device_free(kCuda0, 0x7000);
  m.on_records(s.records());
  CHECK(m.device(kCuda1).live_bytes.value == 0);
  CHECK(m.device(0).live_bytes.value == 10);
  CHECK(m.unknown_frees() == 1);
}

TEST_CASE("per-device figures are exact: allocations, frees, peak and its time, kinds") {
  ImageModel m(heaplens::test::full_mode_image(1));
  Stream s;
  s.time(1 * kMs).device_alloc(kCuda0, 0xd000, 1000, 1, Kind::kDevice);
  s.device_alloc(kCuda0, 0xe000, 300, 2, Kind::kManaged);           // cuda:0 1300
  s.time(2 * kMs).device_alloc(kCuda0, 0xf000, 700, 1, Kind::kDevice);  // 2000 = peak
  s.time(3 * kMs).device_free(kCuda0, 0xd000);                      // 1000
  s.device_alloc(kCuda0, 0x10000, 900, 3, Kind::kAsync, 0x5eed);    // 1900: below the peak
  s.device_alloc(kCuda1, 0xd000, 50, 1, Kind::kArray);
  s.end(4 * kMs);
  m.on_records(s.records());

  const model::DeviceStats& d = m.device(kCuda0);
  CHECK(d.used);
  CHECK(d.allocs.value == 4);
  CHECK(d.alloc_bytes.value == 2900);
  CHECK(d.frees.value == 1);
  CHECK(d.live_bytes.value == 1900);
  CHECK(d.live_blocks.value == 3);
  CHECK(d.peak_bytes == 2000);
  CHECK(d.peak_time_ns == 2 * kMs);
  CHECK(d.allocs.exact());
  CHECK(kind(m, kCuda0, Kind::kDevice).allocs == 2);
  CHECK(kind(m, kCuda0, Kind::kDevice).alloc_bytes == 1700);
  CHECK(kind(m, kCuda0, Kind::kDevice).peak_bytes == 1700);
  CHECK(kind(m, kCuda0, Kind::kDevice).live_bytes == 700);
  CHECK(kind(m, kCuda0, Kind::kManaged).live_bytes == 300);
  CHECK(kind(m, kCuda0, Kind::kAsync).peak_bytes == 900);
  CHECK(m.device(kCuda1).peak_bytes == 50);
  CHECK(kind(m, kCuda1, Kind::kArray).live_blocks == 1);

  // Leak sites per device, by kind.
  auto sites = m.device_live_sites();
  REQUIRE(sites.size() == 4);
  CHECK(sites[0].device == kCuda0);
  CHECK(sites[0].stack == 3);  // 900 bytes, largest first
  CHECK(sites[0].kind == Kind::kAsync);
  CHECK(sites[0].unconditional);
  CHECK(sites[3].device == kCuda1);
  CHECK(sites[3].bytes.value == 50);
  CHECK(m.live_sites().empty());  // no host leaks

  // The timeline: one exact series per device, none mixed into the host's.
  const model::Timeline& t = m.timeline();
  CHECK(t.host_live.empty());
  REQUIRE(t.device.count(kCuda0) == 1);
  CHECK(t.device.at(kCuda0).buckets().back().last == 1900);
  CHECK(t.device.at(kCuda1).buckets().back().last == 50);
}

TEST_CASE("a stack that allocated two kinds on one device is two leak sites") {
  ImageModel m(heaplens::test::full_mode_image(1));
  Stream s;
  s.device_alloc(kCuda0, 0x100, 10, 7, Kind::kDevice).device_alloc(kCuda0, 0x200, 20, 7, Kind::kManaged);
  s.device_alloc(kCuda0, 0x300, 30, 7, Kind::kDevice).device_alloc(kCuda1, 0x400, 40, 7, Kind::kDevice);
  m.on_records(s.records());
  auto sites = m.device_live_sites();
  REQUIRE(sites.size() == 3);
  CHECK(sites[0].device == kCuda0);
  CHECK(sites[0].kind == Kind::kDevice);
  CHECK(sites[0].bytes.value == 40);
  CHECK(sites[0].blocks.value == 2);
  CHECK(sites[0].largest == 30);
  CHECK(sites[1].device == kCuda1);
  CHECK(sites[2].kind == Kind::kManaged);
  // Born before 0: nothing (every block is at time 0).
  CHECK(m.device_live_sites(0).empty());
}

TEST_CASE("host figures ignore device memory: peak, sites, threads, sizes, rates, live at peak") {
  ImageModel m(heaplens::test::full_mode_image(1));
  Stream s;
  s.thread(1, 77).time(1 * kMs).alloc(0x10, 100, 1);
  s.time(2 * kMs).device_alloc(kCuda0, 0x20, 1 << 20, 2, Kind::kDevice);
  s.alloc(0x30, 50, 1);  // host peak 150 at 2 ms
  s.time(3 * kMs).free_(0x30).device_free(kCuda0, 0x20);
  m.on_records(s.records());
  CHECK(m.peak_bytes().value == 150);
  CHECK(m.peak_time_ns() == 2 * kMs);
  CHECK(m.sites().count(2) == 0);  // the device allocation's stack is no host site
  CHECK(m.site_peak_bytes(m.sites().at(1)).value == 150);
  CHECK(m.threads().at(77).allocs.value == 2);
  CHECK(m.threads().at(77).frees.value == 1);
  CHECK(m.sizes()[model::size_class(1 << 20)].allocs.value == 0);
  CHECK(m.timeline().allocs.total() == 2);
  CHECK(m.timeline().frees.total() == 1);
  CHECK(m.timeline().host_live.buckets().back().last == 100);
  CHECK(m.timeline().host_live.buckets().back().max <= 150);
  CHECK(m.device(kCuda0).peak_bytes == 1 << 20);
}

TEST_CASE("device allocations weigh 1 in a sampled recording") {
  trace::ImageInfo info = heaplens::test::full_mode_image(1);
  info.mode = static_cast<std::uint32_t>(wire::Mode::kSampled);
  info.sample_interval = 1 << 20;
  ImageModel m(info);
  Stream s;
  s.device_alloc(kCuda0, 0x100, 4096, 1, Kind::kDevice);
  // Even a device record flagged sampled (a producer bug) is not reweighted.
  s.alloc(0x200, 100, 1, wire::kFlagSampled, 1, kCuda0);
  m.on_records(s.records());
  CHECK(m.device(kCuda0).alloc_bytes.value == 4196);
  CHECK(m.device(kCuda0).alloc_bytes.exact());
  CHECK(m.device(kCuda0).allocs.value == 2);
  for (const auto& l : m.device_live_sites()) CHECK(l.unconditional);
}

TEST_CASE("a window counts the device allocations made in it") {
  ImageModel m(heaplens::test::full_mode_image(1), model::Window{2 * kMs, 4 * kMs});
  Stream s;
  s.time(1 * kMs).device_alloc(kCuda0, 0x100, 1000, 1, Kind::kDevice);
  s.time(3 * kMs).device_alloc(kCuda0, 0x200, 10, 1, Kind::kDevice).device_free(kCuda0, 0x100);
  s.time(5 * kMs).device_alloc(kCuda0, 0x300, 99, 1, Kind::kDevice);
  m.on_records(s.records());
  CHECK(m.device(kCuda0).allocs.value == 1);
  CHECK(m.device(kCuda0).live_bytes.value == 10);
  CHECK(m.unknown_frees() == 0);  // a free of a block from before the window is not unknown
}

TEST_CASE("the caching pool's counters come from the latest snapshot") {
  ImageModel m(heaplens::test::full_mode_image(1));
  CHECK_FALSE(m.device_pool(kCuda0).has_value());
  trace::StatsSnapshot st;
  st.set(trace::StatsField::kTimeNs, 5 * kMs);
  m.on_stats(st);
  CHECK_FALSE(m.device_pool(kCuda0).has_value());  // the pool was off

  m.on_stats(heaplens::test::pool_snapshot(1, {1000, 600, 550, 300, 3, 1, 2, 1}, 6 * kMs));
  auto p = m.device_pool(kCuda1);
  REQUIRE(p.has_value());
  CHECK(p->reserved_bytes == 1000);
  CHECK(p->in_use_bytes == 600);
  CHECK(p->requested_bytes == 550);
  CHECK(p->cached_bytes == 400);
  CHECK(p->largest_cached == 300);
  CHECK(p->hit_rate() == Approx(0.75));
  CHECK(p->fragmentation() == Approx(0.25));
  CHECK(p->driver_frees == 2);
  CHECK(p->trims == 1);
  REQUIRE(m.device_pool(kCuda0).has_value());  // on, nothing cached yet
  CHECK(m.device_pool(kCuda0)->hit_rate() == 0);
  CHECK(m.device_pool(kCuda0)->fragmentation() == 0);
  CHECK_FALSE(m.device_pool(wire::kDeviceHost).has_value());
  CHECK_FALSE(m.device_pool(wire::kDeviceCudaFirst + trace::kPoolDevices).has_value());
}

TEST_CASE("the device summary: host first, each used device by number, kinds and pool") {
  ImageModel m(heaplens::test::full_mode_image(1));
  Stream s;
  s.time(1 * kMs).device_alloc(kCuda1, 0x100, 64, 1, Kind::kManaged);
  s.device_alloc(kCuda0, 0x100, 32, 1, Kind::kDevice).alloc(0x100, 8, 1);
  m.on_records(s.records());
  m.on_stats(heaplens::test::pool_snapshot(0, {}));
  auto d = model::summarize_devices(m);
  REQUIRE(d.size() == 3);
  CHECK(d[0].name == "host");
  CHECK(d[0].peak_bytes.value == 8);
  CHECK(d[0].kinds.empty());
  CHECK_FALSE(d[0].pool.has_value());
  CHECK(d[1].name == "cuda:0");
  CHECK(d[1].peak_bytes.value == 32);
  CHECK(d[1].peak_time_ns == 1 * kMs);
  REQUIRE(d[1].kinds.size() == 1);
  CHECK(d[1].kinds[0].first == Kind::kDevice);
  CHECK(d[1].pool.has_value());
  CHECK(d[2].name == "cuda:1");
  CHECK(d[2].kinds[0].first == Kind::kManaged);
  CHECK(d[2].live_bytes.value == 64);
}
