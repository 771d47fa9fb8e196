// The heaplens session format: everything a traced process (the producer, libheaplens.so)
// and a reader in another process (CLI, viewer) agree on. This header is the one document of
// that format; every field and every bit is described here, and the layout is
// static_assert-ed. Bump kFormatVersion on any change a reader could misread.
//
// A session is one POSIX shared-memory segment per traced process image (see
// session_name.h for its name), laid out as
//
//   [SessionHeader: 4 KiB] [ring: Record x ring_capacity] [StackSlot x stack_slots]
//   [frames: u64 x frames_capacity] [ModuleEntry x module_capacity]
//
// at the offsets the header gives. All integers are little-endian, in the producer's native
// layout (readers run on the same machine). Fields written while the session runs are
// std::atomic<uint64_t> (lock-free, address-free, hence valid across processes).
// A reader must treat every byte as untrusted: validate_layout() checks a header, and
// every offset, count and id read later is bounds-checked against the validated layout.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace heaplens::wire {

inline constexpr std::uint64_t kMagic = 0x31534e4c50414548ULL;  // bytes "HEAPLNS1" in memory
inline constexpr std::uint32_t kFormatVersion = 3;  // 2: run_id; 3: device Ext records, CUDA pool counters

// ---------------------------------------------------------------------------------------
// The record: 16 bytes, two little-endian 64-bit words.
//
// w0  bits  0..3   op      Op below; 0 = slot never written.
//           4..5   lap     commit tag: 1 + (lap & 1), where lap = position / ring_capacity.
//                          The producer writes w1, then w0 (release); a reader that finds
//                          the tag of the lap it expects knows both words are complete.
//           6..7   flags   kFlagSampled, kFlagRealloc (below).
//           8..13  device  0 = host; 1..32 = CUDA device 0..31; 33..47 reserved for other
//                          device kinds (Metal); 48..63 reserved.
//          14..25  thread  the producer's thread slot 1..4095 (0 = unknown); a Thread
//                          record maps a slot to an OS thread id. Slots are reused after
//                          4095 threads; the latest Thread record for a slot wins.
//          26..45  stack   stack id: index of a StackSlot, 1..stack_slots-1; 0 = none
//                          (not unwound, or the stack table was full).
//          46..63  size    bits 0..17 of the size in bytes.
// w1  bits  0..47  address user-space address (x86-64 and AArch64 user addresses fit in 48
//                          bits; a larger one is carried by an Ext record).
//          48..63  size    bits 18..33 of the size.
//
// Sizes are exact below kSizeEscape (16 GiB - 1). A larger size, or an address that does not
// fit in 48 bits, is written losslessly as an Ext record in the same reservation, directly
// before the record it completes; the field in the record then holds the escape value
// (kSizeEscape, kAddressEscape).
//
// Ops:
//   Alloc    a block [address, address+size) became live, allocated at `stack`.
//   Free     the block at `address` was released (size 0: the reader knows it). With
//            kFlagRealloc it is the old block of a realloc whose outcome follows: the
//            Realloc of the new block, or, if the realloc failed, an Alloc of the old block
//            again (size: its usable size, stack: the realloc's).
//   Realloc  the new block of a realloc (address, size, stack). If the old block was
//            recorded, its Free with kFlagRealloc is the previous event of the same thread
//            slot; otherwise the old block was not recorded. The two are separate
//            reservations (the Free goes out before the old block can be reused): records of
//            other threads and a Time record may come between them.
//   Ext      w0 bits 6..7: ExtKind; w1: the full 64-bit value for the next record.
//            kExtAddress and kExtSize carry an escaped address or size. kExtDevice and
//            kExtStream describe a device allocation (device != 0): w1 of kExtDevice is
//            bits 0..7 DeviceKind, bits 8..15 DeviceApi; w1 of kExtStream is the CUDA stream
//            handle of a stream-ordered allocation (0: the legacy default stream). Ext
//            records of one event are in one reservation, directly before it, each kind at
//            most once, in any order.
//   Time     w1: nanoseconds since SessionHeader::clock_base_ns (CLOCK_MONOTONIC). Every
//            record until the next Time record happened at (or within 1 ms after) that
//            time: producers emit a Time record whenever the millisecond changes.
//   Thread   thread slot `thread` now belongs to the OS thread id in w1 (bits 0..31).
//   End      the producer image is finishing (exit, or exec); w1: exit time like Time.
//   8..15    reserved; readers skip them.
//
// Device memory (device != 0): every allocation is recorded (weight 1, never sampled), its
// Alloc preceded by a kExtDevice record (and kExtStream for stream-ordered ones). A device
// block is identified by (device, address): pinned host memory and VMM handles can share
// numbers with host blocks. For kVmm the "address" is the physical allocation's handle
// (cuMemCreate) and the block lives until it is both released and unmapped everywhere.
//
// Flags: kFlagSampled on Alloc/Realloc: recorded by the Poisson sampler (sampling interval
// R = SessionHeader::sample_interval), so it stands for 1/p allocations and size/p bytes,
// p = 1 - exp(-size/R). Without it the allocation was recorded unconditionally (full
// mode, or at least the pool's large threshold): weight 1.
// ---------------------------------------------------------------------------------------

