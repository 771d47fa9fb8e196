/* A stub of the NVIDIA driver library, libcuda.so.1, for heaplens's CUDA tests on machines
 * without a GPU. It exports the real, versioned names with the real ABIs (cuda_abi.h), and
 * behaves like the driver where heaplens can notice: cuGetProcAddress resolves base names to
 * the versioned export the real driver would return, failed calls change nothing, a pointer
 * can be freed once, VMM physical memory lives until it is released AND unmapped.
 *
 * "Device" memory is host memory from mmap (never malloc: under heaplens it must not look
 * like host heap), and the bookkeeping lives in fixed tables, so the stub allocates nothing
 * itself. It keeps the ground truth of what was allocated: with STUB_CUDA_REPORT=1 (stderr)
 * or STUB_CUDA_REPORT=<file> it writes its accounting as JSON at exit, counted the way the
 * heaplens contract counts (tests/cuda/expected.json, check_cuda.py).
 *
 * Environment: STUB_CUDA_DEVICES=<n> devices (default 2, at most 8);
 * STUB_CUDA_MEM_LIMIT=<bytes> per device (default 64 GiB): an allocation that would make the
 * device-resident bytes (everything but pinned host memory) exceed it fails with
 * CUDA_ERROR_OUT_OF_MEMORY. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cuda_abi.h"

#define EXPORT __attribute__((visibility("default")))
#define DRIVER_VERSION 13000
#define MAX_DEVICES 8
#define MAX_ENTRIES 4096
#define MAX_STREAMS 256
#define GRANULARITY ((size_t)2 << 20) /* VMM granularity, as on current GPUs */
#define PITCH_ALIGN ((size_t)512)     /* the texture pitch alignment of current GPUs */

_Static_assert(sizeof(CUmemAllocationProp) == 32, "CUmemAllocationProp layout");
_Static_assert(sizeof(CUmemAccessDesc) == 12, "CUmemAccessDesc layout");
_Static_assert(sizeof(CUDA_ARRAY3D_DESCRIPTOR) == 40, "CUDA_ARRAY3D_DESCRIPTOR layout");

/* Kinds, numbered like heaplens's wire::DeviceKind. */
enum { K_DEVICE = 1, K_MANAGED, K_PINNED, K_ASYNC, K_VMM, K_ARRAY, K_N };
static const char* const kind_name[K_N] = {"", "device", "managed", "pinned_host", "async", "vmm", "array"};
#define KM(k) (1u << (k))

/* One table for everything that has an address or a handle. */
enum { T_FREE = 0, T_MEM, T_HANDLE, T_RESERVE, T_MAP };
struct entry {
  int type, kind, device;
  unsigned long long addr; /* T_HANDLE: the handle value */
  size_t size;             /* T_MEM, T_HANDLE: accounted bytes; T_RESERVE, T_MAP: range length */
  unsigned long long handle; /* T_MAP: the handle mapped there */
  int maps, released;        /* T_HANDLE */
};

struct counts { unsigned long long allocations, frees, bytes, live_bytes, live_blocks, peak_bytes; };
struct dev_stats {
  struct counts all, kind[K_N];
  unsigned long long resident; /* live bytes that count against the memory limit */
  unsigned long long failed_allocations, invalid_frees;
};

struct CUctx_st { int device; };
struct CUstream_st { int device, used; };
struct CUmemPoolHandle_st { int device; };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static struct entry table[MAX_ENTRIES];
static struct dev_stats stats[MAX_DEVICES];
static struct CUctx_st contexts[MAX_DEVICES];
static struct CUstream_st streams[MAX_STREAMS];
static struct CUmemPoolHandle_st pools[MAX_DEVICES];
static int device_count = 2;
static unsigned long long mem_limit = 64ULL << 30;
static unsigned long long next_handle;
static volatile int initialized;
/* The current device of the calling thread (the primary context made current); initial-exec:
 * no lazy TLS allocation when the library is dlopen'ed. */
