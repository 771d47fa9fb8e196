// The session reader (shared/session_reader.h) on segments built here the way the producer
// builds them (interposer/session.cc), in a temporary file: validation, draining, stacks,
// modules, the liveness protocol, and a fuzz test over damaged segments.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "event_decoder.h"
#include "format.h"
#include "ring.h"
#include "session_reader.h"
#include "stack_table.h"

namespace wire = heaplens::wire;
namespace ring = heaplens::ring;
namespace stacks = heaplens::stacks;
namespace reader = heaplens::reader;

namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// A whole segment in memory, laid out and filled like the producer's.
class Image {
 public:
  explicit Image(const wire::Layout& layout) : layout_(layout) {
    REQUIRE(wire::compute_offsets(layout, &off_));
    mem_.reset(static_cast<char*>(std::aligned_alloc(4096, off_.total)));
    REQUIRE(mem_ != nullptr);
    std::memset(mem_.get(), 0, off_.total);
    new (mem_.get()) wire::SessionHeader{};
  }
  Image(const Image& other) : layout_(other.layout_), off_(other.off_) {
    mem_.reset(static_cast<char*>(std::aligned_alloc(4096, off_.total)));
    std::memcpy(mem_.get(), other.mem_.get(), off_.total);
  }

  // What interposer/session.cc describe() writes.
  void describe() {
    wire::SessionHeader* h = header();
    h->magic = wire::kMagic;
    h->version = wire::kFormatVersion;
    h->header_size = wire::kHeaderSize;
    h->record_size = sizeof(wire::Record);
    h->stack_slot_size = sizeof(wire::StackSlot);
    h->module_entry_size = sizeof(wire::ModuleEntry);
    h->max_frames = wire::kMaxFrames;
    h->segment_size = off_.total;
    h->ring_offset = off_.ring;
    h->ring_capacity = layout_.ring_capacity;
    h->stacks_offset = off_.stacks;
    h->stack_slots = layout_.stack_slots;
    h->frames_offset = off_.frames;
    h->frames_capacity = layout_.frames_capacity;
    h->modules_offset = off_.modules;
    h->module_capacity = layout_.module_capacity;
    h->pid = getpid();
    h->ppid = getppid();
    h->start_realtime_ns = 1700000000000000000ull;
    h->clock_base_ns = 123456789;
    h->mode = static_cast<std::uint32_t>(wire::Mode::kSampled);
    h->on_full = static_cast<std::uint32_t>(wire::OnFull::kWait);
    h->sample_interval = 512 * 1024;
    h->large_threshold = 64 * 1024;
    h->backend = 0;
    std::strcpy(h->executable, "/usr/bin/heaplens-unit-test");
    h->state.store(static_cast<std::uint64_t>(wire::SessionState::kRunning));
  }

  wire::SessionHeader* header() { return reinterpret_cast<wire::SessionHeader*>(mem_.get()); }
  wire::Record* ring() { return reinterpret_cast<wire::Record*>(mem_.get() + off_.ring); }
  wire::StackSlot* slots() { return reinterpret_cast<wire::StackSlot*>(mem_.get() + off_.stacks); }
  std::uint64_t* frames() { return reinterpret_cast<std::uint64_t*>(mem_.get() + off_.frames); }
  wire::ModuleEntry* modules() { return reinterpret_cast<wire::ModuleEntry*>(mem_.get() + off_.modules); }
  ring::Producer producer() { return ring::Producer(header(), ring(), layout_.ring_capacity); }
  stacks::Interner interner() {
    return stacks::Interner(header(), slots(), layout_.stack_slots, frames(), layout_.frames_capacity);
  }
  char* bytes() { return mem_.get(); }
  std::size_t size() const { return off_.total; }
  const wire::Layout& layout() const { return layout_; }

 private:
  wire::Layout layout_;
  wire::Offsets off_{};
  std::unique_ptr<char, FreeDeleter> mem_;
};

// A temporary file that holds an image (or a damaged copy of one).
class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/heaplens-unit-XXXXXX";
    fd_ = mkstemp(tmpl);
    REQUIRE(fd_ >= 0);
    path_ = tmpl;
  }
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // Writes the first `size` bytes of data (zero-extended past data_size).
  void write(const char* data, std::size_t data_size, std::size_t size) {
    REQUIRE(ftruncate(fd_, 0) == 0);
    REQUIRE(ftruncate(fd_, static_cast<off_t>(size)) == 0);
    std::size_t n = std::min(data_size, size);
    std::size_t done = 0;
    while (done < n) {
      ssize_t w = pwrite(fd_, data + done, n - done, static_cast<off_t>(done));
      REQUIRE(w > 0);
      done += static_cast<std::size_t>(w);
    }
  }
  void write(Image& image) { write(image.bytes(), image.size(), image.size()); }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string path_;
};

