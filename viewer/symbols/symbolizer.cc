// The symbolizer: one offline Dwfl per ELF file (path + recorded build-id), each holding that
// file alone, reported at base 0, so that every process image's addresses translate to the
// file's own addresses and no two modules of one Dwfl can overlap.
#include "symbolizer.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "debuginfo.h"
#include "indexes.h"

namespace heaplens::symbols {
namespace {

// What one file address resolves to (the module-independent part of a Location).
struct Resolved {
  std::string function, file;
  std::uint32_t line = 0, column = 0;
  std::vector<InlineFrame> inlined;
};

struct ElfFile {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  GElf_Addr bias = 0;  // Dwfl address = file address + bias (0 in practice: reported at base 0)
  std::unordered_map<std::uint64_t, Resolved> cache;
  bool symbols_built = false;
  detail::SymbolIndex symbols;
  std::unordered_map<Dwarf_Off, std::unique_ptr<detail::FunctionIndex>> cus;  // by CU DIE offset

  ElfFile() = default;
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  ~ElfFile() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

bool is_pseudo(const std::string& path) {
  return path.empty() || path[0] == '[' || path == "linux-vdso.so.1" || path == "linux-gate.so.1" ||
         path == "linux-vdso64.so.1" || path == "linux-vdso32.so.1";
}

std::string hex(const unsigned char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

std::string file_key(const ModuleRef& m) {
  std::string key = m.path;
  key += '\0';
  key += hex(m.build_id.data(), m.build_id.size());
  return key;
}

// DW_AT_call_file / DW_AT_call_line of an inlined subroutine: where it was inlined.
void call_site(Dwarf_Die* inlined, std::string* file, std::uint32_t* line) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &value) == 0)
    *line = static_cast<std::uint32_t>(value);
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &value) == 0) {
    Dwarf_Die cu;
    Dwarf_Files* files = nullptr;
    std::size_t nfiles = 0;
    if (dwarf_diecu(inlined, &cu, nullptr, nullptr) != nullptr &&
        dwarf_getsrcfiles(&cu, &files, &nfiles) == 0 && value < nfiles) {
      if (const char* name = dwarf_filesrc(files, value, nullptr, nullptr)) *file = name;
    }
  }
}

}  // namespace

struct Symbolizer::Impl {
  detail::DebuginfoContext context;
  char* debuginfo_path = nullptr;  // points into context.debuginfo_path, as libdwfl wants it
  Dwfl_Callbacks callbacks{};
  std::unordered_map<std::string, std::unique_ptr<ElfFile>> files;  // null: unusable
  std::vector<std::string> problems;
  std::unordered_set<std::string> problem_keys;  // paths with a line in `problems`

  // The file of the previous resolve, to skip building a key for runs of pcs in one module.
  std::string last_path;
  std::vector<std::uint8_t> last_build_id;
  ElfFile* last_file = nullptr;
  bool have_last = false;

  explicit Impl(SymbolizerOptions options) {
    context.debuginfo_path =
        options.debuginfo_path.empty() ? ":.debug:/usr/lib/debug" : std::move(options.debuginfo_path);
    debuginfo_path = context.debuginfo_path.data();
    callbacks.find_elf = dwfl_build_id_find_elf;
    callbacks.find_debuginfo = detail::find_debuginfo;
    callbacks.section_address = dwfl_offline_section_address;
    callbacks.debuginfo_path = &debuginfo_path;
  }

  // One line per file path, whatever build-ids were recorded for it.
  void problem(const std::string& path, std::string line) {
    if (problem_keys.insert(path).second) problems.push_back(std::move(line));
  }

  ElfFile* file_for(const ModuleRef& m) {
    if (have_last && m.path == last_path && m.build_id == last_build_id) return last_file;
    std::string key = file_key(m);
    auto it = files.find(key);
    if (it == files.end()) it = files.emplace(key, open(m)).first;
    last_path = m.path;
    last_build_id = m.build_id;
    last_file = it->second.get();
    have_last = true;
    return last_file;
  }

