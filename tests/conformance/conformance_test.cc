#include <catch2/catch.hpp>

#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "conformance.h"

namespace {

const std::size_t kPage = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
const std::size_t kSizes[] = {0, 1, 7, 8, 15, 16, 17, 100, 1000, 4096, 65536, 262143, 262144,
                              1 << 20, 16 << 20};

std::size_t natural_alignment(std::size_t size) {
  // What any malloc guarantees: alignof(max_align_t), or less for blocks too small to
  // hold such an object.
  std::size_t a = alignof(std::max_align_t);
  while (a > 1 && a > size) a >>= 1;
  return a == 0 ? 1 : a;
}

void fill(void* p, std::size_t n, unsigned seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>(i * 31 + seed);
}

bool check_fill(const void* p, std::size_t n, unsigned seed) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<unsigned char>(i * 31 + seed)) return false;
  return true;
}

bool all_zero(const void* p, std::size_t n) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

}  // namespace

TEST_CASE("heaplens is the allocator under test, with the requested backend") {
  REQUIRE(heaplens_active());
  std::string v = heaplens_version();
  CHECK(v.find("(" + expected_backend() + ")") != std::string::npos);
}

TEST_CASE("malloc: alignment, usable size, malloc(0), impossible sizes") {
  for (std::size_t size : kSizes) {
    void* p = malloc(size);
    REQUIRE(p != nullptr);
    CHECK(is_aligned(p, natural_alignment(size)));
    CHECK(malloc_usable_size(p) >= size);
    fill(p, malloc_usable_size(p), 1);  // all of the usable size is writable
    free(p);
  }
  void* a = malloc(0);
  void* b = malloc(0);
  CHECK(a != nullptr);
  CHECK(a != b);
  free(a);
  free(b);
  for (std::size_t size : {SIZE_MAX, SIZE_MAX / 2 + 1, std::size_t{PTRDIFF_MAX}}) {
    errno = 0;
    CHECK(malloc(size) == nullptr);
    CHECK(errno == ENOMEM);
  }
  CHECK(malloc_usable_size(nullptr) == 0);
}

TEST_CASE("free: NULL is a no-op and errno never changes") {
  errno = EBADF;
  free(nullptr);
  CHECK(errno == EBADF);
  for (std::size_t size : kSizes) {
    void* p = malloc(size);
    errno = EBADF;
    free(p);
    CHECK(errno == EBADF);
  }
}

TEST_CASE("calloc: zeroed memory (also when reusing dirty blocks), overflow") {
  for (std::size_t size : kSizes) {
    void* dirty = malloc(size);
    if (size) std::memset(dirty, 0xff, size);
    free(dirty);
    void* p = calloc(1, size);
    REQUIRE(p != nullptr);
    CHECK(all_zero(p, size));
    free(p);
  }
  void* p = calloc(1000, 1000);
  REQUIRE(p != nullptr);
  CHECK(all_zero(p, 1000 * 1000));
  free(p);
  CHECK(calloc(0, 0) != nullptr);  // leaks one tiny block, on purpose
  errno = 0;
  CHECK(calloc(SIZE_MAX / 2, 3) == nullptr);
  CHECK(errno == ENOMEM);
  errno = 0;
  CHECK(calloc(std::size_t{1} << 32, std::size_t{1} << 32) == nullptr);
  CHECK(errno == ENOMEM);
}

TEST_CASE("realloc: keeps contents, NULL and 0 cases, failure leaves the block") {
  void* p = realloc(nullptr, 10);  // realloc(NULL, n) is malloc(n)
  REQUIRE(p != nullptr);
  fill(p, 10, 3);
  std::size_t kept = 10;
  for (std::size_t size : {20, 100, 5000, 300000, 4 << 20, 64, 9, 1 << 20, 3}) {
    p = realloc(p, size);
    REQUIRE(p != nullptr);
    CHECK(malloc_usable_size(p) >= size);
    std::size_t common = std::min(kept, std::size_t(size));
    CHECK(check_fill(p, common, 3));
    fill(p, size, 3);
    kept = size;
  }
  errno = 0;
  CHECK(realloc(p, SIZE_MAX) == nullptr);
  CHECK(errno == ENOMEM);
  CHECK(check_fill(p, kept, 3));  // untouched after the failure

  heaplens_counters before = counters_now();
  void* q = realloc(p, 0);  // glibc: frees and returns NULL
  heaplens_counters after = counters_now();
  CHECK(q == nullptr);
  CHECK(after.frees - before.frees == 1);
  CHECK(after.allocations == before.allocations);
}

