// The viewer's figures over time, size classes and range filtering, on synthetic streams
// with known answers.
#include <catch2/catch.hpp>

#include "image_model.h"
#include "stream.h"
#include "timeline.h"

using heaplens::model::ImageModel;
using heaplens::model::LevelSeries;
using heaplens::model::RateSeries;
using heaplens::model::Window;
constexpr std::uint64_t kMs = 1'000'000;
using heaplens::test::Stream;
namespace model = heaplens::model;
namespace wire = heaplens::wire;
namespace trace = heaplens::trace;

namespace {

trace::ImageInfo full_info() { return heaplens::test::full_mode_image(7); }

}  // namespace

TEST_CASE("a level series keeps min, max and last per millisecond bucket") {
  LevelSeries s;
  s.add(10'100'000, 5);
  s.add(10'200'000, 9);
  s.add(10'999'999, 2);
  s.add(12'100'000, 7);
  REQUIRE(s.buckets().size() == 2);
  CHECK(s.buckets()[0].t_ns == 10 * kMs);
  CHECK(s.buckets()[0].min == 2);
  CHECK(s.buckets()[0].max == 9);
  CHECK(s.buckets()[0].last == 2);
  CHECK(s.buckets()[1].t_ns == 12 * kMs);
  CHECK(s.buckets()[1].last == 7);
  CHECK(s.last() == 7);
  s.add(20 * kMs, NAN);
  s.add(20 * kMs, INFINITY);
  CHECK(s.buckets().size() == 2);
}

TEST_CASE("a level series stays bounded: it doubles its width and keeps the extremes") {
  LevelSeries s;
  // A sawtooth over 100 s sampled every 0.5 ms: 200000 samples.
  double top = 0;
  for (int i = 0; i < 200000; ++i) {
    double v = (i % 1000 == 999) ? 1e6 : i % 1000;
    top = std::max(top, v);
    s.add(static_cast<std::uint64_t>(i) * kMs / 2, v);
  }
  CHECK(s.buckets().size() <= model::kMaxBuckets);
  CHECK(s.buckets().size() >= model::kMaxBuckets / 4);
  CHECK(s.width_ns() > 20 * kMs);
  double max = 0, min = 1e18;
  for (std::size_t i = 0; i < s.buckets().size(); ++i) {
    max = std::max(max, s.buckets()[i].max);
    min = std::min(min, s.buckets()[i].min);
    if (i > 0) CHECK(s.buckets()[i].t_ns == s.buckets()[i - 1].t_ns + s.width_ns());
  }
  CHECK(max == 1e6);  // every spike survives coarsening
  CHECK(min == 0);
  CHECK(s.last() == 1e6);  // the last sample (i = 199999) is a spike
  CHECK(s.buckets().back().last == 1e6);
}

