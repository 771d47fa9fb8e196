// Ground truth: C++ allocation. Truth: expected.json "gt_cxx".
//   leak_new_objects          6 x new Node (120 bytes)                          =    720
//   leak_new_array_with_dtor  3 x new Tracked[10]: 10 x 24 + 8-byte array cookie
//                             (Tracked has a destructor) = 248 bytes requested    =    744
//   std::vector<int>(1000)    2 leaked buffers of 4000 bytes, allocated by
//                             std::__new_allocator<int>::allocate called (through
//                             always-inline std::allocator frames) from the vector code
//                             under leak_vector_buffer                            =   8000
//   leak_large_new_array      1 x new double[50000] (no cookie)                  = 400000
// Transients (all freed): new/delete, new[]/delete[], a thrown and caught exception,
// strings, a map. libstdc++'s emergency exception pool (72704 bytes, allocated before main)
// stays live to the end: not a leak (a default suppression), but part of the peak.
#include <cstdlib>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "gt_common.h"

struct Node {
  char payload[120];
};

struct Tracked {
  long a, b, c;
  Tracked() : a(1), b(2), c(3) {}
  ~Tracked() { g_sink = nullptr; }  // a non-trivial destructor: new[] stores the count
};
static_assert(sizeof(Node) == 120);
static_assert(sizeof(Tracked) == 24);

NOINLINE void transients() {
  for (int i = 0; i < 100; ++i) {
    Node* n = new Node;
    gt_keep(n);
    delete n;
    Tracked* t = new Tracked[i % 7 + 1];
    gt_keep(t);
    delete[] t;
  }
  std::map<int, std::string> m;
  for (int i = 0; i < 50; ++i) m[i] = std::string(100 + i, 'x');
  try {
    throw std::runtime_error(std::string(300, 'e'));
  } catch (const std::exception& e) {
    gt_keep(const_cast<char*>(e.what()));
  }
  std::vector<int> v;
  for (int i = 0; i < 5000; ++i) v.push_back(i);
  gt_keep(v.data());
  gt_forget();
}

NOINLINE void leak_new_objects() {
  for (int i = 0; i < 6; ++i) gt_keep(new Node());
}

NOINLINE void leak_new_array_with_dtor() {
  for (int i = 0; i < 3; ++i) gt_keep(new Tracked[10]);
}

NOINLINE void leak_vector_buffer() {
  for (int i = 0; i < 2; ++i) {
    std::vector<int> v(1000, 7);  // exactly 1000 elements: one 4000-byte buffer
    gt_keep(v.data());
    // Reusing v's storage ends its lifetime without running its destructor: the buffer is
    // lost. The destructor at the end of the scope destroys the new, empty vector.
    new (&v) std::vector<int>();
  }
}

NOINLINE void leak_large_new_array() { gt_keep(new double[50000]()); }

int main() {
  transients();
  leak_new_objects();
  leak_new_array_with_dtor();
  leak_vector_buffer();
  leak_large_new_array();
  gt_forget();
  gt_say("gt_cxx: done\n");
  return 0;
}