static __thread int current_device __attribute__((tls_model("initial-exec")));

static void configure(void) {
  const char* s = getenv("STUB_CUDA_DEVICES");
  if (s && *s) {
    int n = atoi(s);
    device_count = n < 1 ? 1 : n > MAX_DEVICES ? MAX_DEVICES : n;
  }
  s = getenv("STUB_CUDA_MEM_LIMIT");
  if (s && *s) mem_limit = strtoull(s, NULL, 10);
  for (int d = 0; d < MAX_DEVICES; d++) contexts[d].device = pools[d].device = d;
}

#define REQUIRE_INIT()                                                  \
  do {                                                                  \
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;                \
  } while (0)

/* ------------------------------------------------------------------ bookkeeping */
static struct entry* find(int type, unsigned long long addr) {
  for (int i = 0; i < MAX_ENTRIES; i++)
    if (table[i].type == type && table[i].addr == addr) return &table[i];
  return NULL;
}

static struct entry* new_entry(void) { return find(T_FREE, 0); }

static void account_alloc(int dev, int kind, size_t size) {
  struct dev_stats* s = &stats[dev];
  struct counts* c[2] = {&s->all, &s->kind[kind]};
  for (int i = 0; i < 2; i++) {
    c[i]->allocations++;
    c[i]->bytes += size;
    c[i]->live_bytes += size;
    c[i]->live_blocks++;
    if (c[i]->live_bytes > c[i]->peak_bytes) c[i]->peak_bytes = c[i]->live_bytes;
  }
  if (kind != K_PINNED) s->resident += size;
}

static void account_free(int dev, int kind, size_t size) {
  struct dev_stats* s = &stats[dev];
  struct counts* c[2] = {&s->all, &s->kind[kind]};
  for (int i = 0; i < 2; i++) {
    c[i]->frees++;
    c[i]->live_bytes -= size;
    c[i]->live_blocks--;
  }
  if (kind != K_PINNED) s->resident -= size;
}

/* Would `size` more bytes of `kind` fit on `dev`? Pinned memory is host RAM: no limit. */
static int fits(int dev, int kind, size_t size) {
  if (kind == K_PINNED) return 1;
  return size <= mem_limit && stats[dev].resident <= mem_limit - size;
}

static CUresult out_of_memory(int dev) {
  stats[dev].failed_allocations++;
  return CUDA_ERROR_OUT_OF_MEMORY;
}

