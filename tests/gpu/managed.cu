// cudaMallocManaged on every device (up to 4): written by a kernel, read back by the host.
#include <cstring>

#include "gpu_truth.h"

using namespace gpu_truth;

void* g_leaked[64];
int g_leaked_count;

__noinline__ unsigned char* alloc_managed(int dev, std::size_t n, unsigned flags) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocManaged(&p, n, flags));
  truth.alloc(dev, "managed", key(p), n, __func__);
  KEEP_FRAME();
  return static_cast<unsigned char*>(p);
}

__noinline__ void free_managed(int dev, void* p) {
  CUDA_CHECK(cudaFree(p));
  truth.free(dev, key(p));
  KEEP_FRAME();
}

__noinline__ void leak_managed_buffer(int dev, std::size_t n, unsigned seed) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocManaged(&p, n));
  truth.alloc(dev, "managed", key(p), n, __func__);
  touch_and_verify("leaked managed buffer", p, n, seed);
  g_leaked[g_leaked_count++] = p;
  KEEP_FRAME();
}

// The host's view of managed memory the device wrote.
void host_verify(const char* what, const unsigned char* p, std::size_t n, unsigned seed) {
  CUDA_CHECK(cudaDeviceSynchronize());
  unsigned long long s = 0;
  for (std::size_t i = 0; i < n; ++i) s += p[i];
  bool ok = s == expected_sum(n, seed);
  std::printf("%s: host reads %zu bytes, sum %llu %s\n", what, n, s, ok ? "ok" : "WRONG");
  if (!ok) std::exit(5);
}

int main() {
  int n = devices_used();
  for (int d = 0; d < n; ++d) {
    CUDA_CHECK(cudaSetDevice(d));
    std::size_t k = d + 1;
    unsigned char* a = alloc_managed(d, 6 * k * 1048576 + 3, cudaMemAttachGlobal);
    touch(a, 6 * k * 1048576 + 3, 7 + d);
    host_verify("managed a", a, 6 * k * 1048576 + 3, 7 + d);
    unsigned char* b = alloc_managed(d, 65536 * k, cudaMemAttachHost);
    std::memset(b, 1, 65536 * k);  // host-attached: the host writes it
    free_managed(d, a);
    leak_managed_buffer(d, 1048576 * k + 99, 8 + d);  // leaked
    free_managed(d, b);
  }
  truth.print();
  return 0;
}
