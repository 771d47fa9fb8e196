#include "chunk_codec.h"

#include <fmt/format.h>

#include <algorithm>

namespace heaplens::trace::codec {
namespace {

// Cut at kMaxString, backing off a UTF-8 continuation so that a name is not left with half a
// character (at most 3 bytes: further back it was not UTF-8 anyway).
std::string_view capped(std::string_view s) {
  if (s.size() <= kMaxString) return s;
  std::size_t n = kMaxString;
  for (int k = 0; k < 3 && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80; ++k) --n;
  return s.substr(0, n);
}

std::size_t begin(Bytes* b, ChunkKind kind) {
  std::size_t at = b->size();
  Out o(b);
  o.u32(static_cast<std::uint32_t>(kind));
  o.u32(0);  // payload_bytes, patched by end()
  return at;
}

void end(Bytes* b, std::size_t at) {
  Out(b).patch_u32(at + 4, static_cast<std::uint32_t>(b->size() - at - kChunkHeaderBytes));
}

constexpr std::size_t kInlineFixedBytes = 4 + 4 + 4;  // two empty strings and a line

}  // namespace

std::string kind_name(std::uint32_t kind) {
  switch (static_cast<ChunkKind>(kind)) {
    case ChunkKind::kImage: return "Image";
    case ChunkKind::kRecords: return "Records";
    case ChunkKind::kStack: return "Stack";
    case ChunkKind::kModule: return "Module";
    case ChunkKind::kStats: return "Stats";
    case ChunkKind::kImageEnd: return "ImageEnd";
    case ChunkKind::kSymbol: return "Symbol";
    case ChunkKind::kExit: return "Exit";
    case ChunkKind::kCommand: return "Command";
    case ChunkKind::kEnd: return "End";
  }
  return fmt::format("kind {}", kind);
}

std::size_t str_bytes(std::string_view s) { return 4 + capped(s).size(); }

void Out::str(std::string_view s) {
  s = capped(s);
  u32(static_cast<std::uint32_t>(s.size()));
  raw(s.data(), s.size());
}

// ---- encoding -------------------------------------------------------------------------

void put_command(Bytes* b, const CommandDef& c) {
  std::size_t at = begin(b, ChunkKind::kCommand);
  Out o(b);
  const std::size_t budget = kMaxPayloadBytes - 4 - str_bytes(c.cwd) - 8;
  std::size_t argc = 0, used = 0;
  while (argc < c.argv.size() && argc < kMaxArgs && used + str_bytes(c.argv[argc]) <= budget)
    used += str_bytes(c.argv[argc++]);
  o.u32(static_cast<std::uint32_t>(argc));
  for (std::size_t k = 0; k < argc; ++k) o.str(c.argv[k]);
  o.str(c.cwd);
  o.u64(c.start_realtime_ns);
  end(b, at);
}

void put_image(Bytes* b, const ImageInfo& i) {
  std::size_t at = begin(b, ChunkKind::kImage);
  Out o(b);
  o.u32(i.image);
  o.i64(i.pid);
  o.i64(i.ppid);
  o.u32(i.image_of_pid);
  o.u32(i.mode);
  o.u32(i.on_full);
  o.u32(i.backend);
  o.u32(0);  // reserved
  o.u64(i.sample_interval);
  o.u64(i.large_threshold);
  o.u64(i.start_realtime_ns);
  o.u64(i.clock_base_ns);
  o.str(i.executable);
  o.str(i.session);
  end(b, at);
}

void put_records(Bytes* b, std::uint32_t image, std::span<const wire::Record> records) {
  std::size_t at = begin(b, ChunkKind::kRecords);
  Out o(b);
  o.u32(image);
  o.u32(static_cast<std::uint32_t>(records.size()));
  o.raw(records.data(), records.size_bytes());
  end(b, at);
}

void put_stack(Bytes* b, const StackDef& s) {
  std::size_t at = begin(b, ChunkKind::kStack);
  Out o(b);
  std::size_t depth = std::min<std::size_t>(s.frames.size(), wire::kMaxFrames);
  o.u32(s.image);
  o.u32(s.id);
  o.u32(static_cast<std::uint32_t>(depth));
  o.raw(s.frames.data(), depth * sizeof(std::uint64_t));
  end(b, at);
}

void put_module(Bytes* b, const ModuleDef& m) {
  std::size_t at = begin(b, ChunkKind::kModule);
  Out o(b);
  std::size_t id_size = std::min<std::size_t>(m.build_id.size(), wire::kBuildIdMax);
  o.u32(m.image);
  o.u64(m.load_bias);
  o.u64(m.start);
  o.u64(m.end);
  o.u64(m.loaded_ns);
  o.u64(m.unloaded_ns);
  o.u32(static_cast<std::uint32_t>(id_size));
  o.raw(m.build_id.data(), id_size);
  o.str(m.path);
  end(b, at);
}

void put_stats(Bytes* b, const StatsSnapshot& s) {
  std::size_t at = begin(b, ChunkKind::kStats);
  Out o(b);
  o.u32(s.image);
  o.u32(static_cast<std::uint32_t>(StatsField::kCount));
  for (std::uint64_t v : s.v) o.u64(v);
  end(b, at);
}

void put_image_end(Bytes* b, const ImageEnd& e) {
  std::size_t at = begin(b, ChunkKind::kImageEnd);
  Out o(b);
  o.u32(e.image);
  o.u32(static_cast<std::uint32_t>(e.how));
  o.u64(e.end_ns);
  o.u64(e.torn_records);
  o.u64(e.malformed_records);
  o.str(e.message);
  end(b, at);
}

void put_symbol(Bytes* b, const SymbolDef& s) {
  std::size_t at = begin(b, ChunkKind::kSymbol);
  Out o(b);
  o.u32(s.image);
  o.u64(s.pc);
  o.u32(s.line);
  o.u32(s.column);
  o.str(s.function);
  o.str(s.file);
  o.str(s.module);
  const std::size_t budget = kMaxPayloadBytes - (o.size() - at - kChunkHeaderBytes) - 4;
  std::size_t count = 0, used = 0;
  auto frame_bytes = [&](const InlineFrame& f) { return str_bytes(f.function) + str_bytes(f.file) + 4; };
  while (count < s.inlined.size() && count < kMaxInlined && used + frame_bytes(s.inlined[count]) <= budget)
    used += frame_bytes(s.inlined[count++]);
  o.u32(static_cast<std::uint32_t>(count));
  for (std::size_t k = 0; k < count; ++k) {
    o.str(s.inlined[k].function);
    o.str(s.inlined[k].file);
    o.u32(s.inlined[k].line);
  }
  end(b, at);
}

void put_exit(Bytes* b, const ExitDef& e) {
  std::size_t at = begin(b, ChunkKind::kExit);
  Out o(b);
  o.i64(e.pid);
  o.i32(e.wait_status);
  end(b, at);
}

void put_end(Bytes* b) { end(b, begin(b, ChunkKind::kEnd)); }

// ---- decoding -------------------------------------------------------------------------

bool In::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  left_ = 0;
  return false;
}