/* Every plain allocation: mmap'ed, entered, accounted. */
static CUresult mem_alloc(int kind, int dev, size_t size, unsigned long long* out) {
  if (out == NULL || size == 0) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  CUresult rc = CUDA_SUCCESS;
  struct entry* e = new_entry();
  if (!fits(dev, kind, size) || e == NULL) {
    rc = out_of_memory(dev);
  } else {
    void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      rc = out_of_memory(dev);
    } else {
      *e = (struct entry){.type = T_MEM, .kind = kind, .device = dev, .addr = (uintptr_t)p, .size = size};
      account_alloc(dev, kind, size);
      *out = (uintptr_t)p;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

/* Frees a plain allocation whose kind is in `kinds`; anything else is an invalid value, as
 * for the driver (unknown pointer, freed twice, wrong free function). */
static CUresult mem_free(unsigned long long addr, unsigned kinds) {
  pthread_mutex_lock(&lock);
  struct entry* e = addr ? find(T_MEM, addr) : NULL;
  CUresult rc = CUDA_SUCCESS;
  if (e == NULL || !(kinds & KM(e->kind))) {
    stats[current_device].invalid_frees++;
    rc = CUDA_ERROR_INVALID_VALUE;
  } else {
    munmap((void*)(uintptr_t)e->addr, e->size);
    account_free(e->device, e->kind, e->size);
    memset(e, 0, sizeof *e);
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

/* The device a stream belongs to (the special handles: the calling thread's device). */
static int stream_device(CUstream s, int* dev) {
  if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) {
    *dev = current_device;
    return 1;
  }
  struct CUstream_st* st = (struct CUstream_st*)s;
  if (st < streams || st >= streams + MAX_STREAMS || !st->used) return 0;
  *dev = st->device;
  return 1;
}

static int valid_device(int d) { return d >= 0 && d < device_count; }

/* ------------------------------------------------------------------ init, devices, contexts */
EXPORT CUresult cuInit(unsigned int Flags) {
  if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  pthread_once(&config_once, configure);
  initialized = 1;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int* v) {
  if (v == NULL) return CUDA_ERROR_INVALID_VALUE;
  *v = DRIVER_VERSION;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int* count) {
  REQUIRE_INIT();
  if (count == NULL) return CUDA_ERROR_INVALID_VALUE;
  *count = device_count;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  REQUIRE_INIT();
  if (device == NULL) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  REQUIRE_INIT();
  if (pctx == NULL) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *pctx = &contexts[dev];
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  REQUIRE_INIT();
  return valid_device(dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  REQUIRE_INIT();
  if (ctx == NULL) {  /* unbinding: the stub falls back to its default, device 0 */
    current_device = 0;
    return CUDA_SUCCESS;
  }
  if (ctx < contexts || ctx >= contexts + device_count) return CUDA_ERROR_INVALID_CONTEXT;
  current_device = ctx->device;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext* pctx) {
  REQUIRE_INIT();
  if (pctx == NULL) return CUDA_ERROR_INVALID_VALUE;
  *pctx = &contexts[current_device];
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice* device) {
  REQUIRE_INIT();
  if (device == NULL) return CUDA_ERROR_INVALID_VALUE;
  *device = current_device;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  REQUIRE_INIT();
  if (free_bytes == NULL || total == NULL) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  *total = mem_limit;
  *free_bytes = mem_limit - stats[current_device].resident;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ streams, pools */
EXPORT CUresult cuStreamCreate(CUstream* ph, unsigned int Flags) {
  REQUIRE_INIT();
  if (ph == NULL || Flags > 1) return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_STREAMS; i++)
    if (!streams[i].used) {
      streams[i] = (struct CUstream_st){.device = current_device, .used = 1};
      *ph = &streams[i];
      rc = CUDA_SUCCESS;
      break;
    }
  pthread_mutex_unlock(&lock);
  return rc;
}

EXPORT CUresult cuStreamDestroy_v2(CUstream s) {
  REQUIRE_INIT();
  int dev;
  pthread_mutex_lock(&lock);
  int ok = s != NULL && s != CU_STREAM_LEGACY && s != CU_STREAM_PER_THREAD && stream_device(s, &dev);
  if (ok) s->used = 0;
  pthread_mutex_unlock(&lock);
  return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* The pre-4.0 export, same ABI (cuda.h maps cuStreamDestroy to _v2 nowadays). */
EXPORT CUresult cuStreamDestroy(CUstream s) { return cuStreamDestroy_v2(s); }

EXPORT CUresult cuStreamSynchronize(CUstream s) {
  REQUIRE_INIT();
  int dev;
  return stream_device(s, &dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* pool_out, CUdevice dev) {
  REQUIRE_INIT();
  if (pool_out == NULL) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *pool_out = &pools[dev];
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ allocations */
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  REQUIRE_INIT();
  return mem_alloc(K_DEVICE, current_device, bytesize, dptr);
}

/* cuMemFree frees what the device-pointer allocators return (the driver also accepts
 * stream-ordered memory, synchronizing). */
EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
  REQUIRE_INIT();
  return mem_free(dptr, KM(K_DEVICE) | KM(K_MANAGED) | KM(K_ASYNC));
}

EXPORT CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  REQUIRE_INIT();
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  return mem_alloc(K_MANAGED, current_device, bytesize, dptr);
}

static CUresult alloc_pinned(void** pp, size_t bytesize) {
  unsigned long long addr = 0;
  CUresult rc = pp ? mem_alloc(K_PINNED, current_device, bytesize, &addr) : CUDA_ERROR_INVALID_VALUE;
  if (rc == CUDA_SUCCESS) *pp = (void*)(uintptr_t)addr;
  return rc;
}

EXPORT CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
  REQUIRE_INIT();
  return alloc_pinned(pp, bytesize);
}

EXPORT CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int Flags) {
  REQUIRE_INIT();
  if (Flags & ~0x0fu) return CUDA_ERROR_INVALID_VALUE;
  return alloc_pinned(pp, bytesize);
}

EXPORT CUresult cuMemFreeHost(void* p) {
  REQUIRE_INIT();
  return mem_free((uintptr_t)p, KM(K_PINNED));
}

/* Pitch = the row width rounded up to the pitch alignment; the block is pitch * Height. */
EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t WidthInBytes, size_t Height,
                                   unsigned int ElementSizeBytes) {
  REQUIRE_INIT();
  if (pPitch == NULL || WidthInBytes == 0 || Height == 0 ||
      (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
    return CUDA_ERROR_INVALID_VALUE;
  size_t pitch = (WidthInBytes + PITCH_ALIGN - 1) / PITCH_ALIGN * PITCH_ALIGN;
  CUresult rc = mem_alloc(K_DEVICE, current_device, pitch * Height, dptr);
  if (rc == CUDA_SUCCESS) *pPitch = pitch;
  return rc;
}

/* Stream-ordered allocation: the stub has nothing to order, the memory is there at once.
 * The _ptsz exports are the same code at a different address, as in the real driver. */
static CUresult alloc_async(CUdeviceptr* dptr, size_t bytesize, CUstream s) {
  REQUIRE_INIT();
  int dev;
  if (!stream_device(s, &dev)) return CUDA_ERROR_INVALID_HANDLE;
  return mem_alloc(K_ASYNC, dev, bytesize, dptr);
}

static CUresult alloc_from_pool(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool, CUstream s) {
  REQUIRE_INIT();
  int dev;
  if (pool < pools || pool >= pools + device_count) return CUDA_ERROR_INVALID_VALUE;
  if (!stream_device(s, &dev)) return CUDA_ERROR_INVALID_HANDLE;
  return mem_alloc(K_ASYNC, pool->device, bytesize, dptr);
}

static CUresult free_async(CUdeviceptr dptr, CUstream s) {
  REQUIRE_INIT();
  int dev;
  if (!stream_device(s, &dev)) return CUDA_ERROR_INVALID_HANDLE;
  return mem_free(dptr, KM(K_DEVICE) | KM(K_MANAGED) | KM(K_ASYNC));
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr* d, size_t n, CUstream s) { return alloc_async(d, n, s); }
EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* d, size_t n, CUstream s) { return alloc_async(d, n, s); }
EXPORT CUresult cuMemFreeAsync(CUdeviceptr d, CUstream s) { return free_async(d, s); }
EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr d, CUstream s) { return free_async(d, s); }
EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* d, size_t n, CUmemoryPool p, CUstream s) {
  return alloc_from_pool(d, n, p, s);
}
EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* d, size_t n, CUmemoryPool p, CUstream s) {
  return alloc_from_pool(d, n, p, s);
}

