/* A stub of the shared CUDA runtime, libcudart.so.13, for heaplens's CUDA tests.
 *
 * Like the real one it is not linked to libcuda: on first use it dlopen()s "libcuda.so.1",
 * looks up cuGetProcAddress_v2 with dlsym and gets every driver function through it. So a
 * profiler that wraps what the resolver returns sees the driver calls nested under runtime
 * calls (cudaMalloc -> cuMemAlloc_v2), exactly as with the real runtime. It owns no memory:
 * all accounting is the driver stub's. Error codes and prototypes are the real ones. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cuda_abi.h"

#define EXPORT __attribute__((visibility("default")))
#define RUNTIME_VERSION 13000

/* The driver functions, as the runtime gets them. */
static struct {
  CUresult (*getProcAddress)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
  CUresult (*init)(unsigned);
  CUresult (*deviceGetCount)(int*);
  CUresult (*primaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*ctxSetCurrent)(CUcontext);
  CUresult (*ctxGetDevice)(CUdevice*);
  CUresult (*memAlloc)(CUdeviceptr*, size_t);
  CUresult (*memFree)(CUdeviceptr);
  CUresult (*memAllocManaged)(CUdeviceptr*, size_t, unsigned);
  CUresult (*memAllocHost)(void**, size_t);
  CUresult (*memHostAlloc)(void**, size_t, unsigned);
  CUresult (*memFreeHost)(void*);
  CUresult (*memAllocPitch)(CUdeviceptr*, size_t*, size_t, size_t, unsigned);
  CUresult (*memAllocAsync)(CUdeviceptr*, size_t, CUstream);
  CUresult (*memAllocAsync_ptsz)(CUdeviceptr*, size_t, CUstream);
  CUresult (*memFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*memFreeAsync_ptsz)(CUdeviceptr, CUstream);
  CUresult (*memAllocFromPoolAsync)(CUdeviceptr*, size_t, CUmemoryPool, CUstream);
  CUresult (*memAllocFromPoolAsync_ptsz)(CUdeviceptr*, size_t, CUmemoryPool, CUstream);
  CUresult (*deviceGetDefaultMemPool)(CUmemoryPool*, CUdevice);
  CUresult (*arrayCreate)(CUarray*, const CUDA_ARRAY_DESCRIPTOR*);
  CUresult (*array3DCreate)(CUarray*, const CUDA_ARRAY3D_DESCRIPTOR*);
  CUresult (*arrayDestroy)(CUarray);
  CUresult (*streamCreate)(CUstream*, unsigned);
  CUresult (*streamDestroy)(CUstream);
  CUresult (*streamSynchronize)(CUstream);
} drv;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static cudaError_t load_error = cudaErrorInsufficientDriver;
static __thread cudaError_t last_error __attribute__((tls_model("initial-exec")));

static int resolve(const char* name, void* slot, cuuint64_t flags) {
  CUdriverProcAddressQueryResult st;
  void* f = NULL;
  if (drv.getProcAddress(name, &f, RUNTIME_VERSION, flags, &st) != CUDA_SUCCESS || f == NULL) return 0;
  memcpy(slot, &f, sizeof f);  /* a function pointer's object representation */
  return 1;
}

