// From a hooked CUDA call to the tracker's device records: which calls record (only the
// outermost CUDA call of a thread: shared libcudart's cudaMalloc reaches the driver's
// cuMemAlloc_v2 through pointers it got from our resolver hooks, and that is one
// allocation), which device is current, and the bookkeeping around frees (device_blocks.h).
#pragma once

#include <cerrno>
#include <cstdint>

#include "../../shared/format.h"
#include "device_blocks.h"
#include "entry_points.h"

namespace heaplens::cuda {

extern __thread int t_cuda_depth __attribute__((tls_model("initial-exec")));

// heaplens's own work inside a hook (unwinding, lookups, tables) leaves errno as the real
// call left it: the program sees exactly what CUDA did.
class KeepErrno {
 public:
  KeepErrno() noexcept : saved_(errno) {}
  ~KeepErrno() { errno = saved_; }
  KeepErrno(const KeepErrno&) = delete;
  KeepErrno& operator=(const KeepErrno&) = delete;

 private:
  int saved_;
};

class CallScope {
 public:
  CallScope() noexcept : outer_(t_cuda_depth++ == 0) {}
  ~CallScope() { --t_cuda_depth; }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
  // This call is the program's own (not one CUDA makes inside another) and hooks are on.
  bool records() const noexcept;

 private:
  bool outer_;
};

// The current device's ordinal, asked of the library that defines `called` (cudaGetDevice
// for the runtime, cuCtxGetDevice for the driver); 0 when it cannot say.
int current_device(Fn called) noexcept;

// A successful allocation: remembered and recorded with the caller's stack.
void allocated(int ordinal, wire::DeviceKind kind, wire::DeviceApi api, std::uint64_t address,
               std::uint64_t size, const std::uint64_t* stream = nullptr) noexcept;

// Before the real free: if heaplens knows the block, its Free is recorded now (its address
// could be handed out again the moment the driver has it) and true returned. If the driver
// then refuses the free, freeing_failed() makes the block live again.
bool freeing(std::uint64_t address, DeviceBlock* b) noexcept;
void freeing_failed(std::uint64_t address, const DeviceBlock& b) noexcept;

// VMM physical memory (address = the handle).
void vmm_allocated(int ordinal, std::uint64_t handle, std::uint64_t size) noexcept;
void vmm_freed(std::uint64_t handle, const DeviceBlock& b) noexcept;

// The Call returns the CUDA status (0 = success); Done runs only on success.
template <typename Call, typename Done>
inline int tracked(Call&& call, Done&& done) noexcept {
  CallScope scope;
  if (!scope.records()) return call();
  int rc = call();
  if (rc == 0) {
    KeepErrno keep;
    done();
  }
  return rc;
}

template <typename Call>
inline int tracked_free(std::uint64_t address, Call&& call) noexcept {
  CallScope scope;
  if (!scope.records() || address == 0) return call();
  DeviceBlock b;
  bool known;
  {
    KeepErrno keep;
    known = freeing(address, &b);
  }
  int rc = call();
  if (rc != 0 && known) {
    KeepErrno keep;
    freeing_failed(address, b);
  }
  return rc;
}

inline std::uint64_t addr(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }

// What a hook returns when the real function does not exist (CUDA is not loaded): the
// runtime's cudaErrorInitializationError and the driver's CUDA_ERROR_NOT_INITIALIZED.
inline constexpr int kNotLoaded = 3;
// cudaErrorInvalidValue and CUDA_ERROR_INVALID_VALUE.
inline constexpr int kInvalidValue = 1;

}  // namespace heaplens::cuda
