#include "modules.h"

#include <elf.h>
#include <link.h>

#include <atomic>
#include <cstring>

namespace heaplens::modules {
namespace {

std::atomic<bool> g_busy{false};
std::atomic<std::uint64_t> g_seen_adds{0};
std::atomic<std::uint64_t> g_seen_subs{0};
std::atomic<bool> g_fresh{true};  // nothing scanned into the current table yet

constexpr std::uint64_t kMaxTracked = 4096;

struct Scan {
  const Table* table;
  std::uint64_t now_ns;
  std::uint64_t count;                  // entries in the table
  std::uint64_t present[kMaxTracked / 64];  // entries seen in this scan
};

int read_counters(dl_phdr_info* info, std::size_t size, void* data) {
  auto* out = static_cast<std::uint64_t*>(data);
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    out[0] = info->dlpi_adds;
    out[1] = info->dlpi_subs;
  }
  return 1;  // the counters are the same in every callback: one is enough
}

void build_id_of(const dl_phdr_info* info, wire::ModuleEntry* e) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) nh;
      std::memcpy(&nh, p, sizeof(nh));
      const unsigned char* name = p + sizeof(nh);
      const unsigned char* desc = name + ((nh.n_namesz + 3) & ~3u);
      const unsigned char* next = desc + ((nh.n_descsz + 3) & ~3u);
      if (next > end || next <= p) break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        std::uint32_t n = nh.n_descsz < wire::kBuildIdMax ? nh.n_descsz : wire::kBuildIdMax;
        std::memcpy(e->build_id, desc, n);
        e->build_id_size = n;
        return;
      }
      p = next;
    }
  }
}

void set_path(wire::ModuleEntry* e, const char* path) {
  std::size_t n = std::strlen(path);
  if (n >= wire::kModulePathMax) n = wire::kModulePathMax - 1;
  std::memcpy(e->path, path, n);
  e->path[n] = '\0';
  e->path_size = static_cast<std::uint32_t>(n);
}

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto* scan = static_cast<Scan*>(data);
  const Table& t = *scan->table;
  // The main program has an empty name: the header carries its path.
  const char* path = info->dlpi_name != nullptr && info->dlpi_name[0] != '\0'
                         ? info->dlpi_name
                         : t.header->executable;
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    std::uint64_t a = info->dlpi_addr + ph.p_vaddr;
    if (a < lo) lo = a;
    if (a + ph.p_memsz > hi) hi = a + ph.p_memsz;
  }
  if (hi == 0) return 0;
  for (std::uint64_t i = 0; i < scan->count && i < kMaxTracked; ++i) {
    wire::ModuleEntry& e = t.entries[i];
    if (e.load_bias == info->dlpi_addr && e.start == lo &&
        e.unloaded_ns.load(std::memory_order_relaxed) == 0 && std::strcmp(e.path, path) == 0) {
      scan->present[i / 64] |= std::uint64_t{1} << (i % 64);
      return 0;
    }
  }
  if (scan->count >= t.capacity || scan->count >= kMaxTracked) return 0;
  wire::ModuleEntry& e = t.entries[scan->count];
  e.load_bias = info->dlpi_addr;
  e.start = lo;
  e.end = hi;
  e.loaded_ns = scan->now_ns;
  e.unloaded_ns.store(0, std::memory_order_relaxed);
  e.build_id_size = 0;
  build_id_of(info, &e);
  set_path(&e, path);
  scan->present[scan->count / 64] |= std::uint64_t{1} << (scan->count % 64);
  ++scan->count;
  t.header->module_count.store(scan->count, std::memory_order_release);
  return 0;
}

}  // namespace

void refresh(const Table& table, std::uint64_t now_ns) noexcept {
  std::uint64_t counters[2] = {0, 0};
  dl_iterate_phdr(read_counters, counters);
  if (!g_fresh.load(std::memory_order_acquire) && counters[0] == g_seen_adds.load(std::memory_order_relaxed) &&
      counters[1] == g_seen_subs.load(std::memory_order_relaxed))
    return;
  if (g_busy.exchange(true, std::memory_order_acquire)) return;
  static Scan scan;  // under g_busy; too big for a malloc hook's stack
  std::memset(&scan, 0, sizeof(scan));
  scan.table = &table;
  scan.now_ns = now_ns;
  scan.count = table.header->module_count.load(std::memory_order_acquire);
  if (scan.count > table.capacity) scan.count = table.capacity;
  std::uint64_t before = scan.count;
  dl_iterate_phdr(visit, &scan);
  for (std::uint64_t i = 0; i < before && i < kMaxTracked; ++i) {
    if (!(scan.present[i / 64] & (std::uint64_t{1} << (i % 64))) &&
        table.entries[i].unloaded_ns.load(std::memory_order_relaxed) == 0)
      table.entries[i].unloaded_ns.store(now_ns == 0 ? 1 : now_ns, std::memory_order_release);
  }
  g_seen_adds.store(counters[0], std::memory_order_relaxed);
  g_seen_subs.store(counters[1], std::memory_order_relaxed);
  g_fresh.store(false, std::memory_order_release);
  g_busy.store(false, std::memory_order_release);
}

void reset() noexcept { g_fresh.store(true, std::memory_order_release); }

}  // namespace heaplens::modules