static void load_driver(void) {
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) return;
  void* gpa = dlsym(h, "cuGetProcAddress_v2");
  if (gpa == NULL) return;
  memcpy(&drv.getProcAddress, &gpa, sizeof gpa);
  const cuuint64_t legacy = CU_GET_PROC_ADDRESS_LEGACY_STREAM, ptsz = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  int ok = resolve("cuInit", &drv.init, legacy) && resolve("cuDeviceGetCount", &drv.deviceGetCount, legacy) &&
           resolve("cuDevicePrimaryCtxRetain", &drv.primaryCtxRetain, legacy) &&
           resolve("cuCtxSetCurrent", &drv.ctxSetCurrent, legacy) &&
           resolve("cuCtxGetDevice", &drv.ctxGetDevice, legacy) && resolve("cuMemAlloc", &drv.memAlloc, legacy) &&
           resolve("cuMemFree", &drv.memFree, legacy) &&
           resolve("cuMemAllocManaged", &drv.memAllocManaged, legacy) &&
           resolve("cuMemAllocHost", &drv.memAllocHost, legacy) &&
           resolve("cuMemHostAlloc", &drv.memHostAlloc, legacy) &&
           resolve("cuMemFreeHost", &drv.memFreeHost, legacy) &&
           resolve("cuMemAllocPitch", &drv.memAllocPitch, legacy) &&
           resolve("cuMemAllocAsync", &drv.memAllocAsync, legacy) &&
           resolve("cuMemAllocAsync", &drv.memAllocAsync_ptsz, ptsz) &&
           resolve("cuMemFreeAsync", &drv.memFreeAsync, legacy) &&
           resolve("cuMemFreeAsync", &drv.memFreeAsync_ptsz, ptsz) &&
           resolve("cuMemAllocFromPoolAsync", &drv.memAllocFromPoolAsync, legacy) &&
           resolve("cuMemAllocFromPoolAsync", &drv.memAllocFromPoolAsync_ptsz, ptsz) &&
           resolve("cuDeviceGetDefaultMemPool", &drv.deviceGetDefaultMemPool, legacy) &&
           resolve("cuArrayCreate", &drv.arrayCreate, legacy) &&
           resolve("cuArray3DCreate", &drv.array3DCreate, legacy) &&
           resolve("cuArrayDestroy", &drv.arrayDestroy, legacy) &&
           resolve("cuStreamCreate", &drv.streamCreate, legacy) &&
           resolve("cuStreamDestroy", &drv.streamDestroy, legacy) &&
           resolve("cuStreamSynchronize", &drv.streamSynchronize, legacy);
  if (ok && drv.init(0) == CUDA_SUCCESS) load_error = cudaSuccess;
}

/* The runtime's error for a driver result: the codes the tests meet have the same values. */
static cudaError_t set_error(CUresult r) {
  cudaError_t e = r;
  if (e != cudaSuccess) last_error = e;
  return e;
}

/* A device pointer comes back as a CUdeviceptr and goes to the caller's void* on success. */
static cudaError_t give_ptr(void** p, const CUdeviceptr* d, CUresult r) {
  if (r == CUDA_SUCCESS) *p = (void*)(uintptr_t)*d;
  return set_error(r);
}

#define ENSURE_LOADED()                                              \
  do {                                                               \
    pthread_once(&load_once, load_driver);                           \
    if (load_error != cudaSuccess) return last_error = load_error;   \
  } while (0)

/* ------------------------------------------------------------------ devices, streams, errors */
EXPORT cudaError_t cudaGetDeviceCount(int* count) {
  ENSURE_LOADED();
  return set_error(drv.deviceGetCount(count));
}

EXPORT cudaError_t cudaGetDevice(int* device) {
  ENSURE_LOADED();
  return set_error(drv.ctxGetDevice(device));
}

/* Makes the device's primary context current on this thread. */
EXPORT cudaError_t cudaSetDevice(int device) {
  ENSURE_LOADED();
  CUcontext ctx;
  CUresult r = drv.primaryCtxRetain(&ctx, device);
  if (r == CUDA_SUCCESS) r = drv.ctxSetCurrent(ctx);
  return set_error(r);
}

EXPORT cudaError_t cudaDeviceSynchronize(void) {
  ENSURE_LOADED();
  return cudaSuccess;
}

EXPORT cudaError_t cudaStreamCreate(cudaStream_t* s) {
  ENSURE_LOADED();
  return set_error(drv.streamCreate(s, 0));
}

EXPORT cudaError_t cudaStreamDestroy(cudaStream_t s) {
  ENSURE_LOADED();
  return set_error(drv.streamDestroy(s));
}

EXPORT cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  ENSURE_LOADED();
  return set_error(drv.streamSynchronize(s));
}

EXPORT cudaError_t cudaGetLastError(void) {
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}

EXPORT const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
  }
  return "unrecognized error code";
}

EXPORT cudaError_t cudaRuntimeGetVersion(int* v) {
  if (v == NULL) return last_error = cudaErrorInvalidValue;
  *v = RUNTIME_VERSION;
  return cudaSuccess;
}

EXPORT cudaError_t cudaDriverGetVersion(int* v) {
  if (v == NULL) return last_error = cudaErrorInvalidValue;
  *v = 13000;
  return cudaSuccess;
}

/* ------------------------------------------------------------------ linear memory */
/* cudaMalloc(p, 0) succeeds with NULL, as the real runtime does; cudaFree(NULL) is a no-op. */
EXPORT cudaError_t cudaMalloc(void** p, size_t size) {
  ENSURE_LOADED();
  if (p == NULL) return last_error = cudaErrorInvalidValue;
  if (size == 0) {
    *p = NULL;
    return cudaSuccess;
  }
  CUdeviceptr d = 0;
  return give_ptr(p, &d, drv.memAlloc(&d, size));
}