struct Record {
  std::uint64_t w0;
  std::uint64_t w1;
};
static_assert(sizeof(Record) == 16 && alignof(Record) == 8);

enum class Op : std::uint8_t {
  kEmpty = 0,
  kAlloc = 1,
  kFree = 2,
  kRealloc = 3,
  kExt = 4,
  kTime = 5,
  kThread = 6,
  kEnd = 7,
  kFirstDeviceOp = 8,  // 8..15 reserved
};
enum ExtKind : std::uint8_t { kExtAddress = 0, kExtSize = 1, kExtDevice = 2, kExtStream = 3 };

// What a device allocation is (kExtDevice bits 0..7).
enum class DeviceKind : std::uint8_t {
  kUnknown = 0,
  kDevice = 1,      // device memory: cudaMalloc, cuMemAlloc, pitched and 3D allocations
  kManaged = 2,     // unified memory: cudaMallocManaged, cuMemAllocManaged
  kPinnedHost = 3,  // page-locked host memory: cudaMallocHost, cudaHostAlloc, cuMemHostAlloc
  kAsync = 4,       // stream-ordered, from a memory pool: cudaMallocAsync, cuMemAllocAsync
  kVmm = 5,         // physical memory of the VMM API: cuMemCreate (address = the handle)
  kArray = 6,       // CUDA arrays: cudaMallocArray, cudaMalloc3DArray (size: estimated)
  kCount
};
// Which API the program called (kExtDevice bits 8..15).
enum class DeviceApi : std::uint8_t { kUnknown = 0, kRuntime = 1, kDriver = 2, kCount };

inline constexpr std::uint64_t device_ext(DeviceKind k, DeviceApi a) {
  return static_cast<std::uint64_t>(k) | (static_cast<std::uint64_t>(a) << 8);
}
inline constexpr DeviceKind device_ext_kind(std::uint64_t w1) {
  auto k = static_cast<std::uint8_t>(w1 & 0xFF);
  return k < static_cast<std::uint8_t>(DeviceKind::kCount) ? static_cast<DeviceKind>(k) : DeviceKind::kUnknown;
}
inline constexpr DeviceApi device_ext_api(std::uint64_t w1) {
  auto a = static_cast<std::uint8_t>((w1 >> 8) & 0xFF);
  return a < static_cast<std::uint8_t>(DeviceApi::kCount) ? static_cast<DeviceApi>(a) : DeviceApi::kUnknown;
}

inline constexpr std::uint8_t kFlagSampled = 1;
inline constexpr std::uint8_t kFlagRealloc = 2;

inline constexpr std::uint32_t kDeviceHost = 0;
inline constexpr std::uint32_t kDeviceCudaFirst = 1;
inline constexpr std::uint32_t kMaxCudaDevices = 32;
inline constexpr std::uint32_t kMaxThreadSlot = 4095;
inline constexpr std::uint32_t kStackIdBits = 20;
inline constexpr std::uint32_t kMaxStackId = (1u << kStackIdBits) - 1;
inline constexpr std::uint64_t kSizeEscape = (std::uint64_t{1} << 34) - 1;
inline constexpr std::uint64_t kAddressEscape = (std::uint64_t{1} << 48) - 1;

struct Fields {
  Op op = Op::kEmpty;
  std::uint8_t flags = 0;
  std::uint32_t device = 0;  // < 64
  std::uint32_t thread = 0;  // < 4096
  std::uint32_t stack = 0;   // < 2^20
  std::uint64_t address = 0; // < 2^48
  std::uint64_t size = 0;    // < 2^34
};

inline constexpr std::uint64_t lap_tag(std::uint64_t lap) { return 1 + (lap & 1); }

