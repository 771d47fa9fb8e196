#!/usr/bin/python3
"""Generates the inputs of scripts/bench's real-program workloads (nothing is downloaded).

usage: gen_inputs.py cxx N DIR    -> DIR/gen.cc and DIR/gen.ii (preprocessed with `g++ -E`):
                                     a C++ translation unit of N generated classes, each
                                     instantiating its own tree and vector templates
       gen_inputs.py git N DIR    -> DIR: a git repository (bare) of N generated commits on
                                     40 source-like files, written with `git fast-import`

Both are deterministic: the same N gives byte-identical inputs (fixed seed, fixed dates).
"""
import os
import random
import subprocess
import sys


PRELUDE = r"""
typedef unsigned long size_t;
void* operator new(size_t);
void operator delete(void*) noexcept;
void operator delete(void*, size_t) noexcept;
template <typename T> struct Vec {
  T* d = nullptr; int n = 0, cap = 0;
  ~Vec() { for (int i = 0; i < n; ++i) d[i].~T(); operator delete(d); }
  void push(const T& v) {
    if (n == cap) { cap = cap ? 2 * cap : 4; T* nd = static_cast<T*>(operator new(sizeof(T) * cap));
      for (int i = 0; i < n; ++i) { new (&nd[i]) T(d[i]); d[i].~T(); } operator delete(d); d = nd; }
    new (&d[n++]) T(v); }
  template <typename F> void each(F f) { for (int i = 0; i < n; ++i) f(d[i]); }
};
inline void* operator new(size_t, void* p) noexcept { return p; }
template <typename K, typename V> struct Tree {
  struct N { K k; V v; N* l = nullptr; N* r = nullptr; };
  N* root = nullptr; int size = 0;
  ~Tree() { drop(root); }
  static void drop(N* n) { if (n) { drop(n->l); drop(n->r); delete n; } }
  V& at(const K& k) { N** p = &root; while (*p) { if (k < (*p)->k) p = &(*p)->l; else if ((*p)->k < k) p = &(*p)->r; else return (*p)->v; }
    *p = new N{k, V{}}; ++size; return (*p)->v; }
  template <typename F> void walk(F f) const { walk(root, f); }
  template <typename F> static void walk(N* n, F f) { if (n) { walk(n->l, f); f(n->k, n->v); walk(n->r, f); } }
};
"""


def gen_cxx(n, out_dir):
    """A header-free C++ TU (its own containers): what cc1plus spends is parsing, template
    instantiation and optimisation of the generated code, proportional to N."""
    rnd = random.Random(4242)
    src = [PRELUDE]
    for i in range(n):
        a, b, c = rnd.randint(2, 97), rnd.randint(2, 97), rnd.randint(3, 40)
        src += [
            f"struct Key{i} {{ int a; long b; bool operator<(const Key{i}& o) const {{ return a != o.a ? a < o.a : b < o.b; }} }};",
            f"struct Val{i} {{ Vec<long> xs; double w = {i}.5; }};",
            f"struct Node{i} {{",
            f"  Tree<Key{i}, Val{i}> table; Tree<int, Vec<Key{i}>> by_a;",
            f"  long work(int seed) {{",
            f"    for (int j = 0; j < {c}; ++j) {{ Key{i} k{{(seed * {a} + j) % {b}, j * {a}L}};",
            f"      table.at(k).xs.push(j * seed); by_a.at(k.a).push(k); }}",
            f"    long s = 0;",
            f"    table.walk([&](const Key{i}& k, Val{i}& v) {{ v.xs.each([&](long x) {{ s += x * k.a + long(v.w); }}); }});",
            f"    by_a.walk([&](int a, Vec<Key{i}>& v) {{ s ^= a * v.n; }});",
            f"    return s + table.size;",
            f"  }}",
            f"}};",
            f"long use{i}(int s) {{ Node{i} n; return n.work(s) + n.work(s + {i}); }}",
            "",
        ]
    src.append("int main(int argc, char**) { long s = 0;")
    src += [f"  s += use{i}(argc);" for i in range(n)]
    src += ["  return int(s & 1); }", ""]
    os.makedirs(out_dir, exist_ok=True)
    cc = os.path.join(out_dir, "gen.cc")
    with open(cc, "w") as f:
        f.write("\n".join(src))
    subprocess.run(["g++", "-E", "-P", cc, "-o", os.path.join(out_dir, "gen.ii")], check=True)


WORDS = ("alloc free block arena cache chunk page slab tree node list map hash ring queue "
         "stack frame trace sample record reader writer buffer header index table entry").split()


def gen_git(n, repo):
    rnd = random.Random(777)
    files = {f"src/mod{k:02d}.c": [f"/* module {k} */"] + [f"int f{k}_{j}(void) {{ return {j}; }}" for j in range(30)]
             for k in range(40)}
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", LC_ALL="C")
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", repo], check=True, env=env)
    chunks = []

    def data(text):
        raw = text.encode()
        chunks.append(b"data %d\n" % len(raw) + raw + b"\n")

    t0 = 1700000000
    for c in range(n):
        chunks.append(b"commit refs/heads/main\n")
        chunks.append(b"mark :%d\n" % (c + 1))
        chunks.append(b"committer Bench Gen <bench@example.invalid> %d +0000\n" % (t0 + 60 * c))
        data(f"change {c}: " + " ".join(rnd.choice(WORDS) for _ in range(6)))
        if c:
            chunks.append(b"from :%d\n" % c)
        touched = rnd.sample(sorted(files), 1 if c else len(files))
        if c == 0:
            touched = sorted(files)
        for path in touched:
            lines = files[path]
            for _ in range(rnd.randint(1, 6)):
                j = rnd.randrange(len(lines))
                op = rnd.random()
                new = f"int g{c}_{j}(int x) {{ return x * {rnd.randint(2, 99)}; /* {' '.join(rnd.choice(WORDS) for _ in range(4))} */ }}"
                if op < 0.5:
                    lines[j] = new
                elif op < 0.8:
                    lines.insert(j, new)
                elif len(lines) > 10:
                    del lines[j]
            chunks.append(b"M 100644 inline " + path.encode() + b"\n")
            data("\n".join(lines) + "\n")
        chunks.append(b"\n")
    subprocess.run(["git", "-C", repo, "fast-import", "--quiet"], input=b"".join(chunks),
                   check=True, env=env)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("cxx", "git"):
        sys.exit(__doc__)
    n = int(sys.argv[2])
    (gen_cxx if sys.argv[1] == "cxx" else gen_git)(n, sys.argv[3])


if __name__ == "__main__":
    main()
