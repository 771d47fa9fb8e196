// The driver API, reached as a program without -lcuda reaches it: every entry point comes
// from cudaGetDriverEntryPointByVersion (static cudart resolves it through the driver's
// cuGetProcAddress_v2). cuMemAlloc/cuMemFree, cuMemAllocHost/cuMemFreeHost,
// cuMemAllocManaged, cuMemAllocAsync/cuMemFreeAsync, and the virtual memory management API:
// cuMemCreate/cuMemAddressReserve/cuMemMap/cuMemSetAccess/cuMemUnmap/cuMemRelease.
// VMM truth (the contract): cuMemCreate is the allocation (kind vmm, key = the handle, device
// = prop.location.id); it is freed when it has been released AND unmapped everywhere.
#include <cuda.h>
#include <cudaTypedefs.h>

#include "gpu_truth.h"

using namespace gpu_truth;

#define CU_CHECK(call)                                                                   \
  do {                                                                                   \
    CUresult r_ = (call);                                                                \
    if (r_ != CUDA_SUCCESS) {                                                            \
      std::fprintf(stderr, "%s:%d: %s failed: CUresult %d\n", __FILE__, __LINE__, #call, (int)r_); \
      std::exit(3);                                                                      \
    }                                                                                    \
  } while (0)

struct Driver {
  PFN_cuMemAlloc_v3020 cuMemAlloc;
  PFN_cuMemFree_v3020 cuMemFree;
  PFN_cuMemAllocHost_v3020 cuMemAllocHost;
  PFN_cuMemFreeHost_v2000 cuMemFreeHost;
  PFN_cuMemAllocManaged_v6000 cuMemAllocManaged;
  PFN_cuMemAllocAsync_v11020 cuMemAllocAsync;
  PFN_cuMemFreeAsync_v11020 cuMemFreeAsync;
  PFN_cuMemGetAllocationGranularity_v10020 cuMemGetAllocationGranularity;
  PFN_cuMemCreate_v10020 cuMemCreate;
  PFN_cuMemRelease_v10020 cuMemRelease;
  PFN_cuMemAddressReserve_v10020 cuMemAddressReserve;
  PFN_cuMemAddressFree_v10020 cuMemAddressFree;
  PFN_cuMemMap_v10020 cuMemMap;
  PFN_cuMemUnmap_v10020 cuMemUnmap;
  PFN_cuMemSetAccess_v10020 cuMemSetAccess;
};
Driver drv;

template <class F>
static void resolve(F* fn, const char* name, unsigned version) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult q{};
  CUDA_CHECK(cudaGetDriverEntryPointByVersion(name, &p, version, cudaEnableDefault, &q));
  if (q != cudaDriverEntryPointSuccess || p == nullptr) {
    std::fprintf(stderr, "driver entry point %s (version %u) not found (%d)\n", name, version, (int)q);
    std::exit(3);
  }
  *fn = reinterpret_cast<F>(p);
}

// Every entry point is asked for at CUDA 12.0, as a program built against 12.x would: the
// driver returns the ABI current at 12.0 (cuMemAlloc -> cuMemAlloc_v2, ...), the one the
// PFN_*_vNNNN types above describe (none of these changed since).
constexpr unsigned kVersion = 12000;

static void resolve_all() {
  resolve(&drv.cuMemAlloc, "cuMemAlloc", kVersion);
  resolve(&drv.cuMemFree, "cuMemFree", kVersion);
  resolve(&drv.cuMemAllocHost, "cuMemAllocHost", kVersion);
  resolve(&drv.cuMemFreeHost, "cuMemFreeHost", kVersion);
  resolve(&drv.cuMemAllocManaged, "cuMemAllocManaged", kVersion);
  resolve(&drv.cuMemAllocAsync, "cuMemAllocAsync", kVersion);
  resolve(&drv.cuMemFreeAsync, "cuMemFreeAsync", kVersion);
  resolve(&drv.cuMemGetAllocationGranularity, "cuMemGetAllocationGranularity", kVersion);
  resolve(&drv.cuMemCreate, "cuMemCreate", kVersion);
  resolve(&drv.cuMemRelease, "cuMemRelease", kVersion);
  resolve(&drv.cuMemAddressReserve, "cuMemAddressReserve", kVersion);
  resolve(&drv.cuMemAddressFree, "cuMemAddressFree", kVersion);
  resolve(&drv.cuMemMap, "cuMemMap", kVersion);
  resolve(&drv.cuMemUnmap, "cuMemUnmap", kVersion);
  resolve(&drv.cuMemSetAccess, "cuMemSetAccess", kVersion);
}

