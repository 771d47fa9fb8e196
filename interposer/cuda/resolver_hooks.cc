// The ways a program finds CUDA functions at run time, so that the allocation functions it
// finds are ours:
//  - dlsym: the static runtime dlopens libcuda.so.1 and dlsyms cuGetProcAddress_v2; Python
//    and plugins dlsym cudaMalloc. glibc's dlsym uses its caller's return address for
//    RTLD_NEXT (and the caller's namespace), so ours must not disturb it: a few instructions
//    of assembly ask whether the name is a hooked one and otherwise jump (not call) to the
//    real dlsym, which then sees the original caller.
//  - cuGetProcAddress(_v2), cudaGetDriverEntryPoint(ByVersion)(_ptsz): the real resolver
//    answers first; only an exact hooked export is replaced (entry_points.h), so unknown
//    names, old ABIs and new CUDA versions' functions pass through untouched.
#include <dlfcn.h>

#include "../export.h"
#include "device_record.h"
#include "entry_points.h"
#include "hooks.h"

namespace cuda = heaplens::cuda;
using cuda::Fn;

extern "C" {

// Read by the trampoline below: glibc's dlsym once known.
__attribute__((visibility("hidden"), used, externally_visible)) void* heaplens_real_dlsym_ptr = nullptr;

// 1 when `name` is one the C path must see (or the real dlsym is not known yet).
__attribute__((visibility("hidden"), used, externally_visible)) int heaplens_dlsym_wants(const char* name) {
  if (heaplens_real_dlsym_ptr == nullptr) {
    cuda::DlsymFn d = cuda::real_dlsym();
    if (d == nullptr) return 1;
    __atomic_store_n(&heaplens_real_dlsym_ptr, reinterpret_cast<void*>(d), __ATOMIC_RELEASE);
  }
  return cuda::find(name) != Fn::kCount ? 1 : 0;
}

// The hooked names. RTLD_NEXT here means "after libheaplens.so", which for a CUDA function
// is every library the program could mean.
__attribute__((visibility("hidden"), used, externally_visible)) void* heaplens_dlsym_slow(void* handle, const char* name) {
  cuda::DlsymFn d = cuda::real_dlsym();
  if (d == nullptr) return nullptr;
  Fn f = cuda::find(name);
  void* found = d(handle, name);
  if (f != Fn::kCount && found != nullptr) {
    if (cuda::is_own(found)) {
      // The handle's scope reached our own export (RTLD_DEFAULT, dlopen(NULL)): without
      // heaplens it would have found what lies past libheaplens.so, or nothing -- a program
      // probing for CUDA must not be told it is there when it is not, and the failed lookup
      // sets dlerror as it would have.
      found = d(RTLD_NEXT, name);
    }
    cuda::KeepErrno keep;
    found = cuda::stand_in(f, found);
  }
  // Not a tail call: glibc must see this function as the caller, or RTLD_NEXT would search
  // after the program's caller, which finds ours again.
  asm volatile("" : "+r"(found));
  return found;
}

#if defined(__x86_64__)
// dlsym(handle, name): rdi, rsi. Every hooked name starts "cu": any other goes straight to
// glibc's dlsym once it is known (a handful of instructions); the rest ask the C code, with
// rdi/rsi saved around the call and the stack 16-byte aligned.
asm(R"(
  .text
  .globl dlsym
  .type dlsym, @function
dlsym:
  .cfi_startproc
  endbr64
  movq heaplens_real_dlsym_ptr(%rip), %rax
  testq %rax, %rax
  jz 1f
  testq %rsi, %rsi
  jz 2f
  cmpb $0x63, (%rsi)
  jne 2f
  cmpb $0x75, 1(%rsi)
  jne 2f
1:
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  pushq %rsi
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  movq %rsi, %rdi
  call heaplens_dlsym_wants
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  popq %rsi
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  testl %eax, %eax
  jnz heaplens_dlsym_slow
2:
  jmp *heaplens_real_dlsym_ptr(%rip)
  .cfi_endproc
  .size dlsym, .-dlsym
)");
#elif defined(__aarch64__)
// dlsym(handle, name): x0, x1. As on x86-64: names not starting "cu" go straight to glibc's
// dlsym once it is known; x16/x17 are the intra-call scratch registers.
asm(R"(
  .text
  .globl dlsym
  .type dlsym, %function
dlsym:
  .cfi_startproc
  adrp x16, heaplens_real_dlsym_ptr
  ldr x16, [x16, #:lo12:heaplens_real_dlsym_ptr]
  cbz x16, 1f
  cbz x1, 3f
  ldrb w17, [x1]
  cmp w17, #0x63
  b.ne 3f
  ldrb w17, [x1, #1]
  cmp w17, #0x75
  b.ne 3f
1:
  stp x29, x30, [sp, #-32]!
  .cfi_def_cfa_offset 32
  .cfi_offset 29, -32
  .cfi_offset 30, -24
  mov x29, sp
  stp x0, x1, [sp, #16]
  mov x0, x1
  bl heaplens_dlsym_wants
  mov w2, w0
  ldp x0, x1, [sp, #16]
  ldp x29, x30, [sp], #32
  .cfi_def_cfa_offset 0
  .cfi_restore 29
  .cfi_restore 30
  cbnz w2, 2f
  adrp x16, heaplens_real_dlsym_ptr
  ldr x16, [x16, #:lo12:heaplens_real_dlsym_ptr]
3:
  br x16
2:
  b heaplens_dlsym_slow
  .cfi_endproc
  .size dlsym, .-dlsym
)");
#else
// Other architectures: a C function. RTLD_NEXT lookups by other libraries then search after
// libheaplens.so rather than after their caller.
HEAPLENS_EXPORT void* dlsym(void* handle, const char* name) { return heaplens_dlsym_slow(handle, name); }
#endif

HEAPLENS_EXPORT CUresult cuGetProcAddress(const char* symbol, void** fn, int version, unsigned long long flags) {
  auto real = cuda::real_as<decltype(&cuGetProcAddress)>(Fn::cuGetProcAddress);
  if (real == nullptr) return cuda::kNotLoaded;
  CUresult rc = real(symbol, fn, version, flags);
  cuda::KeepErrno keep;
  if (rc == cuda::kCudaSuccess) cuda::stand_in_resolved(fn);
  return rc;
}

HEAPLENS_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** fn, int version, unsigned long long flags,
                                             int* status) {
  auto real = cuda::real_as<decltype(&cuGetProcAddress_v2)>(Fn::cuGetProcAddress_v2);
  if (real == nullptr) return cuda::kNotLoaded;
  CUresult rc = real(symbol, fn, version, flags, status);
  cuda::KeepErrno keep;
  if (rc == cuda::kCudaSuccess) cuda::stand_in_resolved(fn);
  return rc;
}

namespace {

cudaError_t entry_point(Fn f, const char* symbol, void** fn, unsigned long long flags, int* status) noexcept {
  auto real = cuda::real_as<decltype(&cudaGetDriverEntryPoint)>(f);
  if (real == nullptr) return cuda::kNotLoaded;
  cudaError_t rc = real(symbol, fn, flags, status);
  cuda::KeepErrno keep;
  if (rc == 0) cuda::stand_in_resolved(fn);
  return rc;
}

cudaError_t entry_point_by_version(Fn f, const char* symbol, void** fn, unsigned version,
                                   unsigned long long flags, int* status) noexcept {
  auto real = cuda::real_as<decltype(&cudaGetDriverEntryPointByVersion)>(f);
  if (real == nullptr) return cuda::kNotLoaded;
  cudaError_t rc = real(symbol, fn, version, flags, status);
  cuda::KeepErrno keep;
  if (rc == 0) cuda::stand_in_resolved(fn);
  return rc;
}

}  // namespace

HEAPLENS_EXPORT cudaError_t cudaGetDriverEntryPoint(const char* symbol, void** fn, unsigned long long flags,
                                                    int* status) {
  return entry_point(Fn::cudaGetDriverEntryPoint, symbol, fn, flags, status);
}
HEAPLENS_EXPORT cudaError_t cudaGetDriverEntryPoint_ptsz(const char* symbol, void** fn, unsigned long long flags,
                                                         int* status) {
  return entry_point(Fn::cudaGetDriverEntryPoint_ptsz, symbol, fn, flags, status);
}
HEAPLENS_EXPORT cudaError_t cudaGetDriverEntryPointByVersion(const char* symbol, void** fn, unsigned version,
                                                             unsigned long long flags, int* status) {
  return entry_point_by_version(Fn::cudaGetDriverEntryPointByVersion, symbol, fn, version, flags, status);
}
HEAPLENS_EXPORT cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char* symbol, void** fn, unsigned version,
                                                                  unsigned long long flags, int* status) {
  return entry_point_by_version(Fn::cudaGetDriverEntryPointByVersion_ptsz, symbol, fn, version, flags, status);
}

}  // extern "C"
