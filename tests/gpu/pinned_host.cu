// Page-locked host memory: cudaMallocHost, cudaHostAlloc, cudaFreeHost. heaplens records it
// on the device current at the allocation (kind pinned_host); with two or more devices one
// block is allocated while the last device is current and freed while device 0 is.
#include "gpu_truth.h"

using namespace gpu_truth;

void* g_leaked[64];
int g_leaked_count;

__noinline__ void* alloc_pinned(int dev, std::size_t n) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocHost(&p, n));
  truth.alloc(dev, "pinned_host", key(p), n, __func__);
  KEEP_FRAME();
  return p;
}

__noinline__ void* alloc_host_mapped(int dev, std::size_t n) {
  void* p = nullptr;
  CUDA_CHECK(cudaHostAlloc(&p, n, cudaHostAllocMapped | cudaHostAllocPortable));
  truth.alloc(dev, "pinned_host", key(p), n, __func__);
  KEEP_FRAME();
  return p;
}

__noinline__ void free_pinned(int dev, void* p) {
  CUDA_CHECK(cudaFreeHost(p));
  truth.free(dev, key(p));
  KEEP_FRAME();
}

__noinline__ void leak_pinned_buffer(int dev, std::size_t n, unsigned seed) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocHost(&p, n));
  truth.alloc(dev, "pinned_host", key(p), n, __func__);
  touch_and_verify("leaked pinned buffer", p, n, seed);  // the device writes host memory
  g_leaked[g_leaked_count++] = p;
  KEEP_FRAME();
}

__noinline__ void leak_portable_buffer(int dev, std::size_t n) {
  void* p = nullptr;
  CUDA_CHECK(cudaHostAlloc(&p, n, cudaHostAllocPortable));
  truth.alloc(dev, "pinned_host", key(p), n, __func__);
  g_leaked[g_leaked_count++] = p;
  KEEP_FRAME();
}

int main() {
  int n = device_count();
  CUDA_CHECK(cudaSetDevice(0));
  void* a = alloc_pinned(0, 2 * 1048576 + 11);
  void* b = alloc_host_mapped(0, 3 * 1048576);
  touch_and_verify("pinned a", a, 2 * 1048576 + 11, 21);
  void* b_dev = nullptr;
  CUDA_CHECK(cudaHostGetDevicePointer(&b_dev, b, 0));
  touch_and_verify("mapped b", b_dev, 3 * 1048576, 22);
  free_pinned(0, a);
  leak_pinned_buffer(0, 1048576 + 7, 23);  // leaked
  free_pinned(0, b);
  (void)cudaFreeHost(nullptr);              // records nothing (whatever the runtime answers)
  (void)cudaGetLastError();
  if (n > 1) {
    int last = n - 1;
    CUDA_CHECK(cudaSetDevice(last));
    void* c = alloc_pinned(last, 777777);
    touch_and_verify("pinned c", c, 777777, 24);
    leak_portable_buffer(last, 4096 * 3);   // leaked, on the last device
    CUDA_CHECK(cudaSetDevice(0));
    free_pinned(last, c);                   // freed while device 0 is current
  }
  truth.print();
  return 0;
}
