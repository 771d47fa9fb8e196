// The heaplens trace file: what `heaplens run` and `heaplens check` write and `heaplens report`
// (and the viewer) read. This header is the one definition of the format; docs/trace-format.md
// explains it for people. Bump kTraceVersion on any change an older reader could misread.
//
// A trace holds any number of process images (each session of a traced process tree: a fork
// child, or a process after exec, is a new image) and, for each, everything needed to read it
// on another machine: the raw 16-byte records of shared/format.h, stack frames, the module
// table with build-ids and the symbols of every frame, resolved when the run ended.
//
// File layout:
//
//   [FileHeader: 16 bytes] [block] [block] ...
//
// Each block is one complete zstd frame. Decompressed, a block is a sequence of whole chunks;
// a chunk never spans two blocks. A writer flushes a block at least every few hundred ms and
// whenever its buffer is full, so a trace whose writer was killed is readable up to its last
// complete block. A block decompresses to at most kMaxBlockBytes.
//
// A chunk is
//
//   [u32 kind] [u32 payload_bytes] [payload]
//
// little-endian, packed, no padding. Strings are [u32 length][bytes] (no NUL), at most
// kMaxString bytes. Unknown chunk kinds are skipped by length (a newer writer may add kinds;
// changing an existing kind's payload needs a version bump). `image` is the trace-local index
// of a process image, given by its Image chunk, which precedes every other chunk about it.
//
// Chunk payloads (u8/u32/u64/i64 little-endian; str as above):
//
//   Image      (1)  u32 image, i64 pid, i64 ppid, u32 image_of_pid (the n-th image of that pid
//                   the session name says), u32 mode, u32 on_full, u32 backend, u32 reserved,
//                   u64 sample_interval, u64 large_threshold, u64 start_realtime_ns,
//                   u64 clock_base_ns, str executable, str session (the shm name or path)
//   Records    (2)  u32 image, u32 count, count x 16-byte wire::Record, in ring order
//   Stack      (3)  u32 image, u32 stack_id, u32 depth (<= wire::kMaxFrames), depth x u64 pc
//   Module     (4)  u32 image, u64 load_bias, u64 start, u64 end, u64 loaded_ns,
//                   u64 unloaded_ns, u32 build_id_size (<= wire::kBuildIdMax), build-id bytes,
//                   str path. A later Module chunk with the same (image, start, path) updates
//                   unloaded_ns.
//   Stats      (5)  u32 image, u32 field_count, field_count x u64: the session header's live
//                   counters in the order of StatsField below (a reader takes the fields it
//                   knows; a newer writer may append fields). Fields appended so far: the
//                   CUDA caching pool's (kCudaPool onwards); an older writer's shorter chunk
//                   reads with them 0 (the pool was off).
//   ImageEnd   (6)  u32 image, u32 how (ImageEndHow), u64 end_ns (session time),
//                   u64 torn_records, u64 malformed_records, str message (why, for kCorrupt)
//   Symbol     (7)  u32 image, u64 pc, u32 line, u32 column, str function (demangled; empty if
//                   unknown), str file (empty if unknown), str module (path),
//                   u32 inline_count (<= kMaxInlined), inline_count x (str function,
//                   str file, u32 line) — the inlined callers of `function`, innermost first
//   Exit       (8)  i64 pid, i32 wait_status (as waitpid gives it) — the run's root process
//   Command    (9)  u32 argc (<= kMaxArgs), argc x str — the command line that was run;
//                   str working dir; u64 start_realtime_ns
//   End       (10)  empty — the writer closed the trace normally (a trace without it was cut
//                   short; readers say so). Nothing follows it in the file.
//
// Readers treat every byte as untrusted: sizes and counts are checked against the chunk's
// payload_bytes before use; a chunk that does not parse, or a block that does not decompress,
// ends reading with a one-line error (what was read before it stays usable). A known kind's
// payload is exactly its fields (bytes left over are an error), each image has exactly one
// Image chunk, and an ImageEnd `how` outside ImageEndHow is an error.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heaplens::trace {

inline constexpr char kFileMagic[8] = {'H', 'E', 'A', 'P', 'L', 'T', 'R', 'C'};
inline constexpr std::uint32_t kTraceVersion = 1;

// FileHeader: 8 bytes magic, u32 version, u32 flags (0).
inline constexpr std::size_t kFileHeaderBytes = 16;

inline constexpr std::size_t kMaxBlockBytes = std::size_t{16} << 20;
inline constexpr std::size_t kMaxString = 64 << 10;
// Counts a reader would otherwise allocate for on a hostile chunk's word (a Command's argc, a
// Symbol's inline_count): larger ones are errors, and writers drop what is beyond them.
inline constexpr std::uint32_t kMaxArgs = 1 << 16;
inline constexpr std::uint32_t kMaxInlined = 256;

enum class ChunkKind : std::uint32_t {
  kImage = 1,
  kRecords = 2,
  kStack = 3,
  kModule = 4,
  kStats = 5,
  kImageEnd = 6,
  kSymbol = 7,
  kExit = 8,
  kCommand = 9,
  kEnd = 10,
};

enum class ImageEndHow : std::uint32_t {
  kExited = 0,   // the image wrote its End record (normal exit)
  kVanished = 1, // the producer disappeared without End: exec, a signal, _exit before ours ran
  kCorrupt = 2,  // the segment turned out damaged; reading stopped
  kDetached = 3, // the recorder stopped reading (it was interrupted) while the image still ran
};

// The counters of one CUDA device's caching pool, in the order of
// wire::SessionHeader::DevicePool (what each means is described there).
enum class PoolCounter : std::uint32_t {
  kReservedBytes, kInUseBytes, kRequestedBytes, kLargestCached, kHits, kMisses, kDriverFrees, kTrims,
};
inline constexpr std::uint32_t kPoolCounters = 8;
inline constexpr std::uint32_t kPoolDevices = 8;  // wire::SessionHeader::kPoolDevices

// Order of the u64 fields of a Stats chunk.
enum class StatsField : std::uint32_t {
  kTimeNs = 0,  // session time of this snapshot (the header's published_ns)
  kRecordsWritten, kRecordsDropped, kEventsSampled, kEventsUnrecorded,
  kStacksUsed, kStacksDropped, kFramesUsed, kModuleCount,
  kTrackerNs, kProcessCpuNs,
  kAllocations, kFrees, kBytesRequested, kBytesAllocated, kBytesFreed,
  kLiveBytes, kPeakLiveBytes, kLargeAllocations, kThreads,
  kHeapAllocated, kHeapActive, kHeapResident, kHeapMapped, kHeapRetained,
  // Appended: the CUDA caching pool (shared/format.h SessionHeader::cuda_pool and pool[]).
  // kCudaPool is 1 when the pool served cudaMalloc/cudaFree; then, for each pool device
  // (CUDA ordinal 0..kPoolDevices-1), its PoolCounter values in PoolCounter order: see
  // pool_field().
  kCudaPool,
  kPoolFirst,
  kCount = kPoolFirst + kPoolDevices * kPoolCounters
};

// The Stats field of one pool counter of CUDA device `ordinal` (< kPoolDevices).
inline constexpr StatsField pool_field(std::uint32_t ordinal, PoolCounter c) {
  return static_cast<StatsField>(static_cast<std::uint32_t>(StatsField::kPoolFirst) + ordinal * kPoolCounters +
                                 static_cast<std::uint32_t>(c));
}

}  // namespace heaplens::trace