const wire::Layout kLayout{64, 64, 1024, 4};

wire::Record alloc(wire::Op op, std::uint64_t address, std::uint64_t size, std::uint32_t thread,
                   std::uint32_t stack, std::uint8_t flags = 0) {
  wire::Fields f;
  f.op = op;
  f.address = address;
  f.size = size;
  f.thread = thread;
  f.stack = stack;
  f.flags = flags;
  return wire::encode(f, 0);
}

struct Valid {
  std::vector<std::vector<std::uint64_t>> stacks;
  std::vector<std::uint32_t> ids;
  std::vector<wire::Record> records;  // as written (before retagging)
};

// A valid session whose ring starts at position `start` (records wrap when start is near a
// lap boundary).
Valid fill(Image& image, std::uint64_t start = 60) {
  Valid v;
  image.describe();
  wire::SessionHeader* h = image.header();
  h->ring_head.store(start);
  h->ring_tail.store(start);
  auto in = image.interner();
  v.stacks = {{0x401000, 0x402000, 0x403000}, {0x7f0000001234}, std::vector<std::uint64_t>(64, 0x405550)};
  for (const auto& f : v.stacks) {
    std::uint32_t id = in.intern(f.data(), static_cast<std::uint32_t>(f.size()));
    REQUIRE(id != 0);
    v.ids.push_back(id);
  }
  v.records = {
      wire::encode_payload(wire::Op::kTime, 0, 0, 1000, 0),
      wire::encode_payload(wire::Op::kThread, 0, 1, 4242, 0),
      alloc(wire::Op::kAlloc, 0x10000, 64, 1, v.ids[0], wire::kFlagSampled),
      wire::encode_payload(wire::Op::kExt, wire::kExtSize, 0, std::uint64_t{1} << 40, 0),
      alloc(wire::Op::kAlloc, 0x20000, wire::kSizeEscape, 1, v.ids[1]),
      alloc(wire::Op::kFree, 0x10000, 0, 1, 0),
      wire::encode_payload(wire::Op::kTime, 0, 0, 2000, 0),
      alloc(wire::Op::kAlloc, 0x30000, 100, 1, v.ids[2]),
      wire::encode_payload(wire::Op::kEnd, 0, 0, 3000, 0),
  };
  auto p = image.producer();
  std::uint64_t pos = 0;
  std::size_t i = 0;
  while (i < v.records.size()) {
    std::uint32_t n = i == 3 ? 2 : 1;  // an Ext goes with its event in one reservation
    REQUIRE(p.try_reserve(n, &pos));
    for (std::uint32_t k = 0; k < n; ++k) p.put(pos + k, v.records[i + k]);
    i += n;
  }
  wire::ModuleEntry& m = image.modules()[0];
  m.load_bias = 0x400000;
  m.start = 0x400000;
  m.end = 0x500000;
  m.loaded_ns = 5;
  m.build_id_size = 20;
  for (std::uint8_t k = 0; k < 20; ++k) m.build_id[k] = static_cast<std::uint8_t>(0xA0 + k);
  std::strcpy(m.path, "/usr/lib/libheaplens-test.so");
  m.path_size = static_cast<std::uint32_t>(std::strlen(m.path));
  h->module_count.store(1);
  h->records_written.store(h->ring_head.load());
  h->allocations.store(77);
  h->stacks_used.store(3);
  return v;
}

bool same_payload(const wire::Record& got, const wire::Record& want) {
  // The tag bits (4..5) are the ring's.
  return got.w1 == want.w1 && (got.w0 & ~std::uint64_t{0x30}) == (want.w0 & ~std::uint64_t{0x30});
}

}  // namespace

