// The symbolizer against real return addresses: fixture objects are dlopen'ed (or run, for
// the executables), their call sites record __builtin_return_address, and the module table is
// built with dl_iterate_phdr exactly as the tracker builds it.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fixture_modules.h"
#include "fixture_site.h"
#include "symbolizer.h"

namespace fs = std::filesystem;
using heaplens::symbols::Location;
using heaplens::symbols::ModuleRef;
using heaplens::symbols::Symbolizer;
using heaplens::symbols::SymbolizerOptions;

namespace {

std::vector<ModuleRef> to_refs(const std::vector<symfix::Module>& mods) {
  std::vector<ModuleRef> refs;
  for (const symfix::Module& m : mods) refs.push_back({m.path, m.build_id, m.load_bias, m.start, m.end});
  return refs;
}

std::vector<ModuleRef> current_modules() { return to_refs(symfix::collect_modules()); }

const ModuleRef* find_module(const std::vector<ModuleRef>& refs, const std::string& path) {
  for (const ModuleRef& r : refs)
    if (r.path == path) return &r;
  return nullptr;
}

std::string base(const std::string& path) { return fs::path(path).filename().string(); }

void* open_fixture(const char* path) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  INFO(path << ": " << (h == nullptr ? dlerror() : ""));
  REQUIRE(h != nullptr);
  return h;  // never closed: the addresses stay valid for the whole run
}

template <typename F>
F fixture_fn(void* handle, const char* name) {
  void* p = dlsym(handle, name);
  INFO(name);
  REQUIRE(p != nullptr);
  return reinterpret_cast<F>(p);
}

using SiteFn = int (*)(sym_site*);
using MakeFn = int (*)(int, sym_site*);

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "heaplens-sym-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string hex(const std::vector<std::uint8_t>& v) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t c : v) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

void check_site(const Location& l, const sym_site& s, const std::string& function, const std::string& file) {
  INFO("function=" << l.function << " file=" << l.file << ":" << l.line << " module=" << l.module);
  CHECK(l.function == function);
  CHECK(base(l.file) == file);
  CHECK(l.line == static_cast<std::uint32_t>(s.line));
  CHECK(l.inlined.empty());
}

}  // namespace

TEST_CASE("C++, anonymous-namespace and C call sites of a -O0 shared library", "[symbols]") {
  void* h = open_fixture(SYM_LIB);
  sym_site make{}, hidden{}, c{};
  fixture_fn<MakeFn>(h, "sym_lib_make")(1, &make);
  fixture_fn<SiteFn>(h, "sym_lib_hidden")(&hidden);
  fixture_fn<SiteFn>(h, "sym_lib_c_entry")(&c);
  std::vector<ModuleRef> refs = current_modules();
  const ModuleRef* lib = find_module(refs, SYM_LIB);
  REQUIRE(lib != nullptr);
  REQUIRE(!lib->build_id.empty());

  Symbolizer sym;
  Location l = sym.resolve(refs, reinterpret_cast<std::uint64_t>(make.pc));
  CHECK(l.module == SYM_LIB);
  CHECK(l.offset == reinterpret_cast<std::uint64_t>(make.pc) - lib->load_bias);
  check_site(l, make, "ns::Widget::make(int, sym_site*)", "sym_lib.cc");
  CHECK(l.column > 0);
  check_site(sym.resolve(refs, reinterpret_cast<std::uint64_t>(hidden.pc)), hidden,
             "(anonymous namespace)::hidden_helper(sym_site*)", "sym_lib.cc");
  check_site(sym.resolve(refs, reinterpret_cast<std::uint64_t>(c.pc)), c, "sym_lib_c_entry", "sym_lib.cc");
  // Again, from the cache.
  check_site(sym.resolve(refs, reinterpret_cast<std::uint64_t>(make.pc)), make,
             "ns::Widget::make(int, sym_site*)", "sym_lib.cc");
  CHECK(sym.problems().empty());

  SECTION("the same file mapped elsewhere (another process) resolves the same") {
    const std::uint64_t shift = 0x10000000;
    std::vector<ModuleRef> moved{*lib};
    moved[0].load_bias += shift;
    moved[0].start += shift;
    moved[0].end += shift;
    Location m = sym.resolve(moved, reinterpret_cast<std::uint64_t>(make.pc) + shift);
    CHECK(m.offset == l.offset);
    check_site(m, make, "ns::Widget::make(int, sym_site*)", "sym_lib.cc");
  }
  SECTION("an unknown (empty) build-id is not checked") {
    std::vector<ModuleRef> no_id{*lib};
    no_id[0].build_id.clear();
    check_site(sym.resolve(no_id, reinterpret_cast<std::uint64_t>(c.pc)), c, "sym_lib_c_entry", "sym_lib.cc");
    CHECK(sym.problems().empty());
  }
  SECTION("of overlapping modules the last one wins") {
    ModuleRef other{"/nonexistent/heaplens/other.so", {}, lib->load_bias, lib->start, lib->end};
    std::vector<ModuleRef> v{other, *lib};
    check_site(sym.resolve(v, reinterpret_cast<std::uint64_t>(c.pc)), c, "sym_lib_c_entry", "sym_lib.cc");
    std::vector<ModuleRef> w{*lib, other};
    Location o = sym.resolve(w, reinterpret_cast<std::uint64_t>(c.pc));
    CHECK(o.module == other.path);
    CHECK(o.function.empty());
    CHECK(o.offset == l.offset + (reinterpret_cast<std::uint64_t>(c.pc) - reinterpret_cast<std::uint64_t>(make.pc)));
  }
}

