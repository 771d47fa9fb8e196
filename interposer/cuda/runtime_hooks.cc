// The CUDA runtime's allocation API (libcudart.so). A program linked to the shared runtime
// calls these; the static runtime (nvcc's default) never does, and is seen through the
// driver hooks instead. Each hook calls the real function and records what it allocated.
#include "../export.h"
#include "cuda_pool.h"
#include "device_record.h"
#include "hooks.h"

namespace cuda = heaplens::cuda;
using cuda::Fn;
using heaplens::wire::DeviceApi;
using heaplens::wire::DeviceKind;

namespace {

std::uint64_t element_bytes(const cudaChannelFormatDesc* d) noexcept {
  if (d == nullptr) return 0;
  long bits = static_cast<long>(d->x) + d->y + d->z + d->w;
  return bits > 0 ? static_cast<std::uint64_t>(bits) / 8 : 0;
}

inline std::size_t at_least_1(std::size_t x) noexcept { return x == 0 ? 1 : x; }

// An allocation that hands back a void*: the common shape of most of the API.
template <typename Call>
cudaError_t runtime_alloc(Fn f, DeviceKind kind, void** out, std::size_t size, Call&& call,
                          const std::uint64_t* stream = nullptr) noexcept {
  return cuda::tracked(call, [&] {
    if (out != nullptr)
      cuda::allocated(cuda::current_device(f), kind, DeviceApi::kRuntime, cuda::addr(*out), size, stream);
  });
}

cudaError_t malloc_async(Fn f, void** p, std::size_t size, cudaStream_t s) noexcept {
  auto fn = cuda::real_as<cudaError_t (*)(void**, std::size_t, cudaStream_t)>(f);
  if (fn == nullptr) return cuda::kNotLoaded;
  std::uint64_t stream = cuda::addr(s);
  return runtime_alloc(f, DeviceKind::kAsync, p, size, [&] { return fn(p, size, s); }, &stream);
}

cudaError_t free_async(Fn f, void* p, cudaStream_t s) noexcept {
  auto fn = cuda::real_as<cudaError_t (*)(void*, cudaStream_t)>(f);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked_free(cuda::addr(p), [&] { return fn(p, s); });
}

cudaError_t malloc_from_pool_async(Fn f, void** p, std::size_t size, cudaMemPool_t pool, cudaStream_t s) noexcept {
  auto fn = cuda::real_as<cudaError_t (*)(void**, std::size_t, cudaMemPool_t, cudaStream_t)>(f);
  if (fn == nullptr) return cuda::kNotLoaded;
  std::uint64_t stream = cuda::addr(s);
  return runtime_alloc(f, DeviceKind::kAsync, p, size, [&] { return fn(p, size, pool, s); }, &stream);
}

template <typename F>
cudaError_t free_with(Fn f, void* p) noexcept {
  auto fn = cuda::real_as<F>(f);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked_free(cuda::addr(p), [&] { return fn(p); });
}

}  // namespace

