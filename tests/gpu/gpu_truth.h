// The ground truth of a tests/gpu program: every successful device allocation and free goes
// through Truth, which keeps exact per-device and per-kind figures in call order (the order
// heaplens records them in), and prints them at the end as the lines scripts/gpu-check
// compares with heaplens's report:
//
//   EXPECT device=D kind=K leaked_bytes=N leaked_blocks=B peak_bytes=P allocations=A bytes=S
//   EXPECT_SITE device=D kind=K function=F bytes=N blocks=B
//
// D is the CUDA ordinal (heaplens's record field is 1 + D, "cuda:D"); K is one of device,
// managed, pinned_host, async, vmm, array, or "all" for the device's total over every kind
// (pinned host memory is recorded on the device current when it was allocated). F is the
// __noinline__ host function that made the allocation; every block still live at the end
// is one that a leak_* function made on purpose.
//
// Nothing here allocates device memory itself, and nothing is printed but deterministic
// lines (no pointers, no timings): the program's stdout must be byte-identical under heaplens.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#define CUDA_CHECK(call)                                                                            \
  do {                                                                                              \
    cudaError_t e_ = (call);                                                                        \
    if (e_ != cudaSuccess) {                                                                        \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(3);                                                                                 \
    }                                                                                               \
  } while (0)

// Keeps the compiler from turning `alloc(); return;` into a tail call, which would drop the
// named function's frame from the stack heaplens records.
#define KEEP_FRAME() asm volatile("" ::: "memory")

namespace gpu_truth {

struct Figures {
  std::uint64_t live = 0, live_blocks = 0, peak = 0, allocations = 0, bytes = 0;
  void alloc(std::uint64_t n) {
    live += n;
    live_blocks += 1;
    allocations += 1;
    bytes += n;
    if (live > peak) peak = live;
  }
  void free(std::uint64_t n) {
    live -= n;
    live_blocks -= 1;
  }
};

struct Block {
  std::uint64_t bytes;
  std::string kind;
  std::string site;
};

class Truth {
 public:
  // A successful allocation of `bytes` on CUDA device `dev`, identified by `key` (the address,
  // the cudaArray_t, or the VMM handle), made in function `site`.
  void alloc(int dev, const char* kind, std::uint64_t key, std::uint64_t bytes, const char* site) {
    auto [it, fresh] = live_.emplace(std::make_pair(dev, key), Block{bytes, kind, site});
    if (!fresh) {
      std::fprintf(stderr, "gpu_truth: block %d/%#llx allocated twice\n", dev, (unsigned long long)key);
      std::exit(4);
    }
    kinds_[{dev, kind}].alloc(bytes);
    all_[dev].alloc(bytes);
  }
  void free(int dev, std::uint64_t key) {
    auto it = live_.find({dev, key});
    if (it == live_.end()) {
      std::fprintf(stderr, "gpu_truth: free of unknown block %d/%#llx\n", dev, (unsigned long long)key);
      std::exit(4);
    }
    kinds_[{dev, it->second.kind}].free(it->second.bytes);
    all_[dev].free(it->second.bytes);
    live_.erase(it);
  }
  // Prints the EXPECT lines (sorted: device, then kind) and the leak sites.
  void print() const {
    for (const auto& [dev, f] : all_) {
      line(dev, "all", f);
      for (const auto& [k, kf] : kinds_)
        if (k.first == dev) line(dev, k.second.c_str(), kf);
    }
    std::map<std::tuple<int, std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> sites;
    for (const auto& [k, b] : live_) {
      auto& s = sites[{k.first, b.kind, b.site}];
      s.first += b.bytes;
      s.second += 1;
    }
    for (const auto& [k, s] : sites)
      std::printf("EXPECT_SITE device=%d kind=%s function=%s bytes=%llu blocks=%llu\n", std::get<0>(k),
                  std::get<1>(k).c_str(), std::get<2>(k).c_str(), (unsigned long long)s.first,
                  (unsigned long long)s.second);
    std::fflush(stdout);
  }

 private:
  static void line(int dev, const char* kind, const Figures& f) {
    std::printf("EXPECT device=%d kind=%s leaked_bytes=%llu leaked_blocks=%llu peak_bytes=%llu allocations=%llu "
                "bytes=%llu\n",
                dev, kind, (unsigned long long)f.live, (unsigned long long)f.live_blocks, (unsigned long long)f.peak,
                (unsigned long long)f.allocations, (unsigned long long)f.bytes);
  }
  std::map<std::pair<int, std::uint64_t>, Block> live_;
  std::map<std::pair<int, std::string>, Figures> kinds_;
  std::map<int, Figures> all_;
};

inline Truth truth;

inline std::uint64_t key(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// The number of CUDA devices, or exit 77 with a message on stderr when there is none.
inline int device_count() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    std::fprintf(stderr, "no usable CUDA device: %s\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    std::exit(77);
  }
  return n;
}

// Devices a program exercises: all of them, at most 4 (sizes grow with the ordinal).
inline int devices_used() {
  int n = device_count();
  return n < 4 ? n : 4;
}

// Fills n bytes at p with (seed + i) & 0xff; the checksum kernel adds them up.
__global__ void fill_bytes(unsigned char* p, std::size_t n, unsigned seed) {
  for (std::size_t i = blockIdx.x * (std::size_t)blockDim.x + threadIdx.x; i < n;
       i += (std::size_t)gridDim.x * blockDim.x)
    p[i] = (unsigned char)((seed + i) & 0xff);
}

// The checksum accumulates in a __device__ variable: no allocation of its own.
__device__ unsigned long long checksum_acc;

__global__ void sum_bytes(const unsigned char* p, std::size_t n) {
  unsigned long long s = 0;
  for (std::size_t i = blockIdx.x * (std::size_t)blockDim.x + threadIdx.x; i < n;
       i += (std::size_t)gridDim.x * blockDim.x)
    s += p[i];
  atomicAdd(&checksum_acc, s);
}

// The checksum fill_bytes(seed) gives to n bytes, computed on the host.
inline unsigned long long expected_sum(std::size_t n, unsigned seed) {
  unsigned long long s = 0;
  for (std::size_t i = 0; i < n; ++i) s += (unsigned char)((seed + i) & 0xff);
  return s;
}

// Launches fill_bytes on `stream` (0: the legacy default stream) and waits for it.
inline void touch(void* p, std::size_t n, unsigned seed, cudaStream_t stream = 0) {
  fill_bytes<<<64, 256, 0, stream>>>(static_cast<unsigned char*>(p), n, seed);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

// The sum of the n bytes at p, computed by a kernel on the current device.
inline unsigned long long checksum(const void* p, std::size_t n, cudaStream_t stream = 0) {
  unsigned long long zero = 0, sum = 0;
  CUDA_CHECK(cudaMemcpyToSymbolAsync(checksum_acc, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, stream));
  sum_bytes<<<64, 256, 0, stream>>>(static_cast<const unsigned char*>(p), n);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaMemcpyFromSymbolAsync(&sum, checksum_acc, sizeof sum, 0, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return sum;
}

// Fills n bytes at p on the device and checks the sum; prints one deterministic line.
inline void touch_and_verify(const char* what, void* p, std::size_t n, unsigned seed, cudaStream_t stream = 0) {
  touch(p, n, seed, stream);
  unsigned long long got = checksum(p, n, stream), want = expected_sum(n, seed);
  std::printf("%s: %zu bytes, checksum %llu %s\n", what, n, got, got == want ? "ok" : "WRONG");
  if (got != want) std::exit(5);
}

}  // namespace gpu_truth