TEST_CASE("inlined frames: the inlined function and the chain it was inlined into", "[symbols][inline]") {
  void* h = open_fixture(SYM_INLINE);
  sym_site s{};
  reinterpret_cast<void (*)(sym_site*)>(fixture_fn<void*>(h, "sym_inline_entry"))(&s);
  std::vector<ModuleRef> refs = current_modules();
  Symbolizer sym;
  Location l = sym.resolve(refs, reinterpret_cast<std::uint64_t>(s.pc));
  INFO("function=" << l.function << " file=" << l.file << ":" << l.line);
  CHECK(l.module == SYM_INLINE);
  CHECK(l.function == "ns::inner(sym_site*, int)");
  CHECK(base(l.file) == "sym_inline.cc");
  CHECK(l.line == static_cast<std::uint32_t>(s.line));
  REQUIRE(l.inlined.size() == 2);
  CHECK(l.inlined[0].function == "ns::middle(sym_site*, int)");
  CHECK(base(l.inlined[0].file) == "sym_inline.cc");
  CHECK(l.inlined[0].line == static_cast<std::uint32_t>(s.caller_lines[0]));
  CHECK(l.inlined[1].function == "sym_inline_entry");
  CHECK(base(l.inlined[1].file) == "sym_inline.cc");
  CHECK(l.inlined[1].line == static_cast<std::uint32_t>(s.caller_lines[1]));
  CHECK(sym.problems().empty());

  SECTION("an inlined function without linkage name is named from its DWARF scopes") {
    sym_site c{};
    reinterpret_cast<void (*)(sym_site*)>(fixture_fn<void*>(h, "sym_inline_ctor"))(&c);
    Location lc = sym.resolve(refs, reinterpret_cast<std::uint64_t>(c.pc));
    INFO("function=" << lc.function << " file=" << lc.file << ":" << lc.line);
    CHECK(lc.function == "ns::(anonymous namespace)::Gadget::Gadget");
    CHECK(lc.line == static_cast<std::uint32_t>(c.line));
    REQUIRE(lc.inlined.size() == 1);
    CHECK(lc.inlined[0].function == "sym_inline_ctor");
    CHECK(lc.inlined[0].line == static_cast<std::uint32_t>(c.caller_lines[0]));
  }
}

namespace {

struct ProgRun {
  std::vector<ModuleRef> modules;
  struct Site {
    std::uint64_t pc;
    int line;
    std::string function;
  };
  std::vector<Site> sites;
};

ProgRun run_prog(const char* path) {
  ProgRun run;
  FILE* p = popen(path, "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  REQUIRE(pclose(p) == 0);
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "module") {
      ModuleRef m;
      std::string id;
      in >> std::hex >> m.load_bias >> m.start >> m.end >> id;
      if (id != "-")
        for (std::size_t i = 0; i + 1 < id.size(); i += 2)
          m.build_id.push_back(static_cast<std::uint8_t>(std::stoul(id.substr(i, 2), nullptr, 16)));
      std::getline(in >> std::ws, m.path);
      run.modules.push_back(m);
    } else if (kind == "site") {
      ProgRun::Site s;
      in >> std::hex >> s.pc >> std::dec >> s.line >> std::ws;
      std::getline(in, s.function);
      run.sites.push_back(s);
    }
  }
  return run;
}

}  // namespace

