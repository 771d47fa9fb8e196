#include "trace_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "chunk_codec.h"

namespace heaplens::trace {
namespace {

constexpr std::size_t kReadBytes = std::size_t{256} << 10;
// A writer's single-segment frame of a full block has a window of its whole size; nothing
// legitimate needs more, so a frame asking for more is refused before zstd allocates it.
constexpr int kWindowLogMax = 24;
static_assert((std::size_t{1} << kWindowLogMax) >= kMaxBlockBytes);
// Most blocks are the writer's 1 MiB target plus its last chunk.
constexpr std::size_t kInitialBlockBytes = std::size_t{2} << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads up to n bytes (fewer only at end of file); -1 with errno on error.
ssize_t read_full(int fd, std::uint8_t* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t k = ::read(fd, p + got, n - got);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (k == 0) break;
    got += static_cast<std::size_t>(k);
  }
  return static_cast<ssize_t>(got);
}

struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

class Reader {
 public:
  Reader(const std::string& path, TraceVisitor& visitor) : path_(path), visitor_(visitor) {}
  ReadResult run();

 private:
  bool open_and_check_header();
  bool refill(ssize_t* got);
  bool decompress_frame(std::size_t* size);
  bool parse_block(std::size_t size);
  std::string dispatch(std::uint32_t kind, std::span<const std::uint8_t> payload);
  std::string need_image(std::uint32_t image) const;
  void deliver_records(std::uint32_t image, std::span<const std::uint8_t> bytes);
  bool after_end();

  bool stop(ReadResult::Status status, std::string message) {
    result_.status = status;
    result_.message = std::move(message);
    return false;
  }
  bool corrupt(const std::string& what) {
    return stop(ReadResult::Status::kError, fmt::format("{}: corrupt trace: block {} (at byte {}): {}", path_,
                                                        result_.blocks + 1, frame_at_, what));
  }
  bool read_error() {
    return stop(ReadResult::Status::kError, fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
  }

  const std::string& path_;
  TraceVisitor& visitor_;
  ReadResult result_;
  int fd_ = -1;
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx_;
  std::unique_ptr<std::uint8_t[]> in_buf_;
  ZSTD_inBuffer in_{};
  std::uint64_t in_base_ = 0;   // file offset of in_buf_[0]
  std::uint64_t frame_at_ = 0;  // file offset where the current block starts
  // The decompressed block. 8-byte words so that a Records payload at an 8-aligned offset can
  // be handed out in place.
  std::unique_ptr<std::uint64_t[]> block_;
  std::size_t block_cap_ = 0;  // bytes
  // Records whose payload is not 8-aligned in the block (packed format) are copied here.
  std::unique_ptr<wire::Record[]> aligned_;
  std::size_t aligned_cap_ = 0;
  std::unordered_set<std::uint32_t> images_;
  bool ended_ = false;
  // Reused between chunks so that their vectors and strings keep their capacity.
  CommandDef command_;
  ImageInfo image_;
  StackDef stack_;
  ModuleDef module_;
  StatsSnapshot stats_;
  ImageEnd image_end_;
  SymbolDef symbol_;
  ExitDef exit_;
};

bool Reader::open_and_check_header() {
  struct stat st{};
  if (fstat(fd_, &st) != 0) return read_error();
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    return read_error();
  }
  std::uint8_t h[kFileHeaderBytes];
  ssize_t n = read_full(fd_, h, sizeof(h));
  if (n < 0) return read_error();
  result_.file_bytes = static_cast<std::uint64_t>(n);
  if (n == 0) return stop(ReadResult::Status::kError, fmt::format("{} is empty, not a heaplens trace", path_));
  if (static_cast<std::size_t>(n) < sizeof(kFileMagic) || std::memcmp(h, kFileMagic, sizeof(kFileMagic)) != 0)
    return stop(ReadResult::Status::kError, fmt::format("{} is not a heaplens trace", path_));
  if (static_cast<std::size_t>(n) < kFileHeaderBytes)
    return stop(ReadResult::Status::kTruncated, fmt::format("{}: trace ends early, inside its header", path_));
  std::uint32_t version;
  std::memcpy(&version, h + 8, 4);
  // The flags word (h + 12) is reserved: a change that matters to readers bumps the version.
  if (version != kTraceVersion)
    return stop(ReadResult::Status::kError,
                fmt::format("{}: trace format version {} is not supported (this heaplens reads version {}{})", path_,
                            version, kTraceVersion,
                            version > kTraceVersion ? "; the trace is from a newer heaplens" : ""));
  in_base_ = kFileHeaderBytes;
  return true;
}

// Reads the next piece of the file into in_ (which zstd has fully consumed). *got = 0 at end.
bool Reader::refill(ssize_t* got) {
  in_base_ += in_.size;
  *got = read_full(fd_, in_buf_.get(), kReadBytes);
  if (*got < 0) return read_error();
  in_ = {in_buf_.get(), static_cast<std::size_t>(*got), 0};
  result_.file_bytes += static_cast<std::uint64_t>(*got);
  return true;
}

// Decompresses one zstd frame (a block) into block_; false when reading stops.
bool Reader::decompress_frame(std::size_t* size) {
  // The frame header may state the content size: refuse a huge one before decoding anything.
  unsigned long long claimed = ZSTD_getFrameContentSize(static_cast<const std::uint8_t*>(in_.src) + in_.pos,
                                                        in_.size - in_.pos);
  if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != ZSTD_CONTENTSIZE_ERROR && claimed > kMaxBlockBytes)
    return corrupt(fmt::format("its frame says {} bytes, over the block limit of {}", claimed, kMaxBlockBytes));
  ZSTD_outBuffer out{block_.get(), block_cap_, 0};
  for (;;) {
    std::size_t in_before = in_.pos, out_before = out.pos;
    std::size_t r = ZSTD_decompressStream(dctx_.get(), &out, &in_);
    if (ZSTD_isError(r)) return corrupt(fmt::format("does not decompress ({})", ZSTD_getErrorName(r)));
    if (r == 0) break;
    if (out.pos == out.size) {
      if (block_cap_ > kMaxBlockBytes)
        return corrupt(fmt::format("decompresses to more than the block limit of {} bytes", kMaxBlockBytes));
      // One byte over the limit tells a block that is too big from one of exactly the limit.
      std::size_t cap = std::min(block_cap_ * 2, kMaxBlockBytes + 1);
      auto bigger = std::make_unique_for_overwrite<std::uint64_t[]>((cap + 7) / 8);
      std::memcpy(bigger.get(), block_.get(), out.pos);
      block_ = std::move(bigger);
      block_cap_ = cap;
      out.dst = block_.get();
      out.size = cap;
      continue;
    }
    if (in_.pos == in_.size) {
      ssize_t got;
      if (!refill(&got)) return false;
      if (got == 0)
        return stop(ReadResult::Status::kTruncated,
                    fmt::format("{}: trace ends early after {} block{}, inside block {} (its writer was stopped)",
                                path_, result_.blocks, result_.blocks == 1 ? "" : "s", result_.blocks + 1));
      continue;
    }
    // zstd stops only when it finished, or needs input or room; anything else must not spin.
    if (in_.pos == in_before && out.pos == out_before) return corrupt("decompression makes no progress");
  }
  if (out.pos > kMaxBlockBytes)
    return corrupt(fmt::format("decompresses to more than the block limit of {} bytes", kMaxBlockBytes));
  *size = out.pos;
  return true;
}

