#include "trace_writer.h"

#include <fcntl.h>
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

// Big enough for zstd to find the repetition in records, small enough that a killed writer
// loses little and a reader holds little.
constexpr std::size_t kTargetBlockBytes = std::size_t{1} << 20;
// A Records chunk smaller than this goes into a fresh block instead (no slivers at block ends).
constexpr std::size_t kMinRecordsPerChunk = 256;

}  // namespace

struct TraceWriter::Impl {
  TraceWriter* owner = nullptr;
  std::string path;
  int fd = -1;
  ZSTD_CCtx* cctx = nullptr;
  codec::Bytes block;               // whole chunks of the pending block
  std::vector<std::uint8_t> packed; // the block compressed
  std::unordered_set<std::uint32_t> images;
  bool failed = false, closed = false;

  ~Impl() {
    if (cctx != nullptr) ZSTD_freeCCtx(cctx);
    if (fd >= 0) ::close(fd);
  }

  bool fail(std::string message) {
    if (!failed) owner->error_ = std::move(message);
    failed = true;
    block.clear();
    return false;
  }
  bool fail_errno(int err) { return fail(fmt::format("cannot write {}: {}", path, std::strerror(err))); }
  bool usable() const { return !failed && !closed; }

  bool write_all(const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      ssize_t k = ::write(fd, p, n);
      if (k < 0) {
        if (errno == EINTR) continue;
        return fail_errno(errno);
      }
      if (k == 0) return fail_errno(EIO);  // not expected of a file; never spin on it
      p += k;
      n -= static_cast<std::size_t>(k);
      owner->bytes_written_ += static_cast<std::uint64_t>(k);
    }
    return true;
  }

  // Writes block[0, n) as one zstd frame.
  bool write_frame(std::size_t n) {
    std::size_t bound = ZSTD_compressBound(n);
    if (packed.size() < bound) packed.resize(bound);
    std::size_t got = ZSTD_compress2(cctx, packed.data(), packed.size(), block.data(), n);
    if (ZSTD_isError(got)) return fail(fmt::format("cannot write {}: zstd: {}", path, ZSTD_getErrorName(got)));
    return write_all(packed.data(), got);
  }

  bool flush() {
    if (!usable()) return false;
    if (block.empty()) return true;
    bool ok = write_frame(block.size());
    block.clear();
    return ok;
  }

  // Called after a chunk was appended at `start`.
  bool chunk_added(std::size_t start) {
    owner->raw_bytes_ += block.size() - start;
    if (block.size() > kMaxBlockBytes && start > 0) {
      // The chunk fits in a block on its own (the codec caps it): send what came before it.
      if (!write_frame(start)) return false;
      block.erase(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(start));
    }
    return block.size() < kTargetBlockBytes || flush();
  }

  // A chunk about an image the trace has not introduced would make the whole file unreadable
  // from that point: refuse it here, where the caller's bug is.
  bool ready_for(std::uint32_t image, const char* kind) {
    if (!usable()) return false;
    if (images.count(image) != 0) return true;
    return fail(fmt::format("cannot write {}: {} chunk for image {} before its Image chunk", path, kind, image));
  }

  template <class Put>
  bool add(Put&& put) {
    std::size_t start = block.size();
    put(&block);
    return chunk_added(start);
  }
};