/* ------------------------------------------------------------------ arrays */
static size_t format_bytes(CUarray_format f) {
  switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 1;
    case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 2;
    case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 4;
  }
  return 0;
}

/* An array's size: width * max(height,1) * max(depth,1) * element bytes (the contract's). */
static CUresult array_create(CUarray* ph, size_t w, size_t h, size_t d, CUarray_format f, unsigned ch) {
  REQUIRE_INIT();
  size_t fb = format_bytes(f);
  if (ph == NULL || w == 0 || fb == 0 || (ch != 1 && ch != 2 && ch != 4)) return CUDA_ERROR_INVALID_VALUE;
  unsigned long long addr = 0;
  CUresult rc = mem_alloc(K_ARRAY, current_device, w * (h ? h : 1) * (d ? d : 1) * fb * ch, &addr);
  if (rc == CUDA_SUCCESS) *ph = (CUarray)(uintptr_t)addr;
  return rc;
}

EXPORT CUresult cuArrayCreate_v2(CUarray* ph, const CUDA_ARRAY_DESCRIPTOR* a) {
  if (a == NULL) return CUDA_ERROR_INVALID_VALUE;
  return array_create(ph, a->Width, a->Height, 0, a->Format, a->NumChannels);
}

EXPORT CUresult cuArray3DCreate_v2(CUarray* ph, const CUDA_ARRAY3D_DESCRIPTOR* a) {
  if (a == NULL) return CUDA_ERROR_INVALID_VALUE;
  return array_create(ph, a->Width, a->Height, a->Depth, a->Format, a->NumChannels);
}