// Encodes fields that fit (callers escape larger values with Ext records first).
inline constexpr Record encode(const Fields& f, std::uint64_t lap) {
  Record r{};
  r.w0 = (static_cast<std::uint64_t>(f.op) & 0xF) | (lap_tag(lap) << 4) |
         (std::uint64_t{f.flags & 3u} << 6) | (std::uint64_t{f.device & 63u} << 8) |
         (std::uint64_t{f.thread & 0xFFFu} << 14) | (std::uint64_t{f.stack & kMaxStackId} << 26) |
         ((f.size & 0x3FFFF) << 46);
  r.w1 = (f.address & 0xFFFFFFFFFFFFULL) | (((f.size >> 18) & 0xFFFF) << 48);
  return r;
}

inline constexpr std::uint64_t tag_of(const Record& r) { return (r.w0 >> 4) & 3; }

inline constexpr Fields decode(const Record& r) {
  Fields f;
  f.op = static_cast<Op>(r.w0 & 0xF);
  f.flags = static_cast<std::uint8_t>((r.w0 >> 6) & 3);
  f.device = static_cast<std::uint32_t>((r.w0 >> 8) & 63);
  f.thread = static_cast<std::uint32_t>((r.w0 >> 14) & 0xFFF);
  f.stack = static_cast<std::uint32_t>((r.w0 >> 26) & kMaxStackId);
  f.size = (r.w0 >> 46) | ((r.w1 >> 48) << 18);
  f.address = r.w1 & 0xFFFFFFFFFFFFULL;
  return f;
}

// Ext, Time, Thread and End records keep a full 64-bit payload in w1.
inline constexpr Record encode_payload(Op op, std::uint8_t kind_or_flags, std::uint32_t thread,
                                       std::uint64_t payload, std::uint64_t lap) {
  Record r{};
  r.w0 = (static_cast<std::uint64_t>(op) & 0xF) | (lap_tag(lap) << 4) |
         (std::uint64_t{kind_or_flags & 3u} << 6) | (std::uint64_t{thread & 0xFFFu} << 14);
  r.w1 = payload;
  return r;
}

static_assert(decode(encode({Op::kAlloc, 3, 63, 4095, kMaxStackId, kAddressEscape, kSizeEscape}, 0)).size == kSizeEscape);
static_assert(decode(encode({Op::kAlloc, 3, 63, 4095, kMaxStackId, kAddressEscape, kSizeEscape}, 0)).address == kAddressEscape);
static_assert(tag_of(encode({Op::kFree}, 7)) == 2 && tag_of(encode({Op::kFree}, 8)) == 1);

// ---------------------------------------------------------------------------------------
// Stack table: an open-addressing hash table of stack_slots (a power of two) StackSlots.
// The slot index is the stack id; slot 0 is never used. A producer claims an empty slot by
// setting `hash` (never 0) and, once the frames are in the frames array, publishes `info`
// (release): bits 0..31 index of the first frame in the frames array, bits 32..39 depth
// (1..kMaxFrames), bit 63 set. A slot whose info is 0 is not ready: readers skip it. Frames
// are return addresses, innermost first, heaplens's own frames removed. Each distinct stack
// is stored once (producers that race on one new stack may store it twice at worst).
// ---------------------------------------------------------------------------------------
inline constexpr std::uint32_t kMaxFrames = 64;

struct StackSlot {
  std::atomic<std::uint64_t> hash;
  std::atomic<std::uint64_t> info;
};
static_assert(sizeof(StackSlot) == 16);

inline constexpr std::uint64_t stack_info(std::uint32_t first, std::uint32_t depth) {
  return first | (std::uint64_t{depth & 0xFF} << 32) | (std::uint64_t{1} << 63);
}
inline constexpr std::uint32_t stack_info_first(std::uint64_t info) { return static_cast<std::uint32_t>(info); }
inline constexpr std::uint32_t stack_info_depth(std::uint64_t info) { return static_cast<std::uint32_t>((info >> 32) & 0xFF); }

// ---------------------------------------------------------------------------------------
// Module table: one entry per mapped object (executable, shared libraries, the vDSO),
// appended in order; module_count (release) says how many are complete. An entry is
// written once, except `unloaded_ns`, set when the object is gone (dlclose).
// Addresses in stacks map to a module by start <= pc < end; pc - load_bias is the address
// inside the ELF file that build_id identifies.
// ---------------------------------------------------------------------------------------
inline constexpr std::uint32_t kModulePathMax = 432;
inline constexpr std::uint32_t kBuildIdMax = 32;