TEST_CASE("PIE and non-PIE (ET_EXEC) executables", "[symbols][exe]") {
  for (const char* prog : {SYM_PROG_PIE, SYM_PROG_NOPIE}) {
    INFO(prog);
    ProgRun run = run_prog(prog);
    REQUIRE(run.sites.size() == 2);
    const ModuleRef* exe = find_module(run.modules, fs::canonical(prog).string());
    REQUIRE(exe != nullptr);
    CHECK(!exe->build_id.empty());
    if (std::string(prog) == SYM_PROG_NOPIE)
      CHECK(exe->load_bias == 0);
    else
      CHECK(exe->load_bias != 0);
    Symbolizer sym;
    for (const ProgRun::Site& s : run.sites) {
      Location l = sym.resolve(run.modules, s.pc);
      INFO(s.function << " -> " << l.function << " " << l.file << ":" << l.line);
      CHECK(l.module == exe->path);
      CHECK(l.offset == s.pc - exe->load_bias);
      CHECK(l.function == s.function);
      CHECK(base(l.file) == "sym_prog.cc");
      CHECK(l.line == static_cast<std::uint32_t>(s.line));
    }
    CHECK(sym.problems().empty());
  }
}

TEST_CASE("separate debug info: by build-id, by debuglink, or none", "[symbols][debuginfo]") {
  SECTION("stripped to .dynsym, no debug file found: exported names only") {
    void* h = open_fixture(SYM_LIB_STRIP);
    sym_site make{}, c{};
    fixture_fn<MakeFn>(h, "sym_lib_make")(1, &make);
    fixture_fn<SiteFn>(h, "sym_lib_c_entry")(&c);
    std::vector<ModuleRef> refs = current_modules();
    Symbolizer sym;
    Location l = sym.resolve(refs, reinterpret_cast<std::uint64_t>(make.pc));
    CHECK(l.module == SYM_LIB_STRIP);
    CHECK(l.function == "ns::Widget::make(int, sym_site*)");
    CHECK(l.file.empty());
    CHECK(l.line == 0);
    Location lc = sym.resolve(refs, reinterpret_cast<std::uint64_t>(c.pc));
    CHECK(lc.function == "sym_lib_c_entry");
    CHECK(sym.problems().empty());

    SECTION("the debug file under <debuginfo path>/.build-id/xx/yyyy.debug") {
      const ModuleRef* lib = find_module(refs, SYM_LIB_STRIP);
      REQUIRE(lib != nullptr);
      std::string id = hex(lib->build_id);
      REQUIRE(id.size() > 2);
      TempDir dir;
      fs::path dbg = dir.path / ".build-id" / id.substr(0, 2);
      fs::create_directories(dbg);
      fs::create_symlink(SYM_LIB_STRIP_DEBUG, dbg / (id.substr(2) + ".debug"));
      Symbolizer with_debug(SymbolizerOptions{dir.path.string()});
      check_site(with_debug.resolve(refs, reinterpret_cast<std::uint64_t>(make.pc)), make,
                 "ns::Widget::make(int, sym_site*)", "sym_lib.cc");
      check_site(with_debug.resolve(refs, reinterpret_cast<std::uint64_t>(c.pc)), c, "sym_lib_c_entry",
                 "sym_lib.cc");
      sym_site hidden{};
      fixture_fn<SiteFn>(h, "sym_lib_hidden")(&hidden);
      check_site(with_debug.resolve(refs, reinterpret_cast<std::uint64_t>(hidden.pc)), hidden,
                 "(anonymous namespace)::hidden_helper(sym_site*)", "sym_lib.cc");
      CHECK(with_debug.problems().empty());
    }
  }
  SECTION("the debug file named by .gnu_debuglink, next to the library") {
    void* h = open_fixture(SYM_LIB_LINK);
    sym_site make{}, hidden{};
    fixture_fn<MakeFn>(h, "sym_lib_make")(1, &make);
    fixture_fn<SiteFn>(h, "sym_lib_hidden")(&hidden);
    std::vector<ModuleRef> refs = current_modules();
    Symbolizer sym;
    check_site(sym.resolve(refs, reinterpret_cast<std::uint64_t>(make.pc)), make,
               "ns::Widget::make(int, sym_site*)", "sym_lib.cc");
    check_site(sym.resolve(refs, reinterpret_cast<std::uint64_t>(hidden.pc)), hidden,
               "(anonymous namespace)::hidden_helper(sym_site*)", "sym_lib.cc");
    CHECK(sym.problems().empty());
  }
}