std::unique_ptr<TraceWriter> TraceWriter::create(const std::string& path, std::string* error,
                                                 int compression_level) {
  std::unique_ptr<TraceWriter> w(new TraceWriter());
  w->impl_ = std::make_unique<Impl>();
  Impl& m = *w->impl_;
  m.owner = w.get();
  m.path = path;
  auto give_up = [&](std::string message) {
    if (error != nullptr) *error = std::move(message);
    return nullptr;
  };
  m.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (m.fd < 0) return give_up(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  m.cctx = ZSTD_createCCtx();
  if (m.cctx == nullptr) return give_up(fmt::format("cannot create {}: out of memory", path));
  std::size_t r = ZSTD_CCtx_setParameter(m.cctx, ZSTD_c_compressionLevel, compression_level);
  // The checksum makes a damaged block an error instead of wrong chunks.
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(m.cctx, ZSTD_c_checksumFlag, 1);
  if (ZSTD_isError(r)) return give_up(fmt::format("cannot create {}: zstd: {}", path, ZSTD_getErrorName(r)));

  // The header goes out at once: a bad destination fails before anything is run, and a
  // writer killed early still leaves a file that reads as a (cut short) trace.
  std::uint8_t header[kFileHeaderBytes] = {};
  std::memcpy(header, kFileMagic, sizeof(kFileMagic));
  std::uint32_t version = kTraceVersion, flags = 0;
  std::memcpy(header + 8, &version, 4);
  std::memcpy(header + 12, &flags, 4);
  if (!m.write_all(header, sizeof(header))) return give_up(w->error_);
  m.block.reserve(kTargetBlockBytes + (64 << 10));
  return w;
}

TraceWriter::~TraceWriter() {
  // Without close() the chunks so far still reach the file; the missing End says the rest.
  if (impl_ && !impl_->closed) impl_->flush();
}

bool TraceWriter::add_command(const CommandDef& c) {
  return impl_->usable() && impl_->add([&](codec::Bytes* b) { codec::put_command(b, c); });
}

bool TraceWriter::add_image(const ImageInfo& i) {
  Impl& m = *impl_;
  if (!m.usable()) return false;
  if (!m.images.insert(i.image).second)
    return m.fail(fmt::format("cannot write {}: image {} added twice", m.path, i.image));
  return m.add([&](codec::Bytes* b) { codec::put_image(b, i); });
}

bool TraceWriter::add_records(std::uint32_t image, std::span<const wire::Record> records) {
  Impl& m = *impl_;
  if (!m.ready_for(image, "Records")) return false;
  constexpr std::size_t kOverhead = codec::kChunkHeaderBytes + codec::kRecordsHeaderBytes;
  while (!records.empty()) {
    std::size_t used = m.block.size() + kOverhead;
    std::size_t room = used < kTargetBlockBytes ? (kTargetBlockBytes - used) / sizeof(wire::Record) : 0;
    if (room < std::min(records.size(), kMinRecordsPerChunk)) {
      if (!m.flush()) return false;
      continue;
    }
    std::size_t n = std::min(room, records.size());
    if (!m.add([&](codec::Bytes* b) { codec::put_records(b, image, records.first(n)); })) return false;
    records = records.subspan(n);
  }
  return true;
}

bool TraceWriter::add_stack(const StackDef& s) {
  return impl_->ready_for(s.image, "Stack") && impl_->add([&](codec::Bytes* b) { codec::put_stack(b, s); });
}

bool TraceWriter::add_module(const ModuleDef& mod) {
  return impl_->ready_for(mod.image, "Module") && impl_->add([&](codec::Bytes* b) { codec::put_module(b, mod); });
}

bool TraceWriter::add_stats(const StatsSnapshot& s) {
  return impl_->ready_for(s.image, "Stats") && impl_->add([&](codec::Bytes* b) { codec::put_stats(b, s); });
}

bool TraceWriter::add_image_end(const ImageEnd& e) {
  return impl_->ready_for(e.image, "ImageEnd") && impl_->add([&](codec::Bytes* b) { codec::put_image_end(b, e); });
}

bool TraceWriter::add_symbol(const SymbolDef& s) {
  return impl_->ready_for(s.image, "Symbol") && impl_->add([&](codec::Bytes* b) { codec::put_symbol(b, s); });
}

bool TraceWriter::add_exit(const ExitDef& e) {
  return impl_->usable() && impl_->add([&](codec::Bytes* b) { codec::put_exit(b, e); });
}

bool TraceWriter::flush() { return impl_->flush(); }

bool TraceWriter::close() {
  Impl& m = *impl_;
  if (m.closed) return !m.failed;
  bool ok = m.usable() && m.add([](codec::Bytes* b) { codec::put_end(b); }) && m.flush();
  m.closed = true;
  if (m.fd >= 0) {
    // close() reports late errors of some file systems (NFS quota); the fd is gone either way.
    if (::close(m.fd) != 0 && ok) ok = m.fail_errno(errno);
    m.fd = -1;
  }
  return ok && !m.failed;
}

}  // namespace heaplens::trace