struct ModuleEntry {
  std::uint64_t load_bias;    // dlpi_addr
  std::uint64_t start;        // lowest mapped address of its PT_LOAD segments
  std::uint64_t end;          // one past the highest
  std::uint64_t loaded_ns;    // session time (like Time records) it was first seen
  std::atomic<std::uint64_t> unloaded_ns;  // 0 while mapped
  std::uint32_t build_id_size;             // 0..kBuildIdMax
  std::uint32_t path_size;                 // bytes of path used, < kModulePathMax
  std::uint8_t build_id[kBuildIdMax];
  char path[kModulePathMax];  // NUL-terminated; readers still check path_size
};
static_assert(sizeof(ModuleEntry) == 512);

// ---------------------------------------------------------------------------------------
// The header. Fixed fields are written once, before `magic`: the producer stores magic last
// (release) and a reader loads it first (acquire), so magic == kMagic means every fixed field
// is complete, and magic == 0 means the session is still being set up (its name can already be
// visible). "Live" fields are updated by the producer while it runs (counters at most every
// few ms).
// ---------------------------------------------------------------------------------------
enum class Mode : std::uint32_t { kOff = 0, kSampled = 1, kFull = 2 };
enum class OnFull : std::uint32_t { kDrop = 0, kWait = 1 };
enum class SessionState : std::uint64_t { kStarting = 0, kRunning = 1, kExited = 2 };

inline constexpr std::size_t kHeaderSize = 4096;
inline constexpr std::size_t kExecutableMax = 1024;

struct alignas(64) SessionHeader {
  // Identity and layout (fixed).
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t header_size;      // kHeaderSize
  std::uint32_t record_size;      // 16
  std::uint32_t stack_slot_size;  // 16
  std::uint32_t module_entry_size;  // 512
  std::uint32_t max_frames;         // kMaxFrames
  std::uint64_t segment_size;
  std::uint64_t ring_offset;
  std::uint64_t ring_capacity;    // records, a power of two
  std::uint64_t stacks_offset;
  std::uint64_t stack_slots;      // a power of two, <= 2^20
  std::uint64_t frames_offset;
  std::uint64_t frames_capacity;  // u64 entries, < 2^32
  std::uint64_t modules_offset;
  std::uint64_t module_capacity;

  // The process (fixed).
  std::int64_t pid;
  std::int64_t ppid;
  std::uint64_t start_realtime_ns;  // CLOCK_REALTIME when the session started
  std::uint64_t clock_base_ns;      // CLOCK_MONOTONIC at the same instant; Time records count from it
  std::uint32_t mode;               // Mode
  std::uint32_t on_full;            // OnFull
  std::uint64_t sample_interval;    // R in bytes (sampled mode)
  std::uint64_t large_threshold;    // allocations >= this are always recorded
  std::uint32_t backend;            // 0 jemalloc, 1 system
  std::uint32_t reserved0;
  char executable[kExecutableMax];  // NUL-terminated; /proc/self/exe at start

  // Live: the state and the ring's positions (each on its own cache line).
  alignas(64) std::atomic<std::uint64_t> state;            // SessionState
  alignas(64) std::atomic<std::uint64_t> ring_head;        // next position producers reserve
  alignas(64) std::atomic<std::uint64_t> ring_tail;        // next position the consumer reads
  alignas(64) std::atomic<std::uint64_t> consumer_pid;     // 0: no consumer attached yet
  std::atomic<std::uint64_t> consumer_heartbeat_ns;        // CLOCK_MONOTONIC of its last drain

  // Live: accounting.
  alignas(64) std::atomic<std::uint64_t> records_written;  // positions reserved, as of published_ns
  std::atomic<std::uint64_t> records_dropped;              // lost to a full ring
  std::atomic<std::uint64_t> events_sampled;               // allocations recorded by the sampler
  std::atomic<std::uint64_t> events_unrecorded;            // recordings given up (no slot for the pointer)
  std::atomic<std::uint64_t> stacks_used;                  // distinct stacks stored
  std::atomic<std::uint64_t> stacks_dropped;               // stacks that found no room (id 0)
  std::atomic<std::uint64_t> frames_used;                  // entries of the frames array taken
  std::atomic<std::uint64_t> module_count;                 // complete module entries
  std::atomic<std::uint64_t> tracker_ns;                   // CPU time spent recording, all threads
  std::atomic<std::uint64_t> process_cpu_ns;               // CLOCK_PROCESS_CPUTIME_ID when published
  std::atomic<std::uint64_t> published_ns;                 // session time of the publication below

