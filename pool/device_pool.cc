// The caching device pool; policy in device_pool.h.
//
// Bookkeeping: every piece of a segment is a Block. The pieces of a segment form a list in
// address order (prev/next); the first piece (the "head") stays the head for the segment's
// whole life, because a split keeps the lower part and a merge folds the upper block into
// the lower one. A free block sits in two trees (its pool's (stream, size, address) tree and
// the device's (size, address) tree); a handed-out block in the live tree (by address); a
// head also in the segment tree (by address). The trees are intrusive treaps whose
// priorities are a hash of the block's address: no allocation, no rebalancing state, and
// expected O(log n) depth.
#include "device_pool.h"

#include <new>

namespace heaplens::pool {
namespace device_pool_detail {

struct Hook {
  Block* l = nullptr;
  Block* r = nullptr;
};

struct Block {
  std::uint64_t addr = 0;
  std::uint64_t size = 0;          // bytes of this piece
  std::uint64_t requested = 0;     // handed out: what the caller asked for
  std::uint64_t stream = 0;
  std::uint64_t segment_size = 0;  // heads: the segment's size
  Block* prev = nullptr;           // neighbours in the segment, by address
  Block* next = nullptr;
  Block* link = nullptr;           // spare list, and lists built by trims
  Hook key;                        // free: its pool's tree; handed out: the live tree
  Hook size_hook;                  // free: the device's by-size tree
  Hook seg_hook;                   // heads: the segment tree
  bool free = false;
  bool small = false;
};

namespace {

std::uint64_t priority(const Block* b) {
  std::uint64_t z = b->addr + 0x9e3779b97f4a7c15ULL;  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct ByStream {  // (stream, size, address)
  bool operator()(const Block* a, const Block* b) const {
    if (a->stream != b->stream) return a->stream < b->stream;
    if (a->size != b->size) return a->size < b->size;
    return a->addr < b->addr;
  }
};
struct BySize {  // (size, address)
  bool operator()(const Block* a, const Block* b) const {
    if (a->size != b->size) return a->size < b->size;
    return a->addr < b->addr;
  }
};
struct ByAddr {
  bool operator()(const Block* a, const Block* b) const { return a->addr < b->addr; }
};

// An intrusive treap over the hook H of Block, ordered by Less (keys are unique: every
// order ends in the address, unique within a device).
template <Hook Block::*H, class Less>
struct Treap {
  static Hook& h(Block* b) { return b->*H; }

  // t -> (keys < key) a, (keys >= key) b.
  static void split(Block* t, const Block* key, Block*& a, Block*& b) {
    if (!t) {
      a = b = nullptr;
    } else if (Less{}(t, key)) {
      split(h(t).r, key, h(t).r, b);
      a = t;
    } else {
      split(h(t).l, key, a, h(t).l);
      b = t;
    }
  }
  // Every key of a below every key of b.
  static Block* merge(Block* a, Block* b) {
    if (!a) return b;
    if (!b) return a;
    if (priority(a) > priority(b)) {
      h(a).r = merge(h(a).r, b);
      return a;
    }
    h(b).l = merge(a, h(b).l);
    return b;
  }
  static void insert(Block*& root, Block* n) {
    h(n).l = h(n).r = nullptr;
    Block** t = &root;
    while (*t && priority(*t) >= priority(n)) t = Less{}(n, *t) ? &h(*t).l : &h(*t).r;
    split(*t, n, h(n).l, h(n).r);
    *t = n;
  }
  static void erase(Block*& root, Block* n) {
    Block** t = &root;
    while (*t && *t != n) t = Less{}(n, *t) ? &h(*t).l : &h(*t).r;
    if (*t) *t = merge(h(n).l, h(n).r);
    h(n).l = h(n).r = nullptr;
  }
  // The first block not less than key.
  static Block* lower_bound(Block* t, const Block* key) {
    Block* best = nullptr;
    while (t) {
      if (Less{}(t, key)) {
        t = h(t).r;
      } else {
        best = t;
        t = h(t).l;
      }
    }
    return best;
  }
  static Block* last(Block* t) {
    while (t && h(t).r) t = h(t).r;
    return t;
  }
  // Prepends every block for which keep(b) holds to *list (through Block::link).
  template <class Pred>
  static void collect(Block* t, Pred keep, Block** list) {
    if (!t) return;
    collect(h(t).l, keep, list);
    collect(h(t).r, keep, list);
    if (keep(t)) {
      t->link = *list;
      *list = t;
    }
  }
};

using FreeTree = Treap<&Block::key, ByStream>;
using LiveTree = Treap<&Block::key, ByAddr>;
using SizeTree = Treap<&Block::size_hook, BySize>;
using SegmentTree = Treap<&Block::seg_hook, ByAddr>;

std::uint64_t round_up(std::uint64_t n, std::uint64_t unit) { return (n + unit - 1) / unit * unit; }

// Whether the rest of a chosen block, after `rounded` bytes, becomes a block of its own.
bool should_split(bool small, std::uint64_t rest) {
  return small ? rest >= DevicePool::kRound : rest > DevicePool::kSmallSize;
}

// The driver segment a miss asks for first, and the smallest one that fits (the retry).
std::uint64_t segment_size(bool small, std::uint64_t rounded) {
  if (small) return DevicePool::kSmallSegment;
  if (rounded < DevicePool::kMinLargeAlloc) return DevicePool::kLargeSegment;
  return round_up(rounded, DevicePool::kSegmentRound);
}
std::uint64_t min_segment_size(bool small, std::uint64_t rounded) {
  return small ? DevicePool::kSmallSegment : round_up(rounded, DevicePool::kSegmentRound);
}

Block* find_live(Block* t, std::uint64_t addr) {
  while (t && t->addr != addr) t = addr < t->addr ? t->key.l : t->key.r;
  return t;
}

}  // namespace
}  // namespace device_pool_detail

using namespace device_pool_detail;

DevicePool::DevicePool(DeviceDriver driver, DevicePoolLimits limits) noexcept
    : driver_(driver), limits_(limits) {}

DevicePool::~DevicePool() {
  for (Device& d : devices_) {
    Block* heads = nullptr;
    SegmentTree::collect(d.segments, [](Block*) { return true; }, &heads);
    while (heads) {
      Block* next_head = heads->link;
      for (Block* b = heads; b;) {
        Block* n = b->next;
        delete b;
        b = n;
      }
      heads = next_head;
    }
    while (d.spare) {
      Block* n = d.spare->link;
      delete d.spare;
      d.spare = n;
    }
  }
}

bool DevicePool::reserve_spares(Device& d, std::size_t n) noexcept {
  while (d.spare_count < n) {
    if (limits_.max_blocks != 0 && d.blocks >= limits_.max_blocks) return false;
    Block* b = new (std::nothrow) Block;
    if (!b) return false;
    ++d.blocks;
    b->link = d.spare;
    d.spare = b;
    ++d.spare_count;
  }
  return true;
}

DevicePool::Block* DevicePool::take_spare(Device& d) noexcept {
  Block* b = d.spare;  // reserve_spares() made sure there is one
  d.spare = b->link;
  --d.spare_count;
  *b = Block{};
  return b;
}

void DevicePool::recycle(Device& d, Block* b) noexcept {
  b->link = d.spare;
  d.spare = b;
  ++d.spare_count;
}

DevicePool::Block* DevicePool::find_free(Device& d, bool small, std::uint64_t stream,
                                         std::uint64_t rounded) noexcept {
  Block probe;
  probe.stream = stream;
  probe.size = rounded;
  probe.addr = 0;
  Block* b = FreeTree::lower_bound(small ? d.free_small : d.free_large, &probe);
  if (!b || b->stream != stream) return nullptr;  // best fit of this stream: none fits
  // Too large to chip from (see "Split limits"); b is the smallest fit, so nothing else fits.
  if (!small && b->size > 2 * rounded + kLargeSegment) return nullptr;
  return b;
}

void DevicePool::insert_free(Device& d, Block* b) noexcept {
  b->free = true;
  FreeTree::insert(b->small ? d.free_small : d.free_large, b);
  SizeTree::insert(d.by_size, b);
}

void DevicePool::remove_free(Device& d, Block* b) noexcept {
  FreeTree::erase(b->small ? d.free_small : d.free_large, b);
  SizeTree::erase(d.by_size, b);
  b->free = false;
}

// The head's segment goes back to the driver with all its blocks (free or not).
void DevicePool::release_segment(Device& d, int device, Block* head) noexcept {
  const std::uint64_t base = head->addr;
  const std::uint64_t bytes = head->segment_size;
  SegmentTree::erase(d.segments, head);
  for (Block* b = head; b;) {
    Block* n = b->next;
    if (b->free) {
      remove_free(d, b);
    } else {
      LiveTree::erase(d.live, b);
      d.c.in_use_bytes -= b->size;
      d.c.requested_bytes -= b->requested;
    }
    recycle(d, b);
    b = n;
  }
  // A driver that refuses the free leaves nothing the pool could do better: the segment is
  // forgotten either way (retrying would fail again; at context teardown it is gone anyway).
  (void)driver_.free(driver_.ctx, device, base);
  d.c.reserved_bytes -= bytes;
  ++d.c.driver_frees;
}

std::size_t DevicePool::trim_locked(Device& d, int device) noexcept {
  Block* heads = nullptr;  // the whole free segments: a free head with no next piece
  SegmentTree::collect(d.segments, [](Block* b) { return b->free && !b->next; }, &heads);
  std::size_t n = 0;
  while (heads) {
    Block* next_head = heads->link;
    release_segment(d, device, heads);
    heads = next_head;
    ++n;
  }
  return n;
}

int DevicePool::allocate(int device, std::uint64_t stream, std::size_t size,
                         std::uint64_t* out) noexcept {
  if (device < 0 || device >= kMaxDevices || size == 0 || size > kMaxRequest || !out) return kBypass;
  Device& d = devices_[device];
  const bool small = size <= kSmallSize;
  const std::uint64_t rounded = round_up(size, kRound);
  std::lock_guard<std::mutex> lock(d.mu);

  Block* b = find_free(d, small, stream, rounded);
  // Bookkeeping first, so that nothing has to be undone once the driver gave memory.
  std::size_t need = b ? (should_split(small, b->size - rounded) ? 1 : 0) : 2;
  if (!reserve_spares(d, need)) return kNoMetadata;

  if (b) {
    remove_free(d, b);
    ++d.c.hits;
  } else {
    std::uint64_t seg = segment_size(small, rounded);
    std::uint64_t addr = 0;
    int rc = driver_.alloc(driver_.ctx, device, seg, &addr);
    if (rc != 0) {
      bool trimmed = trim_locked(d, device) > 0;
      if (trimmed) ++d.c.trims;
      const std::uint64_t smallest = min_segment_size(small, rounded);
      if (!trimmed && smallest == seg) return rc;  // the same call would fail the same way
      seg = smallest;
      rc = driver_.alloc(driver_.ctx, device, seg, &addr);
      if (rc != 0) return rc;
    }
    b = take_spare(d);
    b->addr = addr;
    b->size = seg;
    b->segment_size = seg;
    b->stream = stream;
    b->small = small;
    SegmentTree::insert(d.segments, b);
    d.c.reserved_bytes += seg;
    ++d.c.misses;
    used_.fetch_or(1u << device, std::memory_order_release);
  }

  if (should_split(small, b->size - rounded)) {
    Block* rest = take_spare(d);
    rest->addr = b->addr + rounded;
    rest->size = b->size - rounded;
    rest->stream = b->stream;
    rest->small = b->small;
    rest->prev = b;
    rest->next = b->next;
    if (b->next) b->next->prev = rest;
    b->next = rest;
    b->size = rounded;
    insert_free(d, rest);
  }
  b->requested = size;
  LiveTree::insert(d.live, b);
  d.c.in_use_bytes += b->size;
  d.c.requested_bytes += size;
  *out = b->addr;
  return 0;
}

bool DevicePool::release(std::uint64_t ptr, std::size_t* size_out) noexcept {
  const std::uint32_t used = used_.load(std::memory_order_acquire);
  for (int i = 0; i < kMaxDevices; ++i) {
    if (!(used & (1u << i))) continue;
    Device& d = devices_[i];
    std::lock_guard<std::mutex> lock(d.mu);
    Block* b = find_live(d.live, ptr);
    if (!b) continue;
    LiveTree::erase(d.live, b);
    d.c.in_use_bytes -= b->size;
    d.c.requested_bytes -= b->requested;
    if (size_out) *size_out = static_cast<std::size_t>(b->requested);
    b->requested = 0;
    // Coalesce with free neighbours of the same segment (prev/next never cross segments).
    if (Block* n = b->next; n && n->free) {
      remove_free(d, n);
      b->size += n->size;
      b->next = n->next;
      if (n->next) n->next->prev = b;
      recycle(d, n);
    }
    if (Block* p = b->prev; p && p->free) {
      remove_free(d, p);
      p->size += b->size;
      p->next = b->next;
      if (b->next) b->next->prev = p;
      recycle(d, b);
      b = p;
    }
    insert_free(d, b);
    return true;
  }
  return false;
}

bool DevicePool::owns(std::uint64_t ptr) const noexcept {
  const std::uint32_t used = used_.load(std::memory_order_acquire);
  for (int i = 0; i < kMaxDevices; ++i) {
    if (!(used & (1u << i))) continue;
    const Device& d = devices_[i];
    std::lock_guard<std::mutex> lock(d.mu);
    if (find_live(d.live, ptr)) return true;
  }
  return false;
}

bool DevicePool::holds(std::uint64_t ptr) const noexcept {
  const std::uint32_t used = used_.load(std::memory_order_acquire);
  for (int i = 0; i < kMaxDevices; ++i) {
    if (!(used & (1u << i))) continue;
    const Device& d = devices_[i];
    std::lock_guard<std::mutex> lock(d.mu);
    Block* head = nullptr;  // the last segment starting at or below ptr
    for (Block* t = d.segments; t;) {
      if (t->addr <= ptr) {
        head = t;
        t = t->seg_hook.r;
      } else {
        t = t->seg_hook.l;
      }
    }
    if (head && ptr - head->addr < head->segment_size) return true;
  }
  return false;
}

void DevicePool::trim(int device) noexcept {
  if (device < 0 || device >= kMaxDevices) return;
  Device& d = devices_[device];
  std::lock_guard<std::mutex> lock(d.mu);
  trim_locked(d, device);
}

void DevicePool::release_all() noexcept {
  for (int i = 0; i < kMaxDevices; ++i) {
    Device& d = devices_[i];
    std::lock_guard<std::mutex> lock(d.mu);
    Block* heads = nullptr;
    SegmentTree::collect(d.segments, [](Block*) { return true; }, &heads);
    while (heads) {
      Block* next_head = heads->link;
      release_segment(d, i, heads);
      heads = next_head;
    }
  }
}

DevicePoolCounters DevicePool::counters(int device) const noexcept {
  if (device < 0 || device >= kMaxDevices) return {};
  const Device& d = devices_[device];
  std::lock_guard<std::mutex> lock(d.mu);
  DevicePoolCounters c = d.c;
  const Block* largest = SizeTree::last(d.by_size);
  c.largest_cached = largest ? largest->size : 0;
  return c;
}

}  // namespace heaplens::pool
