#include "device_record.h"

#include <atomic>

#include "../hook_guard.h"
#include "../log.h"
#include "../tracker.h"
#include "config_state.h"

namespace heaplens::cuda {

__thread int t_cuda_depth __attribute__((tls_model("initial-exec"))) = 0;

namespace {

CudaConfig g_config;
std::atomic<bool> g_said_ordinal{false};

using GetDeviceFn = int (*)(int*);
std::atomic<GetDeviceFn> g_get_device[2];  // [0] runtime, [1] driver

// Record device field for an ordinal; 0 when the format cannot carry it.
std::uint32_t device_field(int ordinal) noexcept {
  if (ordinal >= 0 && static_cast<std::uint32_t>(ordinal) < wire::kMaxCudaDevices)
    return wire::kDeviceCudaFirst + static_cast<std::uint32_t>(ordinal);
  if (!g_said_ordinal.exchange(true))
    log_line("CUDA device {} is beyond the {} devices heaplens records: its memory is not recorded", ordinal,
             wire::kMaxCudaDevices);
  return 0;
}

}  // namespace

void configure(const CudaConfig& c) noexcept { g_config = c; }
bool hooks_enabled() noexcept { return g_config.enabled; }
bool pool_enabled() noexcept { return g_config.pool; }

bool CallScope::records() const noexcept { return outer_ && g_config.enabled; }

int current_device(Fn called) noexcept {
  bool driver = is_driver(called);
  GetDeviceFn get = g_get_device[driver].load(std::memory_order_acquire);
  if (get == nullptr) {
    get = reinterpret_cast<GetDeviceFn>(sibling(real(called), driver ? "cuCtxGetDevice" : "cudaGetDevice"));
    if (get == nullptr) return 0;
    g_get_device[driver].store(get, std::memory_order_release);
  }
  int ordinal = 0;
  // The query is a CUDA call of its own: keep it out of the records.
  ++t_cuda_depth;
  int rc = get(&ordinal);
  --t_cuda_depth;
  return rc == 0 ? ordinal : 0;
}

void allocated(int ordinal, wire::DeviceKind kind, wire::DeviceApi api, std::uint64_t address,
               std::uint64_t size, const std::uint64_t* stream) noexcept {
  std::uint32_t device = device_field(ordinal);
  if (device == 0 || address == 0) return;
  HookGuard guard;
  blocks_add(address, DeviceBlock{size, device, kind, api});
  tracker::on_device_alloc({device, kind, api, address, size, stream ? *stream : 0, stream != nullptr});
}

bool freeing(std::uint64_t address, DeviceBlock* b) noexcept {
  if (!blocks_remove(address, b)) return false;
  HookGuard guard;
  tracker::on_device_free(b->device, address);
  return true;
}

void freeing_failed(std::uint64_t address, const DeviceBlock& b) noexcept {
  HookGuard guard;
  blocks_add(address, b);
  tracker::on_device_alloc({b.device, b.kind, b.api, address, b.size, 0, false});
}

void vmm_allocated(int ordinal, std::uint64_t handle, std::uint64_t size) noexcept {
  std::uint32_t device = device_field(ordinal);
  if (device == 0 || handle == 0) return;
  HookGuard guard;
  vmm_created(handle, DeviceBlock{size, device, wire::DeviceKind::kVmm, wire::DeviceApi::kDriver});
  tracker::on_device_alloc({device, wire::DeviceKind::kVmm, wire::DeviceApi::kDriver, handle, size, 0, false});
}

void vmm_freed(std::uint64_t handle, const DeviceBlock& b) noexcept {
  HookGuard guard;
  tracker::on_device_free(b.device, handle);
}

}  // namespace heaplens::cuda
