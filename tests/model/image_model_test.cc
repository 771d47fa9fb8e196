#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "image_model.h"
#include "stream.h"
#include "trace_model.h"

using heaplens::model::ImageModel;
using heaplens::model::ImageState;
using heaplens::test::Stream;
namespace wire = heaplens::wire;
namespace trace = heaplens::trace;

namespace {

trace::ImageInfo full_info() { return heaplens::test::full_mode_image(100); }

const heaplens::model::LeakSite* site_of(const std::vector<heaplens::model::LeakSite>& v, std::uint32_t stack) {
  for (const auto& l : v)
    if (l.stack == stack) return &l;
  return nullptr;
}

}  // namespace

TEST_CASE("full mode: live set, leaks by stack, exact peak and who was live at it") {
  ImageModel m(full_info());
  Stream s;
  s.thread(1, 4242).time(1'000'000);
  s.alloc(0x1000, 100, 1).alloc(0x2000, 200, 2).alloc(0x3000, 300, 1);  // live 600
  s.time(2'000'000).free_(0x2000);                                       // 400
  s.alloc(0x4000, 1000, 3);                                              // 1400 = peak
  s.time(5'000'000).free_(0x4000).free_(0x1000);                         // 300
  s.alloc(0x5000, 50, 2);                                                // 350
  s.end(6'000'000);
  m.on_records(s.records());

  CHECK(m.state() == ImageState::kExited);
  CHECK(m.end_ns() == 6'000'000);
  CHECK(m.peak_bytes().value == 1400);
  CHECK(m.peak_bytes().exact());
  CHECK(m.peak_time_ns() == 2'000'000);

  // At the peak: stack 1 held 0x1000 and 0x3000 (400), stack 3 held 1000, stack 2 nothing.
  const auto& sites = m.sites();
  CHECK(m.site_peak_bytes(sites.at(1)).value == 400);
  CHECK(m.site_peak_blocks(sites.at(1)).value == 2);
  CHECK(m.site_peak_bytes(sites.at(3)).value == 1000);
  CHECK(m.site_peak_bytes(sites.at(2)).value == 0);

  auto leaks = m.live_sites();
  REQUIRE(leaks.size() == 2);
  CHECK(leaks[0].stack == 1);  // largest first
  CHECK(leaks[0].bytes.value == 300);
  CHECK(leaks[0].blocks.value == 1);
  CHECK(site_of(leaks, 2)->bytes.value == 50);
  CHECK(sites.at(1).allocs.value == 2);
  CHECK(sites.at(1).alloc_bytes.value == 400);
  CHECK(m.threads().at(4242).allocs.value == 5);
  CHECK(m.threads().at(4242).frees.value == 3);
  CHECK(m.device(0).peak_bytes == 1400);
  CHECK(m.unknown_frees() == 0);
}

TEST_CASE("a site born after the peak has nothing live at it; a peak reached twice keeps the later one") {
  ImageModel m(full_info());
  Stream s;
  s.alloc(0x10, 500, 1).free_(0x10).alloc(0x20, 500, 2).alloc(0x30, 10, 3).free_(0x30);
  m.on_records(s.records());
  CHECK(m.peak_bytes().value == 510);
  CHECK(m.site_peak_bytes(m.sites().at(1)).value == 0);
  CHECK(m.site_peak_bytes(m.sites().at(2)).value == 500);
  CHECK(m.site_peak_bytes(m.sites().at(3)).value == 10);
}

TEST_CASE("realloc moves a block to the realloc's stack; failed realloc keeps the old block") {
  ImageModel m(full_info());
  Stream s;
  s.alloc(0x100, 10, 1).realloc_(0x100, 0x200, 20, 2).realloc_(0x200, 0x300, 40, 3);
  m.on_records(s.records());
  auto leaks = m.live_sites();
  REQUIRE(leaks.size() == 1);
  CHECK(leaks[0].stack == 3);
  CHECK(leaks[0].bytes.value == 40);
  CHECK(m.peak_bytes().value == 40);
  // Reallocs are not temporary allocations even when quick.
  CHECK(m.sites().at(1).temporary.value == 0);
}

TEST_CASE("temporary allocations: freed within the same millisecond tick or the next") {
  ImageModel m(full_info());
  Stream s;
  s.time(10'000'000).alloc(0x1, 8, 1).alloc(0x2, 8, 2).time(11'000'000).free_(0x1).time(13'000'000).free_(0x2);
  m.on_records(s.records());
  CHECK(m.sites().at(1).temporary.value == 1);
  CHECK(m.sites().at(2).temporary.value == 0);
}

TEST_CASE("frees of unknown blocks and records after End are counted, not applied") {
  ImageModel m(full_info());
  Stream s;
  s.alloc(0x1, 8, 1).free_(0x999).end(1).free_(0x1).alloc(0x2, 8, 1);
  m.on_records(s.records());
  CHECK(m.unknown_frees() == 1);
  CHECK(m.malformed() == 2);
  REQUIRE(m.live_sites().size() == 1);
  CHECK(m.live_sites()[0].bytes.value == 8);
}

