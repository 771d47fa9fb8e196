// The CUDA driver's allocation API (libcuda.so.1), by exact versioned export: what a program
// linked to libcuda calls, and what the static runtime and PyTorch reach through the
// resolvers (resolver_hooks.cc hands these out in place of the real ones).
#include "../export.h"
#include "cuda_pool.h"
#include "device_record.h"
#include "hooks.h"

namespace cuda = heaplens::cuda;
using cuda::Fn;
using heaplens::wire::DeviceApi;
using heaplens::wire::DeviceKind;

namespace {

template <typename Call>
CUresult driver_alloc(Fn f, DeviceKind kind, const CUdeviceptr* out, std::size_t size, Call&& call,
                      const std::uint64_t* stream = nullptr) noexcept {
  return cuda::tracked(call, [&] {
    if (out != nullptr) cuda::allocated(cuda::current_device(f), kind, DeviceApi::kDriver, *out, size, stream);
  });
}

template <typename Call>
CUresult driver_host_alloc(Fn f, void** out, std::size_t size, Call&& call) noexcept {
  return cuda::tracked(call, [&] {
    if (out != nullptr)
      cuda::allocated(cuda::current_device(f), DeviceKind::kPinnedHost, DeviceApi::kDriver, cuda::addr(*out), size);
  });
}

CUresult alloc_async(Fn f, CUdeviceptr* p, std::size_t size, CUstream s) noexcept {
  auto fn = cuda::real_as<CUresult (*)(CUdeviceptr*, std::size_t, CUstream)>(f);
  if (fn == nullptr) return cuda::kNotLoaded;
  std::uint64_t stream = cuda::addr(s);
  return driver_alloc(f, DeviceKind::kAsync, p, size, [&] { return fn(p, size, s); }, &stream);
}

CUresult alloc_from_pool_async(Fn f, CUdeviceptr* p, std::size_t size, CUmemoryPool pool, CUstream s) noexcept {
  auto fn = cuda::real_as<CUresult (*)(CUdeviceptr*, std::size_t, CUmemoryPool, CUstream)>(f);
  if (fn == nullptr) return cuda::kNotLoaded;
  std::uint64_t stream = cuda::addr(s);
  return driver_alloc(f, DeviceKind::kAsync, p, size, [&] { return fn(p, size, pool, s); }, &stream);
}

CUresult free_async(Fn f, CUdeviceptr p, CUstream s) noexcept {
  auto fn = cuda::real_as<CUresult (*)(CUdeviceptr, CUstream)>(f);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked_free(p, [&] { return fn(p, s); });
}

}  // namespace

extern "C" {

HEAPLENS_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* p, std::size_t size) {
  auto fn = cuda::real_as<decltype(&cuMemAlloc_v2)>(Fn::cuMemAlloc_v2);
  if (fn == nullptr) return cuda::kNotLoaded;
  return driver_alloc(Fn::cuMemAlloc_v2, DeviceKind::kDevice, p, size, [&] {
    return cuda::pool_serves() ? cuda::pool_alloc(Fn::cuMemAlloc_v2, reinterpret_cast<void**>(p), size)
                               : fn(p, size);
  });
}

HEAPLENS_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  auto fn = cuda::real_as<decltype(&cuMemFree_v2)>(Fn::cuMemFree_v2);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked_free(p, [&] {
    int rc = cuda::pool_free(p);
    return rc == cuda::kNotPool ? fn(p) : rc;
  });
}

HEAPLENS_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* p, std::size_t size, unsigned flags) {
  auto fn = cuda::real_as<decltype(&cuMemAllocManaged)>(Fn::cuMemAllocManaged);
  if (fn == nullptr) return cuda::kNotLoaded;
  return driver_alloc(Fn::cuMemAllocManaged, DeviceKind::kManaged, p, size, [&] { return fn(p, size, flags); });
}

HEAPLENS_EXPORT CUresult cuMemAllocHost_v2(void** p, std::size_t size) {
  auto fn = cuda::real_as<decltype(&cuMemAllocHost_v2)>(Fn::cuMemAllocHost_v2);
  if (fn == nullptr) return cuda::kNotLoaded;
  return driver_host_alloc(Fn::cuMemAllocHost_v2, p, size, [&] { return fn(p, size); });
}

