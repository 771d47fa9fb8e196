// A caching device-memory pool (HEAPLENS_CUDA_POOL=1), a small cousin of PyTorch's CUDA
// caching allocator. It knows nothing of CUDA: the driver under it is two function pointers.
//
// Policy
//   Rounding     every request is rounded up to a multiple of 512 B (kRound): the unit in
//                which blocks are carved, and CUDA's own minimum alignment is 256 B.
//   Small        requests <= 1 MiB (kSmallSize) come from the small pool, carved out of
//                2 MiB driver segments (kSmallSegment).
//   Large        requests > 1 MiB come from the large pool. A miss asks the driver for a
//                20 MiB segment (kLargeSegment) when the rounded size is < 10 MiB
//                (kMinLargeAlloc), so that several mid-size blocks share one driver call and
//                one segment; otherwise for the rounded size taken up to a multiple of 2 MiB
//                (kSegmentRound: the driver maps device memory in 2 MiB pages anyway, so the
//                rest of the last page would be lost to everyone if not kept in the segment).
//                Blocks themselves stay 512 B-rounded (PyTorch's choice): rounding large
//                blocks to 2 MiB would waste up to 2 MiB per block, nearly 100% at 1 MiB + 1.
//   Best fit     a request takes the smallest cached free block of the same device, pool
//                and stream that is large enough (lowest address on ties), from an ordered
//                tree keyed (stream, size, address).
//   Split limits a chosen block larger than the rounded request is split and the rest stays
//                cached, except:
//                - large pool: only when the rest is > 1 MiB. A rest of <= 1 MiB could never
//                  serve a large request on its own, so it goes out with the block (the
//                  block's in-use size is then the whole block);
//                - small pool: always (the rest is >= 512 B, a usable small block);
//                - large pool: a cached block is not used at all when it is more than
//                  2 x request + 20 MiB (kLargeSegment). Chipping a small piece off a much
//                  larger cached block (say 2 MiB off 1 GiB) would pin the whole segment:
//                  the driver can only take a segment back once every piece is free. Such a
//                  request goes to the driver instead, and the big block stays whole for a
//                  big request or for a trim. (PyTorch's max_split_size_mb guards the same.)
//                Small requests never come from the large pool, nor large from the small.
//   Coalescing   on release a block merges with its free neighbours of the same segment
//                (never across segments, even when the driver returned adjacent ones).
//   Streams      a block freed on stream S is reused only for requests on stream S: the pool
//                does not synchronise streams, and work queued on S may still use it.
//   Failure      when the driver refuses a segment, every whole free segment of that device
//                (any stream) is given back to the driver (a "trim"), and the driver is
//                asked once more, for the smallest segment that fits (2 MiB, or the request
//                taken up to 2 MiB); if that fails too, the driver's error is returned. When
//                nothing could be trimmed and the smallest segment was what failed, there is
//                no retry.
//   Caching      released blocks are never given back to the driver by release(); only by a
//                trim (failure or trim()) or release_all().
//
// Addresses must be unique across devices (CUDA's unified virtual addressing guarantees it):
// release() finds the device of an address by looking it up on each device in use.
//
// Threads: one mutex per device, held across driver calls (they are the slow path, and the
// lock keeps the counters exact). Nothing here throws; bookkeeping is allocated with
// new (std::nothrow) (one Block per piece of a segment, recycled through a free list, so a
// steady state allocates nothing), and failure to get it is reported, not fatal.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace heaplens::pool {

// The driver under the pool: each returns 0 on success, else the driver's (positive) error
// code, which the pool passes back. Called with the device's lock held, never re-entered.
struct DeviceDriver {
  int (*alloc)(void* ctx, int device, std::size_t size, std::uint64_t* out) noexcept = nullptr;
  int (*free)(void* ctx, int device, std::uint64_t ptr) noexcept = nullptr;
  void* ctx = nullptr;
};

// One device's counters. Bytes are of the pool's blocks; reserved - in_use is the cached
// (free) part, and 1 - largest_cached / (reserved - in_use) its fragmentation.
struct DevicePoolCounters {
  std::uint64_t reserved_bytes = 0;   // segments obtained from the driver, not yet given back
  std::uint64_t in_use_bytes = 0;     // blocks handed out (their rounded/whole sizes)
  std::uint64_t requested_bytes = 0;  // what the callers of those blocks asked for
  std::uint64_t largest_cached = 0;   // the largest free block (any stream, either pool)
  std::uint64_t hits = 0;             // allocations served without calling the driver
  std::uint64_t misses = 0;           // allocations that took a new driver segment
  std::uint64_t driver_frees = 0;     // segments given back to the driver
  std::uint64_t trims = 0;            // flushes forced by a failed driver allocation that gave
                                      // something back (trim() calls are not counted here)
};