TEST_CASE("a rate series gives events per second, zero across gaps, and survives coarsening") {
  RateSeries r;
  r.add(100'000, 3);
  r.add(500'000, 2);     // 5 events in [0, 1 ms): 5000/s
  r.add(10'100'000, 1);  // gap, then 1 event in [10 ms, 11 ms)
  auto v = r.rates();
  REQUIRE(v.size() == 3);
  CHECK(v[0].last == Approx(5000));
  CHECK(v[1].t_ns == kMs);
  CHECK(v[1].last == 0);
  CHECK(v[2].t_ns == 10 * kMs);
  CHECK(v[2].last == Approx(1000));
  CHECK(r.total() == 6);

  RateSeries big;
  for (std::uint64_t i = 0; i < 100000; ++i) big.add(i * kMs, 2);  // 2000/s for 100 s
  CHECK(big.total() == 200000);
  auto b = big.rates();
  CHECK(b.size() <= model::kMaxBuckets + 1);
  for (std::size_t i = 0; i + 1 < b.size(); ++i) CHECK(b[i].last == Approx(2000));  // the last may be partial
}

TEST_CASE("the image timeline follows live bytes per device and allocation and free rates") {
  ImageModel m(full_info());
  Stream s;
  s.time(1 * kMs).alloc(0x10, 1000, 1).alloc(0x20, 500, 1);
  s.time(2 * kMs).alloc(0x30, 4096, 2, 0, 1, 3);  // device 3
  s.time(3 * kMs).free_(0x10);
  s.time(5 * kMs).free_(0x20).device_free(3, 0x30);
  m.on_records(s.records());
  const model::Timeline& t = m.timeline();
  const auto& host = t.host_live.buckets();
  REQUIRE(host.size() == 3);  // 1 ms, 3 ms, 5 ms
  CHECK(host[0].t_ns == kMs);
  CHECK(host[0].min == 1000);
  CHECK(host[0].max == 1500);
  CHECK(host[1].last == 500);
  CHECK(host[2].last == 0);
  REQUIRE(t.device.count(3) == 1);
  const auto& dev = t.device.at(3).buckets();
  REQUIRE(dev.size() == 2);
  CHECK(dev[0].last == 4096);
  CHECK(dev[1].last == 0);
  CHECK(t.allocs.total() == 2);  // the rates are the host's
  CHECK(t.frees.total() == 2);
}

TEST_CASE("counter snapshots give exact live bytes, overhead between snapshots and fragmentation") {
  ImageModel m(full_info());
  auto snap = [&](std::uint64_t ms, std::uint64_t live, std::uint64_t tracker, std::uint64_t cpu, std::uint64_t alloc,
                  std::uint64_t active) {
    trace::StatsSnapshot s;
    s.set(trace::StatsField::kTimeNs, ms * kMs);
    s.set(trace::StatsField::kLiveBytes, live);
    s.set(trace::StatsField::kTrackerNs, tracker);
    s.set(trace::StatsField::kProcessCpuNs, cpu);
    s.set(trace::StatsField::kHeapAllocated, alloc);
    s.set(trace::StatsField::kHeapActive, active);
    s.set(trace::StatsField::kRecordsDropped, ms);
    m.on_stats(s);
  };
  snap(100, 4096, 10, 1000, 3000, 4000);
  snap(200, 8192, 30, 2000, 6000, 8000);  // 20 tracker ns of 1000 CPU ns: 2 %
  const model::Timeline& t = m.timeline();
  REQUIRE(t.counter_live.buckets().size() == 2);
  CHECK(t.counter_live.last() == 8192);
  REQUIRE(t.overhead_pct.buckets().size() == 1);
  CHECK(t.overhead_pct.last() == Approx(2.0));
  CHECK(t.fragmentation_pct.last() == Approx(25.0));
  CHECK(t.dropped.last() == 200);
  CHECK(m.have_stats());
}

TEST_CASE("size classes count allocations and what is still live by power of two") {
  ImageModel m(full_info());
  Stream s;
  s.time(kMs).alloc(0x10, 0, 1).alloc(0x20, 1, 1).alloc(0x30, 24, 1).alloc(0x40, 31, 1).alloc(0x50, 32, 1);
  s.free_(0x40);
  m.on_records(s.records());
  const auto& h = m.sizes();
  CHECK(model::size_class(0) == 0);
  CHECK(model::size_class(1) == 1);
  CHECK(model::size_class(31) == 5);
  CHECK(model::size_class(32) == 6);
  CHECK(model::size_class(UINT64_MAX) == 64);
  CHECK(model::size_class_floor(6) == 32);
  CHECK(h[0].allocs.value == 1);
  CHECK(h[1].allocs.value == 1);
  CHECK(h[5].allocs.value == 2);  // 24 and 31
  CHECK(h[5].bytes.value == 55);
  CHECK(h[5].live_blocks.value == 1);
  CHECK(h[5].live_bytes.value == 24);
  CHECK(h[6].live_bytes.value == 32);
}

TEST_CASE("a window counts only the allocations made in it, live as at its end") {
  Stream s;
  s.time(1 * kMs).alloc(0x10, 100, 1);   // before the window
  s.time(3 * kMs).alloc(0x20, 200, 2);   // in, freed in
  s.time(4 * kMs).alloc(0x30, 300, 3);   // in, freed after
  s.time(5 * kMs).free_(0x20).free_(0x10);
  s.time(8 * kMs).alloc(0x40, 400, 4);   // after
  s.time(9 * kMs).free_(0x30);
  ImageModel whole(full_info());
  whole.on_records(s.records());
  ImageModel in(full_info(), Window{2 * kMs, 6 * kMs});
  in.on_records(s.records());

  CHECK(whole.sites().size() == 4);
  REQUIRE(in.sites().size() == 2);
  CHECK(in.sites().at(2).allocs.value == 1);
  CHECK(in.sites().at(2).live_bytes.value == 0);
  CHECK(in.sites().at(3).live_bytes.value == 300);  // still live at 6 ms
  CHECK(in.unknown_frees() == 0);                    // 0x10 was born before the window
  auto live = in.live_sites();
  REQUIRE(live.size() == 1);
  CHECK(live[0].stack == 3);
  CHECK(in.peak_bytes().value == 500);

  // The time cursor: everything up to 4.5 ms.
  ImageModel upto(full_info(), Window{0, 4 * kMs + kMs / 2});
  upto.on_records(s.records());
  auto at = upto.live_sites();
  CHECK(at.size() == 3);
  CHECK(upto.device(0).live_bytes.value == 600);
}

TEST_CASE("leaks older than an age: live blocks born before a time") {
  ImageModel m(full_info());
  Stream s;
  s.time(1 * kMs).alloc(0x10, 100, 1).time(5 * kMs).alloc(0x20, 200, 2).time(9 * kMs).alloc(0x30, 300, 1);
  m.on_records(s.records());
  auto old = m.live_sites(6 * kMs);
  REQUIRE(old.size() == 2);
  CHECK(old[0].stack == 2);
  CHECK(old[1].stack == 1);
  CHECK(old[1].bytes.value == 100);
  CHECK(m.live_sites().size() == 2);
  CHECK(m.live_sites()[0].bytes.value == 400);
  CHECK(m.live_sites(0).empty());
}