CUdeviceptr g_leaked[64];
int g_leaked_count;
CUmemGenericAllocationHandle g_leaked_handles[64];
int g_leaked_handle_count;

static void* as_ptr(CUdeviceptr p) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(p)); }

__noinline__ CUdeviceptr driver_alloc(int dev, std::size_t n) {
  CUdeviceptr p = 0;
  CU_CHECK(drv.cuMemAlloc(&p, n));
  truth.alloc(dev, "device", p, n, __func__);
  KEEP_FRAME();
  return p;
}

__noinline__ void driver_free(int dev, CUdeviceptr p) {
  CU_CHECK(drv.cuMemFree(p));
  truth.free(dev, p);
  KEEP_FRAME();
}

__noinline__ void leak_driver_buffer(int dev, std::size_t n, unsigned seed) {
  CUdeviceptr p = 0;
  CU_CHECK(drv.cuMemAlloc(&p, n));
  truth.alloc(dev, "device", p, n, __func__);
  touch_and_verify("leaked driver buffer", as_ptr(p), n, seed);
  g_leaked[g_leaked_count++] = p;
  KEEP_FRAME();
}

__noinline__ void driver_pinned_roundtrip(int dev, std::size_t n, unsigned seed) {
  void* h = nullptr;
  CU_CHECK(drv.cuMemAllocHost(&h, n));
  truth.alloc(dev, "pinned_host", key(h), n, __func__);
  touch_and_verify("driver pinned", h, n, seed);
  CU_CHECK(drv.cuMemFreeHost(h));
  truth.free(dev, key(h));
  KEEP_FRAME();
}

__noinline__ void driver_managed_roundtrip(int dev, std::size_t n, unsigned seed) {
  CUdeviceptr m = 0;
  CU_CHECK(drv.cuMemAllocManaged(&m, n, CU_MEM_ATTACH_GLOBAL));
  truth.alloc(dev, "managed", m, n, __func__);
  touch_and_verify("driver managed", as_ptr(m), n, seed);
  CU_CHECK(drv.cuMemFree(m));
  truth.free(dev, m);
  KEEP_FRAME();
}

__noinline__ void driver_async_roundtrip(int dev, std::size_t n, unsigned seed) {
  cudaStream_t s = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CUdeviceptr a = 0;
  CU_CHECK(drv.cuMemAllocAsync(&a, n, reinterpret_cast<CUstream>(s)));
  truth.alloc(dev, "async", a, n, __func__);
  touch_and_verify("driver async", as_ptr(a), n, seed, s);
  CU_CHECK(drv.cuMemFreeAsync(a, reinterpret_cast<CUstream>(s)));
  truth.free(dev, a);
  CUDA_CHECK(cudaStreamSynchronize(s));
  CUDA_CHECK(cudaStreamDestroy(s));
  KEEP_FRAME();
}

static CUmemAllocationProp vmm_prop(int dev) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;
  return prop;
}

