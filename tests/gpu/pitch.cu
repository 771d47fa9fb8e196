// Pitched allocations: cudaMallocPitch (bytes = pitch * height) and cudaMalloc3D (bytes =
// pitch * height * depth). The pitch is chosen by the driver, so this program computes the
// expected bytes itself from the pitch it got.
#include "gpu_truth.h"

using namespace gpu_truth;

void* g_leaked[64];
int g_leaked_count;

__noinline__ void* alloc_image(int dev, std::size_t width, std::size_t height, std::size_t* pitch) {
  void* p = nullptr;
  CUDA_CHECK(cudaMallocPitch(&p, pitch, width, height));
  truth.alloc(dev, "device", key(p), *pitch * height, __func__);
  KEEP_FRAME();
  return p;
}

__noinline__ void free_device(int dev, void* p) {
  CUDA_CHECK(cudaFree(p));
  truth.free(dev, key(p));
  KEEP_FRAME();
}

__noinline__ void leak_pitched_image(int dev, std::size_t width, std::size_t height, unsigned seed) {
  void* p = nullptr;
  std::size_t pitch = 0;
  CUDA_CHECK(cudaMallocPitch(&p, &pitch, width, height));
  truth.alloc(dev, "device", key(p), pitch * height, __func__);
  touch_and_verify("leaked pitched image", p, pitch * height, seed);
  g_leaked[g_leaked_count++] = p;
  KEEP_FRAME();
}

__noinline__ cudaPitchedPtr alloc_volume(int dev, cudaExtent e) {
  cudaPitchedPtr pp{};
  CUDA_CHECK(cudaMalloc3D(&pp, e));
  truth.alloc(dev, "device", key(pp.ptr), pp.pitch * e.height * e.depth, __func__);
  KEEP_FRAME();
  return pp;
}

__noinline__ void leak_volume(int dev, cudaExtent e, unsigned seed) {
  cudaPitchedPtr pp{};
  CUDA_CHECK(cudaMalloc3D(&pp, e));
  truth.alloc(dev, "device", key(pp.ptr), pp.pitch * e.height * e.depth, __func__);
  touch_and_verify("leaked volume", pp.ptr, pp.pitch * e.height * e.depth, seed);
  g_leaked[g_leaked_count++] = pp.ptr;
  KEEP_FRAME();
}

int main() {
  int n = devices_used();
  for (int d = 0; d < n; ++d) {
    CUDA_CHECK(cudaSetDevice(d));
    std::size_t pitch = 0;
    void* img = alloc_image(d, 1000 + d, 777, &pitch);
    std::printf("device %d: pitch %zu for width %d\n", d, pitch, 1000 + d);
    touch_and_verify("image", img, pitch * 777, 31 + d);
    cudaPitchedPtr vol = alloc_volume(d, make_cudaExtent(333, 20, 7 + d));
    touch_and_verify("volume", vol.ptr, vol.pitch * 20 * (7 + d), 32 + d);
    free_device(d, img);
    leak_pitched_image(d, 4097, 3 + d, 33 + d);            // leaked
    leak_volume(d, make_cudaExtent(65, 9, 5), 34 + d);     // leaked
    free_device(d, vol.ptr);
  }
  truth.print();
  return 0;
}