EXPORT cudaError_t cudaFree(void* p) {
  ENSURE_LOADED();
  if (p == NULL) return cudaSuccess;
  return set_error(drv.memFree((CUdeviceptr)p));
}

EXPORT cudaError_t cudaMallocManaged(void** p, size_t size, unsigned int flags) {
  ENSURE_LOADED();
  if (p == NULL) return last_error = cudaErrorInvalidValue;
  CUdeviceptr d = 0;
  return give_ptr(p, &d, drv.memAllocManaged(&d, size, flags));
}

EXPORT cudaError_t cudaMallocHost(void** p, size_t size) {
  ENSURE_LOADED();
  return set_error(drv.memAllocHost(p, size));
}

EXPORT cudaError_t cudaHostAlloc(void** p, size_t size, unsigned int flags) {
  ENSURE_LOADED();
  return set_error(drv.memHostAlloc(p, size, flags));
}

EXPORT cudaError_t cudaFreeHost(void* p) {
  ENSURE_LOADED();
  if (p == NULL) return cudaSuccess;
  return set_error(drv.memFreeHost(p));
}

/* Pitched memory comes from cuMemAllocPitch: width bytes per row, `height` rows. */
EXPORT cudaError_t cudaMallocPitch(void** p, size_t* pitch, size_t width, size_t height) {
  ENSURE_LOADED();
  if (p == NULL) return last_error = cudaErrorInvalidValue;
  CUdeviceptr d = 0;
  return give_ptr(p, &d, drv.memAllocPitch(&d, pitch, width, height, 16));
}

/* A 3D block is a pitched block of height * depth rows. */
EXPORT cudaError_t cudaMalloc3D(struct cudaPitchedPtr* pp, struct cudaExtent e) {
  ENSURE_LOADED();
  if (pp == NULL) return last_error = cudaErrorInvalidValue;
  CUdeviceptr d = 0;
  size_t pitch = 0;
  CUresult r = drv.memAllocPitch(&d, &pitch, e.width, e.height * e.depth, 16);
  if (r == CUDA_SUCCESS) *pp = (struct cudaPitchedPtr){(void*)d, pitch, e.width, e.height};
  return set_error(r);
}

/* ------------------------------------------------------------------ arrays */
/* The driver format of a channel description: every channel the same size. */
static int array_format(const struct cudaChannelFormatDesc* d, CUarray_format* f, unsigned* channels) {
  if (d == NULL) return 0;
  int bits[4] = {d->x, d->y, d->z, d->w};
  unsigned n = 0;
  while (n < 4 && bits[n] != 0) n++;
  for (unsigned i = 1; i < n; i++)
    if (bits[i] != bits[0]) return 0;
  for (unsigned i = n; i < 4; i++)
    if (bits[i] != 0) return 0;
  if (n == 0 || n == 3) return 0;
  *channels = n;
  switch (d->f) {
    case cudaChannelFormatKindSigned:
      *f = bits[0] == 8 ? CU_AD_FORMAT_SIGNED_INT8 : bits[0] == 16 ? CU_AD_FORMAT_SIGNED_INT16 : CU_AD_FORMAT_SIGNED_INT32;
      return bits[0] == 8 || bits[0] == 16 || bits[0] == 32;
    case cudaChannelFormatKindUnsigned:
      *f = bits[0] == 8 ? CU_AD_FORMAT_UNSIGNED_INT8 : bits[0] == 16 ? CU_AD_FORMAT_UNSIGNED_INT16 : CU_AD_FORMAT_UNSIGNED_INT32;
      return bits[0] == 8 || bits[0] == 16 || bits[0] == 32;
    case cudaChannelFormatKindFloat:
      *f = bits[0] == 16 ? CU_AD_FORMAT_HALF : CU_AD_FORMAT_FLOAT;
      return bits[0] == 16 || bits[0] == 32;
  }
  return 0;
}

EXPORT cudaError_t cudaMallocArray(cudaArray_t* a, const struct cudaChannelFormatDesc* desc, size_t width,
                                   size_t height, unsigned int flags) {
  ENSURE_LOADED();
  CUDA_ARRAY_DESCRIPTOR d = {.Width = width, .Height = height};
  if (a == NULL || flags != 0 || !array_format(desc, &d.Format, &d.NumChannels))
    return last_error = cudaErrorInvalidValue;
  CUarray h = NULL;
  CUresult r = drv.arrayCreate(&h, &d);
  if (r == CUDA_SUCCESS) *a = (cudaArray_t)h;  /* the runtime's handle is the driver's */
  return set_error(r);
}

