// Reentrancy guard held by every hook. A hook entered while this thread is already inside one
// (glibc allocating inside pthread_setspecific, our own start-up, later the tracker's
// unwinder) is served by the pool directly and must not start, wait or record anything.
// Initial-exec TLS: a dynamic-TLS access may itself call malloc.
#pragma once

namespace heaplens {

extern __thread int t_hook_depth __attribute__((tls_model("initial-exec")));

class HookGuard {
 public:
  HookGuard() noexcept : nested_(t_hook_depth++ > 0) {}
  ~HookGuard() { --t_hook_depth; }
  HookGuard(const HookGuard&) = delete;
  HookGuard& operator=(const HookGuard&) = delete;
  bool nested() const noexcept { return nested_; }

 private:
  bool nested_;
};

}  // namespace heaplens