bool In::need(std::size_t n, const char* what) {
  if (!ok()) return false;
  if (left_ >= n) return true;
  return fail(fmt::format("payload ends inside {}", what));
}

std::uint32_t In::u32(const char* what) {
  std::uint32_t v = 0;
  if (need(4, what)) {
    std::memcpy(&v, p_, 4);
    p_ += 4;
    left_ -= 4;
  }
  return v;
}

std::uint64_t In::u64(const char* what) {
  std::uint64_t v = 0;
  if (need(8, what)) {
    std::memcpy(&v, p_, 8);
    p_ += 8;
    left_ -= 8;
  }
  return v;
}

const std::uint8_t* In::raw(std::size_t n, const char* what) {
  if (!need(n, what)) return nullptr;
  const std::uint8_t* at = p_;
  p_ += n;
  left_ -= n;
  return at;
}

std::string In::str(const char* what) {
  std::uint32_t n = u32(what);
  if (!ok()) return {};
  if (n > kMaxString) {
    fail(fmt::format("{} of {} bytes is over the limit of {}", what, n, kMaxString));
    return {};
  }
  if (n > left_) {
    fail(fmt::format("{} of {} bytes is longer than the {} bytes left", what, n, left_));
    return {};
  }
  const std::uint8_t* at = raw(n, what);
  return std::string(reinterpret_cast<const char*>(at), n);
}

std::uint32_t In::count(const char* what, std::size_t min_item_bytes, std::uint64_t limit) {
  std::uint32_t n = u32(what);
  if (!ok()) return 0;
  if (n > limit) {
    fail(fmt::format("{} {} is over the limit of {}", what, n, limit));
    return 0;
  }
  if (std::uint64_t{n} * min_item_bytes > left_) {
    fail(fmt::format("{} {} does not fit in the {} bytes left", what, n, left_));
    return 0;
  }
  return n;
}

std::string In::finish() {
  if (ok() && left_ != 0) fail(fmt::format("{} bytes left over after its fields", left_));
  return error_;
}

std::string get_command(std::span<const std::uint8_t> p, CommandDef* c) {
  In in(p);
  std::uint32_t argc = in.count("argc", 4, kMaxArgs);
  c->argv.resize(argc);
  for (std::uint32_t k = 0; k < argc; ++k) c->argv[k] = in.str("argument");
  c->cwd = in.str("working directory");
  c->start_realtime_ns = in.u64("start time");
  return in.finish();
}

