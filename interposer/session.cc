#include "session.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace heaplens::session {
namespace {

template <typename... Args>
void say(char* why, std::size_t size, fmt::format_string<Args...> f, Args&&... args) noexcept {
  if (size == 0) return;
  auto r = fmt::format_to_n(why, size - 1, f, std::forward<Args>(args)...);
  why[r.size < size - 1 ? r.size : size - 1] = '\0';
}

std::uint64_t clock_ns(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void describe(const Params& p, const wire::Offsets& o, Segment* s) noexcept {
  auto* h = s->header;
  // magic stays 0 until create() publishes the finished header (a reader polling for the
  // segment must not accept half of it).
  h->version = wire::kFormatVersion;
  h->header_size = wire::kHeaderSize;
  h->record_size = sizeof(wire::Record);
  h->stack_slot_size = sizeof(wire::StackSlot);
  h->module_entry_size = sizeof(wire::ModuleEntry);
  h->max_frames = wire::kMaxFrames;
  h->segment_size = o.total;
  h->ring_offset = o.ring;
  h->ring_capacity = p.layout.ring_capacity;
  h->stacks_offset = o.stacks;
  h->stack_slots = p.layout.stack_slots;
  h->frames_offset = o.frames;
  h->frames_capacity = p.layout.frames_capacity;
  h->modules_offset = o.modules;
  h->module_capacity = p.layout.module_capacity;
  h->pid = getpid();
  h->ppid = getppid();
  h->start_realtime_ns = clock_ns(CLOCK_REALTIME);
  h->clock_base_ns = clock_ns(CLOCK_MONOTONIC);
  h->mode = static_cast<std::uint32_t>(p.mode);
  h->on_full = static_cast<std::uint32_t>(p.on_full);
  h->sample_interval = p.sample_interval;
  h->large_threshold = p.large_threshold;
  h->backend = p.backend;
  h->run_id = p.run_id;
  h->cuda_pool = p.cuda_pool ? 1 : 0;
  ssize_t n = readlink("/proc/self/exe", h->executable, sizeof(h->executable) - 1);
  h->executable[n > 0 ? n : 0] = '\0';
  auto* base = reinterpret_cast<char*>(h);
  s->ring = reinterpret_cast<wire::Record*>(base + o.ring);
  s->stacks = reinterpret_cast<wire::StackSlot*>(base + o.stacks);
  s->frames = reinterpret_cast<std::uint64_t*>(base + o.frames);
  s->modules = reinterpret_cast<wire::ModuleEntry*>(base + o.modules);
}

}  // namespace

std::uint64_t monotonic_ns() noexcept { return clock_ns(CLOCK_MONOTONIC); }

wire::Layout layout_for(std::size_t ring_bytes, bool full) noexcept {
  wire::Layout l{};
  l.ring_capacity = ring_bytes / sizeof(wire::Record);
  // Sampled mode sees a few thousand distinct stacks in most programs; full mode sees every
  // call path (recursive code has tens of thousands).
  l.stack_slots = full ? 1u << 17 : 1u << 15;
  l.frames_capacity = full ? std::uint64_t{1} << 21 : std::uint64_t{1} << 19;
  l.module_capacity = 512;
  return l;
}

bool create(const Params& params, Segment* out, char* why, std::size_t why_size) noexcept {
  wire::Offsets o{};
  if (!wire::compute_offsets(params.layout, &o)) {
    say(why, why_size, "invalid session layout");
    return false;
  }
  Segment s;
  int fd = -1;
  for (std::uint32_t n = 0; n < 1000 && fd < 0; ++n) {
    if (!session_name::format(s.name, sizeof(s.name), getuid(), getpid(), n)) break;
    fd = shm_open(s.name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    say(why, why_size, "cannot create a session in shared memory ({}): recording is off",
        std::strerror(errno));
    return false;
  }
  // Everything but the frames array, which is most of the segment (4 MiB of 6 in sampled
  // mode, 16 of 19 in full mode) and is allocated as stacks arrive: a short program does not
  // wait for tmpfs to clear pages it never uses (2 ms of a 20 ms git run).
  int err = posix_fallocate(fd, 0, static_cast<off_t>(o.frames));
  if (err == 0) err = posix_fallocate(fd, static_cast<off_t>(o.modules), static_cast<off_t>(o.total - o.modules));
  if (err != 0) {
    say(why, why_size, "cannot reserve {} KiB of shared memory for the session ({}): recording is off",
        o.total >> 10, std::strerror(err));
    shm_unlink(s.name);
    close(fd);
    return false;
  }
  void* mem = mmap(nullptr, o.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) {
    say(why, why_size, "cannot map the session ({}): recording is off", std::strerror(errno));
    shm_unlink(s.name);
    close(fd);
    return false;
  }
  flock(fd, LOCK_EX | LOCK_NB);  // nobody else can hold it yet
  s.fd = fd;
  s.size = o.total;
  s.frames_offset = o.frames;
  s.header = static_cast<wire::SessionHeader*>(mem);
  describe(params, o, &s);
  s.header->state.store(static_cast<std::uint64_t>(wire::SessionState::kRunning), std::memory_order_release);
  // Last: the header is complete (readers load magic with acquire before anything else).
  std::atomic_ref<std::uint64_t>(s.header->magic).store(wire::kMagic, std::memory_order_release);
  if (!params.keep_name) shm_unlink(s.name);
  *out = s;
  return true;
}

bool back_frames(const Segment& s, std::uint64_t from, std::uint64_t to) noexcept {
  if (s.fd < 0 || to <= from) return s.fd >= 0;
  return posix_fallocate(s.fd, static_cast<off_t>(s.frames_offset + from * 8),
                         static_cast<off_t>((to - from) * 8)) == 0;
}

void drop_inherited(Segment* s) noexcept {
  if (s->header != nullptr) munmap(s->header, s->size);
  // The descriptor shares the parent's open file description: closing ours leaves the
  // parent's lock in place.
  if (s->fd >= 0) close(s->fd);
  *s = Segment{};
}

}  // namespace heaplens::session
