// The viewer's view model without GL: what the panels get from synthetic record streams with
// known answers — site rows, leaks by age, call trees, and range filtering through the model
// thread re-reading a trace.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "model_worker.h"
#include "stream.h"
#include "trace_model.h"
#include "trace_writer.h"
#include "view_builder.h"

namespace gui = heaplens::gui;
namespace model = heaplens::model;
namespace trace = heaplens::trace;
namespace wire = heaplens::wire;
using heaplens::test::Stream;

namespace {

constexpr std::uint64_t kMs = 1'000'000;

trace::ImageInfo full_image() {
  trace::ImageInfo i = heaplens::test::full_mode_image(4321);
  i.executable = "/usr/bin/synthetic";
  return i;
}

// Stacks: 1 = a <- main, 2 = b <- a <- main, 3 = c <- main (pcs 0xa0, 0xb0, 0xc0, main 0xf0).
void add_stacks(trace::TraceVisitor& v) {
  v.on_stack({0, 1, {0xa0, 0xf0}});
  v.on_stack({0, 2, {0xb0, 0xa0, 0xf0}});
  v.on_stack({0, 3, {0xc0, 0xf0}});
  for (std::uint64_t pc : {0xa0, 0xb0, 0xc0, 0xf0}) {
    trace::SymbolDef s;
    s.image = 0;
    s.pc = pc;
    s.function = pc == 0xa0 ? "a" : pc == 0xb0 ? "b" : pc == 0xc0 ? "c" : "main";
    s.file = "synthetic.c";
    s.line = static_cast<std::uint32_t>(pc);
    v.on_symbol(s);
  }
}

Stream workload() {
  Stream s;
  s.time(1 * kMs).alloc(0x1000, 1000, 1).alloc(0x2000, 2000, 2);  // 3000 live
  s.time(10 * kMs).alloc(0x3000, 4000, 3);                          // 7000 = peak
  s.time(20 * kMs).free_(0x3000);                                  // 3000
  s.time(30 * kMs).alloc(0x4000, 500, 2).free_(0x1000);             // 2500
  return s;
}

const gui::SiteView* site(const gui::SitesView& v, std::uint32_t stack) {
  for (const auto& s : v.sites)
    if (s.stack == stack) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("site rows carry symbolized names and every figure of the model") {
  model::TraceModel m;
  m.on_image(full_image());
  add_stacks(m);
  m.on_records(0, workload().records());
  model::FrameResolver frames(false);
  gui::SitesView v = gui::build_sites(*m.image(0), frames);
  REQUIRE(v.sites.size() == 3);
  CHECK(v.window.whole());
  const gui::SiteView* b = site(v, 2);
  REQUIRE(b != nullptr);
  CHECK(b->function == "b");
  CHECK(b->location == "synthetic.c:176");
  CHECK(b->live_bytes.value == 2500);
  CHECK(b->live_blocks.value == 2);
  CHECK(b->allocs.value == 2);
  CHECK(b->alloc_bytes.value == 2500);
  CHECK(b->peak_bytes.value == 2000);  // live at the 7000-byte peak
  CHECK(b->live_bytes.exact());
  CHECK(site(v, 3)->peak_bytes.value == 4000);
  CHECK(site(v, 3)->live_bytes.value == 0);
  CHECK(v.sites.front().stack == 2);  // largest live first

  gui::HeaderView h = gui::build_header(m, 0);
  CHECK(h.have_image);
  CHECK(h.info.pid == 4321);
  CHECK(h.peak.value == 7000);
  CHECK(h.peak_time_ns == 10 * kMs);
  CHECK(h.live_bytes.value == 2500);
  CHECK(h.sites == 3);
  CHECK(h.live_blocks == 2);
}

TEST_CASE("leaks by age: only blocks older than the chosen age") {
  model::TraceModel m;
  m.on_image(full_image());
  add_stacks(m);
  m.on_records(0, workload().records());
  model::FrameResolver frames(false);
  gui::LeaksView all = gui::build_leaks(*m.image(0), frames, 0);
  CHECK(all.bytes.value == 2500);
  CHECK(all.blocks.value == 2);
  REQUIRE(all.leaks.size() == 1);  // both live blocks are stack 2's
  CHECK(all.leaks[0].function == "b");
  CHECK_FALSE(all.exited);
  // Now is 30 ms: older than 10 ms leaves the block born at 1 ms.
  gui::LeaksView old = gui::build_leaks(*m.image(0), frames, 10 * kMs);
  CHECK(old.bytes.value == 2000);
  CHECK(old.blocks.value == 1);
  gui::LeaksView none = gui::build_leaks(*m.image(0), frames, 60 * kMs);
  CHECK(none.leaks.empty());
}

TEST_CASE("devices: a live series each beside the host's, leak rows with device and kind, header totals") {
  using Kind = wire::DeviceKind;
  model::TraceModel m;
  m.on_image(full_image());
  add_stacks(m);
  Stream s = workload();  // host: 7000 peak at 10 ms, 2500 live at the end
  s.time(31 * kMs).device_alloc(1, 0x1000, 1 << 20, 3, Kind::kDevice);  // cuda:0, the host's 0x1000 too
  s.time(33 * kMs).device_alloc(2, 0x2000, 4096, 3, Kind::kManaged).device_alloc(2, 0x3000, 100, 3, Kind::kDevice);
  s.time(34 * kMs).device_free(2, 0x2000);
  m.on_records(0, s.records());
  m.on_stats(heaplens::test::pool_snapshot(0, {2 << 20, 0, 0, 0, 0, 0, 0, 0}));
  const model::ImageModel& im = *m.image(0);

  gui::TimelineView t = gui::build_timeline(im);
  CHECK(t.host_live.back().last == 2500);  // no device bytes in the host's series
  CHECK(t.host_live.back().max <= 7000);
  REQUIRE(t.device_live.size() == 2);
  CHECK(t.device_live.at(1).back().last == 1 << 20);
  CHECK(t.device_live.at(2).front().max == 4196);
  CHECK(t.device_live.at(2).back().last == 100);

  model::FrameResolver frames(false);
  gui::LeaksView l = gui::build_leaks(im, frames, 0);
  CHECK(l.bytes.value == 2500);  // the host's
  CHECK(l.device_bytes.value == (1 << 20) + 100);
  CHECK(l.device_blocks.value == 2);
  REQUIRE(l.leaks.size() == 3);
  CHECK(l.leaks[0].device == 1);  // largest first, whatever the memory
  CHECK(l.leaks[0].kind == Kind::kDevice);
  CHECK(l.leaks[0].function == "c");
  CHECK(l.leaks[0].largest == 1 << 20);
  CHECK(l.leaks[1].device == wire::kDeviceHost);
  CHECK(l.leaks[2].device == 2);
  // Older than 2 ms (now is 34 ms): the host's blocks and cuda:0's, not cuda:1's young one.
  gui::LeaksView old = gui::build_leaks(im, frames, 2 * kMs);
  CHECK(old.blocks.value == 2);
  CHECK(old.device_blocks.value == 1);

  gui::HeaderView h = gui::build_header(m, 0);
  CHECK(h.live_bytes.value == 2500);
  CHECK(h.peak.value == 7000);
  REQUIRE(h.devices.size() == 3);
  CHECK(h.devices[0].name == "host");
  CHECK(h.devices[1].name == "cuda:0");
  CHECK(h.devices[1].peak_bytes.value == 1 << 20);
  REQUIRE(h.devices[1].pool.has_value());
  CHECK(h.devices[1].pool->reserved_bytes == 2 << 20);
  CHECK(h.devices[2].name == "cuda:1");
  CHECK(h.devices[2].peak_bytes.value == 4196);
  CHECK(h.devices[2].live_bytes.value == 100);
  CHECK(h.devices[2].kinds.size() == 2);
}

TEST_CASE("call trees over function names: top-down from main, bottom-up from the allocating function") {
  model::TraceModel m;
  m.on_image(full_image());
  add_stacks(m);
  Stream s;
  s.time(kMs).alloc(0x1000, 100, 1).alloc(0x2000, 200, 2).alloc(0x3000, 300, 3).alloc(0x4000, 50, 2);
  m.on_records(0, s.records());
  model::FrameResolver frames(false);
  gui::TreeView t = gui::build_tree(*m.image(0), frames, true);
  auto label = [&](const gui::CallTree& tree, std::uint32_t n) { return t.labels[tree.nodes[n].key]; };
  const auto& td_roots = t.top_down.nodes[gui::kRootNode].children;
  const auto& bu_roots = t.bottom_up.nodes[gui::kRootNode].children;
  // Top-down: main (650) -> a (350: self 100, b 250), c (300).
  REQUIRE(td_roots.size() == 1);
  const auto& root = t.top_down.nodes[td_roots[0]];
  CHECK(label(t.top_down, td_roots[0]) == "main");
  CHECK(root.total == 650);
  CHECK(root.self == 0);
  REQUIRE(root.children.size() == 2);
  const auto& a = t.top_down.nodes[root.children[0]];
  CHECK(label(t.top_down, root.children[0]) == "a");
  CHECK(a.total == 350);
  CHECK(a.self == 100);
  REQUIRE(a.children.size() == 1);
  CHECK(t.top_down.nodes[a.children[0]].total == 250);
  // Bottom-up: roots are the allocating functions: c 300, b 250, a 100.
  REQUIRE(bu_roots.size() == 3);
  CHECK(label(t.bottom_up, bu_roots[0]) == "c");
  CHECK(t.bottom_up.nodes[bu_roots[0]].total == 300);
  CHECK(label(t.bottom_up, bu_roots[1]) == "b");
  CHECK(t.bottom_up.nodes[bu_roots[1]].total == 250);

  gui::TreeView allocated = gui::build_tree(*m.image(0), frames, false);
  CHECK(allocated.top_down.root_total() == 650);
}

TEST_CASE("the model thread reads a trace, publishes it, and filters a time range by re-reading it") {
  std::string path = (std::filesystem::temp_directory_path() / ("heaplens-vm-test." + std::to_string(getpid()) + ".trace")).string();
  {
    std::string error;
    auto w = trace::TraceWriter::create(path, &error);
    REQUIRE(w);
    w->add_image(full_image());
    struct Sink : trace::TraceVisitor {
      trace::TraceWriter* w;
      void on_stack(const trace::StackDef& s) override { w->add_stack(s); }
      void on_symbol(const trace::SymbolDef& s) override { w->add_symbol(s); }
    } sink;
    sink.w = w.get();
    add_stacks(sink);
    w->add_records(0, workload().records());
    REQUIRE(w->close());
  }
  gui::SourceSpec spec;
  spec.kind = gui::SourceSpec::Kind::kFile;
  spec.target = path;
  gui::ModelWorker worker(spec);
  worker.start();
  auto wait_for = [](auto pred) {
    for (int i = 0; i < 500 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pred();
  };
  REQUIRE(wait_for([&] {
    auto s = worker.snapshot();
    return worker.done() && s.header && s.header->source_done && s.sites;
  }));
  gui::Snapshot s = worker.snapshot();
  CHECK(s.header->peak.value == 7000);
  CHECK(s.sites->sites.size() == 3);
  REQUIRE(s.timeline);
  CHECK(s.timeline->host_live.back().last == 2500);
  CHECK(s.header->problem.empty());

  // Allocations made in [5 ms, 25 ms]: only stack 3's 4000 bytes, freed at 20 ms.
  gui::ViewRequest r;
  r.window = {5 * kMs, 25 * kMs};
  r.want_tree = true;
  worker.request(r);
  REQUIRE(wait_for([&] { return worker.filtered().sites != nullptr; }));
  gui::Snapshot f = worker.filtered();
  REQUIRE(f.sites->sites.size() == 1);
  CHECK(f.sites->sites[0].stack == 3);
  CHECK(f.sites->sites[0].alloc_bytes.value == 4000);
  CHECK(f.sites->sites[0].live_bytes.value == 0);
  CHECK(f.leaks->leaks.empty());
  REQUIRE(f.tree);
  CHECK(f.tree->top_down.root_total() == 0);  // nothing from the range is live at its end

  // The time cursor at 15 ms: everything allocated so far, live as then.
  r.window = {0, 15 * kMs};
  worker.request(r);
  REQUIRE(wait_for([&] {
    auto x = worker.filtered();
    return x.sites != nullptr && x.sites->window.to_ns == 15 * kMs;
  }));
  f = worker.filtered();
  CHECK(f.sites->sites.size() == 3);
  CHECK(f.leaks->bytes.value == 7000);
  CHECK(f.header->peak.value == 7000);

  // A selected stack is symbolized in full.
  r.stack = 2;
  worker.request(r);
  REQUIRE(wait_for([&] { return worker.snapshot().stack != nullptr; }));
  auto st = worker.snapshot().stack;
  REQUIRE(st->frames.size() == 3);
  CHECK(st->frames[0].function == "b");
  CHECK(st->frames[2].function == "main");
  worker.stop();
  worker.join();
  std::filesystem::remove(path);
}
