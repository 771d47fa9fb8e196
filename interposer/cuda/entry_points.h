// Where the real CUDA functions are, and which of ours stands in for each.
//
// One slot per hooked export (hooks.h) holds the real function. It is filled by whichever
// comes first: a lookup the program made through dlsym or a CUDA resolver (the real
// result is kept, ours handed out), or our own dlsym(RTLD_NEXT) when a program linked to
// libcudart/libcuda calls our export directly. A pointer into libheaplens.so itself is
// never stored: that would make a hook call itself.
#pragma once

#include <cstdint>

#include "hooks.h"

namespace heaplens::cuda {

enum class Fn : std::uint16_t {
#define HEAPLENS_X(name) name,
  HEAPLENS_CUDA_RUNTIME_HOOKS(HEAPLENS_X) HEAPLENS_CUDA_DRIVER_HOOKS(HEAPLENS_X)
#undef HEAPLENS_X
  kCount
};

// The hooked export of that exact name, or Fn::kCount.
Fn find(const char* name) noexcept;
const char* name_of(Fn f) noexcept;
bool is_driver(Fn f) noexcept;

// The real function (nullptr when there is none: CUDA is not loaded).
void* real(Fn f) noexcept;
template <typename T>
T real_as(Fn f) noexcept { return reinterpret_cast<T>(real(f)); }

// A lookup returned `found` for `f`: remembers it as the real one and returns ours.
void* stand_in(Fn f, void* found) noexcept;
// A resolver (cuGetProcAddress, cudaGetDriverEntryPoint) returned *fn: if it is exactly a
// hooked export of another object (dladdr says which versioned export it is), ours takes
// its place. Anything else, unknown names and ABIs included, is left untouched.
void stand_in_resolved(void** fn) noexcept;

// Whether an address lies in libheaplens.so itself.
bool is_own(const void* fn) noexcept;

// glibc's dlsym (ours is the exported one), found with dlvsym.
using DlsymFn = void* (*)(void*, const char*);
DlsymFn real_dlsym() noexcept;

// Looks `name` up in the object that defines `fn` (cudaGetDevice next to the cudaMalloc in
// use, cuCtxGetDevice next to the driver's functions), whether or not it was loaded with
// RTLD_GLOBAL.
void* sibling(void* fn, const char* name) noexcept;

}  // namespace heaplens::cuda
