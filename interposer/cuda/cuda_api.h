// The few CUDA types and prototypes the hooks need, declared here so that heaplens builds
// without the CUDA toolkit and a program without CUDA loads nothing of it: everything real
// is found at run time. Layouts and values are the ABI of CUDA 11.3+ (cuda.h,
// driver_types.h); scripts/gpu-check runs the hooks against a real driver.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heaplens::cuda {

// Driver API.
using CUresult = int;
using CUdeviceptr = unsigned long long;
using CUdevice = int;
using CUstream = void*;
using CUmemoryPool = void*;
using CUmemGenericAllocationHandle = unsigned long long;
inline constexpr CUresult kCudaSuccess = 0;

struct CUmemLocation {
  int type;  // CU_MEM_LOCATION_TYPE_DEVICE = 1
  int id;
};
struct CUmemAllocationProp {
  int type;
  int requestedHandleTypes;
  CUmemLocation location;
  void* win32HandleMetaData;
  struct {
    unsigned char compressionType;
    unsigned char gpuDirectRDMACapable;
    unsigned short usage;
    unsigned char reserved[4];
  } allocFlags;
};
static_assert(sizeof(CUmemAllocationProp) == 32);
inline constexpr int kMemLocationDevice = 1;

// Runtime API.
using cudaError_t = int;
using cudaStream_t = void*;
using cudaMemPool_t = void*;
using cudaArray_t = void*;
struct cudaChannelFormatDesc {
  int x, y, z, w;
  int f;
};
struct cudaExtent {
  std::size_t width, height, depth;
};
struct cudaPitchedPtr {
  void* ptr;
  std::size_t pitch, xsize, ysize;
};

}  // namespace heaplens::cuda