EXPORT cudaError_t cudaMalloc3DArray(cudaArray_t* a, const struct cudaChannelFormatDesc* desc, struct cudaExtent e,
                                     unsigned int flags) {
  ENSURE_LOADED();
  CUDA_ARRAY3D_DESCRIPTOR d = {.Width = e.width, .Height = e.height, .Depth = e.depth};
  if (a == NULL || flags != 0 || !array_format(desc, &d.Format, &d.NumChannels))
    return last_error = cudaErrorInvalidValue;
  CUarray h = NULL;
  CUresult r = drv.array3DCreate(&h, &d);
  if (r == CUDA_SUCCESS) *a = (cudaArray_t)h;  /* the runtime's handle is the driver's */
  return set_error(r);
}

EXPORT cudaError_t cudaFreeArray(cudaArray_t a) {
  ENSURE_LOADED();
  if (a == NULL) return cudaSuccess;
  return set_error(drv.arrayDestroy((CUarray)a));
}

/* ------------------------------------------------------------------ stream-ordered memory */
EXPORT cudaError_t cudaMallocAsync(void** p, size_t size, cudaStream_t s) {
  ENSURE_LOADED();
  if (p == NULL) return last_error = cudaErrorInvalidValue;
  CUdeviceptr d = 0;
  return give_ptr(p, &d, drv.memAllocAsync(&d, size, s));
}

EXPORT cudaError_t cudaMallocAsync_ptsz(void** p, size_t size, cudaStream_t s) {
  ENSURE_LOADED();
  if (p == NULL) return last_error = cudaErrorInvalidValue;
  CUdeviceptr d = 0;
  return give_ptr(p, &d, drv.memAllocAsync_ptsz(&d, size, s));
}

EXPORT cudaError_t cudaFreeAsync(void* p, cudaStream_t s) {
  ENSURE_LOADED();
  return set_error(drv.memFreeAsync((CUdeviceptr)p, s));
}

EXPORT cudaError_t cudaFreeAsync_ptsz(void* p, cudaStream_t s) {
  ENSURE_LOADED();
  return set_error(drv.memFreeAsync_ptsz((CUdeviceptr)p, s));
}

EXPORT cudaError_t cudaMallocFromPoolAsync(void** p, size_t size, cudaMemPool_t pool, cudaStream_t s) {
  ENSURE_LOADED();
  if (p == NULL) return last_error = cudaErrorInvalidValue;
  CUdeviceptr d = 0;
  return give_ptr(p, &d, drv.memAllocFromPoolAsync(&d, size, pool, s));
}

EXPORT cudaError_t cudaMallocFromPoolAsync_ptsz(void** p, size_t size, cudaMemPool_t pool, cudaStream_t s) {
  ENSURE_LOADED();
  if (p == NULL) return last_error = cudaErrorInvalidValue;
  CUdeviceptr d = 0;
  return give_ptr(p, &d, drv.memAllocFromPoolAsync_ptsz(&d, size, pool, s));
}

EXPORT cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device) {
  ENSURE_LOADED();
  return set_error(drv.deviceGetDefaultMemPool(pool, device));
}

/* ------------------------------------------------------------------ driver entry points */
/* The runtime's own CUDA version for the unversioned call (as the real runtime does). */
EXPORT cudaError_t cudaGetDriverEntryPointByVersion(const char* symbol, void** fn, unsigned int cudaVersion,
                                                    unsigned long long flags,
                                                    enum cudaDriverEntryPointQueryResult* status) {
  ENSURE_LOADED();
  CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  CUresult r = drv.getProcAddress(symbol, fn, (int)cudaVersion, flags, &st);
  if (r == CUDA_SUCCESS && status != NULL) *status = (enum cudaDriverEntryPointQueryResult)st;
  return set_error(r);
}

EXPORT cudaError_t cudaGetDriverEntryPoint(const char* symbol, void** fn, unsigned long long flags,
                                           enum cudaDriverEntryPointQueryResult* status) {
  return cudaGetDriverEntryPointByVersion(symbol, fn, RUNTIME_VERSION, flags, status);
}
