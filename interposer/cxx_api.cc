// Every replaceable global operator new/delete (C++17/20). Failure follows the standard:
// call the new_handler until it gives up, then throw std::bad_alloc (or return nullptr for
// the nothrow forms). Sized deletes ignore the size: a program that passes a wrong one (it
// happens) must not corrupt the heap, and the pool needs the usable size anyway.
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <new>

#include "../pool/pool.h"
#include "export.h"
#include "runtime.h"

namespace pool = heaplens::pool;
namespace runtime = heaplens::runtime;

namespace {

void* new_impl(std::size_t size, std::size_t align) {
  runtime::ensure_started();
  for (;;) {
    void* p = size > PTRDIFF_MAX ? nullptr
              : align == 0   ? pool::alloc_plain(size)
                             : pool::alloc(size, align, false);
    if (__builtin_expect(p != nullptr, 1)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* new_nothrow(std::size_t size, std::size_t align) noexcept {
  try {
    return new_impl(size, align);
  } catch (...) {
    return nullptr;
  }
}

// Same contract as free(), errno included.
inline void delete_impl(void* p) noexcept { free(p); }

inline std::size_t align_of(std::align_val_t a) { return static_cast<std::size_t>(a); }

}  // namespace

HEAPLENS_EXPORT void* operator new(std::size_t n) { return new_impl(n, 0); }
HEAPLENS_EXPORT void* operator new[](std::size_t n) { return new_impl(n, 0); }
HEAPLENS_EXPORT void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n, 0); }
HEAPLENS_EXPORT void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n, 0); }
HEAPLENS_EXPORT void* operator new(std::size_t n, std::align_val_t a) { return new_impl(n, align_of(a)); }
HEAPLENS_EXPORT void* operator new[](std::size_t n, std::align_val_t a) { return new_impl(n, align_of(a)); }
HEAPLENS_EXPORT void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(n, align_of(a));
}
HEAPLENS_EXPORT void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(n, align_of(a));
}

HEAPLENS_EXPORT void operator delete(void* p) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete[](void* p) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete(void* p, std::size_t) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete[](void* p, std::size_t) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete(void* p, std::align_val_t) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete(void* p, std::size_t, std::align_val_t) noexcept { delete_impl(p); }
HEAPLENS_EXPORT void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { delete_impl(p); }