TEST_CASE("an address allocated twice retires the first block (its free was lost)") {
  ImageModel m(full_info());
  Stream s;
  s.alloc(0x1, 100, 1).alloc(0x1, 30, 2);
  m.on_records(s.records());
  CHECK(m.lost_frees() == 1);
  auto leaks = m.live_sites();
  REQUIRE(leaks.size() == 1);
  CHECK(leaks[0].stack == 2);
  CHECK(m.device(0).live_bytes.value == 30);
}

TEST_CASE("sizes beyond 16 GiB arrive through Ext records") {
  ImageModel m(full_info());
  Stream s;
  std::uint64_t huge = std::uint64_t{40} << 30;
  s.alloc(0x1, huge, 1);
  m.on_records(s.records());
  CHECK(m.live_sites().at(0).bytes.value == static_cast<double>(huge));
}

TEST_CASE("devices are kept apart; the host peak ignores device memory") {
  ImageModel m(full_info());
  Stream s;
  s.alloc(0x1, 100, 1, 0, 1, 0).alloc(0x2, 5000, 2, 0, 1, 1).device_free(1, 0x2);
  m.on_records(s.records());
  CHECK(m.device(0).peak_bytes == 100);
  CHECK(m.device(1).peak_bytes == 5000);
  CHECK(m.peak_bytes().value == 100);
}

TEST_CASE("sampled mode: Horvitz-Thompson estimates are unbiased and their error bounds hold") {
  // Simulate the producer's Poisson sampler over a known population and check that the
  // estimated leaked bytes and blocks land within the reported ~95 % bound in most trials.
  const std::uint64_t interval = 64 << 10;
  trace::ImageInfo info;
  info.mode = static_cast<std::uint32_t>(wire::Mode::kSampled);
  info.sample_interval = interval;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint64_t> size_dist(16, 4096);
  int inside = 0;
  const int trials = 200;
  for (int t = 0; t < trials; ++t) {
    ImageModel m(info);
    Stream s;
    double true_bytes = 0, true_blocks = 0;
    std::uint64_t addr = 0x1000;
    for (int i = 0; i < 20000; ++i) {
      std::uint64_t size = size_dist(rng);
      true_bytes += static_cast<double>(size);
      true_blocks += 1;
      double p = -std::expm1(-static_cast<double>(size) / interval);
      if (std::uniform_real_distribution<double>(0, 1)(rng) < p) s.alloc(addr, size, 1 + (i % 7), wire::kFlagSampled);
      addr += 8192;
    }
    m.on_records(s.records());
    heaplens::model::Estimate bytes, blocks;
    for (const auto& l : m.live_sites()) {
      bytes += l.bytes;
      blocks += l.blocks;
    }
    CHECK_FALSE(bytes.exact());
    if (std::fabs(bytes.value - true_bytes) <= bytes.error()) ++inside;
    CHECK(std::fabs(blocks.value - true_blocks) < 0.5 * true_blocks);
  }
  // ~95 % coverage expected; allow for the variance estimate's own noise.
  CHECK(inside >= trials * 88 / 100);
}

TEST_CASE("unsampled records in sampled mode (large blocks) are exact") {
  trace::ImageInfo info;
  info.mode = static_cast<std::uint32_t>(wire::Mode::kSampled);
  info.sample_interval = 512 << 10;
  ImageModel m(info);
  Stream s;
  s.alloc(0x1, 1 << 20, 1).alloc(0x2, 100, 2, wire::kFlagSampled);
  m.on_records(s.records());
  auto leaks = m.live_sites();
  const auto* big = site_of(leaks, 1);
  REQUIRE(big);
  CHECK(big->bytes.exact());
  CHECK(big->bytes.value == 1 << 20);
  const auto* small = site_of(leaks, 2);
  REQUIRE(small);
  CHECK_FALSE(small->bytes.exact());
  CHECK(small->blocks.value > 1000);  // 1/p with p ~ 100/512Ki
}

TEST_CASE("trace model: an image that vanished while a later image of its pid exists was exec'd") {
  heaplens::model::TraceModel t;
  trace::ImageInfo a = full_info(), b = full_info(), c = full_info();
  a.image = 0;
  b.image = 1;
  b.image_of_pid = 1;
  c.image = 2;
  c.pid = 200;
  t.on_image(a);
  t.on_image(b);
  t.on_image(c);
  t.on_image_end({0, trace::ImageEndHow::kVanished, 5, 0, 0, ""});
  t.on_image_end({2, trace::ImageEndHow::kVanished, 5, 0, 0, ""});
  Stream s;
  s.end(9);
  t.on_records(1, s.records());
  t.on_image_end({1, trace::ImageEndHow::kExited, 9, 0, 0, ""});
  t.finish();
  CHECK(t.images()[0]->state() == ImageState::kExec);
  CHECK(t.images()[1]->state() == ImageState::kExited);
  CHECK(t.images()[2]->state() == ImageState::kVanished);
  // Chunks for images never introduced are ignored, never a crash.
  t.on_records(77, s.records());
  t.on_image({});
}
