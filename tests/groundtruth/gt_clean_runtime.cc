// Ground truth: no leak of its own, but uses what real programs use and the C/C++ runtime
// never frees at exit: stdio (printf allocates stdout's buffer; glibc frees it only in
// __libc_freeres), iostream, and threads (glibc keeps each thread's DTV in its stack cache
// until exit), plus libstdc++'s emergency exception pool. valgrind (which runs
// __libc_freeres and __gnu_cxx::__freeres at exit) reports no leak; `heaplens check` must
// exit 0 too, which needs default suppressions for those runtime blocks.
// Truth and the list of runtime blocks: expected.json "gt_clean_runtime".
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "gt_common.h"

NOINLINE void worker(int id) {
  std::vector<std::string> v;
  for (int i = 0; i < 100; ++i) v.emplace_back(50 + i + id, 'w');
  free(gt_touch(malloc(1000), 1000, "worker"));
}

int main() {
  std::printf("gt_clean_runtime: printf through a buffered stdout %d\n", 42);
  std::cout << "gt_clean_runtime: iostream " << std::string(60, '-') << std::endl;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  std::fprintf(stderr, "gt_clean_runtime: done\n");
  std::fflush(stdout);
  return 0;
}