struct DevicePoolLimits {
  // Bookkeeping cap: at most this many Block records per device (0 = no cap). Beyond it,
  // allocate() returns kNoMetadata. Bounds the pool's own host memory in the host process.
  std::size_t max_blocks = 0;
};

namespace device_pool_detail {
struct Block;
}

class DevicePool {
 public:
  static constexpr int kMaxDevices = 8;
  // Not served by the pool (device < 0 or >= kMaxDevices, size 0, out == nullptr, or an
  // absurd size): the caller calls the driver itself, which then behaves as without a pool.
  static constexpr int kBypass = -1;
  // The pool could not allocate its bookkeeping (or hit DevicePoolLimits::max_blocks); no
  // driver memory was taken. The caller may call the driver itself.
  static constexpr int kNoMetadata = -2;

  static constexpr std::uint64_t kRound = 512;
  static constexpr std::uint64_t kSmallSize = 1 << 20;
  static constexpr std::uint64_t kSmallSegment = 2 << 20;
  static constexpr std::uint64_t kSegmentRound = 2 << 20;
  static constexpr std::uint64_t kMinLargeAlloc = 10 << 20;
  static constexpr std::uint64_t kLargeSegment = 20 << 20;
  static constexpr std::uint64_t kMaxRequest = std::uint64_t{1} << 47;  // larger: kBypass

  explicit DevicePool(DeviceDriver driver, DevicePoolLimits limits = {}) noexcept;
  // Frees the bookkeeping, not the driver memory (at process exit the driver takes it back).
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // Serves `size` bytes on (device, stream) into *out. Returns 0, kBypass, kNoMetadata, or
  // the driver's error code (see "Failure" above); *out is written only on success.
  int allocate(int device, std::uint64_t stream, std::size_t size, std::uint64_t* out) noexcept;
  // A block this pool handed out goes back to the cache of its (device, stream); *size_out
  // (if given) = the size that was requested. False for an address that is not a block
  // handed out by the pool: a foreign address (the caller passes it to the driver), but also
  // a second release or an interior address; see holds().
  bool release(std::uint64_t ptr, std::size_t* size_out = nullptr) noexcept;
  // Whether ptr is a block handed out and not yet released.
  bool owns(std::uint64_t ptr) const noexcept;
  // Whether ptr lies in any segment the pool holds (handed out or cached). When release()
  // said false but this says true (a double or interior free), the caller must NOT pass the
  // address to the driver: that could free a whole segment under the pool.
  bool holds(std::uint64_t ptr) const noexcept;
  // Gives every whole free segment of the device back to the driver.
  void trim(int device) noexcept;
  // Gives every segment of every device back to the driver, handed-out blocks included (their
  // addresses become invalid and foreign to the pool). Cumulative counters are kept.
  void release_all() noexcept;
  // A consistent snapshot of one device (all zero for a device out of range).
  DevicePoolCounters counters(int device) const noexcept;

 private:
  using Block = device_pool_detail::Block;
  struct Device {
    mutable std::mutex mu;
    Block* free_small = nullptr;  // free blocks of the small pool, by (stream, size, address)
    Block* free_large = nullptr;  // same, large pool
    Block* by_size = nullptr;     // all free blocks, by (size, address): largest_cached
    Block* live = nullptr;        // blocks handed out, by address
    Block* segments = nullptr;    // each segment's first block, by address
    Block* spare = nullptr;       // recycled Block records
    std::size_t spare_count = 0;
    std::size_t blocks = 0;       // Block records allocated (in use + spare)
    DevicePoolCounters c;
  };

  bool reserve_spares(Device& d, std::size_t n) noexcept;
  Block* take_spare(Device& d) noexcept;
  void recycle(Device& d, Block* b) noexcept;
  Block* find_free(Device& d, bool small, std::uint64_t stream, std::uint64_t rounded) noexcept;
  void insert_free(Device& d, Block* b) noexcept;
  void remove_free(Device& d, Block* b) noexcept;
  std::size_t trim_locked(Device& d, int device) noexcept;
  void release_segment(Device& d, int device, Block* head) noexcept;

  DeviceDriver driver_;
  DevicePoolLimits limits_;
  std::atomic<std::uint32_t> used_{0};  // bit d: device d has had a segment
  Device devices_[kMaxDevices];
};

}  // namespace heaplens::pool
