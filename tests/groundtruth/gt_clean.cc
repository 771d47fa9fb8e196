// Ground truth: a program that frees everything it allocates (zero leaks); `heaplens check`
// must exit 0. Exercises every allocation family the other fixtures leak from: malloc,
// calloc, realloc, posix_memalign, aligned_alloc, new, new[], std containers, an exception.
// No threads and no stdio (those leave glibc runtime blocks unfreed at exit:
// gt_clean_runtime covers them). libstdc++'s emergency pool (72704 bytes) is live at exit
// and must be suppressed by default. Truth: expected.json "gt_clean".
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gt_common.h"

NOINLINE void c_api_round_trip() {
  for (int i = 1; i <= 300; ++i) {
    void* a = gt_touch(malloc(static_cast<size_t>(i) * 13), static_cast<size_t>(i) * 13, "malloc");
    void* b = gt_touch(calloc(static_cast<size_t>(i), 7), static_cast<size_t>(i) * 7, "calloc");
    a = gt_touch(realloc(a, static_cast<size_t>(i) * 29), static_cast<size_t>(i) * 29, "realloc");
    void* c = nullptr;
    if (posix_memalign(&c, 128, static_cast<size_t>(i)) != 0) gt_die("posix_memalign");
    gt_touch(c, static_cast<size_t>(i), "posix_memalign");
    void* d = gt_touch(aligned_alloc(64, 64 * static_cast<size_t>(i)), 64 * static_cast<size_t>(i), "aligned_alloc");
    free(a);
    free(b);
    free(c);
    free(d);
  }
  free(gt_touch(malloc(400000), 400000, "large"));
}

struct WithDtor {
  std::string s{"with a destructor, long enough to allocate"};
};

NOINLINE void cxx_round_trip() {
  for (int i = 0; i < 100; ++i) {
    auto* one = new WithDtor;
    auto* many = new WithDtor[static_cast<size_t>(i % 5 + 1)];
    gt_keep(one);
    delete one;
    delete[] many;
  }
  std::map<std::string, std::vector<int>> m;
  for (int i = 0; i < 200; ++i) m[std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i)].resize(static_cast<size_t>(i));
  auto shared = std::make_shared<std::vector<double>>(10000);
  std::unique_ptr<char[]> big(new char[300000]());
  try {
    throw std::runtime_error(std::string(500, 'x'));
  } catch (const std::exception& e) {
    gt_keep(const_cast<char*>(e.what()));
  }
  gt_forget();
}

int main() {
  c_api_round_trip();
  cxx_round_trip();
  gt_say("gt_clean: done\n");
  return 0;
}