bool Reader::parse_block(std::size_t size) {
  const std::uint8_t* b = reinterpret_cast<const std::uint8_t*>(block_.get());
  std::size_t off = 0;
  while (off < size) {
    std::uint64_t index = ++result_.chunks;
    if (size - off < codec::kChunkHeaderBytes)
      return corrupt(fmt::format("its last {} bytes are not a whole chunk header", size - off));
    std::uint32_t kind, len;
    std::memcpy(&kind, b + off, 4);
    std::memcpy(&len, b + off + 4, 4);
    off += codec::kChunkHeaderBytes;
    if (len > size - off)
      return corrupt(fmt::format("chunk {} ({}) says {} payload bytes, but only {} are left in its block", index,
                                 codec::kind_name(kind), len, size - off));
    if (ended_) return corrupt(fmt::format("chunk {} ({}) follows the End chunk", index, codec::kind_name(kind)));
    std::string why = dispatch(kind, {b + off, len});
    if (!why.empty()) return corrupt(fmt::format("chunk {} ({}): {}", index, codec::kind_name(kind), why));
    off += len;
  }
  return true;
}

std::string Reader::need_image(std::uint32_t image) const {
  if (images_.count(image) != 0) return {};
  return fmt::format("image {} has no Image chunk before it", image);
}