  std::unique_ptr<ElfFile> open(const ModuleRef& m) {
    const std::string& key = m.path;
    struct stat st;
    if (::stat(m.path.c_str(), &st) != 0) {
      problem(key, m.path + ": cannot open: " + std::strerror(errno));
      return nullptr;
    }
    if (!S_ISREG(st.st_mode)) {  // a directory, a FIFO (open would block), a device
      problem(key, m.path + ": not a regular file");
      return nullptr;
    }
    auto f = std::make_unique<ElfFile>();
    f->dwfl = dwfl_begin(&callbacks);
    if (f->dwfl == nullptr) {
      problem(key, m.path + ": " + dwfl_errmsg(-1));
      return nullptr;
    }
    dwfl_report_begin(f->dwfl);
    f->mod = dwfl_report_elf(f->dwfl, m.path.c_str(), m.path.c_str(), -1, 0, true);
    if (f->mod == nullptr) {
      problem(key, m.path + ": not a usable ELF file (" + dwfl_errmsg(-1) + ")");
      return nullptr;
    }
    dwfl_report_end(f->dwfl, nullptr, nullptr);
    if (dwfl_module_getelf(f->mod, &f->bias) == nullptr) {
      problem(key, m.path + ": not a usable ELF file (" + dwfl_errmsg(-1) + ")");
      return nullptr;
    }
    if (!m.build_id.empty()) {
      const unsigned char* bits = nullptr;
      GElf_Addr vaddr = 0;
      int n = dwfl_module_build_id(f->mod, &bits, &vaddr);
      if (n <= 0) {
        problem(key, m.path + ": has no build-id, but the recorded one is " +
                         hex(m.build_id.data(), m.build_id.size()) + " (rebuilt since the run?)");
        return nullptr;
      }
      if (static_cast<std::size_t>(n) != m.build_id.size() ||
          std::memcmp(bits, m.build_id.data(), m.build_id.size()) != 0) {
        problem(key, m.path + ": build-id " + hex(bits, static_cast<std::size_t>(n)) +
                         " differs from the recorded one " + hex(m.build_id.data(), m.build_id.size()) +
                         " (rebuilt since the run?)");
        return nullptr;
      }
    }
    void** userdata = nullptr;
    dwfl_module_info(f->mod, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    if (userdata != nullptr) *userdata = &context;
    return f;
  }

  static Resolved lookup(ElfFile& f, std::uint64_t file_addr) {
    Resolved r;
    Dwarf_Addr addr = file_addr + f.bias;

    if (!f.symbols_built) {
      f.symbols.build(f.mod);
      f.symbols_built = true;
    }
    bool sized = false;
    const char* sym_name = f.symbols.find(addr, &sized);
    std::string symbol;
    if (sym_name != nullptr) {
      // "__libc_start_main@@GLIBC_2.34": the symbol table's version suffix is not part of
      // the function's name (and would keep suppressions like ^__libc_start_main$ from
      // matching).
      std::string_view name(sym_name);
      if (auto at = name.find('@'); at != std::string_view::npos && at > 0) name = name.substr(0, at);
      symbol = demangle(std::string(name));
    }

    if (Dwfl_Line* line = dwfl_module_getsrc(f.mod, addr)) {
      Dwarf_Addr line_addr = 0;
      int lineno = 0, column = 0;
      if (const char* src = dwfl_lineinfo(line, &line_addr, &lineno, &column, nullptr, nullptr)) {
        r.file = src;
        r.line = lineno > 0 ? static_cast<std::uint32_t>(lineno) : 0;
        r.column = column > 0 ? static_cast<std::uint32_t>(column) : 0;
      }
    }

    std::vector<Dwarf_Die> chain;
    const detail::FunctionIndex* index = nullptr;
    Dwarf_Addr cu_bias = 0;
    if (Dwarf_Die* cudie = dwfl_module_addrdie(f.mod, addr, &cu_bias)) {
      std::unique_ptr<detail::FunctionIndex>& slot = f.cus[dwarf_dieoffset(cudie)];
      if (!slot) {
        slot = std::make_unique<detail::FunctionIndex>();
        slot->build(cudie);
      }
      index = slot.get();
      chain = index->chain(addr - cu_bias);
    }

    if (chain.empty()) {
      r.function = std::move(symbol);
      return r;
    }
    // The outermost function is the one the symbol table names when a symbol's size covers
    // the address (with its parameters, clone suffixes, aliases as the linker saw them); DWARF
    // names the ones inlined into it, and the outermost one too otherwise.
    bool use_symbol = sized && !symbol.empty();
    r.function = chain.size() == 1 && use_symbol ? symbol : index->name(&chain[0]);
    if (r.function.empty()) r.function = symbol;
    for (std::size_t i = 1; i < chain.size(); ++i) {
      InlineFrame frame;
      frame.function = i + 1 == chain.size() && use_symbol ? symbol : index->name(&chain[i]);
      call_site(&chain[i - 1], &frame.file, &frame.line);
      r.inlined.push_back(std::move(frame));
    }
    return r;
  }

  Location resolve(const std::vector<ModuleRef>& modules, std::uint64_t pc) {
    Location loc;
    const ModuleRef* m = nullptr;
    for (const ModuleRef& r : modules)
      if (r.start <= pc && pc < r.end) m = &r;  // the last one wins
    if (m == nullptr) return loc;
    loc.module = m->path;
    loc.offset = pc - m->load_bias;
    if (is_pseudo(m->path)) return loc;
    ElfFile* f = file_for(*m);
    if (f == nullptr) return loc;
    // A return address: the call instruction is the byte before it.
    std::uint64_t file_addr = loc.offset > 0 ? loc.offset - 1 : 0;
    auto it = f->cache.find(file_addr);
    if (it == f->cache.end()) it = f->cache.emplace(file_addr, lookup(*f, file_addr)).first;
    const Resolved& r = it->second;
    loc.function = r.function;
    loc.file = r.file;
    loc.line = r.line;
    loc.column = r.column;
    loc.inlined = r.inlined;
    return loc;
  }
};

Symbolizer::Symbolizer() : Symbolizer(SymbolizerOptions{}) {}

Symbolizer::Symbolizer(SymbolizerOptions options) {
  try {
    impl_ = std::make_unique<Impl>(std::move(options));
  } catch (...) {
    impl_.reset();
  }
}

Symbolizer::~Symbolizer() = default;

Location Symbolizer::resolve(const std::vector<ModuleRef>& modules, std::uint64_t pc) {
  if (!impl_) return {};
  try {
    return impl_->resolve(modules, pc);
  } catch (...) {
    // Out of memory while building strings: what is known without the file.
    try {
      Location loc;
      for (const ModuleRef& r : modules)
        if (r.start <= pc && pc < r.end) {
          loc.module = r.path;
          loc.offset = pc - r.load_bias;
        }
      return loc;
    } catch (...) {
      return {};
    }
  }
}

std::vector<std::string> Symbolizer::problems() const {
  if (!impl_) return {};
  try {
    return impl_->problems;
  } catch (...) {
    return {};
  }
}

}  // namespace heaplens::symbols
