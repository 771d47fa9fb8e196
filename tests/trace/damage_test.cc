// Damaged and hostile traces: cut at every byte, bytes flipped at random, chunks that lie about
// their sizes and counts, zstd frames that would need too much memory. Every one ends in
// kTruncated or kError with a one-line message, after delivering only chunks that were really
// in the file (a prefix of what was written), and never crashes (the sanitizer build runs
// these too).
#include <random>

#include "trace_test_util.h"

namespace heaplens::trace {
namespace {

using test::Both;
using test::Collector;
using test::Raw;
using test::TempDir;
using Status = ReadResult::Status;

bool is_prefix(const std::vector<std::string>& got, const std::vector<std::string>& all) {
  return got.size() <= all.size() && std::equal(got.begin(), got.end(), all.begin());
}

// A small trace of five blocks, and where each block ends.
struct SmallTrace {
  std::string bytes;
  Collector ref;
  std::vector<std::uint64_t> block_end;    // file offset after each block
  std::vector<std::size_t> items_through;  // ref.items.size() after each block
};

SmallTrace small_trace(const TempDir& dir) {
  SmallTrace t;
  std::string path = dir.file("small.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w != nullptr);
  Both both{*w, t.ref};
  auto end_block = [&] {
    REQUIRE(w->flush());
    t.block_end.push_back(w->bytes_written());
    t.items_through.push_back(t.ref.items.size());
  };
  std::vector<wire::Record> recs;
  for (std::uint64_t k = 0; k < 40; ++k) recs.push_back({k * 0x10001, ~k});

  CommandDef c;
  c.argv = {"prog", "arg"};
  c.cwd = "/tmp";
  both.command(c);
  ImageInfo img;
  img.image = 0;
  img.pid = 100;
  img.executable = "/bin/prog";
  both.image(img);
  both.records(0, std::span(recs).first(10));
  end_block();
  StackDef s;
  s.image = 0;
  s.id = 1;
  s.frames = {0x401000, 0x401100, 0x401200};
  both.stack(s);
  ModuleDef m;
  m.image = 0;
  m.start = 0x400000;
  m.end = 0x500000;
  m.build_id = {1, 2, 3, 4};
  m.path = "/bin/prog";
  both.module(m);
  both.records(0, std::span(recs).subspan(10, 20));
  end_block();
  img.image = 1;
  img.pid = 101;
  both.image(img);
  StatsSnapshot st;
  st.image = 1;
  st.set(StatsField::kAllocations, 77);
  both.stats(st);
  SymbolDef sym;
  sym.image = 0;
  sym.pc = 0x401000;
  sym.function = "main";
  sym.inlined = {{"helper()", "a.cc", 3}};
  both.symbol(sym);
  both.records(1, std::span(recs).subspan(30));
  end_block();
  ImageEnd e;
  e.image = 1;
  e.how = ImageEndHow::kVanished;
  both.image_end(e);
  both.exit(ExitDef{100, 0});
  end_block();
  REQUIRE(w->close());
  t.block_end.push_back(w->bytes_written());
  t.items_through.push_back(t.ref.items.size());
  t.bytes = test::slurp(path);
  REQUIRE(t.bytes.size() == w->bytes_written());
  return t;
}

TEST_CASE("a trace cut at every byte reads up to its last whole block", "[trace]") {
  TempDir dir;
  SmallTrace t = small_trace(dir);
  REQUIRE(t.block_end.size() == 5);
  std::string path = dir.file("cut.hltrace");
  for (std::size_t len = 0; len <= t.bytes.size(); ++len) {
    test::spit(path, t.bytes.substr(0, len));
    Collector got;
    ReadResult r = read_trace(path, got);
    INFO("cut at " << len << " of " << t.bytes.size() << ": " << r.message);
    REQUIRE(r.file_bytes == len);
    if (len == t.bytes.size()) {
      CHECK(r.status == Status::kComplete);
      CHECK(got.items == t.ref.items);
      continue;
    }
    REQUIRE(test::one_line(r.message));
    if (len < sizeof(kFileMagic)) {
      CHECK(r.status == Status::kError);
      CHECK(got.items.empty());
      continue;
    }
    REQUIRE(r.status == Status::kTruncated);
    std::size_t whole = 0;
    while (whole < t.block_end.size() && t.block_end[whole] <= len) ++whole;
    if (len >= kFileHeaderBytes)
      CHECK_THAT(r.message, Catch::Contains(fmt::format("after {} block{}", whole, whole == 1 ? "," : "s")));
    CHECK(r.blocks == whole);
    std::size_t items = whole == 0 ? 0 : t.items_through[whole - 1];
    REQUIRE(got.items.size() == items);
    CHECK(std::equal(got.items.begin(), got.items.end(), t.ref.items.begin()));
  }
}

TEST_CASE("flipped bytes give an error or the original chunks, never others", "[trace][fuzz]") {
  TempDir dir;
  SmallTrace t = small_trace(dir);
  std::string path = dir.file("flipped.hltrace");
  std::mt19937_64 rng(12345);
  int complete = 0, truncated = 0, errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = t.bytes;
    // Mostly one byte (which the zstd checksum always catches), sometimes several at once.
    int flips = iter % 4 == 0 ? 1 + static_cast<int>(rng() % 16) : 1;
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    if (iter % 5 == 0) bytes.resize(rng() % bytes.size());
    test::spit(path, bytes);
    Collector got;
    ReadResult r = read_trace(path, got);
    INFO("iteration " << iter << ": " << r.message);
    if (r.status == Status::kComplete) {
      ++complete;
      CHECK(got.items == t.ref.items);
    } else {
      (r.status == Status::kTruncated ? truncated : errors)++;
      CHECK(test::one_line(r.message));
      CHECK(is_prefix(got.items, t.ref.items));
    }
  }
  CHECK(errors > 1000);
  CHECK(truncated > 100);
}

// Chunk streams damaged before compression: the chunk parser itself meets the garbage.
TEST_CASE("damaged chunk streams end in an error, not a crash", "[trace][fuzz]") {
  codec::Bytes clean;
  CommandDef c;
  c.argv = {"a", "bb"};
  codec::put_command(&clean, c);
  ImageInfo img;
  img.executable = "/bin/x";
  codec::put_image(&clean, img);
  std::vector<wire::Record> recs(12, wire::Record{3, 4});
  codec::put_records(&clean, 0, recs);
  StackDef s;
  s.frames = {1, 2, 3, 4, 5};
  codec::put_stack(&clean, s);
  ModuleDef m;
  m.build_id = {9, 9, 9};
  m.path = "/lib/y.so";
  codec::put_module(&clean, m);
  codec::put_stats(&clean, StatsSnapshot{});
  ImageEnd e;
  e.message = "gone";
  codec::put_image_end(&clean, e);
  SymbolDef sym;
  sym.function = "f";
  sym.inlined = {{"g", "g.cc", 1}, {"h", "h.cc", 2}};
  codec::put_symbol(&clean, sym);
  codec::put_exit(&clean, ExitDef{1, 2});
  codec::put_end(&clean);

  static constexpr std::uint32_t kInteresting[] = {0, 1, 7, 8, 63, 64, 65, 255, 256, 257, 65535, 65536, 65537,
                                                   0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff};
  TempDir dir;
  std::string path = dir.file("fuzz.hltrace");
  std::mt19937_64 rng(777);
  int errors = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string raw(clean.begin(), clean.end());
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      std::size_t at = rng() % raw.size();
      switch (rng() % 4) {
        case 0: raw[at] ^= static_cast<char>(1 + rng() % 255); break;
        case 1: {
          std::uint32_t v = kInteresting[rng() % std::size(kInteresting)];
          raw.replace(at, std::min<std::size_t>(4, raw.size() - at), reinterpret_cast<const char*>(&v), 4);
          break;
        }
        case 2: raw.insert(at, std::string(1 + rng() % 9, static_cast<char>(rng()))); break;
        case 3: raw.erase(at, 1 + rng() % 9); break;
      }
      if (raw.empty()) raw.push_back('x');
    }
    // One to three frames, cut anywhere (chunks may then straddle frames: also an error).
    std::string file = test::file_header();
    std::size_t frames = 1 + rng() % 3, from = 0;
    for (std::size_t f = 1; f <= frames; ++f) {
      std::size_t to = f == frames ? raw.size() : from + rng() % (raw.size() - from + 1);
      file += test::frame(raw.substr(from, to - from));
      from = to;
    }
    test::spit(path, file);
    Collector got;
    ReadResult r = read_trace(path, got);
    INFO("iteration " << iter << ": " << r.message);
    CHECK_FALSE(got.misaligned);
    if (r.status != Status::kComplete) CHECK(test::one_line(r.message));
    if (r.status == Status::kError) {
      ++errors;
      CHECK_THAT(r.message, Catch::Contains("corrupt trace: block"));
    }
  }
  CHECK(errors > 2000);
}

