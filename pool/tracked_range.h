// A reserved range of address space that jemalloc's tracked arena takes all its memory from
// (through extent hooks). Whether a pointer belongs to a recorded allocation is then one
// subtract and one compare (GWP-ASan's trick): free() pays nothing measurable for the
// unrecorded majority.
//
// The range is reserved PROT_NONE and MAP_NORESERVE (address space only); extents are made
// readable and writable as jemalloc asks for them, and purged with madvise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heaplens::pool::tracked_range {

// Reserves the range (once). Tries 1 TiB (+ 8 GiB, see tracked_range.cc), then smaller
// sizes; false if even 1 GiB fails.
bool reserve() noexcept;
// The jemalloc extent hooks that hand out memory of the range (an extent_hooks_t*).
void* extent_hooks() noexcept;

std::uintptr_t base() noexcept;
std::size_t size() noexcept;
// Bytes of the range handed to jemalloc so far.
std::size_t used() noexcept;

}  // namespace heaplens::pool::tracked_range