  // Live: the pool's exact counters (pool/counters.h) and jemalloc's heap statistics.
  alignas(64) std::atomic<std::uint64_t> allocations;
  std::atomic<std::uint64_t> frees;
  std::atomic<std::uint64_t> bytes_requested;
  std::atomic<std::uint64_t> bytes_allocated;
  std::atomic<std::uint64_t> bytes_freed;
  std::atomic<std::uint64_t> live_bytes;
  std::atomic<std::uint64_t> peak_live_bytes;
  std::atomic<std::uint64_t> large_allocations;
  std::atomic<std::uint64_t> threads;
  std::atomic<std::uint64_t> heap_allocated;
  std::atomic<std::uint64_t> heap_active;
  std::atomic<std::uint64_t> heap_resident;
  std::atomic<std::uint64_t> heap_mapped;
  std::atomic<std::uint64_t> heap_retained;

  // The run this process belongs to (fixed): HEAPLENS_RUN_ID, inherited by every child, so
  // `heaplens run` finds the sessions of the whole process tree it started; 0 when unset.
  std::uint64_t run_id;

  // The CUDA caching pool (HEAPLENS_CUDA_POOL=1), live: one entry per CUDA device ordinal
  // 0..kPoolDevices-1 (devices beyond are served by the driver directly). Bytes are of the
  // pool's blocks; "cached" = reserved - in_use is held for reuse. Fragmentation of the
  // cache = 1 - largest_cached / cached.
  std::uint32_t cuda_pool;  // fixed: 1 when the pool serves cudaMalloc/cudaFree
  std::uint32_t reserved1;
  struct alignas(64) DevicePool {
    std::atomic<std::uint64_t> reserved_bytes;   // obtained from the driver, not yet returned
    std::atomic<std::uint64_t> in_use_bytes;     // of blocks handed out (rounded sizes)
    std::atomic<std::uint64_t> requested_bytes;  // what the callers of those blocks asked for
    std::atomic<std::uint64_t> largest_cached;   // the largest cached (free) block
    std::atomic<std::uint64_t> hits;             // allocations served from the cache
    std::atomic<std::uint64_t> misses;           // allocations that went to the driver
    std::atomic<std::uint64_t> driver_frees;     // blocks given back to the driver
    std::atomic<std::uint64_t> trims;            // cache flushes after a failed driver allocation
  };
  static constexpr std::uint32_t kPoolDevices = 8;
  DevicePool pool[kPoolDevices];
};
static_assert(sizeof(SessionHeader::DevicePool) == 64);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(SessionHeader) <= kHeaderSize);
static_assert(offsetof(SessionHeader, executable) == 168 && offsetof(SessionHeader, state) == 1216);

// Sizes of the regions behind the header.
struct Layout {
  std::uint64_t ring_capacity;
  std::uint64_t stack_slots;
  std::uint64_t frames_capacity;
  std::uint64_t module_capacity;
};

struct Offsets {
  std::uint64_t ring, stacks, frames, modules, total;
};

inline constexpr std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) & ~(a - 1); }

// Offsets of each region for a layout (the producer's choice; readers recompute it and
// compare). Returns false when the sizes overflow or break a rule above.
inline constexpr bool compute_offsets(const Layout& l, Offsets* o) {
  auto pow2 = [](std::uint64_t x) { return x != 0 && (x & (x - 1)) == 0; };
  if (!pow2(l.ring_capacity) || l.ring_capacity > (std::uint64_t{1} << 32)) return false;
  if (!pow2(l.stack_slots) || l.stack_slots < 2 || l.stack_slots > (std::uint64_t{1} << kStackIdBits)) return false;
  if (l.frames_capacity == 0 || l.frames_capacity >= (std::uint64_t{1} << 32)) return false;
  if (l.module_capacity == 0 || l.module_capacity > (1u << 20)) return false;
  o->ring = kHeaderSize;
  o->stacks = align_up(o->ring + l.ring_capacity * sizeof(Record), 4096);
  o->frames = align_up(o->stacks + l.stack_slots * sizeof(StackSlot), 4096);
  o->modules = align_up(o->frames + l.frames_capacity * 8, 4096);
  o->total = align_up(o->modules + l.module_capacity * sizeof(ModuleEntry), 4096);
  return true;
}

}  // namespace heaplens::wire