TEST_CASE("session reader: a valid segment opens, drains, and gives stacks and modules") {
  Image image(kLayout);
  Valid v = fill(image);
  image.header()->cuda_pool = 1;
  image.header()->pool[2].in_use_bytes.store(4096);
  image.header()->pool[7].trims.store(3);
  TempFile file;
  file.write(image);

  std::string error;
  auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
  INFO(error);
  REQUIRE(s != nullptr);
  const reader::SessionInfo& info = s->info();
  CHECK(info.cuda_pool);
  CHECK(info.path == file.path());
  CHECK(info.pid == getpid());
  CHECK(info.ppid == getppid());
  CHECK(info.executable == "/usr/bin/heaplens-unit-test");
  CHECK(info.clock_base_ns == 123456789);
  CHECK(info.mode == wire::Mode::kSampled);
  CHECK(info.on_full == wire::OnFull::kWait);
  CHECK(info.sample_interval == 512 * 1024);
  CHECK(info.large_threshold == 64 * 1024);
  CHECK(info.layout.ring_capacity == kLayout.ring_capacity);
  CHECK(info.layout.stack_slots == kLayout.stack_slots);
  CHECK(info.segment_size == image.size());
  CHECK(s->consumer_pid() == static_cast<std::uint64_t>(getpid()));

  reader::LiveStats st = s->stats();
  CHECK(st.state == wire::SessionState::kRunning);
  CHECK(st.allocations == 77);
  CHECK(st.stacks_used == 3);
  CHECK(st.module_count == 1);
  CHECK(st.records_written == 60 + v.records.size());
  CHECK(st.pool[2].in_use_bytes == 4096);  // the CUDA caching pool's counters, by ordinal
  CHECK(st.pool[7].trims == 3);
  CHECK(st.pool[0].hits == 0);

  // Nobody holds the producer's lock: the producer is gone, so draining finishes.
  CHECK_FALSE(s->producer_alive());
  std::vector<wire::Record> out;
  std::string derr;
  reader::Session::Drain d = s->drain(&out, 4, &derr);
  CHECK(d == reader::Session::Drain::kMore);  // stopped at max with records left
  REQUIRE(out.size() == 4);
  d = s->drain(&out, 1000, &derr);
  INFO(derr);
  CHECK(d == reader::Session::Drain::kFinished);
  REQUIRE(out.size() == v.records.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO("record " << i);
    CHECK(same_payload(out[i], v.records[i]));
    CHECK(wire::tag_of(out[i]) == wire::lap_tag((60 + i) / kLayout.ring_capacity));
  }
  CHECK(s->torn() == 0);
  d = s->drain(&out, 1000, &derr);
  CHECK(d == reader::Session::Drain::kFinished);
  CHECK(out.size() == v.records.size());

  // The records decode to the events that were written.
  reader::EventDecoder dec;
  std::vector<reader::Event> events;
  for (const auto& r : out) {
    reader::Event e;
    if (dec.feed(r, &e)) events.push_back(e);
  }
  CHECK(dec.malformed() == 0);
  CHECK(dec.ended());
  REQUIRE(events.size() == 4);
  CHECK(events[0].tid == 4242);
  CHECK(events[0].time_ns == 1000);
  CHECK(events[0].stack == v.ids[0]);
  CHECK(events[1].size == std::uint64_t{1} << 40);
  CHECK(events[2].op == wire::Op::kFree);
  CHECK(events[3].time_ns == 2000);

  for (std::size_t i = 0; i < v.ids.size(); ++i) CHECK(s->stack(v.ids[i]) == v.stacks[i]);
  CHECK(s->stack(0).empty());
  CHECK(s->stack(kLayout.stack_slots).empty());
  CHECK(s->stack(0xFFFFFFFFu).empty());

  auto mods = s->modules();
  REQUIRE(mods.size() == 1);
  CHECK(mods[0].path == "/usr/lib/libheaplens-test.so");
  CHECK(mods[0].start == 0x400000);
  CHECK(mods[0].end == 0x500000);
  CHECK(mods[0].load_bias == 0x400000);
  CHECK(mods[0].loaded_ns == 5);
  CHECK(mods[0].unloaded_ns == 0);
  REQUIRE(mods[0].build_id.size() == 20);
  CHECK(mods[0].build_id[0] == 0xA0);
  CHECK(mods[0].build_id[19] == 0xB3);

  CHECK_FALSE(s->unlink_name());  // not a named shm segment

  // The tail the reader published is in the file.
  s.reset();
  auto o = reader::Session::open(file.path(), reader::Access::kObserve, &error);
  REQUIRE(o != nullptr);
  std::vector<wire::Record> none;
  CHECK(o->drain(&none, 10, &derr) == reader::Session::Drain::kCorrupt);  // observers do not drain
  CHECK_FALSE(derr.empty());
  CHECK(o->consumer_pid() == 0);  // released when the drainer closed
  CHECK(o->stack(v.ids[0]) == v.stacks[0]);
  CHECK(o->modules().size() == 1);
}