std::string Reader::dispatch(std::uint32_t kind, std::span<const std::uint8_t> p) {
  std::string why;
  switch (static_cast<ChunkKind>(kind)) {
    case ChunkKind::kCommand:
      if ((why = codec::get_command(p, &command_)).empty()) visitor_.on_command(command_);
      return why;
    case ChunkKind::kImage:
      if (!(why = codec::get_image(p, &image_)).empty()) return why;
      if (!images_.insert(image_.image).second) return fmt::format("image {} was introduced before", image_.image);
      visitor_.on_image(image_);
      return {};
    case ChunkKind::kRecords: {
      std::uint32_t image = 0;
      std::span<const std::uint8_t> bytes;
      if ((why = codec::get_records(p, &image, &bytes)).empty() && (why = need_image(image)).empty())
        deliver_records(image, bytes);
      return why;
    }
    case ChunkKind::kStack:
      if ((why = codec::get_stack(p, &stack_)).empty() && (why = need_image(stack_.image)).empty())
        visitor_.on_stack(stack_);
      return why;
    case ChunkKind::kModule:
      if ((why = codec::get_module(p, &module_)).empty() && (why = need_image(module_.image)).empty())
        visitor_.on_module(module_);
      return why;
    case ChunkKind::kStats:
      if ((why = codec::get_stats(p, &stats_)).empty() && (why = need_image(stats_.image)).empty())
        visitor_.on_stats(stats_);
      return why;
    case ChunkKind::kImageEnd:
      if ((why = codec::get_image_end(p, &image_end_)).empty() && (why = need_image(image_end_.image)).empty())
        visitor_.on_image_end(image_end_);
      return why;
    case ChunkKind::kSymbol:
      if ((why = codec::get_symbol(p, &symbol_)).empty() && (why = need_image(symbol_.image)).empty())
        visitor_.on_symbol(symbol_);
      return why;
    case ChunkKind::kExit:
      if ((why = codec::get_exit(p, &exit_)).empty()) visitor_.on_exit(exit_);
      return why;
    case ChunkKind::kEnd:
      if (!p.empty()) return fmt::format("{} bytes of payload in a chunk that has none", p.size());
      ended_ = true;
      return {};
  }
  return {};  // a kind from a newer writer: skipped
}

void Reader::deliver_records(std::uint32_t image, std::span<const std::uint8_t> bytes) {
  std::size_t n = bytes.size() / sizeof(wire::Record);
  result_.records += n;
  // The block is 8-byte aligned, so a payload at an 8-aligned offset (the common case: Records
  // chunks are multiples of 8 bytes) is handed out in place; others are copied once.
  const wire::Record* records;
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(wire::Record) == 0) {
    records = reinterpret_cast<const wire::Record*>(bytes.data());
  } else {
    if (aligned_cap_ < n) {
      aligned_cap_ = std::max(n, aligned_cap_ * 2);
      aligned_ = std::make_unique_for_overwrite<wire::Record[]>(aligned_cap_);
    }
    if (n != 0) std::memcpy(aligned_.get(), bytes.data(), bytes.size());
    records = aligned_.get();
  }
  visitor_.on_records(image, {records, n});
}

// The End chunk is the last thing in a trace: anything after it is damage.
bool Reader::after_end() {
  if (in_.pos == in_.size) {
    ssize_t got;
    if (!refill(&got)) return false;
    if (got == 0) {
      result_.status = ReadResult::Status::kComplete;
      return true;
    }
  }
  frame_at_ = in_base_ + in_.pos;
  return corrupt("data after the End chunk");
}

ReadResult Reader::run() {
  Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    stop(ReadResult::Status::kError, fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
    return result_;
  }
  fd_ = fd.get();
  if (!open_and_check_header()) return result_;

  dctx_.reset(ZSTD_createDCtx());
  in_buf_ = std::make_unique_for_overwrite<std::uint8_t[]>(kReadBytes);
  block_cap_ = kInitialBlockBytes;
  block_ = std::make_unique_for_overwrite<std::uint64_t[]>(block_cap_ / 8);
  if (!dctx_ || ZSTD_isError(ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_windowLogMax, kWindowLogMax))) {
    stop(ReadResult::Status::kError, fmt::format("cannot read {}: zstd: out of memory", path_));
    return result_;
  }
  in_ = {in_buf_.get(), 0, 0};
  for (;;) {
    if (in_.pos == in_.size) {
      ssize_t got;
      if (!refill(&got)) return result_;
      if (got == 0) {
        stop(ReadResult::Status::kTruncated,
             fmt::format("{}: trace ends early after {} block{}, without its End chunk (its writer was stopped)",
                         path_, result_.blocks, result_.blocks == 1 ? "" : "s"));
        return result_;
      }
    }
    frame_at_ = in_base_ + in_.pos;
    std::size_t size = 0;
    if (!decompress_frame(&size)) return result_;
    result_.raw_bytes += size;
    if (!parse_block(size)) return result_;
    ++result_.blocks;
    if (ended_) {
      after_end();
      return result_;
    }
  }
}

}  // namespace

ReadResult read_trace(const std::string& path, TraceVisitor& visitor) { return Reader(path, visitor).run(); }

bool looks_like_trace(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return false;
  struct stat st{};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::uint8_t magic[sizeof(kFileMagic)];
  return read_full(fd.get(), magic, sizeof(magic)) == static_cast<ssize_t>(sizeof(magic)) &&
         std::memcmp(magic, kFileMagic, sizeof(magic)) == 0;
}

}  // namespace heaplens::trace