// A file of the header, one block of an Image chunk for image 0 and `body`, then an End block.
std::string hostile(const Raw& body) {
  return test::file_header() + test::frame(test::image_chunk(0).data() + body.data()) +
         test::frame(test::end_chunk().data());
}

Raw chunk(ChunkKind kind, const Raw& payload) { return Raw().chunk(kind, payload); }

// A zstd frame header, then one raw block of `payload`.
std::string zstd_frame(const std::string& header_after_magic, const std::string& payload) {
  std::string f = "\x28\xb5\x2f\xfd" + header_after_magic;
  std::uint32_t block = static_cast<std::uint32_t>(payload.size() << 3) | 1;  // last, raw
  f.append(reinterpret_cast<const char*>(&block), 3);
  return f + payload;
}

TEST_CASE("hostile chunks and frames are errors with a reason", "[trace]") {
  TempDir dir;
  std::string path = dir.file("hostile.hltrace");
  const std::string exit_payload = Raw().u64(1).u32(0).data();
  const std::string exit_chunk = chunk(ChunkKind::kExit, Raw().bytes(exit_payload)).data();
  std::uint64_t huge = std::uint64_t{1} << 40;
  std::string huge_fcs(reinterpret_cast<const char*>(&huge), 8);
  const std::string two_blocks =
      test::file_header() + test::frame(test::image_chunk(0).data()) + test::frame(exit_chunk);
  const std::string third_block_at = fmt::format("block 3 (at byte {}): chunk 3 (Exit)", two_blocks.size());

  struct Case {
    const char* name;
    std::string file;
    const char* says;
  };
  const Case cases[] = {
      {"payload_bytes beyond its block", hostile(Raw().u32(8).u32(1000).u64(1)),
       "block 1 (at byte 16): chunk 2 (Exit) says 1000 payload bytes, but only 8 are left in its block"},
      {"records count above its payload", hostile(chunk(ChunkKind::kRecords, Raw().u32(0).u32(5).u64(1).u64(2))),
       "chunk 2 (Records): 5 records need 80 bytes but 16 are left"},
      {"records count below its payload", hostile(chunk(ChunkKind::kRecords, Raw().u32(0).u32(0).u64(1).u64(2))),
       "0 records need 0 bytes but 16 are left"},
      {"records count near 2^32", hostile(chunk(ChunkKind::kRecords, Raw().u32(0).u32(0xffffffff))),
       "4294967295 records need 68719476720 bytes"},
      {"depth over kMaxFrames", hostile(chunk(ChunkKind::kStack, [] {
         Raw r;
         r.u32(0).u32(1).u32(65);
         for (int k = 0; k < 65; ++k) r.u64(k);
         return r;
       }())),
       "chunk 2 (Stack): depth 65 is over the limit of 64"},
      {"depth beyond its payload", hostile(chunk(ChunkKind::kStack, Raw().u32(0).u32(1).u32(10).u64(1).u64(2))),
       "depth 10 does not fit in the 16 bytes left"},
      {"string longer than its payload",
       hostile(chunk(ChunkKind::kImageEnd, Raw().u32(0).u32(0).u64(0).u64(0).u64(0).u32(100).bytes("abc"))),
       "message of 100 bytes is longer than the 3 bytes left"},
      {"string over kMaxString",
       hostile(chunk(ChunkKind::kImageEnd, Raw().u32(0).u32(0).u64(0).u64(0).u64(0).str(std::string(70000, 'm')))),
       "message of 70000 bytes is over the limit of 65536"},
      {"argc near 2^32", hostile(chunk(ChunkKind::kCommand, Raw().u32(0xffffffff))),
       "argc 4294967295 is over the limit of 65536"},
      {"argc beyond its payload", hostile(chunk(ChunkKind::kCommand, Raw().u32(1000).str("a"))),
       "argc 1000 does not fit in the 5 bytes left"},
      {"inline_count over kMaxInlined",
       hostile(chunk(ChunkKind::kSymbol, Raw().u32(0).u64(1).u32(0).u32(0).str("").str("").str("").u32(257))),
       "inline_count 257 is over the limit of 256"},
      {"Stats field count beyond its payload", hostile(chunk(ChunkKind::kStats, Raw().u32(0).u32(1u << 30).u64(1))),
       "field count 1073741824 does not fit in the 8 bytes left"},
      {"build-id over kBuildIdMax",
       hostile(chunk(ChunkKind::kModule,
                     Raw().u32(0).u64(0).u64(0).u64(0).u64(0).u64(0).u32(33).bytes(std::string(33, 'b')).str(""))),
       "build-id size 33 is over the limit of 32"},
      {"an ImageEnd how this reader does not know",
       hostile(chunk(ChunkKind::kImageEnd, Raw().u32(0).u32(4).u64(0).u64(0).u64(0).str(""))), "unknown end 4"},
      {"an End chunk with a payload", hostile(chunk(ChunkKind::kEnd, Raw().u32(0))),
       "4 bytes of payload in a chunk that has none"},
      {"bytes left over", hostile(chunk(ChunkKind::kExit, Raw().bytes(exit_payload).u32(0))),
       "chunk 2 (Exit): 4 bytes left over after its fields"},
      {"a payload too short", hostile(chunk(ChunkKind::kExit, Raw().u32(1))), "payload ends inside pid"},
      {"an image never introduced", hostile(chunk(ChunkKind::kStack, Raw().u32(9).u32(1).u32(0))),
       "chunk 2 (Stack): image 9 has no Image chunk before it"},
      {"an image introduced twice", hostile(test::image_chunk(0)), "chunk 2 (Image): image 0 was introduced before"},
      {"half a chunk header", hostile(Raw().u32(5)), "its last 4 bytes are not a whole chunk header"},
      {"a chunk after End", hostile(Raw().bytes(test::end_chunk().data()).bytes(exit_chunk)),
       "chunk 3 (Exit) follows the End chunk"},
      {"a block after End", test::file_header() + test::frame(test::end_chunk().data()) + test::frame(exit_chunk),
       "block 2 (at byte "},
      {"bytes after End", test::file_header() + test::frame(test::end_chunk().data()) + "x",
       "data after the End chunk"},
      {"a chunk across two blocks",
       test::file_header() + test::frame(Raw().u32(8).u32(12).u64(1).data()) + test::frame(Raw().u32(0).data()),
       "chunk 1 (Exit) says 12 payload bytes, but only 8 are left"},
      {"the third block damaged", two_blocks + test::frame(chunk(ChunkKind::kExit, Raw().u32(1)).data()),
       third_block_at.c_str()},
      {"not zstd at all", test::file_header() + "this is not a zstd frame, just text",
       "block 1 (at byte 16): does not decompress ("},
      {"a frame claiming a huge content size", test::file_header() + zstd_frame("\xe0" + huge_fcs, "abcd"),
       "its frame says 1099511627776 bytes, over the block limit of 16777216"},
      {"a frame asking for a 2 GiB window", test::file_header() + zstd_frame(std::string("\x00\xa8", 2), "abcd"),
       "does not decompress (Frame requires too much memory for decoding)"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    test::spit(path, c.file);
    Collector got;
    ReadResult r = read_trace(path, got);
    INFO(r.message);
    CHECK(r.status == Status::kError);
    CHECK(test::one_line(r.message));
    CHECK_THAT(r.message, Catch::StartsWith(path + ": corrupt trace: block ") && Catch::Contains(c.says));
  }
}

TEST_CASE("a damaged block fails its checksum", "[trace]") {
  TempDir dir;
  std::string path = dir.file("sum.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w != nullptr);
  // Random bytes do not compress: they are stored as they are, easy to find and damage.
  std::mt19937 rng(5);
  ImageInfo img;
  for (int k = 0; k < 300; ++k) img.executable += static_cast<char>(rng());
  REQUIRE(w->add_image(img));
  REQUIRE(w->close());
  std::string bytes = test::slurp(path);
  std::size_t at = bytes.find(img.executable);
  REQUIRE(at != std::string::npos);
  bytes[at + 100] ^= 1;
  test::spit(path, bytes);
  Collector got;
  ReadResult r = read_trace(path, got);
  CHECK(r.status == Status::kError);
  CHECK_THAT(r.message, Catch::Contains("block 1 (at byte 16): does not decompress"));
  CHECK(got.items.empty());
}

// A block decompressing to `size` bytes of skippable (unknown kind) chunks, without a content
// size in its frame header, so only the decompressed size itself can give it away.
std::string block_of_size(std::size_t size) {
  std::string raw(size, '\0');  // chunks of kind 0, payload 0
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::string out(ZSTD_compressBound(size), '\0');
  ZSTD_inBuffer in{raw.data(), raw.size(), 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  std::size_t left = ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_end);
  ZSTD_freeCCtx(cctx);
  REQUIRE(left == 0);
  out.resize(o.pos);
  return out;
}

TEST_CASE("blocks are refused past kMaxBlockBytes, and taken up to it", "[trace]") {
  TempDir dir;
  std::string path = dir.file("big.hltrace");
  std::string end = test::frame(test::end_chunk().data());
  SECTION("exactly the limit, without a stated size") {
    test::spit(path, test::file_header() + block_of_size(kMaxBlockBytes) + end);
    Collector got;
    ReadResult r = read_trace(path, got);
    INFO(r.message);
    CHECK(r.status == Status::kComplete);
    CHECK(r.chunks == kMaxBlockBytes / 8 + 1);
  }
  SECTION("exactly the limit, with its size stated") {
    test::spit(path, test::file_header() + test::frame(std::string(kMaxBlockBytes, '\0')) + end);
    Collector got;
    CHECK(read_trace(path, got).status == Status::kComplete);
  }
  SECTION("over the limit, without a stated size") {
    test::spit(path, test::file_header() + block_of_size(kMaxBlockBytes + 8) + end);
    Collector got;
    ReadResult r = read_trace(path, got);
    CHECK(r.status == Status::kError);
    CHECK_THAT(r.message, Catch::Contains("block 1 (at byte 16): decompresses to more than the block limit"));
  }
  SECTION("over the limit, with its size stated") {
    test::spit(path, test::file_header() + test::frame(std::string(kMaxBlockBytes + 8, '\0')) + end);
    Collector got;
    ReadResult r = read_trace(path, got);
    CHECK(r.status == Status::kError);
    CHECK_THAT(r.message, Catch::Contains("its frame says 16777224 bytes"));
  }
}

}  // namespace
}  // namespace heaplens::trace
