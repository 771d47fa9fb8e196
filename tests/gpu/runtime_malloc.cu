// cudaMalloc / cudaFree on every device (up to 4): blocks freed, blocks leaked, a failed
// allocation (not an allocation) and cudaFree(nullptr) (records nothing).
// Truth per device d (sizes grow with d): see the EXPECT lines it prints.
#include "gpu_truth.h"

using namespace gpu_truth;

void* g_leaked[64];
int g_leaked_count;

__noinline__ void* alloc_scratch(int dev, std::size_t n) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, n));
  truth.alloc(dev, "device", key(p), n, __func__);
  KEEP_FRAME();
  return p;
}

__noinline__ void free_scratch(int dev, void* p) {
  CUDA_CHECK(cudaFree(p));
  truth.free(dev, key(p));
  KEEP_FRAME();
}

__noinline__ void leak_device_buffer(int dev, std::size_t n, unsigned seed) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, n));
  truth.alloc(dev, "device", key(p), n, __func__);
  touch_and_verify("leaked device buffer", p, n, seed);
  g_leaked[g_leaked_count++] = p;
  KEEP_FRAME();
}

__noinline__ void try_impossible_allocation(int dev) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, std::size_t{1} << 62);  // 4 EiB: fails, records nothing
  std::printf("device %d: cudaMalloc(4 EiB) %s\n", dev, e == cudaSuccess ? "succeeded?!" : "failed as expected");
  if (e == cudaSuccess) std::exit(6);
  (void)cudaGetLastError();
  KEEP_FRAME();
}

int main() {
  int n = devices_used();
  for (int d = 0; d < n; ++d) {
    CUDA_CHECK(cudaSetDevice(d));
    CUDA_CHECK(cudaFree(nullptr));  // initializes the context; frees nothing
    std::size_t k = d + 1;
    void* a = alloc_scratch(d, 3 * k * 1048576 + 17);
    void* b = alloc_scratch(d, k * 1048576 + 5);
    touch_and_verify("scratch a", a, 3 * k * 1048576 + 17, 1 + d);
    touch_and_verify("scratch b", b, k * 1048576 + 5, 2 + d);
    free_scratch(d, a);
    leak_device_buffer(d, 2 * 1048576 + 123 * k, 3 + d);  // leaked
    try_impossible_allocation(d);
    void* c = alloc_scratch(d, 5 * k * 1048576);           // the peak: b + leak + c
    touch_and_verify("scratch c", c, 5 * k * 1048576, 4 + d);
    free_scratch(d, c);
    leak_device_buffer(d, 4096 * k + 1, 5 + d);             // leaked
    free_scratch(d, b);
  }
  truth.print();
  return 0;
}