TEST_CASE("session reader: opens through /proc/self/fd links") {
  Image image(kLayout);
  fill(image);
  TempFile file;
  file.write(image);
  std::string error;
  auto s = reader::Session::open("/proc/self/fd/" + std::to_string(file.fd()), reader::Access::kDrain, &error);
  INFO(error);
  REQUIRE(s != nullptr);
  std::vector<wire::Record> out;
  CHECK(s->drain(&out, 100, &error) == reader::Session::Drain::kFinished);
  CHECK(out.size() == 9);
}

TEST_CASE("session reader: a live producer keeps torn slots; a dead one's are skipped") {
  Image image(kLayout);
  image.describe();
  auto p = image.producer();
  std::uint64_t pos = 0;
  REQUIRE(p.try_reserve(1, &pos));
  p.put(pos, alloc(wire::Op::kAlloc, 0x1000, 8, 1, 0));
  REQUIRE(p.try_reserve(1, &pos));  // torn: never written
  REQUIRE(p.try_reserve(1, &pos));
  p.put(pos, alloc(wire::Op::kAlloc, 0x3000, 8, 1, 0));
  TempFile file;
  file.write(image);

  // The producer's lock, held on another open file description.
  int lock_fd = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(lock_fd >= 0);
  REQUIRE(flock(lock_fd, LOCK_EX | LOCK_NB) == 0);

  std::string error;
  auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
  REQUIRE(s != nullptr);
  CHECK(s->producer_alive());
  std::vector<wire::Record> out;
  for (int i = 0; i < 3; ++i) CHECK(s->drain(&out, 100, &error) == reader::Session::Drain::kMore);
  REQUIRE(out.size() == 1);
  CHECK(wire::decode(out[0]).address == 0x1000);
  CHECK(s->torn() == 0);

  flock(lock_fd, LOCK_UN);
  close(lock_fd);
  CHECK_FALSE(s->producer_alive());
  CHECK(s->drain(&out, 100, &error) == reader::Session::Drain::kFinished);
  REQUIRE(out.size() == 2);
  CHECK(wire::decode(out[1]).address == 0x3000);
  CHECK(s->torn() == 1);
}

TEST_CASE("session reader: one drainer at a time") {
  Image image(kLayout);
  fill(image);
  TempFile file;

  SECTION("a live process already drains it") {
    image.header()->consumer_pid.store(static_cast<std::uint64_t>(getppid()));
    file.write(image);
    std::string error;
    CHECK(reader::Session::open(file.path(), reader::Access::kDrain, &error) == nullptr);
    CHECK(error.find("already drained") != std::string::npos);
    // The other reader's claim is left alone, and observing still works.
    auto o = reader::Session::open(file.path(), reader::Access::kObserve, &error);
    REQUIRE(o != nullptr);
    CHECK(o->consumer_pid() == static_cast<std::uint64_t>(getppid()));
  }
  SECTION("a dead drainer's claim is taken over") {
    // A pid no process has: above pid_max, or the first free one below it. (Not a forked
    // child: fork under TSan and jemalloc trips the sanitizer's lock tracking.)
    long pid_max = 4194304;
    if (FILE* f = std::fopen("/proc/sys/kernel/pid_max", "r")) {
      if (std::fscanf(f, "%ld", &pid_max) != 1) pid_max = 4194304;
      std::fclose(f);
    }
    pid_t dead = static_cast<pid_t>(pid_max);  // pids are below pid_max
    while (dead > 2 && !(kill(dead, 0) != 0 && errno == ESRCH)) --dead;
    REQUIRE(dead > 2);
    image.header()->consumer_pid.store(static_cast<std::uint64_t>(dead));
    file.write(image);
    std::string error;
    auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
    INFO(error);
    REQUIRE(s != nullptr);
    CHECK(s->consumer_pid() == static_cast<std::uint64_t>(getpid()));
  }
}

