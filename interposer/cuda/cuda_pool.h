// HEAPLENS_CUDA_POOL=1: cudaMalloc/cudaFree and cuMemAlloc_v2/cuMemFree_v2 served by
// heaplens's caching device pool (pool/device_pool.h), like PyTorch's caching allocator,
// for programs that allocate and free device memory in loops. The hooks still record what
// the program asked for; the pool's own figures go to the session header per device.
//
// Blocks freed with cudaFree are reused on the same device by later cudaMalloc calls
// (the legacy default stream): a program that frees memory still in use by kernels on
// other streams must not turn the pool on (the same contract as PyTorch's allocator
// without recordStream).
#pragma once

#include <cstddef>
#include <cstdint>

#include "entry_points.h"

namespace heaplens::cuda {

bool pool_serves() noexcept;
// Serves `size` bytes on the current device; `api` is the hooked call (cudaMalloc or
// cuMemAlloc_v2), whose real function supplies the pool's memory. Devices the pool does
// not cover are served by that function directly.
int pool_alloc(Fn api, void** out, std::size_t size) noexcept;
// kNotPool: `p` is not the pool's, the driver must free it. Otherwise the status of the free:
// 0 (cached now), or invalid-value for an address inside one of the pool's segments that is
// not a live block (a double free): never passed to the driver, which would free the segment.
inline constexpr int kNotPool = -1;
int pool_free(std::uint64_t p) noexcept;

}  // namespace heaplens::cuda
