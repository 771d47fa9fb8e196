// binary-trees (the Computer Language Benchmarks Game / mimalloc-bench's "binary-trees"):
// builds and discards perfect binary trees with C++ new/delete, keeping one long-lived tree.
// Single-threaded and deterministic; prints the usual check lines.
//
// usage: bench_binary_trees [max_depth]   (default 18)
#include <cstdio>
#include <cstdlib>

namespace {

struct Node {
  Node* left;
  Node* right;
  Node(Node* l, Node* r) : left(l), right(r) {}
  ~Node() {
    delete left;
    delete right;
  }
  long check() const { return 1 + (left ? left->check() + right->check() : 0); }
};

Node* make(int depth) {
  if (depth == 0) return new Node(nullptr, nullptr);
  return new Node(make(depth - 1), make(depth - 1));
}

}  // namespace

int main(int argc, char** argv) {
  int max_depth = argc > 1 ? std::atoi(argv[1]) : 18;
  const int min_depth = 4;
  if (max_depth < min_depth + 2) max_depth = min_depth + 2;

  {
    Node* stretch = make(max_depth + 1);
    std::printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, stretch->check());
    delete stretch;
  }
  Node* long_lived = make(max_depth);
  for (int d = min_depth; d <= max_depth; d += 2) {
    long iterations = 1L << (max_depth - d + min_depth);
    long check = 0;
    for (long i = 0; i < iterations; ++i) {
      Node* t = make(d);
      check += t->check();
      delete t;
    }
    std::printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, check);
  }
  std::printf("long lived tree of depth %d\t check: %ld\n", max_depth, long_lived->check());
  delete long_lived;
  return 0;
}