TEST_CASE("reallocarray: overflow fails with ENOMEM and keeps the block") {
  auto* p = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
  REQUIRE(p != nullptr);
  for (int i = 0; i < 10; ++i) p[i] = i;
  errno = 0;
  CHECK(reallocarray(p, SIZE_MAX / 2, 4) == nullptr);
  CHECK(errno == ENOMEM);
  p = static_cast<int*>(reallocarray(p, 1000, sizeof(int)));
  REQUIRE(p != nullptr);
  for (int i = 0; i < 10; ++i) CHECK(p[i] == i);
  free(p);
}

TEST_CASE("posix_memalign: alignments, EINVAL, ENOMEM, errno untouched") {
  for (std::size_t align = sizeof(void*); align <= (std::size_t{1} << 22); align <<= 1) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{300000}}) {
      void* p = nullptr;
      errno = EBADF;
      INFO("align " << align << " size " << size);
      REQUIRE(posix_memalign(&p, align, size) == 0);
      CHECK(errno == EBADF);
      REQUIRE(p != nullptr);
      CHECK(is_aligned(p, align));
      CHECK(malloc_usable_size(p) >= size);
      free(p);
    }
  }
  void* sentinel = reinterpret_cast<void*>(0x1234);
  for (std::size_t bad : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{12},
                          std::size_t{24}, std::size_t{48}, std::size_t{100}}) {
    void* p = sentinel;
    CHECK(posix_memalign(&p, bad, 16) == EINVAL);
    CHECK(p == sentinel);
  }
  void* p = sentinel;
  CHECK(posix_memalign(&p, 64, SIZE_MAX) == ENOMEM);
  CHECK(p == sentinel);
}

TEST_CASE("aligned_alloc: powers of two work; others as the host glibc does") {
  for (std::size_t align : {1, 2, 4, 8, 16, 32, 64, 4096, 1 << 16, 1 << 21}) {
    void* p = aligned_alloc(align, align * 3);
    REQUIRE(p != nullptr);
    CHECK(is_aligned(p, align));
    free(p);
  }
  void* p = aligned_alloc(0, 64);  // malloc, in every glibc
  CHECK(p != nullptr);
  free(p);
  int major = 0;
  int minor = 0;
  std::sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor);
  bool strict = major > 2 || (major == 2 && minor >= 38);
  for (std::size_t bad : {3, 24, 100}) {
    errno = 0;
    p = aligned_alloc(bad, 64);
    if (strict) {
      CHECK(p == nullptr);
      CHECK(errno == EINVAL);
    } else {  // glibc < 2.38: memalign, which rounds the alignment up to a power of two
      REQUIRE(p != nullptr);
      std::size_t rounded = 1;
      while (rounded < bad) rounded <<= 1;
      CHECK(is_aligned(p, rounded));
      free(p);
    }
  }
  errno = 0;
  CHECK(aligned_alloc(64, SIZE_MAX) == nullptr);
  CHECK(errno == ENOMEM);
}