HEAPLENS_EXPORT CUresult cuMemHostAlloc(void** p, std::size_t size, unsigned flags) {
  auto fn = cuda::real_as<decltype(&cuMemHostAlloc)>(Fn::cuMemHostAlloc);
  if (fn == nullptr) return cuda::kNotLoaded;
  return driver_host_alloc(Fn::cuMemHostAlloc, p, size, [&] { return fn(p, size, flags); });
}

HEAPLENS_EXPORT CUresult cuMemFreeHost(void* p) {
  auto fn = cuda::real_as<decltype(&cuMemFreeHost)>(Fn::cuMemFreeHost);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked_free(cuda::addr(p), [&] { return fn(p); });
}

HEAPLENS_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* p, std::size_t* pitch, std::size_t width,
                                            std::size_t height, unsigned element_bytes) {
  auto fn = cuda::real_as<decltype(&cuMemAllocPitch_v2)>(Fn::cuMemAllocPitch_v2);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked([&] { return fn(p, pitch, width, height, element_bytes); }, [&] {
    if (p != nullptr && pitch != nullptr)
      cuda::allocated(cuda::current_device(Fn::cuMemAllocPitch_v2), DeviceKind::kDevice, DeviceApi::kDriver, *p,
                      *pitch * height);
  });
}

HEAPLENS_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* p, std::size_t size, CUstream s) {
  return alloc_async(Fn::cuMemAllocAsync, p, size, s);
}
HEAPLENS_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* p, std::size_t size, CUstream s) {
  return alloc_async(Fn::cuMemAllocAsync_ptsz, p, size, s);
}
HEAPLENS_EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) { return free_async(Fn::cuMemFreeAsync, p, s); }
HEAPLENS_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s) {
  return free_async(Fn::cuMemFreeAsync_ptsz, p, s);
}
HEAPLENS_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* p, std::size_t size, CUmemoryPool pool, CUstream s) {
  return alloc_from_pool_async(Fn::cuMemAllocFromPoolAsync, p, size, pool, s);
}
HEAPLENS_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* p, std::size_t size, CUmemoryPool pool,
                                                      CUstream s) {
  return alloc_from_pool_async(Fn::cuMemAllocFromPoolAsync_ptsz, p, size, pool, s);
}

// Virtual memory management: physical memory is counted from cuMemCreate until the driver
// frees it, which is when its handle is released and no mapping of it is left.
HEAPLENS_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* h, std::size_t size, const CUmemAllocationProp* prop,
                                     unsigned long long flags) {
  auto fn = cuda::real_as<decltype(&cuMemCreate)>(Fn::cuMemCreate);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked([&] { return fn(h, size, prop, flags); }, [&] {
    if (h == nullptr) return;
    int ordinal = prop != nullptr && prop->location.type == cuda::kMemLocationDevice
                      ? prop->location.id
                      : cuda::current_device(Fn::cuMemCreate);
    cuda::vmm_allocated(ordinal, *h, size);
  });
}

HEAPLENS_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h) {
  auto fn = cuda::real_as<decltype(&cuMemRelease)>(Fn::cuMemRelease);
  if (fn == nullptr) return cuda::kNotLoaded;
  cuda::CallScope scope;
  if (scope.records()) {
    cuda::KeepErrno keep;
    cuda::DeviceBlock b;
    if (cuda::vmm_released(h, &b)) cuda::vmm_freed(h, b);
  }
  return fn(h);
}

HEAPLENS_EXPORT CUresult cuMemMap(CUdeviceptr va, std::size_t size, std::size_t offset, CUmemGenericAllocationHandle h,
                                  unsigned long long flags) {
  auto fn = cuda::real_as<decltype(&cuMemMap)>(Fn::cuMemMap);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked([&] { return fn(va, size, offset, h, flags); }, [&] { cuda::vmm_mapped(va, size, h); });
}

HEAPLENS_EXPORT CUresult cuMemUnmap(CUdeviceptr va, std::size_t size) {
  auto fn = cuda::real_as<decltype(&cuMemUnmap)>(Fn::cuMemUnmap);
  if (fn == nullptr) return cuda::kNotLoaded;
  cuda::CallScope scope;
  if (scope.records()) {
    cuda::KeepErrno keep;
    cuda::vmm_unmapped(va, size, cuda::vmm_freed);
  }
  return fn(va, size);
}

}  // extern "C"