TEST_CASE("session reader: damaged headers are refused with a message") {
  Image good(kLayout);
  fill(good);
  TempFile file;
  auto refused = [&](Image& image, std::size_t file_size, const char* expect) {
    file.write(image.bytes(), image.size(), file_size);
    std::string error;
    auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
    INFO("expected: " << expect << "; got: " << error);
    CHECK(s == nullptr);
    CHECK(error.find(expect) != std::string::npos);
  };
  {
    Image i(good);
    i.header()->magic = 0;
    refused(i, i.size(), "still being set up");
  }
  {
    Image i(good);
    i.header()->magic ^= 1;
    refused(i, i.size(), "bad magic");
  }
  {
    Image i(good);
    i.header()->version = wire::kFormatVersion + 1;
    refused(i, i.size(), "version");
  }
  {
    Image i(good);
    i.header()->record_size = 24;
    refused(i, i.size(), "sizes do not match");
  }
  {
    Image i(good);
    i.header()->max_frames = 128;
    refused(i, i.size(), "sizes do not match");
  }
  {
    Image i(good);
    i.header()->ring_capacity = 1024;  // offsets no longer match
    refused(i, i.size(), "inconsistent");
  }
  {
    Image i(good);
    i.header()->ring_capacity = 63;
    refused(i, i.size(), "inconsistent");
  }
  {
    Image i(good);
    i.header()->segment_size += 4096;
    refused(i, i.size() + 4096, "inconsistent");
  }
  {
    Image i(good);
    i.header()->mode = 3;
    refused(i, i.size(), "out of range");
  }
  {
    Image i(good);
    i.header()->on_full = 2;
    refused(i, i.size(), "out of range");
  }
  refused(good, good.size() - 4096, "inconsistent");  // truncated file
  refused(good, 4095, "size");
  refused(good, 0, "size");
  std::string error;
  CHECK(reader::Session::open("/nonexistent/heaplens-0-1-0", reader::Access::kObserve, &error) == nullptr);
  CHECK_FALSE(error.empty());
  error.clear();
  CHECK(reader::Session::open("/tmp", reader::Access::kObserve, &error) == nullptr);
  CHECK_FALSE(error.empty());
  error.clear();
  CHECK(reader::Session::open("/dev/null", reader::Access::kObserve, &error) == nullptr);
  CHECK_FALSE(error.empty());
  // A larger file than the segment is fine.
  file.write(good.bytes(), good.size(), good.size() + 8192);
  auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
  CHECK(s != nullptr);
}

TEST_CASE("session reader: a segment that shrinks under the reader fails the drain") {
  Image image(kLayout);
  fill(image);
  TempFile file;
  file.write(image);
  std::string error;
  auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
  REQUIRE(s != nullptr);
  REQUIRE(ftruncate(file.fd(), 4096) == 0);
  std::vector<wire::Record> out;
  CHECK(s->drain(&out, 100, &error) == reader::Session::Drain::kCorrupt);
  CHECK(error.find("shrank") != std::string::npos);
  CHECK(out.empty());
}

TEST_CASE("session reader: damaged ring positions, stacks and modules never crash it") {
  Image image(kLayout);
  Valid v = fill(image);
  TempFile file;
  std::string error;
  {
    Image i(image);
    i.header()->ring_head.store(5);  // behind the tail (60)
    file.write(i);
    auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
    REQUIRE(s != nullptr);
    std::vector<wire::Record> out;
    CHECK(s->drain(&out, 100, &error) == reader::Session::Drain::kCorrupt);
    CHECK(error.find("out of range") != std::string::npos);
  }
  {
    Image i(image);
    i.header()->ring_head.store(60 + 65);  // more than a ring ahead
    file.write(i);
    auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
    REQUIRE(s != nullptr);
    std::vector<wire::Record> out;
    CHECK(s->drain(&out, 100, &error) == reader::Session::Drain::kCorrupt);
  }
  {
    Image i(image);
    // A full ring of garbage behind a dead producer: everything is read or skipped.
    i.header()->ring_head.store(60 + 64);
    for (std::uint64_t k = 0; k < 64; ++k) i.ring()[k] = wire::Record{k * 0x9E3779B97F4A7C15ull, ~k};
    file.write(i);
    auto s = reader::Session::open(file.path(), reader::Access::kDrain, &error);
    REQUIRE(s != nullptr);
    std::vector<wire::Record> out;
    CHECK(s->drain(&out, 1000, &error) == reader::Session::Drain::kFinished);
    CHECK(out.size() + s->torn() == 64);
  }
  {
    Image i(image);
    i.slots()[v.ids[0]].info.store(wire::stack_info(1020, 8));  // runs past the frames
    i.slots()[v.ids[1]].info.store(wire::stack_info(0, 200));
    i.slots()[v.ids[2]].info.store(1);                          // not ready
    wire::ModuleEntry& m = i.modules()[0];
    m.path_size = 0xFFFFFFFF;
    m.build_id_size = 0xFFFFFFFF;
    std::memset(m.path, 'A', sizeof(m.path));  // no terminator
    wire::ModuleEntry& m2 = i.modules()[1];
    m2.start = 10;
    m2.end = 5;  // damaged: skipped
    i.header()->module_count.store(~0ull);
    file.write(i);
    auto s = reader::Session::open(file.path(), reader::Access::kObserve, &error);
    REQUIRE(s != nullptr);
    for (std::uint32_t id : v.ids) CHECK(s->stack(id).empty());
    auto mods = s->modules();
    CHECK(mods.size() == 3);  // entries 0, 2, 3 (zeroed entries are empty but well formed)
    REQUIRE_FALSE(mods.empty());
    CHECK(mods[0].path.size() == wire::kModulePathMax - 1);
    CHECK(mods[0].build_id.size() == wire::kBuildIdMax);
    CHECK(s->stats().module_count == kLayout.module_capacity);
  }
}

