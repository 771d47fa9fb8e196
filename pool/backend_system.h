// The "system" backend (HEAPLENS_ALLOCATOR=system): glibc's own allocator, the one the program
// would have had without us. Reached through glibc's exported __libc_* entry points, which
// need no dlsym and so work from the first allocation of the process.
#pragma once

#include <cstddef>

#include "heap_stats.h"

namespace heaplens::pool::system_backend {

void* alloc(std::size_t size, std::size_t align, bool zero) noexcept;
void* resize(void* p, std::size_t size) noexcept;
void release(void* p) noexcept;
std::size_t usable(const void* p) noexcept;

bool stats(HeapStats* out) noexcept;

}  // namespace heaplens::pool::system_backend
