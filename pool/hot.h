// HEAPLENS_HOT marks the few pool functions that must inline into the hooks (malloc and free
// are one function each after LTO). They are defined in the pool's files, so GCC warns that
// an always_inline function with external linkage "might not be inlinable" in other units:
// with the link-time optimisation the build uses, it is (the benchmarks check the result).
#pragma once

#pragma GCC diagnostic ignored "-Wattributes"
#define HEAPLENS_HOT __attribute__((always_inline))
