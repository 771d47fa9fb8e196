// Google Benchmark: the cost of one allocation + release pair through the pool, next to the
// same pair through jemalloc's own API and through malloc/free. Single-threaded; the pool is
// started once, before any benchmark runs, as the interposer starts it (pool::init, then
// pool::enable_fast_paths from its constructor). pool::alloc is the general path (calloc,
// aligned, ...); pool::alloc_plain is the path of malloc and operator new.
//
// This binary links heaplens_pool and therefore Debian's libjemalloc.so.2, which exports
// malloc/free itself: BM_malloc_free measures jemalloc's malloc/free. BM_glibc_malloc_free
// (glibc's __libc_malloc/__libc_free) is the allocator a program uses without any preload.
#include <benchmark/benchmark.h>
#include <jemalloc/jemalloc.h>

#include <cstdlib>

#include "pool.h"

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
}

namespace pool = heaplens::pool;

namespace {

void BM_pool_alloc_release(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = pool::alloc(size, 0, false);
    benchmark::DoNotOptimize(p);
    pool::release(p);
  }
}

void BM_pool_alloc_plain_release(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = pool::alloc_plain(size);
    benchmark::DoNotOptimize(p);
    pool::release(p);
  }
}

void BM_mallocx_sdallocx(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = mallocx(size, 0);
    benchmark::DoNotOptimize(p);
    sdallocx(p, size, 0);
  }
}

void BM_malloc_free(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}

void BM_glibc_malloc_free(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = __libc_malloc(size);
    benchmark::DoNotOptimize(p);
    __libc_free(p);
  }
}

// Small sizes (thread-cache path) and one at the default large threshold (256 KiB), which
// the pool sends to its dedicated arena without a thread cache.
void sizes(benchmark::internal::Benchmark* b) {
  for (long s : {16L, 64L, 256L, 1024L, 4096L, 32768L, 262144L}) b->Arg(s);
}

BENCHMARK(BM_pool_alloc_release)->Apply(sizes);
BENCHMARK(BM_pool_alloc_plain_release)->Apply(sizes);
BENCHMARK(BM_mallocx_sdallocx)->Apply(sizes);
BENCHMARK(BM_malloc_free)->Apply(sizes);
BENCHMARK(BM_glibc_malloc_free)->Apply(sizes);

}  // namespace

int main(int argc, char** argv) {
  pool::init(pool::Settings{});
  pool::enable_fast_paths();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
