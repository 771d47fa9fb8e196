#include "device_blocks.h"

#include <sched.h>
#include <sys/mman.h>

#include <atomic>

#include "../log.h"

namespace heaplens::cuda {
namespace {

class SpinLock {
 public:
  void lock() noexcept {
    while (flag_.test_and_set(std::memory_order_acquire)) sched_yield();
  }
  void unlock() noexcept { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

struct Locked {
  explicit Locked(SpinLock& l) noexcept : l_(l) { l_.lock(); }
  ~Locked() { l_.unlock(); }
  SpinLock& l_;
};

struct Slot {
  std::uint64_t key;  // 0 = empty (no block, handle or mapping is at 0)
  DeviceBlock block;  // mappings: block.size is the mapped length
  std::uint64_t handle;   // mappings: the handle mapped there
  std::uint32_t maps;     // handles: live mappings
  bool released;          // handles: cuMemRelease was called
};

// Open addressing, linear probing, deletion by backward shift (no tombstones, so a table
// that sees millions of allocations over its life never fills with dead entries).
class Table {
 public:
  Table(std::size_t capacity, const char* what) : cap_(capacity), what_(what) {}

  Slot* find(std::uint64_t key) noexcept {
    if (key == 0 || !ready()) return nullptr;
    for (std::size_t i = home(key), n = 0; n < cap_; i = (i + 1) & (cap_ - 1), ++n) {
      if (slots_[i].key == key) return &slots_[i];
      if (slots_[i].key == 0) return nullptr;
    }
    return nullptr;
  }

  Slot* insert(std::uint64_t key) noexcept {
    if (key == 0 || !ready()) return nullptr;
    if (used_ + 1 > cap_ - cap_ / 8) {  // keep probes short: at most 7/8 full
      if (!said_full_) log_line("the table of {} is full ({}): frees of newer ones are not recorded", what_, cap_);
      said_full_ = true;
      return nullptr;
    }
    for (std::size_t i = home(key);; i = (i + 1) & (cap_ - 1)) {
      if (slots_[i].key == key || slots_[i].key == 0) {
        if (slots_[i].key == 0) ++used_;
        slots_[i] = Slot{key, {}, 0, 0, false};
        return &slots_[i];
      }
    }
  }

  void erase(Slot* s) noexcept {
    std::size_t i = static_cast<std::size_t>(s - slots_);
    slots_[i].key = 0;
    --used_;
    // Move later entries of the probe run back so that lookups never stop early.
    for (std::size_t j = (i + 1) & (cap_ - 1); slots_[j].key != 0; j = (j + 1) & (cap_ - 1)) {
      std::size_t h = home(slots_[j].key);
      bool movable = (j > i) ? (h <= i || h > j) : (h <= i && h > j);
      if (movable) {
        slots_[i] = slots_[j];
        slots_[j].key = 0;
        i = j;
      }
    }
  }

  template <typename F>
  void for_each(F&& f) noexcept {
    if (slots_ == nullptr) return;
    for (std::size_t i = 0; i < cap_;) {
      // f may erase slot i and shift a later entry into it: look at i again then.
      std::uint64_t key = slots_[i].key;
      if (key != 0) f(&slots_[i]);
      if (slots_[i].key == key || slots_[i].key == 0) ++i;
    }
  }

 private:
  std::size_t home(std::uint64_t key) const noexcept {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<std::size_t>(key) & (cap_ - 1);
  }
  bool ready() noexcept {
    if (slots_ != nullptr) return true;
    void* p = mmap(nullptr, cap_ * sizeof(Slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    slots_ = static_cast<Slot*>(p);
    return true;
  }

  std::size_t cap_;
  const char* what_;
  Slot* slots_ = nullptr;
  std::size_t used_ = 0;
  bool said_full_ = false;
};

SpinLock g_blocks_lock;
Table g_blocks(std::size_t{1} << 16, "CUDA allocations");
SpinLock g_vmm_lock;  // handles and mappings together: an unmap updates both
Table g_handles(std::size_t{1} << 12, "CUDA VMM handles");
Table g_mappings(std::size_t{1} << 13, "CUDA VMM mappings");  // key va; block.size = length; maps = handle index

}  // namespace

bool blocks_add(std::uint64_t address, const DeviceBlock& b) noexcept {
  Locked l(g_blocks_lock);
  Slot* s = g_blocks.insert(address);
  if (s == nullptr) return false;
  s->block = b;
  return true;
}

bool blocks_find(std::uint64_t address, DeviceBlock* out) noexcept {
  Locked l(g_blocks_lock);
  Slot* s = g_blocks.find(address);
  if (s == nullptr) return false;
  *out = s->block;
  return true;
}

bool blocks_remove(std::uint64_t address, DeviceBlock* out) noexcept {
  Locked l(g_blocks_lock);
  Slot* s = g_blocks.find(address);
  if (s == nullptr) return false;
  *out = s->block;
  g_blocks.erase(s);
  return true;
}

bool vmm_created(std::uint64_t handle, const DeviceBlock& b) noexcept {
  Locked l(g_vmm_lock);
  Slot* s = g_handles.insert(handle);
  if (s == nullptr) return false;
  s->block = b;
  return true;
}

bool vmm_released(std::uint64_t handle, DeviceBlock* out) noexcept {
  Locked l(g_vmm_lock);
  Slot* s = g_handles.find(handle);
  if (s == nullptr) return false;
  if (s->maps > 0) {
    s->released = true;
    return false;
  }
  *out = s->block;
  g_handles.erase(s);
  return true;
}

void vmm_mapped(std::uint64_t va, std::uint64_t size, std::uint64_t handle) noexcept {
  Locked l(g_vmm_lock);
  Slot* h = g_handles.find(handle);
  if (h == nullptr) return;  // created before heaplens saw it: nothing to account
  Slot* m = g_mappings.insert(va);
  if (m == nullptr) return;
  m->block.size = size;
  m->handle = handle;
  ++h->maps;
}

void vmm_unmapped(std::uint64_t va, std::uint64_t size,
                  void (*gone)(std::uint64_t handle, const DeviceBlock& b)) noexcept {
  // Collected under the lock, reported after it: recording unwinds the stack.
  struct Gone {
    std::uint64_t handle;
    DeviceBlock block;
  };
  Gone done[16];
  int n = 0;
  {
    Locked l(g_vmm_lock);
    g_mappings.for_each([&](Slot* m) {
      if (m->key < va || m->key - va >= size) return;
      std::uint64_t handle = m->handle;
      g_mappings.erase(m);
      Slot* h = g_handles.find(handle);
      if (h == nullptr) return;
      if (h->maps > 0) --h->maps;
      if (h->maps == 0 && h->released && n < 16) {
        done[n++] = {handle, h->block};
        g_handles.erase(h);
      }
    });
  }
  for (int i = 0; i < n; ++i) gone(done[i].handle, done[i].block);
}

}  // namespace heaplens::cuda
