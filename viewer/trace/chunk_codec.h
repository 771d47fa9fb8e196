// The byte encoding of every chunk of trace_format.h, in one place for the writer and the
// reader, so that the two cannot disagree. Internal to heaplens_trace.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trace_types.h"

namespace heaplens::trace::codec {

// Records are copied as they are in memory, and the format says little-endian.
static_assert(std::endian::native == std::endian::little, "the trace format is little-endian");

inline constexpr std::size_t kChunkHeaderBytes = 8;    // u32 kind, u32 payload_bytes
inline constexpr std::size_t kRecordsHeaderBytes = 8;  // u32 image, u32 count
// A chunk, header included, always fits in a block on its own: encoders drop what would not.
inline constexpr std::size_t kMaxChunkBytes = kMaxBlockBytes;
inline constexpr std::size_t kMaxPayloadBytes = kMaxChunkBytes - kChunkHeaderBytes;

// "Image", "Records"... or "kind 42".
std::string kind_name(std::uint32_t kind);

using Bytes = std::vector<std::uint8_t>;

// Appends little-endian values to a byte buffer.
class Out {
 public:
  explicit Out(Bytes* b) : b_(b) {}
  void u32(std::uint32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void raw(const void* p, std::size_t n) {
    std::size_t at = b_->size();
    b_->resize(at + n);
    if (n != 0) std::memcpy(b_->data() + at, p, n);
  }
  void str(std::string_view s);  // cut to kMaxString bytes
  std::size_t size() const { return b_->size(); }
  void patch_u32(std::size_t at, std::uint32_t v) { std::memcpy(b_->data() + at, &v, 4); }

 private:
  Bytes* b_;
};

// The encoded size of a string as str() writes it.
std::size_t str_bytes(std::string_view s);

// Each put_* appends one whole chunk (header and payload) to *b. Values beyond the format's
// limits are cut: strings to kMaxString, stacks to wire::kMaxFrames (innermost kept), build-ids
// to wire::kBuildIdMax, and trailing argv entries or inlined frames that would make the chunk
// bigger than kMaxChunkBytes are dropped.
void put_command(Bytes* b, const CommandDef& c);
void put_image(Bytes* b, const ImageInfo& i);
// The caller keeps kChunkHeaderBytes + kRecordsHeaderBytes + 16 * records.size() within
// kMaxChunkBytes.
void put_records(Bytes* b, std::uint32_t image, std::span<const wire::Record> records);
void put_stack(Bytes* b, const StackDef& s);
void put_module(Bytes* b, const ModuleDef& m);
void put_stats(Bytes* b, const StatsSnapshot& s);
void put_image_end(Bytes* b, const ImageEnd& e);
void put_symbol(Bytes* b, const SymbolDef& s);
void put_exit(Bytes* b, const ExitDef& e);
void put_end(Bytes* b);

// Reads little-endian values from a chunk's payload. The first value that does not fit (or
// breaks a limit) sets a reason; every read after it returns zeros.
class In {
 public:
  explicit In(std::span<const std::uint8_t> p) : p_(p.data()), left_(p.size()) {}
  std::uint32_t u32(const char* what);
  std::uint64_t u64(const char* what);
  std::int32_t i32(const char* what) { return static_cast<std::int32_t>(u32(what)); }
  std::int64_t i64(const char* what) { return static_cast<std::int64_t>(u64(what)); }
  std::string str(const char* what);
  // `n` bytes in place, or nullptr.
  const std::uint8_t* raw(std::size_t n, const char* what);
  // A count of items of at least `min_item_bytes` each: refused when they cannot all fit,
  // so that no hostile count reaches an allocation.
  std::uint32_t count(const char* what, std::size_t min_item_bytes, std::uint64_t limit = UINT32_MAX);
  bool fail(std::string why);
  std::size_t left() const { return left_; }
  bool ok() const { return error_.empty(); }
  // Also fails when bytes are left over: a known kind's payload is exactly its fields.
  std::string finish();

 private:
  bool need(std::size_t n, const char* what);
  const std::uint8_t* p_;
  std::size_t left_;
  std::string error_;
};

// Each get_* decodes a whole payload; it returns an empty string, or why the payload is bad.
std::string get_command(std::span<const std::uint8_t> p, CommandDef* c);
std::string get_image(std::span<const std::uint8_t> p, ImageInfo* i);
// *records: the payload's record bytes in place (16 * count of them).
std::string get_records(std::span<const std::uint8_t> p, std::uint32_t* image,
                        std::span<const std::uint8_t>* records);
std::string get_stack(std::span<const std::uint8_t> p, StackDef* s);
std::string get_module(std::span<const std::uint8_t> p, ModuleDef* m);
std::string get_stats(std::span<const std::uint8_t> p, StatsSnapshot* s);
std::string get_image_end(std::span<const std::uint8_t> p, ImageEnd* e);
std::string get_symbol(std::span<const std::uint8_t> p, SymbolDef* s);
std::string get_exit(std::span<const std::uint8_t> p, ExitDef* e);

}  // namespace heaplens::trace::codec