TEST_CASE("session reader: fuzzed segments give errors or results, never crashes or hangs") {
  Image image(kLayout);
  Valid v = fill(image);
  TempFile file;
  std::mt19937_64 rng(0x5EED5EED);
  auto below = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };

  std::uint64_t opened = 0, refused = 0, drained_records = 0, corrupt = 0, finished = 0, stacks_found = 0,
                modules_found = 0, events = 0;
  // A hang kills the test rather than waiting for ctest's timeout; cancelled on any exit.
  struct Watchdog {
    Watchdog() { alarm(600); }
    ~Watchdog() { alarm(0); }
  } watchdog;
  for (int iter = 0; iter < 2000; ++iter) {
    Image i(image);
    wire::SessionHeader* h = i.header();
    std::size_t file_size = i.size();
    int mutations = 1 + static_cast<int>(below(4));
    for (int m = 0; m < mutations; ++m) {
      switch (below(11)) {
        case 0: {  // any byte of the header's fixed part, or of its live fields
          std::size_t at = below(sizeof(wire::SessionHeader));
          i.bytes()[at] = static_cast<char>(rng());
          break;
        }
        case 1: {
          std::uint64_t tail = h->ring_tail.load();
          std::uint64_t choices[] = {rng(), tail + below(3 * 64), tail - below(10), 0, ~0ull};
          h->ring_head.store(choices[below(5)]);
          break;
        }
        case 2: {
          std::uint64_t head = h->ring_head.load();
          std::uint64_t choices[] = {rng(), head - below(3 * 64), head + below(10), 0, ~0ull};
          h->ring_tail.store(choices[below(5)]);
          break;
        }
        case 3: {  // record contents, sometimes with a plausible tag
          wire::Record& r = i.ring()[below(64)];
          r.w0 = rng();
          r.w1 = rng();
          if (below(2)) r.w0 = (r.w0 & ~std::uint64_t{0x3F}) | (below(3) << 4) | below(16);
          break;
        }
        case 4: {  // stack slots
          wire::StackSlot& s = i.slots()[below(kLayout.stack_slots)];
          std::uint64_t choices[] = {rng(), wire::stack_info(static_cast<std::uint32_t>(below(1100)),
                                                             static_cast<std::uint32_t>(below(80))),
                                     wire::stack_info(static_cast<std::uint32_t>(rng()), 64), 0,
                                     rng() & ~(1ull << 63)};
          s.info.store(choices[below(5)]);
          if (below(4) == 0) s.hash.store(rng());
          break;
        }
        case 5: {  // module entries and their count
          wire::ModuleEntry& e = i.modules()[below(kLayout.module_capacity)];
          std::uint32_t sizes[] = {static_cast<std::uint32_t>(rng()), 0xFFFFFFFFu, wire::kModulePathMax,
                                   wire::kModulePathMax - 1, 0};
          e.path_size = sizes[below(5)];
          e.build_id_size = below(2) ? static_cast<std::uint32_t>(rng()) : static_cast<std::uint32_t>(below(40));
          if (below(2)) std::memset(e.path, static_cast<int>(1 + below(255)), sizeof(e.path));
          if (below(3) == 0) e.end = rng();
          std::uint64_t counts[] = {rng(), ~0ull, 0, below(8)};
          if (below(2)) h->module_count.store(counts[below(4)]);
          break;
        }
        case 6: {  // a different but self-consistent layout over the same bytes
          wire::Layout l{std::uint64_t{1} << below(9), std::uint64_t{2} << below(8), 1 + below(2000),
                         1 + below(8)};
          wire::Offsets o{};
          if (!wire::compute_offsets(l, &o)) break;
          h->ring_capacity = l.ring_capacity;
          h->stack_slots = l.stack_slots;
          h->frames_capacity = l.frames_capacity;
          h->module_capacity = l.module_capacity;
          h->ring_offset = o.ring;
          h->stacks_offset = o.stacks;
          h->frames_offset = o.frames;
          h->modules_offset = o.modules;
          h->segment_size = o.total;
          if (o.total > file_size && below(2)) file_size = o.total;
          break;
        }
        case 7: {  // truncate or extend the file
          std::size_t sizes[] = {below(i.size() + 8192), below(4096), i.size() - 4096, i.size() + 4096};
          file_size = sizes[below(4)];
          break;
        }
        case 8:  // frames
          i.frames()[below(kLayout.frames_capacity)] = rng();
          break;
        case 9: {
          std::uint64_t pids[] = {0, static_cast<std::uint64_t>(getpid()), 1, rng(), static_cast<std::uint64_t>(INT32_MAX) + 5};
          h->consumer_pid.store(pids[below(5)]);
          break;
        }
        default: {  // a random byte anywhere
          i.bytes()[below(i.size())] = static_cast<char>(rng());
          break;
        }
      }
    }
    file.write(i.bytes(), i.size(), file_size);

    std::string error;
    bool observe = below(5) == 0;
    auto s = reader::Session::open(file.path(), observe ? reader::Access::kObserve : reader::Access::kDrain, &error);
    if (s == nullptr) {
      REQUIRE_FALSE(error.empty());
      ++refused;
      continue;
    }
    ++opened;
    const reader::SessionInfo& info = s->info();
    REQUIRE(info.segment_size <= file_size);
    REQUIRE(info.executable.size() < wire::kExecutableMax);
    reader::LiveStats st = s->stats();
    REQUIRE(st.module_count <= info.layout.module_capacity);

    reader::EventDecoder dec;
    for (int call = 0; call < 8; ++call) {
      std::vector<wire::Record> out;
      std::size_t max = 1 + below(100);
      std::string derr;
      reader::Session::Drain d = s->drain(&out, max, &derr);
      REQUIRE(out.size() <= max);
      drained_records += out.size();
      for (const auto& r : out) {
        reader::Event e;
        if (dec.feed(r, &e)) ++events;
      }
      if (d == reader::Session::Drain::kCorrupt) {
        REQUIRE_FALSE(derr.empty());
        if (!observe) ++corrupt;
        break;
      }
      if (d == reader::Session::Drain::kFinished) {
        ++finished;
        break;
      }
    }
    for (int k = 0; k < 24; ++k) {
      std::uint32_t id = k < 3 ? v.ids[static_cast<std::size_t>(k)]
                               : (below(4) == 0 ? static_cast<std::uint32_t>(rng()) : static_cast<std::uint32_t>(below(300)));
      auto frames = s->stack(id);
      REQUIRE(frames.size() <= wire::kMaxFrames);
      stacks_found += !frames.empty();
    }
    for (const reader::Module& m : s->modules()) {
      REQUIRE(m.path.size() < wire::kModulePathMax);
      REQUIRE(m.build_id.size() <= wire::kBuildIdMax);
      REQUIRE(m.end >= m.start);
      ++modules_found;
    }
  }
  INFO("opened " << opened << ", refused " << refused << ", records " << drained_records << ", events " << events
                 << ", corrupt drains " << corrupt << ", finished " << finished << ", stacks " << stacks_found
                 << ", modules " << modules_found);
  // The fuzz must reach past validation often enough to mean something, and hit each outcome.
  CHECK(opened >= 400);
  CHECK(refused >= 100);
  CHECK(drained_records >= 1000);
  CHECK(events >= 100);
  CHECK(corrupt >= 50);
  CHECK(finished >= 50);
  CHECK(stacks_found >= 100);
  CHECK(modules_found >= 100);
}
