// Helpers of the trace tests: a temporary directory, a visitor that keeps what it is given in
// a comparable form, and hand-built traces (for what a TraceWriter would never write).
#pragma once

#include <unistd.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "chunk_codec.h"
#include "trace_reader.h"
#include "trace_writer.h"

namespace heaplens::trace::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/heaplens-trace-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void spit(const std::string& path, const std::string& bytes) {
  // A new file rather than a truncated one: ext4 flushes a file rewritten after truncation on
  // close (auto_da_alloc), which makes thousands of rewrites slow.
  ::unlink(path.c_str());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

template <class T, class Put>
std::string encoded(Put put, const T& v) {
  codec::Bytes b;
  put(&b, v);
  return std::string(b.begin(), b.end());
}

// Keeps every chunk it is given as its encoding, and every record as an item of its own, so
// that sequences compare whatever the chunk boundaries.
class Collector : public TraceVisitor {
 public:
  bool keep_items = true;  // off for big traces: records only
  std::vector<std::string> items;
  std::vector<wire::Record> records;
  std::vector<CommandDef> commands;
  std::vector<ImageInfo> images;
  std::vector<StackDef> stacks;
  std::vector<ModuleDef> modules;
  std::vector<StatsSnapshot> stats;
  std::vector<ImageEnd> ends;
  std::vector<SymbolDef> symbols;
  std::vector<ExitDef> exits;
  bool misaligned = false;

  void on_command(const CommandDef& c) override { keep(encoded(codec::put_command, c), &commands, c); }
  void on_image(const ImageInfo& i) override { keep(encoded(codec::put_image, i), &images, i); }
  void on_records(std::uint32_t image, std::span<const wire::Record> r) override {
    if (reinterpret_cast<std::uintptr_t>(r.data()) % alignof(wire::Record) != 0) misaligned = true;
    records.insert(records.end(), r.begin(), r.end());
    if (keep_items)
      for (const wire::Record& x : r) items.push_back(fmt::format("R {} {:x} {:x}", image, x.w0, x.w1));
  }
  void on_stack(const StackDef& s) override { keep(encoded(codec::put_stack, s), &stacks, s); }
  void on_module(const ModuleDef& m) override { keep(encoded(codec::put_module, m), &modules, m); }
  void on_stats(const StatsSnapshot& s) override { keep(encoded(codec::put_stats, s), &stats, s); }
  void on_image_end(const ImageEnd& e) override { keep(encoded(codec::put_image_end, e), &ends, e); }
  void on_symbol(const SymbolDef& s) override { keep(encoded(codec::put_symbol, s), &symbols, s); }
  void on_exit(const ExitDef& e) override { keep(encoded(codec::put_exit, e), &exits, e); }

 private:
  template <class T>
  void keep(std::string item, std::vector<T>* all, const T& v) {
    if (keep_items) items.push_back(std::move(item));
    all->push_back(v);
  }
};

// Feeds the same chunks to a writer and to a Collector (what a reader should give back).
struct Both {
  TraceWriter& w;
  Collector& ref;
  void command(const CommandDef& c) { REQUIRE(w.add_command(c)); ref.on_command(c); }
  void image(const ImageInfo& i) { REQUIRE(w.add_image(i)); ref.on_image(i); }
  void records(std::uint32_t image, std::span<const wire::Record> r) {
    REQUIRE(w.add_records(image, r));
    ref.on_records(image, r);
  }
  void stack(const StackDef& s) { REQUIRE(w.add_stack(s)); ref.on_stack(s); }
  void module(const ModuleDef& m) { REQUIRE(w.add_module(m)); ref.on_module(m); }
  void stats(const StatsSnapshot& s) { REQUIRE(w.add_stats(s)); ref.on_stats(s); }
  void image_end(const ImageEnd& e) { REQUIRE(w.add_image_end(e)); ref.on_image_end(e); }
  void symbol(const SymbolDef& s) { REQUIRE(w.add_symbol(s)); ref.on_symbol(s); }
  void exit(const ExitDef& e) { REQUIRE(w.add_exit(e)); ref.on_exit(e); }
};

// Little-endian bytes built by hand.
class Raw {
 public:
  Raw& u32(std::uint32_t v) { return put(&v, 4); }
  Raw& u64(std::uint64_t v) { return put(&v, 8); }
  Raw& str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    return put(s.data(), s.size());
  }
  Raw& bytes(const std::string& s) { return put(s.data(), s.size()); }
  Raw& chunk(std::uint32_t kind, const Raw& payload) {
    u32(kind);
    u32(static_cast<std::uint32_t>(payload.b_.size()));
    return bytes(payload.b_);
  }
  Raw& chunk(ChunkKind kind, const Raw& payload) { return chunk(static_cast<std::uint32_t>(kind), payload); }
  const std::string& data() const { return b_; }

 private:
  Raw& put(const void* p, std::size_t n) {
    b_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string b_;
};

inline std::string file_header(std::uint32_t version = kTraceVersion) {
  std::string h(kFileMagic, sizeof(kFileMagic));
  h.append(reinterpret_cast<const char*>(&version), 4);
  h.append(4, '\0');
  return h;
}

// One zstd frame of `raw`.
inline std::string frame(const std::string& raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A minimal valid Image chunk for `image`.
inline Raw image_chunk(std::uint32_t image) {
  codec::Bytes b;
  ImageInfo i;
  i.image = image;
  codec::put_image(&b, i);
  Raw r;
  r.bytes(std::string(b.begin(), b.end()));
  return r;
}

inline Raw end_chunk() { return Raw().chunk(ChunkKind::kEnd, Raw()); }

inline bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

}  // namespace heaplens::trace::test