TEST_CASE("memalign, valloc, pvalloc: glibc's rules") {
  void* p = memalign(24, 10);  // not a power of two: rounded up to 32
  REQUIRE(p != nullptr);
  CHECK(is_aligned(p, 32));
  free(p);
  p = memalign(1, 10);
  REQUIRE(p != nullptr);
  free(p);
  errno = 0;
  CHECK(memalign(SIZE_MAX / 2 + 2, 10) == nullptr);
  CHECK(errno == EINVAL);

  p = valloc(100);
  REQUIRE(p != nullptr);
  CHECK(is_aligned(p, kPage));
  free(p);

  p = pvalloc(kPage + 1);
  REQUIRE(p != nullptr);
  CHECK(is_aligned(p, kPage));
  CHECK(malloc_usable_size(p) >= 2 * kPage);
  free(p);
  p = pvalloc(0);
  REQUIRE(p != nullptr);
  CHECK(is_aligned(p, kPage));
  free(p);
  errno = 0;
  CHECK(pvalloc(SIZE_MAX - 10) == nullptr);
  CHECK(errno == ENOMEM);
}

TEST_CASE("counters: one call is exactly one count") {
  REQUIRE(heaplens_active());
  void* blocks[100];
  heaplens_counters before = counters_now();
  for (int i = 0; i < 100; ++i) blocks[i] = malloc(40);
  heaplens_counters mid = counters_now();
  std::size_t usable = 0;
  for (void* b : blocks) usable += malloc_usable_size(b);
  for (void* b : blocks) free(b);
  heaplens_counters after = counters_now();
  CHECK(mid.allocations - before.allocations == 100);
  CHECK(mid.bytes_requested - before.bytes_requested == 4000);
  CHECK(mid.bytes_allocated - before.bytes_allocated == usable);
  CHECK(after.frees - mid.frees == 100);
  CHECK(after.bytes_freed - mid.bytes_freed == usable);
  CHECK(after.live_bytes == before.live_bytes);
  CHECK(after.peak_live_bytes >= before.live_bytes + usable);
}

TEST_CASE("counters: the large path counts requests at the threshold") {
  heaplens_counters before = counters_now();
  void* small = malloc(256 * 1024 - 1);
  void* large = malloc(256 * 1024);
  heaplens_counters after = counters_now();
  CHECK(after.large_allocations - before.large_allocations == 1);
  free(small);
  free(large);
}

TEST_CASE("counters: threads and cross-thread frees balance") {
  std::vector<void*> blocks(20000);
  heaplens_counters before = counters_now();
  std::thread producer([&] {
    for (auto& b : blocks) b = malloc(64);
  });
  producer.join();
  std::thread consumer([&] {
    for (void* b : blocks) free(b);
  });
  consumer.join();
  heaplens_counters after = counters_now();
  CHECK(after.allocations - before.allocations >= 20000);
  CHECK(after.frees - before.frees >= 20000);
  CHECK(after.live_bytes <= before.live_bytes + 64 * 1024);  // threads' own stacks' TLS etc.
}

TEST_CASE("mallinfo/mallinfo2 reflect a large live block") {
  void* p = malloc(10 << 20);
  std::memset(p, 1, 10 << 20);
  struct mallinfo2 mi = mallinfo2();
  CHECK(mi.arena > 0);
  CHECK(mi.uordblks + mi.hblkhd >= (10u << 20));
  struct mallinfo old = mallinfo();
  CHECK(old.arena > 0);
  CHECK(static_cast<std::size_t>(old.uordblks) + static_cast<std::size_t>(old.hblkhd) >= (10u << 20));
  free(p);
}

TEST_CASE("mallopt and malloc_trim give glibc-style answers") {
  CHECK(mallopt(M_ARENA_MAX, 4) == 1);
  CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1);
  CHECK(mallopt(123456, 1) == 1);  // glibc accepts unknown parameters too
  void* p = malloc(32 << 20);
  std::memset(p, 1, 32 << 20);
  free(p);
  int r = malloc_trim(0);
  CHECK((r == 0 || r == 1));
}

TEST_CASE("malloc_stats writes glibc's layout to stderr") {
  fflush(stderr);
  char path[] = "/tmp/heaplens-stats-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  malloc_stats();
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char buf[4096] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  close(fd);
  unlink(path);
  REQUIRE(n > 0);
  std::string text(buf, static_cast<std::size_t>(n));
  CHECK(text.find("system bytes") != std::string::npos);
  CHECK(text.find("in use bytes") != std::string::npos);
}
