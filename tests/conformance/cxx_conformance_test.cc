#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "conformance.h"

namespace {

struct alignas(64) Line {
  char bytes[64];
};
struct alignas(4096) Page {
  char bytes[4096];
};

int g_handler_calls = 0;
void counting_handler() {
  ++g_handler_calls;
  std::set_new_handler(nullptr);  // give up: the next failure throws
}

}  // namespace

TEST_CASE("every operator new/delete form: exactly one allocation and one free") {
  REQUIRE(heaplens_active());
  auto one_pair = [](auto&& make, auto&& destroy) {
    heaplens_counters before = counters_now();
    void* p = make();
    heaplens_counters mid = counters_now();
    destroy(p);
    heaplens_counters after = counters_now();
    CHECK(p != nullptr);
    CHECK(mid.allocations - before.allocations == 1);
    CHECK(after.frees - mid.frees == 1);
    return p;
  };
  const std::align_val_t a256{256};
  one_pair([] { return ::operator new(100); }, [](void* p) { ::operator delete(p); });
  one_pair([] { return ::operator new[](100); }, [](void* p) { ::operator delete[](p); });
  one_pair([] { return ::operator new(100, std::nothrow); },
           [](void* p) { ::operator delete(p, std::nothrow); });
  one_pair([] { return ::operator new[](100, std::nothrow); },
           [](void* p) { ::operator delete[](p, std::nothrow); });
  one_pair([] { return ::operator new(100); }, [](void* p) { ::operator delete(p, 100); });
  one_pair([] { return ::operator new[](100); }, [](void* p) { ::operator delete[](p, 100); });
  void* p = one_pair([&] { return ::operator new(100, a256); },
                     [&](void* q) { ::operator delete(q, a256); });
  CHECK(is_aligned(p, 256));
  p = one_pair([&] { return ::operator new[](100, a256); },
               [&](void* q) { ::operator delete[](q, a256); });
  CHECK(is_aligned(p, 256));
  p = one_pair([&] { return ::operator new(100, a256, std::nothrow); },
               [&](void* q) { ::operator delete(q, a256, std::nothrow); });
  CHECK(is_aligned(p, 256));
  p = one_pair([&] { return ::operator new[](100, a256, std::nothrow); },
               [&](void* q) { ::operator delete[](q, a256, std::nothrow); });
  CHECK(is_aligned(p, 256));
  one_pair([&] { return ::operator new(100, a256); },
           [&](void* q) { ::operator delete(q, 100, a256); });
  one_pair([&] { return ::operator new[](100, a256); },
           [&](void* q) { ::operator delete[](q, 100, a256); });
}

TEST_CASE("over-aligned types get their alignment from new") {
  auto* line = new Line;
  auto* page = new Page;
  auto* lines = new Line[7];
  CHECK(is_aligned(line, 64));
  CHECK(is_aligned(page, 4096));
  CHECK(is_aligned(lines, 64));
  delete line;
  delete page;
  delete[] lines;
}

TEST_CASE("failure: new_handler is called, then bad_alloc; nothrow gives nullptr") {
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  CHECK_THROWS_AS(::operator new(SIZE_MAX / 2), std::bad_alloc);
  CHECK(g_handler_calls == 1);
  std::set_new_handler(nullptr);
  CHECK_THROWS_AS(::operator new[](SIZE_MAX - 100), std::bad_alloc);
  CHECK_THROWS_AS(::operator new(SIZE_MAX / 2, std::align_val_t{64}), std::bad_alloc);
  CHECK(::operator new(SIZE_MAX / 2, std::nothrow) == nullptr);
  CHECK(::operator new[](SIZE_MAX / 2, std::align_val_t{64}, std::nothrow) == nullptr);
}

TEST_CASE("new(0) gives distinct, deletable pointers") {
  void* a = ::operator new(0);
  void* b = ::operator new(0);
  CHECK(a != nullptr);
  CHECK(a != b);
  ::operator delete(a);
  ::operator delete(b);
}

TEST_CASE("sized delete with a wrong size does not corrupt the heap") {
  // Undefined behaviour in C++, but real programs do it; glibc ignores the size, so must we.
  void* p = ::operator new(1000);
  ::operator delete(p, 8);
  void* q = ::operator new(1000);
  std::memset(q, 1, 1000);
  ::operator delete(q);
}

TEST_CASE("standard containers work") {
  std::map<std::string, std::vector<int>> m;
  for (int i = 0; i < 10000; ++i) m["key" + std::to_string(i % 100)].push_back(i);
  CHECK(m.size() == 100);
  CHECK(m["key7"].size() == 100);
  auto shared = std::make_shared<std::string>(1000, 'x');
  CHECK(shared->size() == 1000);
}