EXPORT CUresult cuArrayDestroy(CUarray h) {
  REQUIRE_INIT();
  return mem_free((uintptr_t)h, KM(K_ARRAY));
}

/* ------------------------------------------------------------------ virtual memory management
 * A reservation is PROT_NONE address space; cuMemCreate makes a handle (not an address) and
 * is where the physical bytes are counted; cuMemMap/cuMemSetAccess make a range of a
 * reservation usable. The physical memory goes when the handle is released and no mapping
 * of it is left, whichever comes last. */
static int valid_prop(const CUmemAllocationProp* p) {
  return p != NULL && p->type == CU_MEM_ALLOCATION_TYPE_PINNED && p->location.type == CU_MEM_LOCATION_TYPE_DEVICE &&
         valid_device(p->location.id);
}

EXPORT CUresult cuMemGetAllocationGranularity(size_t* g, const CUmemAllocationProp* prop,
                                              CUmemAllocationGranularity_flags option) {
  REQUIRE_INIT();
  if (g == NULL || !valid_prop(prop) || (unsigned)option > 1) return CUDA_ERROR_INVALID_VALUE;
  *g = GRANULARITY;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                    unsigned long long flags) {
  REQUIRE_INIT();
  (void)addr; /* a hint */
  if (ptr == NULL || size == 0 || size % GRANULARITY || flags != 0 || (alignment & (alignment - 1)))
    return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
  struct entry* e = new_entry();
  void* p = e ? mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : MAP_FAILED;
  if (p != MAP_FAILED) {
    *e = (struct entry){.type = T_RESERVE, .addr = (uintptr_t)p, .size = size};
    *ptr = (uintptr_t)p;
    rc = CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

static int overlaps(unsigned long long a, size_t an, unsigned long long b, size_t bn) {
  return a < b + bn && b < a + an;
}

EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  REQUIRE_INIT();
  pthread_mutex_lock(&lock);
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  struct entry* r = find(T_RESERVE, ptr);
  if (r != NULL && r->size == size) {
    int mapped = 0;
    for (int i = 0; i < MAX_ENTRIES; i++)
      mapped |= table[i].type == T_MAP && overlaps(table[i].addr, table[i].size, ptr, size);
    if (!mapped) {  /* the stub insists on unmapping first */
      munmap((void*)(uintptr_t)ptr, size);
      memset(r, 0, sizeof *r);
      rc = CUDA_SUCCESS;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size, const CUmemAllocationProp* prop,
                            unsigned long long flags) {
  REQUIRE_INIT();
  if (handle == NULL || !valid_prop(prop) || size == 0 || size % GRANULARITY || flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  int dev = prop->location.id;
  pthread_mutex_lock(&lock);
  CUresult rc = CUDA_SUCCESS;
  struct entry* e = new_entry();
  if (!fits(dev, K_VMM, size) || e == NULL) {
    rc = out_of_memory(dev);
  } else {
    /* Small values, never an address: handles are not pointers. */
    *e = (struct entry){.type = T_HANDLE, .kind = K_VMM, .device = dev, .addr = ++next_handle << 4, .size = size};
    account_alloc(dev, K_VMM, size);
    *handle = e->addr;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

static void drop_handle_if_unused(struct entry* h) {
  if (h->released && h->maps == 0) {
    account_free(h->device, K_VMM, h->size);
    memset(h, 0, sizeof *h);
  }
}

EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  REQUIRE_INIT();
  pthread_mutex_lock(&lock);
  struct entry* h = find(T_HANDLE, handle);
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  if (h != NULL && !h->released) {
    h->released = 1;
    drop_handle_if_unused(h);
    rc = CUDA_SUCCESS;
  } else {
    stats[current_device].invalid_frees++;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                         unsigned long long flags) {
  REQUIRE_INIT();
  if (flags != 0 || size == 0 || size % GRANULARITY || offset % GRANULARITY) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  struct entry* h = find(T_HANDLE, handle);
  int in_reservation = 0, clash = 0;
  for (int i = 0; i < MAX_ENTRIES; i++) {
    const struct entry* e = &table[i];
    if (e->type == T_RESERVE && ptr >= e->addr && ptr + size <= e->addr + e->size) in_reservation = 1;
    if (e->type == T_MAP && overlaps(e->addr, e->size, ptr, size)) clash = 1;
  }
  struct entry* m = new_entry();
  if (h != NULL && !h->released && offset + size <= h->size && in_reservation && !clash && m != NULL) {
    *m = (struct entry){.type = T_MAP, .addr = ptr, .size = size, .handle = handle};
    h->maps++;
    rc = CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

/* Makes a mapped range readable and writable: every byte of it must be mapped. */
EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  REQUIRE_INIT();
  if (desc == NULL || count == 0 || size == 0) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; i++)
    if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || !valid_device(desc[i].location.id))
      return CUDA_ERROR_INVALID_DEVICE;
  pthread_mutex_lock(&lock);
  size_t covered = 0;
  for (int i = 0; i < MAX_ENTRIES; i++)
    if (table[i].type == T_MAP && table[i].addr >= ptr && table[i].addr + table[i].size <= ptr + size)
      covered += table[i].size;
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  if (covered == size && mprotect((void*)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE) == 0) rc = CUDA_SUCCESS;
  pthread_mutex_unlock(&lock);
  return rc;
}

/* Unmaps every mapping inside [ptr, ptr+size); a mapping only partly inside is an error. */
EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  REQUIRE_INIT();
  pthread_mutex_lock(&lock);
  int inside = 0, partial = 0;
  for (int i = 0; i < MAX_ENTRIES; i++) {
    const struct entry* e = &table[i];
    if (e->type != T_MAP || !overlaps(e->addr, e->size, ptr, size)) continue;
    if (e->addr >= ptr && e->addr + e->size <= ptr + size) inside++;
    else partial++;
  }
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  if (inside > 0 && partial == 0) {
    for (int i = 0; i < MAX_ENTRIES; i++) {
      struct entry* e = &table[i];
      if (e->type != T_MAP || !overlaps(e->addr, e->size, ptr, size)) continue;
      mprotect((void*)(uintptr_t)e->addr, e->size, PROT_NONE);
      madvise((void*)(uintptr_t)e->addr, e->size, MADV_DONTNEED);
      struct entry* h = find(T_HANDLE, e->handle);
      memset(e, 0, sizeof *e);
      if (h != NULL) {
        h->maps--;
        drop_handle_if_unused(h);
      }
    }
    rc = CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

/* ------------------------------------------------------------------ cuGetProcAddress
 * Like the driver: a base name and the caller's CUDA version select the versioned export (the
 * _v2 ABI from the version that introduced it); flag PER_THREAD_DEFAULT_STREAM selects the
 * _ptsz export where there is one. An unknown name is CUDA_SUCCESS with *pfn = NULL. */
#define FN(f) ((void*)(f))
struct proc {
  const char* name;
  int intro;   /* the CUDA version that introduced `legacy` (0: no such export in this stub) */
  void* legacy;
  int v2_intro;
  void* v2;
  void* ptsz;
};
static const struct proc procs[] = {
    {"cuInit", 2000, FN(cuInit), 0, NULL, NULL},
    {"cuDriverGetVersion", 2020, FN(cuDriverGetVersion), 0, NULL, NULL},
    {"cuDeviceGetCount", 2000, FN(cuDeviceGetCount), 0, NULL, NULL},
    {"cuDeviceGet", 2000, FN(cuDeviceGet), 0, NULL, NULL},
    {"cuDevicePrimaryCtxRetain", 7000, FN(cuDevicePrimaryCtxRetain), 0, NULL, NULL},
    {"cuDevicePrimaryCtxRelease", 0, NULL, 11000, FN(cuDevicePrimaryCtxRelease_v2), NULL},
    {"cuCtxSetCurrent", 4000, FN(cuCtxSetCurrent), 0, NULL, NULL},
    {"cuCtxGetCurrent", 4000, FN(cuCtxGetCurrent), 0, NULL, NULL},
    {"cuCtxGetDevice", 2000, FN(cuCtxGetDevice), 0, NULL, NULL},
    {"cuGetProcAddress", 11030, FN(cuGetProcAddress), 12000, FN(cuGetProcAddress_v2), NULL},
    {"cuMemGetInfo", 0, NULL, 3020, FN(cuMemGetInfo_v2), NULL},
    {"cuMemAlloc", 0, NULL, 3020, FN(cuMemAlloc_v2), NULL},
    {"cuMemFree", 0, NULL, 3020, FN(cuMemFree_v2), NULL},
    {"cuMemAllocHost", 0, NULL, 3020, FN(cuMemAllocHost_v2), NULL},
    {"cuMemAllocPitch", 0, NULL, 3020, FN(cuMemAllocPitch_v2), NULL},
    {"cuMemAllocManaged", 6000, FN(cuMemAllocManaged), 0, NULL, NULL},
    {"cuMemHostAlloc", 2020, FN(cuMemHostAlloc), 0, NULL, NULL},
    {"cuMemFreeHost", 2000, FN(cuMemFreeHost), 0, NULL, NULL},
    {"cuMemAllocAsync", 11020, FN(cuMemAllocAsync), 0, NULL, FN(cuMemAllocAsync_ptsz)},
    {"cuMemFreeAsync", 11020, FN(cuMemFreeAsync), 0, NULL, FN(cuMemFreeAsync_ptsz)},
    {"cuMemAllocFromPoolAsync", 11020, FN(cuMemAllocFromPoolAsync), 0, NULL, FN(cuMemAllocFromPoolAsync_ptsz)},
    {"cuDeviceGetDefaultMemPool", 11020, FN(cuDeviceGetDefaultMemPool), 0, NULL, NULL},
    {"cuMemAddressReserve", 10020, FN(cuMemAddressReserve), 0, NULL, NULL},
    {"cuMemAddressFree", 10020, FN(cuMemAddressFree), 0, NULL, NULL},
    {"cuMemCreate", 10020, FN(cuMemCreate), 0, NULL, NULL},
    {"cuMemRelease", 10020, FN(cuMemRelease), 0, NULL, NULL},
    {"cuMemMap", 10020, FN(cuMemMap), 0, NULL, NULL},
    {"cuMemUnmap", 10020, FN(cuMemUnmap), 0, NULL, NULL},
    {"cuMemSetAccess", 10020, FN(cuMemSetAccess), 0, NULL, NULL},
    {"cuMemGetAllocationGranularity", 10020, FN(cuMemGetAllocationGranularity), 0, NULL, NULL},
    {"cuArrayCreate", 0, NULL, 3020, FN(cuArrayCreate_v2), NULL},
    {"cuArray3DCreate", 0, NULL, 3020, FN(cuArray3DCreate_v2), NULL},
    {"cuArrayDestroy", 2000, FN(cuArrayDestroy), 0, NULL, NULL},
    {"cuStreamCreate", 2000, FN(cuStreamCreate), 0, NULL, NULL},
    {"cuStreamDestroy", 2000, FN(cuStreamDestroy), 4000, FN(cuStreamDestroy_v2), NULL},
    {"cuStreamSynchronize", 2000, FN(cuStreamSynchronize), 0, NULL, NULL},
};

static CUresult get_proc(const char* symbol, void** pfn, int version, cuuint64_t flags,
                         CUdriverProcAddressQueryResult* status) {
  CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  if (symbol == NULL || pfn == NULL || version > DRIVER_VERSION || (flags & ~(cuuint64_t)3))
    return CUDA_ERROR_INVALID_VALUE;
  *pfn = NULL;
  for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
    const struct proc* p = &procs[i];
    if (strcmp(p->name, symbol) != 0) continue;
    void* f = NULL;
    if (p->v2 && version >= p->v2_intro) f = p->v2;
    else if (p->legacy && version >= p->intro) f = p->legacy;
    if (f && p->ptsz && (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)) f = p->ptsz;
    *pfn = f;
    st = f ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
    break;
  }
  if (status) *status = st;
  return CUDA_SUCCESS;
}

/* CUDA 11.3's signature (exported as "cuGetProcAddress"), and CUDA 12's with the status. */
EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return get_proc(symbol, pfn, cudaVersion, flags, NULL);
}

EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult* symbolStatus) {
  return get_proc(symbol, pfn, cudaVersion, flags, symbolStatus);
}

/* ------------------------------------------------------------------ the ground truth at exit */
static char report_buf[1 << 16];
static size_t report_len;

__attribute__((format(printf, 1, 2))) static void out(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(report_buf + report_len, sizeof report_buf - report_len, fmt, ap);
  va_end(ap);
  if (n > 0) report_len += (size_t)n < sizeof report_buf - report_len ? (size_t)n : sizeof report_buf - report_len - 1;
}

static void out_counts(const struct counts* c) {
  out("\"allocations\": %llu, \"frees\": %llu, \"bytes\": %llu, \"peak_bytes\": %llu, \"live_bytes\": %llu, "
      "\"live_blocks\": %llu",
      c->allocations, c->frees, c->bytes, c->peak_bytes, c->live_bytes, c->live_blocks);
}

__attribute__((destructor)) static void write_report(void) {
  const char* where = getenv("STUB_CUDA_REPORT");
  if (where == NULL || *where == '\0' || strcmp(where, "0") == 0) return;
  pthread_mutex_lock(&lock);
  out("{\"stub\": \"libcuda.so.1\", \"pid\": %d, \"devices\": {", (int)getpid());
  for (int d = 0; d < device_count; d++) {
    const struct dev_stats* s = &stats[d];
    out("%s\n  \"cuda:%d\": {", d ? "," : "", d);
    out_counts(&s->all);
    out(", \"failed_allocations\": %llu, \"invalid_frees\": %llu,\n    \"by_kind\": {", s->failed_allocations,
        s->invalid_frees);
    int first = 1;
    for (int k = 1; k < K_N; k++) {
      if (s->kind[k].allocations == 0) continue;
      out("%s\n      \"%s\": {", first ? "" : ",", kind_name[k]);
      out_counts(&s->kind[k]);
      out("}");
      first = 0;
    }
    out("},\n    \"live\": [");  /* [kind, bytes] of every block alive now */
    first = 1;
    for (int i = 0; i < MAX_ENTRIES; i++) {
      const struct entry* e = &table[i];
      if ((e->type == T_MEM || e->type == T_HANDLE) && e->device == d) {
        out("%s[\"%s\", %zu]", first ? "" : ", ", kind_name[e->kind], e->size);
        first = 0;
      }
    }
    out("]}");
  }
  out("}}\n");
  pthread_mutex_unlock(&lock);
  int fd = strcmp(where, "1") == 0 ? 2 : open(where, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  for (size_t done = 0; done < report_len;) {
    ssize_t n = write(fd, report_buf + done, report_len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  if (fd != 2) close(fd);
}