TEST_CASE("a build-id mismatch gives module+offset and one problem line", "[symbols][buildid]") {
  void* h = open_fixture(SYM_LIB);
  sym_site make{}, c{};
  fixture_fn<MakeFn>(h, "sym_lib_make")(1, &make);
  fixture_fn<SiteFn>(h, "sym_lib_c_entry")(&c);
  std::vector<ModuleRef> refs = current_modules();
  const ModuleRef* lib = find_module(refs, SYM_LIB);
  REQUIRE(lib != nullptr);
  std::vector<ModuleRef> wrong{*lib};
  wrong[0].build_id[0] ^= 0xff;
  Symbolizer sym;
  for (const sym_site* s : {&make, &c, &make}) {
    Location l = sym.resolve(wrong, reinterpret_cast<std::uint64_t>(s->pc));
    CHECK(l.module == SYM_LIB);
    CHECK(l.offset == reinterpret_cast<std::uint64_t>(s->pc) - lib->load_bias);
    CHECK(l.function.empty());
    CHECK(l.file.empty());
    CHECK(l.line == 0);
  }
  std::vector<std::string> problems = sym.problems();
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find(SYM_LIB) != std::string::npos);
  CHECK(problems[0].find("build-id") != std::string::npos);
  // The right build-id still works in the same symbolizer.
  check_site(sym.resolve(refs, reinterpret_cast<std::uint64_t>(c.pc)), c, "sym_lib_c_entry", "sym_lib.cc");
  CHECK(sym.problems().size() == 1);
}

TEST_CASE("a pc in no module, and pseudo-modules", "[symbols]") {
  std::vector<ModuleRef> refs = current_modules();
  Symbolizer sym;
  Location none = sym.resolve(refs, 8);
  CHECK(none.module.empty());
  CHECK(none.offset == 0);
  CHECK(none.function.empty());
  CHECK(sym.resolve({}, 0x1234).module.empty());
  CHECK(sym.resolve(refs, ~std::uint64_t{0}).module.empty());

  ModuleRef vdso{"linux-vdso.so.1", {1, 2, 3}, 0x7fff0000, 0x7fff0000, 0x7fff2000};
  ModuleRef bracket{"[vdso]", {}, 0x7ffe0000, 0x7ffe0000, 0x7ffe2000};
  Location v = sym.resolve({vdso, bracket}, 0x7fff0100);
  CHECK(v.module == "linux-vdso.so.1");
  CHECK(v.offset == 0x100);
  CHECK(v.function.empty());
  CHECK(sym.resolve({vdso, bracket}, 0x7ffe0010).module == "[vdso]");
  CHECK(sym.problems().empty());
}

TEST_CASE("odd files give module+offset and a problem line, never a crash", "[symbols][robust]") {
  TempDir dir;
  std::vector<std::string> paths;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::string p = (dir.path / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    paths.push_back(p);
  };
  write("text.so", "this is not an ELF file\n");
  write("empty.so", "");
  std::mt19937 rng(42);
  std::string garbage(65536, '\0');
  for (char& ch : garbage) ch = static_cast<char>(rng());
  write("garbage.so", garbage);
  write("elf-magic-only.so", std::string("\x7f" "ELF\x02\x01\x01", 7) + garbage.substr(0, 1000));

  std::ifstream in(SYM_LIB, std::ios::binary);
  std::string elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(elf.size() > 8192);
  for (std::size_t size : {std::size_t{16}, std::size_t{64}, std::size_t{65}, std::size_t{200}, std::size_t{1000},
                           std::size_t{4096}, elf.size() / 2, elf.size() - 1})
    write("truncated-" + std::to_string(size) + ".so", elf.substr(0, size));
  // A valid ELF header whose section and program header tables point far outside the file.
  std::string bad = elf.substr(0, 4096);
  for (std::size_t off : {std::size_t{0x20}, std::size_t{0x28}})  // e_phoff, e_shoff (ELF64)
    for (std::size_t i = 0; i < 8; ++i) bad[off + i] = static_cast<char>(0x7f);
  write("bad-offsets.so", bad);

  std::string subdir = (dir.path / "a-directory.so").string();
  fs::create_directory(subdir);
  paths.push_back(subdir);
  std::string fifo = (dir.path / "fifo.so").string();
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  paths.push_back(fifo);
  paths.push_back((dir.path / "missing.so").string());

  Symbolizer sym;
  for (const std::string& p : paths) {
    INFO(p);
    std::vector<ModuleRef> refs{{p, {}, 0x10000, 0x10000, 0x80000}};
    for (std::uint64_t pc : {0x10000ull, 0x10001ull, 0x10100ull, 0x11234ull, 0x7ffffull}) {
      Location l = sym.resolve(refs, pc);
      CHECK(l.module == p);
      CHECK(l.offset == pc - 0x10000);
    }
    std::vector<ModuleRef> with_id{{p, {0xab, 0xcd}, 0x10000, 0x10000, 0x80000}};
    CHECK(sym.resolve(with_id, 0x10100).function.empty());
  }
  std::vector<std::string> problems = sym.problems();
  for (const char* name : {"text.so", "empty.so", "garbage.so", "a-directory.so", "fifo.so", "missing.so"}) {
    std::string p = (dir.path / name).string();
    int lines = 0;
    for (const std::string& line : problems) lines += line.rfind(p + ":", 0) == 0;
    INFO(p);
    CHECK(lines == 1);  // one per file, whatever build-ids were recorded
  }
}
