// Every CUDA entry point heaplens replaces, with its exact C prototype. The runtime and
// driver hooks define them (runtime_hooks.cc, driver_hooks.cc, resolver_hooks.cc) and
// libheaplens.so exports them (heaplens.map), so a program linked to libcudart.so or
// libcuda.so binds to ours; programs that look them up at run time (static cudart,
// PyTorch) get them through the lookup hooks (entry_points.h).
#pragma once

#include "cuda_api.h"

// X(name): one line per hooked export; the name is the exact exported symbol, so a
// versioned driver export (cuMemAlloc_v2) is a different entry from its old ABI
// (cuMemAlloc, never hooked: unknown ABIs pass through untouched).
#define HEAPLENS_CUDA_RUNTIME_HOOKS(X)                                                         \
  X(cudaMalloc) X(cudaFree) X(cudaMallocManaged) X(cudaMallocHost) X(cudaHostAlloc)            \
  X(cudaFreeHost) X(cudaMallocPitch) X(cudaMalloc3D) X(cudaMallocArray) X(cudaMalloc3DArray)   \
  X(cudaFreeArray) X(cudaMallocAsync) X(cudaFreeAsync) X(cudaMallocFromPoolAsync)             \
  X(cudaMallocAsync_ptsz) X(cudaFreeAsync_ptsz) X(cudaMallocFromPoolAsync_ptsz)                \
  X(cudaGetDriverEntryPoint) X(cudaGetDriverEntryPoint_ptsz)                                   \
  X(cudaGetDriverEntryPointByVersion) X(cudaGetDriverEntryPointByVersion_ptsz)
#define HEAPLENS_CUDA_DRIVER_HOOKS(X)                                                          \
  X(cuMemAlloc_v2) X(cuMemFree_v2) X(cuMemAllocManaged) X(cuMemAllocHost_v2) X(cuMemHostAlloc) \
  X(cuMemFreeHost) X(cuMemAllocPitch_v2) X(cuMemAllocAsync) X(cuMemAllocAsync_ptsz)            \
  X(cuMemFreeAsync) X(cuMemFreeAsync_ptsz) X(cuMemAllocFromPoolAsync)                          \
  X(cuMemAllocFromPoolAsync_ptsz) X(cuMemCreate) X(cuMemRelease) X(cuMemMap) X(cuMemUnmap)     \
  X(cuGetProcAddress) X(cuGetProcAddress_v2)

extern "C" {
using heaplens::cuda::CUdevice;
using heaplens::cuda::CUdeviceptr;
using heaplens::cuda::CUmemAllocationProp;
using heaplens::cuda::CUmemGenericAllocationHandle;
using heaplens::cuda::CUmemoryPool;
using heaplens::cuda::CUresult;
using heaplens::cuda::CUstream;
using heaplens::cuda::cudaArray_t;
using heaplens::cuda::cudaChannelFormatDesc;
using heaplens::cuda::cudaError_t;
using heaplens::cuda::cudaExtent;
using heaplens::cuda::cudaMemPool_t;
using heaplens::cuda::cudaPitchedPtr;
using heaplens::cuda::cudaStream_t;

cudaError_t cudaMalloc(void** p, std::size_t size);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocManaged(void** p, std::size_t size, unsigned flags);
cudaError_t cudaMallocHost(void** p, std::size_t size);
cudaError_t cudaHostAlloc(void** p, std::size_t size, unsigned flags);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMallocPitch(void** p, std::size_t* pitch, std::size_t width, std::size_t height);
cudaError_t cudaMalloc3D(cudaPitchedPtr* p, cudaExtent extent);
cudaError_t cudaMallocArray(cudaArray_t* a, const cudaChannelFormatDesc* desc, std::size_t width,
                            std::size_t height, unsigned flags);
cudaError_t cudaMalloc3DArray(cudaArray_t* a, const cudaChannelFormatDesc* desc, cudaExtent extent,
                              unsigned flags);
cudaError_t cudaFreeArray(cudaArray_t a);
cudaError_t cudaMallocAsync(void** p, std::size_t size, cudaStream_t s);
cudaError_t cudaFreeAsync(void* p, cudaStream_t s);
cudaError_t cudaMallocFromPoolAsync(void** p, std::size_t size, cudaMemPool_t pool, cudaStream_t s);
cudaError_t cudaMallocAsync_ptsz(void** p, std::size_t size, cudaStream_t s);
cudaError_t cudaFreeAsync_ptsz(void* p, cudaStream_t s);
cudaError_t cudaMallocFromPoolAsync_ptsz(void** p, std::size_t size, cudaMemPool_t pool, cudaStream_t s);
cudaError_t cudaGetDriverEntryPoint(const char* symbol, void** fn, unsigned long long flags, int* status);
cudaError_t cudaGetDriverEntryPoint_ptsz(const char* symbol, void** fn, unsigned long long flags, int* status);
cudaError_t cudaGetDriverEntryPointByVersion(const char* symbol, void** fn, unsigned version,
                                             unsigned long long flags, int* status);
cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char* symbol, void** fn, unsigned version,
                                                  unsigned long long flags, int* status);

CUresult cuMemAlloc_v2(CUdeviceptr* p, std::size_t size);
CUresult cuMemFree_v2(CUdeviceptr p);
CUresult cuMemAllocManaged(CUdeviceptr* p, std::size_t size, unsigned flags);
CUresult cuMemAllocHost_v2(void** p, std::size_t size);
CUresult cuMemHostAlloc(void** p, std::size_t size, unsigned flags);
CUresult cuMemFreeHost(void* p);
CUresult cuMemAllocPitch_v2(CUdeviceptr* p, std::size_t* pitch, std::size_t width, std::size_t height,
                            unsigned element_bytes);
CUresult cuMemAllocAsync(CUdeviceptr* p, std::size_t size, CUstream s);
CUresult cuMemAllocAsync_ptsz(CUdeviceptr* p, std::size_t size, CUstream s);
CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s);
CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s);
CUresult cuMemAllocFromPoolAsync(CUdeviceptr* p, std::size_t size, CUmemoryPool pool, CUstream s);
CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* p, std::size_t size, CUmemoryPool pool, CUstream s);
CUresult cuMemCreate(CUmemGenericAllocationHandle* h, std::size_t size, const CUmemAllocationProp* prop,
                     unsigned long long flags);
CUresult cuMemRelease(CUmemGenericAllocationHandle h);
CUresult cuMemMap(CUdeviceptr va, std::size_t size, std::size_t offset, CUmemGenericAllocationHandle h,
                  unsigned long long flags);
CUresult cuMemUnmap(CUdeviceptr va, std::size_t size);
CUresult cuGetProcAddress(const char* symbol, void** fn, int version, unsigned long long flags);
CUresult cuGetProcAddress_v2(const char* symbol, void** fn, int version, unsigned long long flags, int* status);
}