std::string get_image(std::span<const std::uint8_t> p, ImageInfo* i) {
  In in(p);
  i->image = in.u32("image");
  i->pid = in.i64("pid");
  i->ppid = in.i64("ppid");
  i->image_of_pid = in.u32("image_of_pid");
  i->mode = in.u32("mode");
  i->on_full = in.u32("on_full");
  i->backend = in.u32("backend");
  in.u32("reserved");
  i->sample_interval = in.u64("sample_interval");
  i->large_threshold = in.u64("large_threshold");
  i->start_realtime_ns = in.u64("start_realtime_ns");
  i->clock_base_ns = in.u64("clock_base_ns");
  i->executable = in.str("executable");
  i->session = in.str("session");
  return in.finish();
}

std::string get_records(std::span<const std::uint8_t> p, std::uint32_t* image,
                        std::span<const std::uint8_t>* records) {
  In in(p);
  *image = in.u32("image");
  std::uint32_t count = in.u32("count");
  if (in.ok() && std::uint64_t{count} * sizeof(wire::Record) != in.left())
    in.fail(fmt::format("{} records need {} bytes but {} are left", count,
                        std::uint64_t{count} * sizeof(wire::Record), in.left()));
  if (!in.ok()) return in.finish();
  const std::uint8_t* at = in.raw(in.left(), "records");
  *records = {at, std::size_t{count} * sizeof(wire::Record)};
  return in.finish();
}

std::string get_stack(std::span<const std::uint8_t> p, StackDef* s) {
  In in(p);
  s->image = in.u32("image");
  s->id = in.u32("stack_id");
  std::uint32_t depth = in.count("depth", 8, wire::kMaxFrames);
  s->frames.resize(depth);
  for (std::uint32_t k = 0; k < depth; ++k) s->frames[k] = in.u64("pc");
  return in.finish();
}

std::string get_module(std::span<const std::uint8_t> p, ModuleDef* m) {
  In in(p);
  m->image = in.u32("image");
  m->load_bias = in.u64("load_bias");
  m->start = in.u64("start");
  m->end = in.u64("end");
  m->loaded_ns = in.u64("loaded_ns");
  m->unloaded_ns = in.u64("unloaded_ns");
  std::uint32_t id_size = in.count("build-id size", 1, wire::kBuildIdMax);
  const std::uint8_t* id = in.raw(id_size, "build-id");
  m->build_id.assign(id, id == nullptr ? id : id + id_size);
  m->path = in.str("path");
  return in.finish();
}

std::string get_stats(std::span<const std::uint8_t> p, StatsSnapshot* s) {
  In in(p);
  *s = StatsSnapshot{};
  s->image = in.u32("image");
  // Fields a newer writer appended are read past; missing ones of an older writer stay 0.
  std::uint32_t fields = in.count("field count", 8);
  for (std::uint32_t k = 0; k < fields; ++k) {
    std::uint64_t v = in.u64("field");
    if (k < static_cast<std::uint32_t>(StatsField::kCount)) s->v[k] = v;
  }
  return in.finish();
}

std::string get_image_end(std::span<const std::uint8_t> p, ImageEnd* e) {
  In in(p);
  e->image = in.u32("image");
  std::uint32_t how = in.u32("how");
  if (in.ok() && how > static_cast<std::uint32_t>(ImageEndHow::kDetached))
    in.fail(fmt::format("unknown end {}", how));
  e->how = static_cast<ImageEndHow>(how);
  e->end_ns = in.u64("end_ns");
  e->torn_records = in.u64("torn_records");
  e->malformed_records = in.u64("malformed_records");
  e->message = in.str("message");
  return in.finish();
}

std::string get_symbol(std::span<const std::uint8_t> p, SymbolDef* s) {
  In in(p);
  s->image = in.u32("image");
  s->pc = in.u64("pc");
  s->line = in.u32("line");
  s->column = in.u32("column");
  s->function = in.str("function");
  s->file = in.str("file");
  s->module = in.str("module");
  std::uint32_t count = in.count("inline_count", kInlineFixedBytes, kMaxInlined);
  s->inlined.resize(count);
  for (InlineFrame& f : s->inlined) {
    f.function = in.str("inlined function");
    f.file = in.str("inlined file");
    f.line = in.u32("inlined line");
  }
  return in.finish();
}

std::string get_exit(std::span<const std::uint8_t> p, ExitDef* e) {
  In in(p);
  e->pid = in.i64("pid");
  e->wait_status = in.i32("wait_status");
  return in.finish();
}

}  // namespace heaplens::trace::codec