static std::size_t vmm_granularity(int dev) {
  CUmemAllocationProp prop = vmm_prop(dev);
  std::size_t g = 0;
  CU_CHECK(drv.cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  return g;
}

__noinline__ CUmemGenericAllocationHandle vmm_create(int dev, std::size_t n) {
  CUmemAllocationProp prop = vmm_prop(dev);
  CUmemGenericAllocationHandle h = 0;
  CU_CHECK(drv.cuMemCreate(&h, n, &prop, 0));
  truth.alloc(dev, "vmm", h, n, __func__);
  KEEP_FRAME();
  return h;
}

static void map_rw(int dev, CUdeviceptr va, std::size_t n, CUmemGenericAllocationHandle h) {
  CU_CHECK(drv.cuMemMap(va, n, 0, h, 0));
  CUmemAccessDesc acc{};
  acc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  acc.location.id = dev;
  acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  CU_CHECK(drv.cuMemSetAccess(va, n, &acc, 1));
}

// Mapped, used, unmapped, never released: the physical memory leaks.
__noinline__ void leak_vmm_handle(int dev, CUdeviceptr va, std::size_t n, unsigned seed) {
  CUmemAllocationProp prop = vmm_prop(dev);
  CUmemGenericAllocationHandle h = 0;
  CU_CHECK(drv.cuMemCreate(&h, n, &prop, 0));
  truth.alloc(dev, "vmm", h, n, __func__);
  map_rw(dev, va, n, h);
  touch_and_verify("leaked vmm handle", as_ptr(va), n, seed);
  CU_CHECK(drv.cuMemUnmap(va, n));
  g_leaked_handles[g_leaked_handle_count++] = h;
  KEEP_FRAME();
}

int main() {
  int n = devices_used();
  CUDA_CHECK(cudaSetDevice(0));
  CUDA_CHECK(cudaFree(nullptr));  // the primary context, current for the driver calls
  resolve_all();
  for (int d = 0; d < n; ++d) {
    CUDA_CHECK(cudaSetDevice(d));
    CUDA_CHECK(cudaFree(nullptr));
    std::size_t k = d + 1;
    CUdeviceptr a = driver_alloc(d, 3 * k * 1048576 + 3);
    touch_and_verify("driver a", as_ptr(a), 3 * k * 1048576 + 3, 51 + d);
    leak_driver_buffer(d, 1048576 * k + 13, 52 + d);  // leaked
    driver_free(d, a);
    (void)drv.cuMemFree(0);  // records nothing (whatever the driver answers)
    driver_pinned_roundtrip(d, 1048576 + 1, 53 + d);
    driver_managed_roundtrip(d, 2 * 1048576, 54 + d);
    driver_async_roundtrip(d, 1048576 + 2, 55 + d);

    // VMM: handle h is released while still mapped (freed only at the unmap), then a handle
    // that leaks.
    std::size_t g = vmm_granularity(d);
    std::printf("device %d: vmm granularity %zu\n", d, g);
    std::size_t hsize = 2 * g;
    CUdeviceptr va = 0;
    CU_CHECK(drv.cuMemAddressReserve(&va, hsize + g, 0, 0, 0));
    CUmemGenericAllocationHandle h = vmm_create(d, hsize);
    map_rw(d, va, hsize, h);
    touch_and_verify("vmm h mapped", as_ptr(va), hsize, 56 + d);
    CU_CHECK(drv.cuMemRelease(h));  // still mapped: still allocated
    touch_and_verify("vmm h released, still mapped", as_ptr(va), hsize, 57 + d);
    CU_CHECK(drv.cuMemUnmap(va, hsize));
    truth.free(d, h);  // released and unmapped: gone
    leak_vmm_handle(d, va + hsize, g, 58 + d);  // leaked
    CU_CHECK(drv.cuMemAddressFree(va, hsize + g));
  }
  if (n > 1) {
    // The device of a VMM allocation is prop.location.id, not the current device.
    int last = n - 1;
    CUDA_CHECK(cudaSetDevice(0));
    CUmemGenericAllocationHandle h = vmm_create(last, vmm_granularity(last));
    CU_CHECK(drv.cuMemRelease(h));  // never mapped: freed here
    truth.free(last, h);
    std::printf("vmm handle on device %d created and released from device 0\n", last);
  }
  truth.print();
  return 0;
}
