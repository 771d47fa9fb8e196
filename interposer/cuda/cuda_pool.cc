#include "cuda_pool.h"

#include <new>

#include "../../pool/device_pool.h"
#include "../hook_guard.h"
#include "../tracker.h"
#include "config_state.h"
#include "device_record.h"

namespace heaplens::cuda {
namespace {

// The hooked call being served on this thread: the pool's driver allocates with its real
// function (cudaMalloc needs the runtime to have set up the context; cuMemAlloc_v2 is all
// the static runtime has).
__thread Fn t_api __attribute__((tls_model("initial-exec"))) = Fn::cudaMalloc;

int driver_alloc(void*, int, std::size_t size, std::uint64_t* out) noexcept {
  if (t_api == Fn::cuMemAlloc_v2) {
    auto fn = real_as<decltype(&::cuMemAlloc_v2)>(Fn::cuMemAlloc_v2);
    if (fn == nullptr) return kNotLoaded;
    CUdeviceptr p = 0;
    int rc = fn(&p, size);
    if (rc == 0) *out = p;
    return rc;
  }
  auto fn = real_as<decltype(&::cudaMalloc)>(Fn::cudaMalloc);
  if (fn == nullptr) return kNotLoaded;
  void* p = nullptr;
  int rc = fn(&p, size);
  if (rc == 0) *out = addr(p);
  return rc;
}

int driver_free(void*, int, std::uint64_t ptr) noexcept {
  if (auto fn = real_as<decltype(&::cudaFree)>(Fn::cudaFree)) return fn(reinterpret_cast<void*>(ptr));
  if (auto fn = real_as<decltype(&::cuMemFree_v2)>(Fn::cuMemFree_v2)) return fn(ptr);
  return kNotLoaded;
}

// Never destroyed: frees may come from other libraries' exit-time destructors.
alignas(pool::DevicePool) unsigned char g_storage[sizeof(pool::DevicePool)];

pool::DevicePool& the_pool() noexcept {
  static pool::DevicePool* p = new (g_storage) pool::DevicePool(pool::DeviceDriver{driver_alloc, driver_free, nullptr});
  return *p;
}

void publish(int ordinal) noexcept {
  pool::DevicePoolCounters c = the_pool().counters(ordinal);
  tracker::publish_device_pool(static_cast<std::uint32_t>(ordinal),
                               {c.reserved_bytes, c.in_use_bytes, c.requested_bytes, c.largest_cached, c.hits,
                                c.misses, c.driver_frees, c.trims});
}

// Only the program's own call: the pool's driver calls the real cudaMalloc, which reaches
// our cuMemAlloc_v2 (shared runtime) while the pool holds the device's lock; that nested call
// must go to the driver, as must the frees of a trim. (The hook's own CallScope is depth 1.)
bool outermost() noexcept { return t_cuda_depth == 1; }

}  // namespace

bool pool_serves() noexcept { return pool_enabled() && outermost(); }

int pool_alloc(Fn api, void** out, std::size_t size) noexcept {
  int ordinal = current_device(api);
  Fn saved = t_api;
  t_api = api;
  std::uint64_t p = 0;
  int rc;
  {
    // The pool's metadata is heaplens's, not the program's: not recorded.
    HookGuard guard;
    rc = the_pool().allocate(ordinal, 0, size, &p);
  }
  if (rc == pool::DevicePool::kBypass) {
    rc = driver_alloc(nullptr, ordinal, size, &p);
  } else if (rc == 0) {
    HookGuard guard;
    publish(ordinal);
  }
  t_api = saved;
  if (rc == 0 && out != nullptr) *out = reinterpret_cast<void*>(p);
  return rc;
}

int pool_free(std::uint64_t p) noexcept {
  if (!pool_enabled() || !outermost() || p == 0) return kNotPool;
  HookGuard guard;
  if (!the_pool().release(p)) return the_pool().holds(p) ? kInvalidValue : kNotPool;
  // A free names no device; the pool's counters are cheap to read (one lock per device).
  for (int d = 0; d < pool::DevicePool::kMaxDevices; ++d) publish(d);
  return 0;
}

}  // namespace heaplens::cuda
