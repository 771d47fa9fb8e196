// The consumer library: find sessions, attach to one, drain its records, read its stacks,
// modules and live counters, and notice when its producer is gone. The CLI and the viewer
// build on this; it is never linked into the traced process.
//
// Every byte of a segment comes from another process and is untrusted: the header is
// validated once at open() and copied; everything read later (ring positions, stack ids,
// frame offsets, module entries) is bounds-checked against that copy. A damaged or hostile
// segment makes a call fail with a one-line error; it never crashes or loops.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "event_decoder.h"
#include "format.h"
#include "ring.h"

namespace heaplens::reader {

struct SessionInfo {
  std::string path;  // what was opened
  std::int64_t pid = 0;
  std::int64_t ppid = 0;
  std::string executable;
  std::uint64_t start_realtime_ns = 0;
  std::uint64_t clock_base_ns = 0;
  wire::Mode mode = wire::Mode::kSampled;
  wire::OnFull on_full = wire::OnFull::kDrop;
  std::uint64_t sample_interval = 0;
  std::uint64_t large_threshold = 0;
  std::uint32_t backend = 0;
  std::uint64_t run_id = 0;
  bool cuda_pool = false;  // the CUDA caching pool served cudaMalloc/cudaFree
  wire::Layout layout{};
  std::uint64_t segment_size = 0;
};

// A snapshot of the header's live fields.
struct LiveStats {
  wire::SessionState state = wire::SessionState::kStarting;
  std::uint64_t records_written = 0, records_dropped = 0;
  std::uint64_t events_sampled = 0, events_unrecorded = 0;
  std::uint64_t stacks_used = 0, stacks_dropped = 0, frames_used = 0, module_count = 0;
  std::uint64_t tracker_ns = 0, process_cpu_ns = 0, published_ns = 0;
  std::uint64_t allocations = 0, frees = 0, bytes_requested = 0, bytes_allocated = 0, bytes_freed = 0;
  std::uint64_t live_bytes = 0, peak_live_bytes = 0, large_allocations = 0, threads = 0;
  std::uint64_t heap_allocated = 0, heap_active = 0, heap_resident = 0, heap_mapped = 0, heap_retained = 0;
  // The CUDA caching pool's counters by device ordinal (wire::SessionHeader::DevicePool).
  struct DevicePool {
    std::uint64_t reserved_bytes = 0, in_use_bytes = 0, requested_bytes = 0, largest_cached = 0;
    std::uint64_t hits = 0, misses = 0, driver_frees = 0, trims = 0;
  };
  DevicePool pool[wire::SessionHeader::kPoolDevices];
};

struct Module {
  std::uint64_t load_bias = 0, start = 0, end = 0, loaded_ns = 0, unloaded_ns = 0;
  std::string path;
  std::vector<std::uint8_t> build_id;
};

enum class Access {
  kDrain,    // the single consumer: advances the ring's tail
  kObserve,  // header, stacks and modules only; never touches the ring
};

class Session {
 public:
  // Opens a segment by path (/dev/shm/heaplens-..., /proc/PID/fd/N) or by shm name
  // ("/heaplens-..."). kDrain fails if another live process is draining it.
  static std::unique_ptr<Session> open(const std::string& path, Access access, std::string* error);
  // The newest session of a process (named, or found through its open descriptors).
  static std::unique_ptr<Session> open_pid(std::int64_t pid, Access access, std::string* error);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const SessionInfo& info() const { return info_; }
  LiveStats stats() const;

  enum class Drain {
    kMore,       // records may still come
    kFinished,   // the producer is gone and everything it committed has been read
    kCorrupt,    // the segment is damaged: *error says how
  };
  // Appends up to `max` records to *out. Slots a dead producer left half-written are skipped
  // and counted (torn()).
  Drain drain(std::vector<wire::Record>* out, std::size_t max, std::string* error);

  // The producer process image still holds the segment (it has not exited, crashed or
  // exec'd).
  bool producer_alive() const;

  // Frames of a stack id (innermost first); empty if the id is unknown or invalid.
  std::vector<std::uint64_t> stack(std::uint32_t id) const;
  std::vector<Module> modules() const;

  std::uint64_t torn() const { return torn_; }
  // Process id of the process draining the session (0: none).
  std::uint64_t consumer_pid() const { return header_->consumer_pid.load(std::memory_order_acquire); }
  // The same, but 0 when that process is gone (its claim is stale: a drain may take over).
  std::uint64_t active_consumer_pid() const;
  // Removes the session's name (if it has one); the mapping stays valid.
  bool unlink_name();

 private:
  Session() = default;
  bool validate(std::string* error);
  bool size_unchanged(std::string* error) const;

  SessionInfo info_;
  Access access_ = Access::kObserve;
  int fd_ = -1;
  void* base_ = nullptr;
  std::size_t mapped_ = 0;
  wire::SessionHeader* header_ = nullptr;
  ring::Consumer consumer_;
  const wire::StackSlot* stacks_ = nullptr;
  const std::uint64_t* frames_ = nullptr;
  const wire::ModuleEntry* modules_ = nullptr;
  std::uint64_t torn_ = 0;
  std::string shm_path_;  // /dev/shm path when the session is named
};

struct SessionEntry {
  std::string path;   // openable path
  std::int64_t pid = 0;
  std::uint32_t image = 0;  // <n> of the name: the pid's nth image
  bool named = false;       // has a /dev/shm name (HEAPLENS_KEEP_SESSION)
  bool alive = false;       // its producer still runs
};

// Sessions of user `uid`: named ones in /dev/shm and unnamed ones held open by processes.
std::vector<SessionEntry> list_sessions(std::uint32_t uid);

// Unlinks named sessions of `uid` whose producer is gone and that no live process drains.
// Returns how many were removed.
std::size_t sweep_stale(std::uint32_t uid);

}  // namespace heaplens::reader