extern "C" {

HEAPLENS_EXPORT cudaError_t cudaMalloc(void** p, std::size_t size) {
  auto fn = cuda::real_as<decltype(&cudaMalloc)>(Fn::cudaMalloc);
  if (fn == nullptr) return cuda::kNotLoaded;
  return runtime_alloc(Fn::cudaMalloc, DeviceKind::kDevice, p, size, [&] {
    return cuda::pool_serves() ? cuda::pool_alloc(Fn::cudaMalloc, p, size) : fn(p, size);
  });
}

HEAPLENS_EXPORT cudaError_t cudaFree(void* p) {
  auto fn = cuda::real_as<decltype(&cudaFree)>(Fn::cudaFree);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked_free(cuda::addr(p), [&] {
    int rc = cuda::pool_free(cuda::addr(p));
    return rc == cuda::kNotPool ? fn(p) : rc;
  });
}

HEAPLENS_EXPORT cudaError_t cudaMallocManaged(void** p, std::size_t size, unsigned flags) {
  auto fn = cuda::real_as<decltype(&cudaMallocManaged)>(Fn::cudaMallocManaged);
  if (fn == nullptr) return cuda::kNotLoaded;
  return runtime_alloc(Fn::cudaMallocManaged, DeviceKind::kManaged, p, size, [&] { return fn(p, size, flags); });
}

HEAPLENS_EXPORT cudaError_t cudaMallocHost(void** p, std::size_t size) {
  auto fn = cuda::real_as<decltype(&cudaMallocHost)>(Fn::cudaMallocHost);
  if (fn == nullptr) return cuda::kNotLoaded;
  return runtime_alloc(Fn::cudaMallocHost, DeviceKind::kPinnedHost, p, size, [&] { return fn(p, size); });
}

HEAPLENS_EXPORT cudaError_t cudaHostAlloc(void** p, std::size_t size, unsigned flags) {
  auto fn = cuda::real_as<decltype(&cudaHostAlloc)>(Fn::cudaHostAlloc);
  if (fn == nullptr) return cuda::kNotLoaded;
  return runtime_alloc(Fn::cudaHostAlloc, DeviceKind::kPinnedHost, p, size, [&] { return fn(p, size, flags); });
}

HEAPLENS_EXPORT cudaError_t cudaFreeHost(void* p) { return free_with<decltype(&cudaFreeHost)>(Fn::cudaFreeHost, p); }

HEAPLENS_EXPORT cudaError_t cudaMallocPitch(void** p, std::size_t* pitch, std::size_t width, std::size_t height) {
  auto fn = cuda::real_as<decltype(&cudaMallocPitch)>(Fn::cudaMallocPitch);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked([&] { return fn(p, pitch, width, height); }, [&] {
    if (p != nullptr && pitch != nullptr)
      cuda::allocated(cuda::current_device(Fn::cudaMallocPitch), DeviceKind::kDevice, DeviceApi::kRuntime,
                      cuda::addr(*p), *pitch * height);
  });
}

HEAPLENS_EXPORT cudaError_t cudaMalloc3D(cudaPitchedPtr* p, cudaExtent extent) {
  auto fn = cuda::real_as<decltype(&cudaMalloc3D)>(Fn::cudaMalloc3D);
  if (fn == nullptr) return cuda::kNotLoaded;
  return cuda::tracked([&] { return fn(p, extent); }, [&] {
    if (p != nullptr)
      cuda::allocated(cuda::current_device(Fn::cudaMalloc3D), DeviceKind::kDevice, DeviceApi::kRuntime,
                      cuda::addr(p->ptr), p->pitch * extent.height * extent.depth);
  });
}

HEAPLENS_EXPORT cudaError_t cudaMallocArray(cudaArray_t* a, const cudaChannelFormatDesc* desc, std::size_t width,
                                            std::size_t height, unsigned flags) {
  auto fn = cuda::real_as<decltype(&cudaMallocArray)>(Fn::cudaMallocArray);
  if (fn == nullptr) return cuda::kNotLoaded;
  std::uint64_t size = element_bytes(desc) * width * at_least_1(height);
  return runtime_alloc(Fn::cudaMallocArray, DeviceKind::kArray, reinterpret_cast<void**>(a), size,
                       [&] { return fn(a, desc, width, height, flags); });
}

HEAPLENS_EXPORT cudaError_t cudaMalloc3DArray(cudaArray_t* a, const cudaChannelFormatDesc* desc, cudaExtent e,
                                              unsigned flags) {
  auto fn = cuda::real_as<decltype(&cudaMalloc3DArray)>(Fn::cudaMalloc3DArray);
  if (fn == nullptr) return cuda::kNotLoaded;
  std::uint64_t size = element_bytes(desc) * e.width * at_least_1(e.height) * at_least_1(e.depth);
  return runtime_alloc(Fn::cudaMalloc3DArray, DeviceKind::kArray, reinterpret_cast<void**>(a), size,
                       [&] { return fn(a, desc, e, flags); });
}

HEAPLENS_EXPORT cudaError_t cudaFreeArray(cudaArray_t a) { return free_with<decltype(&cudaFreeArray)>(Fn::cudaFreeArray, a); }

HEAPLENS_EXPORT cudaError_t cudaMallocAsync(void** p, std::size_t size, cudaStream_t s) {
  return malloc_async(Fn::cudaMallocAsync, p, size, s);
}
HEAPLENS_EXPORT cudaError_t cudaMallocAsync_ptsz(void** p, std::size_t size, cudaStream_t s) {
  return malloc_async(Fn::cudaMallocAsync_ptsz, p, size, s);
}
HEAPLENS_EXPORT cudaError_t cudaFreeAsync(void* p, cudaStream_t s) { return free_async(Fn::cudaFreeAsync, p, s); }
HEAPLENS_EXPORT cudaError_t cudaFreeAsync_ptsz(void* p, cudaStream_t s) {
  return free_async(Fn::cudaFreeAsync_ptsz, p, s);
}
HEAPLENS_EXPORT cudaError_t cudaMallocFromPoolAsync(void** p, std::size_t size, cudaMemPool_t pool, cudaStream_t s) {
  return malloc_from_pool_async(Fn::cudaMallocFromPoolAsync, p, size, pool, s);
}
HEAPLENS_EXPORT cudaError_t cudaMallocFromPoolAsync_ptsz(void** p, std::size_t size, cudaMemPool_t pool,
                                                         cudaStream_t s) {
  return malloc_from_pool_async(Fn::cudaMallocFromPoolAsync_ptsz, p, size, pool, s);
}

}  // extern "C"
