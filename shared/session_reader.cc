#include "session_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "session_name.h"
#include "stack_table.h"

namespace heaplens::reader {
namespace {

constexpr const char* kShmDir = "/dev/shm/";
// Bigger segments are not ours (and would not be mapped whole).
constexpr std::uint64_t kMaxSegment = std::uint64_t{1} << 38;

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

bool process_alive(std::int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// A producer holds an exclusive flock for as long as its image lives.
bool lock_held(int fd) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    flock(fd, LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

std::string link_target(const std::string& path) {
  char buf[512];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

// "/dev/shm/heaplens-..." or "/dev/shm/heaplens-... (deleted)" -> the bare name.
bool session_link(const std::string& target, std::string* name) {
  if (target.rfind(kShmDir, 0) != 0) return false;
  std::string rest = target.substr(std::strlen(kShmDir));
  constexpr const char* kDeleted = " (deleted)";
  if (rest.size() > std::strlen(kDeleted) && rest.compare(rest.size() - std::strlen(kDeleted), std::string::npos, kDeleted) == 0)
    rest.resize(rest.size() - std::strlen(kDeleted));
  std::uint32_t uid, n;
  std::int64_t pid;
  if (!session_name::parse(rest.c_str(), &uid, &pid, &n)) return false;
  *name = rest;
  return true;
}

}  // namespace

Session::~Session() {
  if (header_ != nullptr && access_ == Access::kDrain) {
    std::uint64_t me = static_cast<std::uint64_t>(getpid());
    header_->consumer_pid.compare_exchange_strong(me, 0);
  }
  if (base_ != nullptr) munmap(base_, mapped_);
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<Session> Session::open(const std::string& path_in, Access access, std::string* error) {
  std::string path = path_in;
  // An shm name ("/heaplens-...") lives under /dev/shm.
  if (path.rfind("/heaplens-", 0) == 0) path = std::string(kShmDir) + path.substr(1);
  std::unique_ptr<Session> s(new Session());
  s->access_ = access;
  s->info_.path = path;
  s->fd_ = ::open(path.c_str(), (access == Access::kDrain ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
  if (s->fd_ < 0 && errno == ELOOP) s->fd_ = ::open(path.c_str(), (access == Access::kDrain ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (s->fd_ < 0) {
    *error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st{};
  if (fstat(s->fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = path + ": not a session segment (not a regular file)";
    return nullptr;
  }
  if (static_cast<std::uint64_t>(st.st_size) < wire::kHeaderSize || static_cast<std::uint64_t>(st.st_size) > kMaxSegment) {
    *error = path + ": not a session segment (size " + std::to_string(st.st_size) + ")";
    return nullptr;
  }
  s->mapped_ = static_cast<std::size_t>(st.st_size);
  // Read-only mappings for observers; the drainer must write the tail and its heartbeat.
  int prot = access == Access::kDrain ? PROT_READ | PROT_WRITE : PROT_READ;
  s->base_ = mmap(nullptr, s->mapped_, prot, MAP_SHARED, s->fd_, 0);
  if (s->base_ == MAP_FAILED) {
    s->base_ = nullptr;
    *error = path + ": cannot map: " + std::strerror(errno);
    return nullptr;
  }
  s->header_ = static_cast<wire::SessionHeader*>(s->base_);
  if (!s->validate(error)) {
    *error = path + ": " + *error;
    return nullptr;
  }
  std::string name;
  if (session_link(path.rfind(kShmDir, 0) == 0 ? path : link_target(path), &name)) {
    std::string named = std::string(kShmDir) + name;
    struct stat nst{};
    if (::stat(named.c_str(), &nst) == 0 && nst.st_ino == st.st_ino && nst.st_dev == st.st_dev) s->shm_path_ = named;
  }
  if (access == Access::kDrain) {
    std::uint64_t me = static_cast<std::uint64_t>(getpid());
    std::uint64_t current = s->header_->consumer_pid.load(std::memory_order_acquire);
    while (current != me) {
      if (current != 0 && process_alive(static_cast<std::int64_t>(current))) {
        *error = path + ": already drained by process " + std::to_string(current);
        s->access_ = Access::kObserve;  // do not clear the other reader's claim
        return nullptr;
      }
      if (s->header_->consumer_pid.compare_exchange_weak(current, me, std::memory_order_acq_rel)) break;
    }
    s->header_->consumer_heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
    s->consumer_ = ring::Consumer(s->header_, reinterpret_cast<const wire::Record*>(
                                                  static_cast<const char*>(s->base_) + wire::kHeaderSize),
                                  s->info_.layout.ring_capacity);
  }
  return s;
}

bool Session::validate(std::string* error) {
  const wire::SessionHeader& h = *header_;
  // The producer publishes magic last (release): every other field is complete once it is set.
  std::uint64_t magic = std::atomic_ref<std::uint64_t>(header_->magic).load(std::memory_order_acquire);
  if (magic == 0) {
    *error = "session is still being set up (try again)";
    return false;
  }
  if (magic != wire::kMagic) {
    *error = "not a heaplens session (bad magic)";
    return false;
  }
  if (h.version != wire::kFormatVersion) {
    *error = "session format version " + std::to_string(h.version) + ", this reader understands " +
             std::to_string(wire::kFormatVersion);
    return false;
  }
  if (h.header_size != wire::kHeaderSize || h.record_size != sizeof(wire::Record) ||
      h.stack_slot_size != sizeof(wire::StackSlot) || h.module_entry_size != sizeof(wire::ModuleEntry) ||
      h.max_frames != wire::kMaxFrames) {
    *error = "session layout sizes do not match this reader";
    return false;
  }
  wire::Layout l{h.ring_capacity, h.stack_slots, h.frames_capacity, h.module_capacity};
  wire::Offsets o{};
  if (!wire::compute_offsets(l, &o) || o.ring != wire::kHeaderSize || o.stacks != h.stacks_offset ||
      o.frames != h.frames_offset || o.modules != h.modules_offset || o.ring != h.ring_offset ||
      o.total != h.segment_size || o.total > mapped_) {
    *error = "session layout is inconsistent (damaged segment)";
    return false;
  }
  if (h.mode > static_cast<std::uint32_t>(wire::Mode::kFull) || h.on_full > 1) {
    *error = "session settings are out of range (damaged segment)";
    return false;
  }
  info_.pid = h.pid;
  info_.ppid = h.ppid;
  info_.executable.assign(h.executable, strnlen(h.executable, sizeof(h.executable)));
  info_.start_realtime_ns = h.start_realtime_ns;
  info_.clock_base_ns = h.clock_base_ns;
  info_.mode = static_cast<wire::Mode>(h.mode);
  info_.on_full = static_cast<wire::OnFull>(h.on_full);
  info_.sample_interval = h.sample_interval;
  info_.large_threshold = h.large_threshold;
  info_.backend = h.backend;
  info_.run_id = h.run_id;
  info_.cuda_pool = h.cuda_pool != 0;
  info_.layout = l;
  info_.segment_size = o.total;
  const char* base = static_cast<const char*>(base_);
  stacks_ = reinterpret_cast<const wire::StackSlot*>(base + o.stacks);
  frames_ = reinterpret_cast<const std::uint64_t*>(base + o.frames);
  modules_ = reinterpret_cast<const wire::ModuleEntry*>(base + o.modules);
  return true;
}

// A producer that shrinks its segment would turn our next access into SIGBUS: check before
// each batch (a shrink between this check and the reads is not caught).
bool Session::size_unchanged(std::string* error) const {
  struct stat st{};
  if (fstat(fd_, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < mapped_) {
    *error = info_.path + ": the segment shrank under the reader (damaged or hostile producer)";
    return false;
  }
  return true;
}

LiveStats Session::stats() const {
  const wire::SessionHeader& h = *header_;
  constexpr auto R = std::memory_order_relaxed;
  LiveStats s;
  std::uint64_t state = h.state.load(std::memory_order_acquire);
  s.state = state <= 2 ? static_cast<wire::SessionState>(state) : wire::SessionState::kStarting;
  s.records_written = h.records_written.load(R);
  s.records_dropped = h.records_dropped.load(R);
  s.events_sampled = h.events_sampled.load(R);
  s.events_unrecorded = h.events_unrecorded.load(R);
  s.stacks_used = h.stacks_used.load(R);
  s.stacks_dropped = h.stacks_dropped.load(R);
  s.frames_used = h.frames_used.load(R);
  s.module_count = std::min<std::uint64_t>(h.module_count.load(R), info_.layout.module_capacity);
  s.tracker_ns = h.tracker_ns.load(R);
  s.process_cpu_ns = h.process_cpu_ns.load(R);
  s.published_ns = h.published_ns.load(R);
  s.allocations = h.allocations.load(R);
  s.frees = h.frees.load(R);
  s.bytes_requested = h.bytes_requested.load(R);
  s.bytes_allocated = h.bytes_allocated.load(R);
  s.bytes_freed = h.bytes_freed.load(R);
  s.live_bytes = h.live_bytes.load(R);
  s.peak_live_bytes = h.peak_live_bytes.load(R);
  s.large_allocations = h.large_allocations.load(R);
  s.threads = h.threads.load(R);
  s.heap_allocated = h.heap_allocated.load(R);
  s.heap_active = h.heap_active.load(R);
  s.heap_resident = h.heap_resident.load(R);
  s.heap_mapped = h.heap_mapped.load(R);
  s.heap_retained = h.heap_retained.load(R);
  for (std::uint32_t i = 0; i < wire::SessionHeader::kPoolDevices; ++i) {
    const wire::SessionHeader::DevicePool& p = h.pool[i];
    s.pool[i] = {p.reserved_bytes.load(R), p.in_use_bytes.load(R), p.requested_bytes.load(R), p.largest_cached.load(R),
                 p.hits.load(R),           p.misses.load(R),       p.driver_frees.load(R),    p.trims.load(R)};
  }
  return s;
}

bool Session::producer_alive() const { return lock_held(fd_); }

Session::Drain Session::drain(std::vector<wire::Record>* out, std::size_t max, std::string* error) {
  if (access_ != Access::kDrain) {
    *error = info_.path + ": opened for observing only";
    return Drain::kCorrupt;
  }
  if (!size_unchanged(error)) return Drain::kCorrupt;
  header_->consumer_heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  // Liveness first: a producer seen dead before reading has committed all it ever will.
  bool alive = producer_alive();
  std::size_t start = out->size();
  while (out->size() - start < max) {
    std::size_t want = std::min<std::size_t>(max - (out->size() - start), 65536);
    std::size_t at = out->size();
    out->resize(at + want);
    std::size_t n = 0;
    ring::ReadStatus st = consumer_.read(out->data() + at, want, &n);
    out->resize(at + n);
    if (st == ring::ReadStatus::kCorrupt) {
      *error = info_.path + ": ring positions are out of range (damaged segment)";
      return Drain::kCorrupt;
    }
    if (st == ring::ReadStatus::kUncommitted) {
      if (alive) return Drain::kMore;  // its writer is still at work
      torn_ += consumer_.skip_uncommitted();
      continue;
    }
    if (n < want) break;  // read everything there is
  }
  if (!alive && consumer_.backlog() == 0) return Drain::kFinished;
  return Drain::kMore;
}

std::vector<std::uint64_t> Session::stack(std::uint32_t id) const {
  std::string error;
  if (!size_unchanged(&error)) return {};
  std::uint64_t frames[wire::kMaxFrames];
  std::uint32_t depth = stacks::read_stack(stacks_, info_.layout.stack_slots, frames_,
                                           info_.layout.frames_capacity, id, frames);
  return std::vector<std::uint64_t>(frames, frames + depth);
}

std::vector<Module> Session::modules() const {
  std::vector<Module> out;
  std::string error;
  if (!size_unchanged(&error)) return out;
  std::uint64_t n = std::min<std::uint64_t>(header_->module_count.load(std::memory_order_acquire),
                                            info_.layout.module_capacity);
  for (std::uint64_t i = 0; i < n; ++i) {
    const wire::ModuleEntry& e = modules_[i];
    Module m;
    m.load_bias = e.load_bias;
    m.start = e.start;
    m.end = e.end;
    m.loaded_ns = e.loaded_ns;
    m.unloaded_ns = const_cast<wire::ModuleEntry&>(e).unloaded_ns.load(std::memory_order_acquire);
    std::uint32_t path_size = std::min<std::uint32_t>(e.path_size, wire::kModulePathMax - 1);
    m.path.assign(e.path, strnlen(e.path, path_size));
    std::uint32_t id_size = std::min<std::uint32_t>(e.build_id_size, wire::kBuildIdMax);
    m.build_id.assign(e.build_id, e.build_id + id_size);
    if (m.end < m.start) continue;  // damaged entry
    out.push_back(std::move(m));
  }
  return out;
}

std::uint64_t Session::active_consumer_pid() const {
  std::uint64_t pid = consumer_pid();
  return pid != 0 && process_alive(static_cast<std::int64_t>(pid)) ? pid : 0;
}

bool Session::unlink_name() {
  if (shm_path_.empty()) return false;
  bool ok = ::unlink(shm_path_.c_str()) == 0;
  shm_path_.clear();
  return ok;
}

std::unique_ptr<Session> Session::open_pid(std::int64_t pid, Access access, std::string* error) {
  std::string best;
  std::uint32_t best_n = 0;
  for (const SessionEntry& e : list_sessions(getuid())) {
    if (e.pid != pid) continue;
    if (best.empty() || e.image >= best_n) {
      best = e.path;
      best_n = e.image;
    }
  }
  if (best.empty()) {
    *error = "no heaplens session for process " + std::to_string(pid) +
             " (not running under heaplens, recording off, or nothing recorded yet)";
    return nullptr;
  }
  return open(best, access, error);
}

std::vector<SessionEntry> list_sessions(std::uint32_t uid) {
  std::vector<SessionEntry> out;
  std::vector<std::string> seen;  // names already listed
  if (DIR* d = opendir(kShmDir)) {
    while (dirent* e = readdir(d)) {
      std::uint32_t u, n;
      std::int64_t pid;
      if (!session_name::parse(e->d_name, &u, &pid, &n) || u != uid) continue;
      SessionEntry s;
      s.path = std::string(kShmDir) + e->d_name;
      s.pid = pid;
      s.image = n;
      s.named = true;
      int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
      s.alive = fd >= 0 && lock_held(fd);
      if (fd >= 0) close(fd);
      seen.push_back(e->d_name);
      out.push_back(s);
    }
    closedir(d);
  }
  // Unnamed sessions: held open by their producers (and readers).
  if (DIR* proc = opendir("/proc")) {
    while (dirent* p = readdir(proc)) {
      if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
      std::string fd_dir = std::string("/proc/") + p->d_name + "/fd";
      DIR* fds = opendir(fd_dir.c_str());
      if (fds == nullptr) continue;
      while (dirent* f = readdir(fds)) {
        if (f->d_name[0] == '.') continue;
        std::string path = fd_dir + "/" + f->d_name;
        std::string name;
        if (!session_link(link_target(path), &name)) continue;
        std::uint32_t u, n;
        std::int64_t pid;
        session_name::parse(name.c_str(), &u, &pid, &n);
        if (u != uid || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
        // Only the producer's own descriptor counts (readers hold some too).
        if (std::to_string(pid) != p->d_name) continue;
        SessionEntry s;
        s.path = path;
        s.pid = pid;
        s.image = n;
        s.named = false;
        s.alive = true;
        seen.push_back(name);
        out.push_back(s);
      }
      closedir(fds);
    }
    closedir(proc);
  }
  std::sort(out.begin(), out.end(), [](const SessionEntry& a, const SessionEntry& b) {
    return a.pid != b.pid ? a.pid < b.pid : a.image < b.image;
  });
  return out;
}

std::size_t sweep_stale(std::uint32_t uid) {
  std::size_t removed = 0;
  for (const SessionEntry& e : list_sessions(uid)) {
    if (!e.named || e.alive) continue;
    // Young segments are left alone: one whose producer is still setting it up (its lock
    // not yet taken), or one that `heaplens run` has not yet found (it looks every few ms).
    constexpr std::uint64_t kMinAgeNs = 2'000'000'000ULL;
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    std::uint64_t now_ns = static_cast<std::uint64_t>(now.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(now.tv_nsec);
    std::string error;
    auto s = Session::open(e.path, Access::kObserve, &error);
    if (s) {
      if (now_ns - s->info().start_realtime_ns < kMinAgeNs) continue;
      std::uint64_t consumer = s->consumer_pid();
      if (consumer != 0 && consumer != static_cast<std::uint64_t>(getpid()) &&
          process_alive(static_cast<std::int64_t>(consumer)))
        continue;  // someone is still reading it
    } else {
      struct stat st{};
      if (::stat(e.path.c_str(), &st) != 0) continue;
      std::uint64_t changed = static_cast<std::uint64_t>(st.st_ctim.tv_sec) * 1000000000ULL +
                              static_cast<std::uint64_t>(st.st_ctim.tv_nsec);
      if (now_ns - changed < kMinAgeNs) continue;
    }
    if (::unlink(e.path.c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace heaplens::reader
