// Traces written by TraceWriter read back by read_trace: every chunk kind with edge values,
// the writer's caps, block splitting, records across many blocks, and traces still open.
#include <sys/stat.h>

#include <random>

#include "trace_test_util.h"

namespace heaplens::trace {
namespace {

using test::Both;
using test::Collector;
using test::TempDir;
constexpr std::uint64_t kMax64 = UINT64_MAX;

ImageInfo edge_image(std::uint32_t image) {
  ImageInfo i;
  i.image = image;
  i.pid = -1;
  i.ppid = INT64_MIN;
  i.image_of_pid = UINT32_MAX;
  i.mode = 1;
  i.on_full = 2;
  i.backend = UINT32_MAX;
  i.sample_interval = 0;
  i.large_threshold = kMax64;
  i.start_realtime_ns = kMax64 - 1;
  i.clock_base_ns = 1;
  i.executable = "/usr/bin/пример with spaces";
  i.session = "";
  return i;
}

void check_same(const ImageInfo& a, const ImageInfo& b) {
  CHECK(a.image == b.image);
  CHECK(a.pid == b.pid);
  CHECK(a.ppid == b.ppid);
  CHECK(a.image_of_pid == b.image_of_pid);
  CHECK(a.mode == b.mode);
  CHECK(a.on_full == b.on_full);
  CHECK(a.backend == b.backend);
  CHECK(a.sample_interval == b.sample_interval);
  CHECK(a.large_threshold == b.large_threshold);
  CHECK(a.start_realtime_ns == b.start_realtime_ns);
  CHECK(a.clock_base_ns == b.clock_base_ns);
  CHECK(a.executable == b.executable);
  CHECK(a.session == b.session);
}

void check_same(const ModuleDef& a, const ModuleDef& b) {
  CHECK(a.image == b.image);
  CHECK(a.load_bias == b.load_bias);
  CHECK(a.start == b.start);
  CHECK(a.end == b.end);
  CHECK(a.loaded_ns == b.loaded_ns);
  CHECK(a.unloaded_ns == b.unloaded_ns);
  CHECK(a.build_id == b.build_id);
  CHECK(a.path == b.path);
}

void check_same(const SymbolDef& a, const SymbolDef& b) {
  CHECK(a.image == b.image);
  CHECK(a.pc == b.pc);
  CHECK(a.line == b.line);
  CHECK(a.column == b.column);
  CHECK(a.function == b.function);
  CHECK(a.file == b.file);
  CHECK(a.module == b.module);
  REQUIRE(a.inlined.size() == b.inlined.size());
  for (std::size_t k = 0; k < a.inlined.size(); ++k) {
    CHECK(a.inlined[k].function == b.inlined[k].function);
    CHECK(a.inlined[k].file == b.inlined[k].file);
    CHECK(a.inlined[k].line == b.inlined[k].line);
  }
}

std::vector<wire::Record> random_records(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<wire::Record> r(n);
  for (auto& x : r) x = {rng(), rng()};
  return r;
}

// Record-like data: mostly small, repetitive fields, as a ring gives them.
std::vector<wire::Record> plausible_records(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<wire::Record> r(n);
  std::uint64_t addr = 0x7f0000000000;
  for (std::size_t k = 0; k < n; ++k) {
    wire::Fields f;
    f.op = (rng() & 1) != 0 ? wire::Op::kAlloc : wire::Op::kFree;
    f.thread = 1 + static_cast<std::uint32_t>(rng() % 8);
    f.stack = static_cast<std::uint32_t>(rng() % 5000);
    f.size = 16 << (rng() % 10);
    addr += 16 * (rng() % 64);
    f.address = addr;
    r[k] = wire::encode(f, k >> 16);
  }
  return r;
}

ReadResult read(const std::string& path, Collector* c) { return read_trace(path, *c); }

TEST_CASE("every chunk kind round-trips with edge values", "[trace]") {
  TempDir dir;
  std::string path = dir.file("all.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w != nullptr);
  Collector ref;
  Both both{*w, ref};

  CommandDef cmd;
  cmd.argv = {"prog", "", "--flag=ü", std::string("nul\0inside", 10)};
  cmd.cwd = "/";
  cmd.start_realtime_ns = kMax64;
  both.command(cmd);
  both.command(CommandDef{});  // no argv, empty cwd

  both.image(edge_image(0));
  ImageInfo other;
  other.image = UINT32_MAX;
  other.pid = INT64_MAX;
  both.image(other);

  std::vector<wire::Record> recs = {{0, 0}, {kMax64, kMax64}, {0x123456789abcdefULL, 42}};
  both.records(0, recs);
  both.records(UINT32_MAX, std::span(recs).first(1));
  REQUIRE(w->add_records(0, {}));  // nothing to write

  StackDef empty_stack;
  empty_stack.image = 0;
  empty_stack.id = 0;
  both.stack(empty_stack);
  StackDef deep;
  deep.image = UINT32_MAX;
  deep.id = UINT32_MAX;
  for (std::uint32_t k = 0; k < wire::kMaxFrames; ++k) deep.frames.push_back(k == 0 ? kMax64 : k * 0x1000);
  deep.frames.back() = 0;
  both.stack(deep);

  ModuleDef mod;
  mod.image = 0;
  mod.load_bias = kMax64;
  mod.start = 0;
  mod.end = kMax64;
  mod.loaded_ns = 1;
  mod.unloaded_ns = 0;
  both.module(mod);  // empty build-id and path
  mod.build_id.assign(wire::kBuildIdMax, 0xab);
  mod.build_id[0] = 0;
  mod.path = "/lib/x86_64-linux-gnu/libc.so.6";
  both.module(mod);

  StatsSnapshot st;
  st.image = 0;
  for (std::size_t k = 0; k < static_cast<std::size_t>(StatsField::kCount); ++k) st.v[k] = k == 3 ? kMax64 : k * 7;
  both.stats(st);

  for (ImageEndHow how :
       {ImageEndHow::kExited, ImageEndHow::kVanished, ImageEndHow::kCorrupt, ImageEndHow::kDetached}) {
    ImageEnd e;
    e.image = UINT32_MAX;
    e.how = how;
    e.end_ns = kMax64;
    e.torn_records = 0;
    e.malformed_records = 3;
    e.message = how == ImageEndHow::kCorrupt ? "ring slot 7: bad tag" : "";
    both.image_end(e);
  }

  SymbolDef sym;
  sym.image = 0;
  sym.pc = kMax64;
  both.symbol(sym);  // nothing known
  sym.pc = 0x401000;
  sym.line = UINT32_MAX;
  sym.column = 0;
  sym.function = "std::vector<int>::push_back(int const&)";
  sym.file = "/usr/include/c++/12/bits/stl_vector.h";
  sym.module = "/usr/bin/prog";
  sym.inlined = {{"inner()", "a.cc", 1}, {"", "", 0}, {"outer()", "b.cc", UINT32_MAX}};
  both.symbol(sym);

  both.exit(ExitDef{-42, -1});
  both.exit(ExitDef{INT64_MAX, 0x7f00});
  REQUIRE(w->close());
  CHECK(w->error().empty());

  Collector got;
  ReadResult r = read(path, &got);
  INFO(r.message);
  REQUIRE(r.status == ReadResult::Status::kComplete);
  CHECK(r.message.empty());
  CHECK(got.items == ref.items);
  CHECK(r.records == 4);
  CHECK(r.blocks == 1);
  CHECK(r.chunks == ref.items.size() - 4 + 2 + 1);  // records items -> 2 chunks, + End
  CHECK(r.file_bytes == std::filesystem::file_size(path));
  CHECK(w->bytes_written() == r.file_bytes);
  CHECK(w->raw_bytes() == r.raw_bytes);

  // Field by field as well: an encoder that forgot a field would still agree with itself.
  REQUIRE(got.commands.size() == 2);
  CHECK(got.commands[0].argv == cmd.argv);
  CHECK(got.commands[0].cwd == cmd.cwd);
  CHECK(got.commands[0].start_realtime_ns == kMax64);
  CHECK(got.commands[1].argv.empty());
  REQUIRE(got.images.size() == 2);
  check_same(got.images[0], edge_image(0));
  check_same(got.images[1], other);
  REQUIRE(got.records.size() == 4);
  CHECK(got.records[1].w0 == kMax64);
  CHECK(got.records[2].w0 == 0x123456789abcdefULL);
  CHECK(got.records[2].w1 == 42);
  REQUIRE(got.stacks.size() == 2);
  CHECK(got.stacks[0].frames.empty());
  CHECK(got.stacks[1].frames == deep.frames);
  CHECK(got.stacks[1].id == UINT32_MAX);
  REQUIRE(got.modules.size() == 2);
  check_same(got.modules[1], mod);
  CHECK(got.modules[0].build_id.empty());
  REQUIRE(got.stats.size() == 1);
  for (std::size_t k = 0; k < static_cast<std::size_t>(StatsField::kCount); ++k) CHECK(got.stats[0].v[k] == st.v[k]);
  REQUIRE(got.ends.size() == 4);
  CHECK(got.ends[2].how == ImageEndHow::kCorrupt);
  CHECK(got.ends[2].message == "ring slot 7: bad tag");
  CHECK(got.ends[3].how == ImageEndHow::kDetached);
  CHECK(got.ends[3].end_ns == kMax64);
  CHECK(got.ends[3].malformed_records == 3);
  REQUIRE(got.symbols.size() == 2);
  check_same(got.symbols[1], sym);
  CHECK(got.symbols[0].function.empty());
  REQUIRE(got.exits.size() == 2);
  CHECK(got.exits[0].pid == -42);
  CHECK(got.exits[0].wait_status == -1);
  CHECK(got.exits[1].pid == INT64_MAX);
  CHECK(looks_like_trace(path));
}

TEST_CASE("the writer cuts what the format cannot hold", "[trace]") {
  TempDir dir;
  std::string path = dir.file("caps.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w != nullptr);

  // An over-long string ends at kMaxString, without half a UTF-8 character.
  std::string long_name(kMaxString - 1, 'a');
  long_name += "é tail";  // 'é' is 2 bytes and straddles the limit
  ImageInfo img;
  img.image = 1;
  img.executable = long_name;
  img.session = std::string(kMaxString + 5, 's');
  REQUIRE(w->add_image(img));

  StackDef s;
  s.image = 1;
  for (std::uint64_t k = 0; k < 100; ++k) s.frames.push_back(k);
  REQUIRE(w->add_stack(s));

  ModuleDef m;
  m.image = 1;
  m.build_id.assign(40, 7);
  REQUIRE(w->add_module(m));

  SymbolDef sym;
  sym.image = 1;
  sym.inlined.resize(kMaxInlined + 10, InlineFrame{"f", "g", 1});
  REQUIRE(w->add_symbol(sym));
  // Inlined frames that would not fit in one chunk: the chunk keeps what fits.
  sym.inlined.assign(kMaxInlined, InlineFrame{std::string(kMaxString, 'f'), std::string(kMaxString, 'g'), 1});
  REQUIRE(w->add_symbol(sym));

  CommandDef c;
  c.argv.assign(kMaxArgs + 3, "x");
  REQUIRE(w->add_command(c));
  c.argv.assign(300, std::string(kMaxString, 'y'));  // 19 MiB of arguments
  REQUIRE(w->add_command(c));
  REQUIRE(w->close());

  Collector got;
  got.keep_items = false;
  ReadResult r = read(path, &got);
  INFO(r.message);
  REQUIRE(r.status == ReadResult::Status::kComplete);
  REQUIRE(got.images.size() == 1);
  CHECK(got.images[0].executable == std::string(kMaxString - 1, 'a'));
  CHECK(got.images[0].session.size() == kMaxString);
  REQUIRE(got.stacks.size() == 1);
  CHECK(got.stacks[0].frames.size() == wire::kMaxFrames);
  CHECK(got.stacks[0].frames.front() == 0);  // the innermost frames are the ones kept
  REQUIRE(got.modules.size() == 1);
  CHECK(got.modules[0].build_id == std::vector<std::uint8_t>(wire::kBuildIdMax, 7));
  REQUIRE(got.symbols.size() == 2);
  CHECK(got.symbols[0].inlined.size() == kMaxInlined);
  CHECK(got.symbols[1].inlined.size() < kMaxInlined);
  CHECK(got.symbols[1].inlined.size() > 100);
  REQUIRE(got.commands.size() == 2);
  CHECK(got.commands[0].argv.size() == kMaxArgs);
  CHECK(got.commands[1].argv.size() < 300);
  CHECK(got.commands[1].argv.size() > 200);
  // Each chunk fits in a block, so every block is within the limit.
  CHECK(r.raw_bytes <= r.blocks * kMaxBlockBytes);
}

TEST_CASE("records span many blocks, in order, aligned, whatever the chunk sizes", "[trace]") {
  TempDir dir;
  std::string path = dir.file("many.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w != nullptr);
  Collector ref;
  ref.keep_items = false;
  Both both{*w, ref};

  // An odd-length executable and stacks of 20 + 8n bytes put later Records payloads at offsets
  // that are not multiples of 8: the reader must hand them out aligned all the same.
  ImageInfo img;
  img.image = 7;
  img.executable = "odd";
  both.image(img);
  std::vector<wire::Record> all = plausible_records(1'000'000, 1);
  std::mt19937_64 rng(2);
  std::size_t at = 0;
  std::uint32_t stack_id = 1;
  while (at < all.size()) {
    std::size_t n = std::min<std::size_t>(all.size() - at, 1 + rng() % 150'000);
    both.records(7, std::span(all).subspan(at, n));
    at += n;
    StackDef s;
    s.image = 7;
    s.id = stack_id++;
    s.frames.assign(rng() % 10, 0x400000 + stack_id);
    both.stack(s);
  }
  // One call bigger than a block limit is split by the writer.
  std::vector<wire::Record> big = random_records(kMaxBlockBytes / sizeof(wire::Record) + 1000, 3);
  both.records(7, big);
  REQUIRE(w->close());

  Collector got;
  got.keep_items = false;
  ReadResult r = read(path, &got);
  INFO(r.message);
  REQUIRE(r.status == ReadResult::Status::kComplete);
  CHECK(r.blocks > 30);
  CHECK(r.records == all.size() + big.size());
  REQUIRE(got.records.size() == ref.records.size());
  CHECK(std::memcmp(got.records.data(), ref.records.data(), got.records.size() * sizeof(wire::Record)) == 0);
  CHECK(got.stacks.size() == ref.stacks.size());
  CHECK_FALSE(got.misaligned);
  CHECK(r.raw_bytes == w->raw_bytes());
  CHECK(r.file_bytes == w->bytes_written());
  // Plausible records compress; random ones (the last 16 MiB) do not.
  CHECK(w->bytes_written() < w->raw_bytes());
}

TEST_CASE("a trace can be read while its writer is open, up to its last flush", "[trace]") {
  TempDir dir;
  std::string path = dir.file("open.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w != nullptr);
  {
    Collector got;
    ReadResult r = read(path, &got);
    CHECK(r.status == ReadResult::Status::kTruncated);
    CHECK_THAT(r.message, Catch::Contains("ends early after 0 blocks"));
  }
  Collector ref;
  Both both{*w, ref};
  both.image(edge_image(0));
  both.records(0, plausible_records(100, 4));
  REQUIRE(w->flush());
  REQUIRE(w->flush());  // nothing pending: no empty block
  both.exit(ExitDef{1, 0});  // pending, not yet in the file
  {
    Collector got;
    ReadResult r = read(path, &got);
    CHECK(r.status == ReadResult::Status::kTruncated);
    CHECK(r.blocks == 1);
    CHECK_THAT(r.message, Catch::Contains("ends early after 1 block,") && Catch::Contains("End chunk") &&
                              Catch::Contains(path));
    CHECK(test::one_line(r.message));
    CHECK(got.items.size() == ref.items.size() - 1);
  }
  REQUIRE(w->close());
  Collector got;
  ReadResult r = read(path, &got);
  CHECK(r.status == ReadResult::Status::kComplete);
  CHECK(r.blocks == 2);
  CHECK(got.items == ref.items);
}

TEST_CASE("a writer destroyed without close() leaves its chunks, without an End", "[trace]") {
  TempDir dir;
  std::string path = dir.file("dropped.hltrace");
  Collector ref;
  {
    std::string error;
    auto w = TraceWriter::create(path, &error);
    REQUIRE(w != nullptr);
    Both both{*w, ref};
    both.image(edge_image(3));
    both.records(3, plausible_records(5000, 5));
  }
  Collector got;
  ReadResult r = read(path, &got);
  CHECK(r.status == ReadResult::Status::kTruncated);
  CHECK_THAT(r.message, Catch::Contains("without its End chunk"));
  CHECK(got.items == ref.items);
}

TEST_CASE("close() is final; a second close() says how the first went", "[trace]") {
  TempDir dir;
  std::string error;
  auto w = TraceWriter::create(dir.file("closed.hltrace"), &error);
  REQUIRE(w != nullptr);
  REQUIRE(w->add_image(edge_image(0)));
  REQUIRE(w->close());
  CHECK(w->close());
  CHECK_FALSE(w->add_exit(ExitDef{}));
  CHECK_FALSE(w->add_records(0, plausible_records(3, 1)));
  CHECK_FALSE(w->flush());
  CHECK(w->error().empty());
}

TEST_CASE("readers skip unknown chunk kinds and take the Stats fields they know", "[trace]") {
  TempDir dir;
  std::string path = dir.file("future.hltrace");
  using test::Raw;
  Raw fewer, more;
  fewer.u32(0).u32(3).u64(11).u64(12).u64(13);
  more.u32(0).u32(static_cast<std::uint32_t>(StatsField::kCount) + 2);
  for (std::uint32_t k = 0; k < static_cast<std::uint32_t>(StatsField::kCount) + 2; ++k) more.u64(100 + k);
  Raw body;
  body.bytes(test::image_chunk(0).data())
      .chunk(99, Raw().u64(1).u32(2).bytes("odd"))
      .chunk(0, Raw())
      .chunk(ChunkKind::kStats, fewer)
      .chunk(ChunkKind::kStats, more)
      .chunk(UINT32_MAX, Raw().bytes(std::string(1000, 'z')))
      .bytes(test::end_chunk().data());
  test::spit(path, test::file_header() + test::frame(body.data()));
  Collector got;
  ReadResult r = read(path, &got);
  INFO(r.message);
  REQUIRE(r.status == ReadResult::Status::kComplete);
  CHECK(r.chunks == 7);
  REQUIRE(got.stats.size() == 2);
  CHECK(got.stats[0].v[0] == 11);
  CHECK(got.stats[0].v[2] == 13);
  CHECK(got.stats[0].v[3] == 0);
  CHECK(got.stats[1].get(StatsField::kHeapRetained) ==
        100 + static_cast<std::uint64_t>(StatsField::kHeapRetained));
}

TEST_CASE("an empty zstd frame is an empty block", "[trace]") {
  TempDir dir;
  std::string path = dir.file("empty-block.hltrace");
  test::spit(path, test::file_header() + test::frame("") + test::frame(test::end_chunk().data()));
  Collector got;
  ReadResult r = read(path, &got);
  CHECK(r.status == ReadResult::Status::kComplete);
  CHECK(r.blocks == 2);
}

}  // namespace
}  // namespace heaplens::trace
