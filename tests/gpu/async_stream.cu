// Stream-ordered allocation: cudaMallocAsync / cudaFreeAsync on a created stream and on the
// legacy default stream, cudaMallocFromPoolAsync from a pool of its own; kind async.
// heaplens records them when the call is made (host order), which is what the truth counts.
#include "gpu_truth.h"

using namespace gpu_truth;

void* g_leaked[64];
int g_leaked_count;

__noinline__ void* alloc_async(int dev, std::size_t n, cudaStream_t s) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocAsync(&p, n, s));
  truth.alloc(dev, "async", key(p), n, __func__);
  KEEP_FRAME();
  return p;
}

__noinline__ void* alloc_from_pool(int dev, std::size_t n, cudaMemPool_t pool, cudaStream_t s) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocFromPoolAsync(&p, n, pool, s));
  truth.alloc(dev, "async", key(p), n, __func__);
  KEEP_FRAME();
  return p;
}

__noinline__ void free_async(int dev, void* p, cudaStream_t s) {
  CUDA_CHECK(cudaFreeAsync(p, s));
  truth.free(dev, key(p));
  KEEP_FRAME();
}

__noinline__ void leak_async_buffer(int dev, std::size_t n, cudaStream_t s, unsigned seed) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocAsync(&p, n, s));
  truth.alloc(dev, "async", key(p), n, __func__);
  touch_and_verify("leaked async buffer", p, n, seed, s);
  g_leaked[g_leaked_count++] = p;
  KEEP_FRAME();
}

int main() {
  int n = devices_used();
  for (int d = 0; d < n; ++d) {
    CUDA_CHECK(cudaSetDevice(d));
    std::size_t k = d + 1;
    cudaStream_t s = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

    void* a = alloc_async(d, 4 * k * 1048576 + 1, s);
    touch_and_verify("async a", a, 4 * k * 1048576 + 1, 41 + d, s);
    void* z = alloc_async(d, 300000, 0);  // the legacy default stream
    touch_and_verify("async z", z, 300000, 42 + d, 0);
    free_async(d, z, 0);

    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = d;
    cudaMemPool_t pool = nullptr;
    CUDA_CHECK(cudaMemPoolCreate(&pool, &props));
    void* b = alloc_from_pool(d, 2 * 1048576 + 9, pool, s);
    touch_and_verify("pool b", b, 2 * 1048576 + 9, 43 + d, s);
    free_async(d, a, s);
    leak_async_buffer(d, 1048576 * k + 77, s, 44 + d);  // leaked
    free_async(d, b, s);
    CUDA_CHECK(cudaStreamSynchronize(s));
    CUDA_CHECK(cudaMemPoolDestroy(pool));
    CUDA_CHECK(cudaStreamDestroy(s));
  }
  CUDA_CHECK(cudaDeviceSynchronize());
  truth.print();
  return 0;
}
