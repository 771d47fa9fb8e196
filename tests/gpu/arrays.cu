// CUDA arrays: cudaMallocArray (2D and 1D), cudaMalloc3DArray, cudaFreeArray. heaplens
// counts width * max(height,1) * max(depth,1) * element bytes (kind array, "address" = the
// cudaArray_t); the driver's real footprint (alignment, tiling) is not visible to it.
// A kernel writes the 2D array through a surface object; the host reads it back.
#include <vector>

#include "gpu_truth.h"

using namespace gpu_truth;

cudaArray_t g_leaked[64];
int g_leaked_count;

static std::size_t elem_bytes(const cudaChannelFormatDesc& d) { return (d.x + d.y + d.z + d.w) / 8; }

__noinline__ cudaArray_t alloc_array(int dev, const cudaChannelFormatDesc& desc, std::size_t w, std::size_t h,
                                     unsigned flags) {
  cudaArray_t a = nullptr;
  CUDA_CHECK(cudaMallocArray(&a, &desc, w, h, flags));
  truth.alloc(dev, "array", key(a), w * (h ? h : 1) * elem_bytes(desc), __func__);
  KEEP_FRAME();
  return a;
}

__noinline__ cudaArray_t alloc_array3d(int dev, const cudaChannelFormatDesc& desc, cudaExtent e) {
  cudaArray_t a = nullptr;
  CUDA_CHECK(cudaMalloc3DArray(&a, &desc, e, 0));
  truth.alloc(dev, "array", key(a),
              e.width * (e.height ? e.height : 1) * (e.depth ? e.depth : 1) * elem_bytes(desc), __func__);
  KEEP_FRAME();
  return a;
}

__noinline__ void free_array(int dev, cudaArray_t a) {
  CUDA_CHECK(cudaFreeArray(a));
  truth.free(dev, key(a));
  KEEP_FRAME();
}

__noinline__ void leak_array(int dev, std::size_t w, std::size_t h) {
  cudaChannelFormatDesc desc = cudaCreateChannelDesc<uchar2>();
  cudaArray_t a = nullptr;
  CUDA_CHECK(cudaMallocArray(&a, &desc, w, h));
  truth.alloc(dev, "array", key(a), w * (h ? h : 1) * elem_bytes(desc), __func__);
  g_leaked[g_leaked_count++] = a;
  KEEP_FRAME();
}

__global__ void write_surface(cudaSurfaceObject_t s, int w, int h) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < w && y < h) surf2Dwrite(float(x + 1000 * y), s, x * (int)sizeof(float), y);
}

int main() {
  int n = devices_used();
  for (int d = 0; d < n; ++d) {
    CUDA_CHECK(cudaSetDevice(d));
    const int w = 300 + d, h = 200;
    cudaChannelFormatDesc fdesc = cudaCreateChannelDesc<float>();
    cudaArray_t a = alloc_array(d, fdesc, w, h, cudaArraySurfaceLoadStore);
    cudaResourceDesc rd{};
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = a;
    cudaSurfaceObject_t surf = 0;
    CUDA_CHECK(cudaCreateSurfaceObject(&surf, &rd));
    write_surface<<<dim3((w + 15) / 16, (h + 15) / 16), dim3(16, 16)>>>(surf, w, h);
    CUDA_CHECK(cudaGetLastError());
    std::vector<float> back(std::size_t(w) * h);
    CUDA_CHECK(cudaMemcpy2DFromArray(back.data(), w * sizeof(float), a, 0, 0, w * sizeof(float), h,
                                     cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaDestroySurfaceObject(surf));
    bool ok = true;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) ok = ok && back[std::size_t(y) * w + x] == float(x + 1000 * y);
    std::printf("device %d: %dx%d float array written by a kernel: %s\n", d, w, h, ok ? "ok" : "WRONG");
    if (!ok) return 5;

    cudaArray_t line = alloc_array(d, cudaCreateChannelDesc<int4>(), 1024 + d, 0, 0);  // 1D: height 0
    cudaArray_t vol = alloc_array3d(d, cudaCreateChannelDesc<uchar4>(), make_cudaExtent(64, 32, 8 + d));
    free_array(d, a);
    leak_array(d, 128, 64 + d);  // leaked
    free_array(d, line);
    free_array(d, vol);
  }
  truth.print();
  return 0;
}
