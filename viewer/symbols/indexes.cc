#include "indexes.h"

#include "symbolizer.h"

#include <dwarf.h>
#include <gelf.h>

#include <algorithm>
#include <map>
#include <utility>

namespace heaplens::symbols::detail {

// --- symbols ---------------------------------------------------------------------------------

void SymbolIndex::build(Dwfl_Module* mod) {
  syms_.clear();
  max_end_.clear();
  int n = dwfl_module_getsymtab(mod);
  if (n <= 0) return;
  std::map<std::pair<Elf*, GElf_Word>, bool> executable;  // (file, section) -> SHF_EXECINSTR
  syms_.reserve(static_cast<std::size_t>(n));
  for (int i = 1; i < n; ++i) {  // entry 0 is the null symbol
    GElf_Sym sym;
    GElf_Addr addr = 0;
    GElf_Word shndx = 0;
    Elf* elf = nullptr;
    Dwarf_Addr bias = 0;
    const char* name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, &elf, &bias);
    if (name == nullptr || name[0] == '\0') continue;
    int type = GELF_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE) continue;
    if (shndx == SHN_UNDEF || shndx == SHN_ABS || shndx == SHN_COMMON || elf == nullptr) continue;
    // Only symbols of code sections: no _edata, __bss_start and other data labels.
    auto key = std::make_pair(elf, shndx);
    auto it = executable.find(key);
    if (it == executable.end()) {
      bool exec = false;
      if (Elf_Scn* scn = elf_getscn(elf, shndx)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) != nullptr) exec = (shdr.sh_flags & SHF_EXECINSTR) != 0;
      }
      it = executable.emplace(key, exec).first;
    }
    if (!it->second) continue;
    int binding = GELF_ST_BIND(sym.st_info);
    int rank = (type == STT_NOTYPE ? 0 : 8) +
               (binding == STB_GLOBAL || binding == STB_GNU_UNIQUE ? 3 : binding == STB_WEAK ? 2 : 1);
    GElf_Addr end = addr + sym.st_size;
    if (end < addr) end = addr;  // overflowing size: treat as size-less
    syms_.push_back({addr, end, name, rank});
  }
  // By start; at one start the best alias first (stable: table order breaks ties).
  std::stable_sort(syms_.begin(), syms_.end(), [](const Sym& a, const Sym& b) {
    if (a.start != b.start) return a.start < b.start;
    return a.rank > b.rank;
  });
  max_end_.resize(syms_.size());
  GElf_Addr m = 0;
  for (std::size_t i = 0; i < syms_.size(); ++i) {
    m = std::max(m, syms_[i].end);
    max_end_[i] = m;
  }
}

const char* SymbolIndex::find(GElf_Addr addr, bool* sized) const {
  if (sized != nullptr) *sized = false;
  auto it = std::upper_bound(syms_.begin(), syms_.end(), addr,
                             [](GElf_Addr a, const Sym& s) { return a < s.start; });
  if (it == syms_.begin()) return nullptr;
  std::size_t last = static_cast<std::size_t>(it - syms_.begin()) - 1;
  // The sized symbol containing addr with the closest start; of those at that start, the
  // best ranked (they come first at equal starts).
  const Sym* best = nullptr;
  for (std::size_t j = last + 1; j-- > 0 && max_end_[j] > addr;) {
    const Sym& s = syms_[j];
    if (best != nullptr && s.start != best->start) break;
    if (s.end > addr) best = &s;  // walking backwards: a better rank at the same start overrides
  }
  if (best != nullptr) {
    if (sized != nullptr) *sized = true;
    return best->name;
  }
  // A size-less label right below addr (hand-written assembly).
  GElf_Addr start = syms_[last].start;
  const Sym* label = nullptr;
  for (std::size_t j = last + 1; j-- > 0 && syms_[j].start == start;)
    if (syms_[j].end == syms_[j].start) label = &syms_[j];
  return label != nullptr ? label->name : nullptr;
}

// --- functions of a CU -----------------------------------------------------------------------

namespace {
constexpr int kMaxLevel = 512;   // DIE nesting; deeper trees are malformed
constexpr int kMaxImports = 8;   // DW_TAG_imported_unit chains
}  // namespace

void FunctionIndex::walk(Dwarf_Die* die, int parent, int depth, int scope, int level, int imports) {
  if (level > kMaxLevel) return;
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return;
  while (true) {
    int tag = dwarf_tag(&child);
    int node = parent;
    int child_depth = depth;
    int child_scope = scope;
    if (tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
        tag == DW_TAG_union_type || tag == DW_TAG_subprogram) {
      child_scope = static_cast<int>(scopes_.size());
      scopes_.push_back({child, scope});
      scope_of_.emplace(dwarf_dieoffset(&child), child_scope);
    }
    if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine || tag == DW_TAG_entry_point) {
      int self = static_cast<int>(nodes_.size());
      bool any = false;
      Dwarf_Addr base = 0, lo = 0, hi = 0;
      ptrdiff_t offset = 0;
      int guard = 0;
      while ((offset = dwarf_ranges(&child, offset, &base, &lo, &hi)) > 0 && ++guard < 65536) {
        if (hi > lo) {
          ranges_.push_back({lo, hi, self});
          any = true;
        }
      }
      if (any) {
        nodes_.push_back({child, parent, depth + 1});
        node = self;
        child_depth = depth + 1;
      }
    } else if (tag == DW_TAG_imported_unit && imports < kMaxImports) {
      Dwarf_Attribute attr;
      Dwarf_Die unit;
      if (dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &attr), &unit) != nullptr)
        walk(&unit, parent, depth, scope, level + 1, imports + 1);
    }
    if (dwarf_haschildren(&child) > 0) walk(&child, node, child_depth, child_scope, level + 1, imports);
    Dwarf_Die next;
    if (dwarf_siblingof(&child, &next) != 0) break;
    child = next;
  }
}

void FunctionIndex::build(Dwarf_Die* cudie) {
  nodes_.clear();
  ranges_.clear();
  max_end_.clear();
  walk(cudie, -1, 0, -1, 0, 0);
  std::stable_sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  max_end_.resize(ranges_.size());
  Dwarf_Addr m = 0;
  for (std::size_t i = 0; i < ranges_.size(); ++i) {
    m = std::max(m, ranges_[i].hi);
    max_end_[i] = m;
  }
}

std::vector<Dwarf_Die> FunctionIndex::chain(Dwarf_Addr addr) const {
  std::vector<Dwarf_Die> out;
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](Dwarf_Addr a, const Range& r) { return a < r.lo; });
  // Ranges of nested functions lie inside their parents', so of the ranges containing addr
  // the one starting last is the innermost (at equal starts: the deepest).
  int best = -1;
  Dwarf_Addr best_lo = 0;
  for (std::size_t j = static_cast<std::size_t>(it - ranges_.begin()); j-- > 0 && max_end_[j] > addr;) {
    const Range& r = ranges_[j];
    if (best >= 0 && r.lo < best_lo) break;
    if (r.hi > addr && (best < 0 || nodes_[static_cast<std::size_t>(r.node)].depth >
                                        nodes_[static_cast<std::size_t>(best)].depth)) {
      best = r.node;
      best_lo = r.lo;
    }
  }
  for (int n = best, guard = 0; n >= 0 && guard < kMaxLevel; ++guard) {
    const Node& node = nodes_[static_cast<std::size_t>(n)];
    Dwarf_Die die = node.die;
    out.push_back(die);
    // The innermost out-of-line function ends the chain (a GNU C nested function's enclosing
    // function is not its caller).
    if (dwarf_tag(&die) != DW_TAG_inlined_subroutine) break;
    n = node.parent;
  }
  return out;
}

std::string FunctionIndex::name(Dwarf_Die* die) const {
  Dwarf_Attribute attr;
  const char* linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
  if (linkage == nullptr) linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
  if (linkage != nullptr) return demangle(linkage);
  return qualified(die, 0);
}

std::string FunctionIndex::qualified(Dwarf_Die* die, int level) const {
  // The declaration: follow the concrete/inlined instance to its abstract origin, and a
  // definition to its in-class declaration.
  Dwarf_Die decl = *die;
  for (int hop = 0; hop < 8; ++hop) {
    Dwarf_Attribute attr;
    Dwarf_Die next;
    if (dwarf_formref_die(dwarf_attr(&decl, DW_AT_abstract_origin, &attr), &next) == nullptr &&
        dwarf_formref_die(dwarf_attr(&decl, DW_AT_specification, &attr), &next) == nullptr)
      break;
    decl = next;
  }
  const char* own = dwarf_diename(&decl);
  std::string name = own != nullptr ? own : "";
  if (name.empty() || level > 8) return name;
  auto it = scope_of_.find(dwarf_dieoffset(&decl));
  if (it == scope_of_.end()) return name;  // declared in another unit: unqualified
  std::string prefix;
  for (int p = scopes_[static_cast<std::size_t>(it->second)].parent, guard = 0; p >= 0 && guard < 64; ++guard) {
    const Scope& s = scopes_[static_cast<std::size_t>(p)];
    Dwarf_Die sd = s.die;
    int tag = dwarf_tag(&sd);
    std::string part;
    if (tag == DW_TAG_subprogram) {
      // A local type's member: "outer_function()::type::member"; the function names itself.
      part = qualified(&sd, level + 1);
      prefix = (part.empty() ? std::string("{function}") : part) + "::" + prefix;
      break;
    }
    const char* n = dwarf_diename(&sd);
    if (n != nullptr)
      part = n;
    else
      part = tag == DW_TAG_namespace ? "(anonymous namespace)"
                                     : tag == DW_TAG_union_type ? "{unnamed union}" : "{unnamed type}";
    prefix = part + "::" + prefix;
    p = s.parent;
  }
  return prefix + name;
}

}  // namespace heaplens::symbols::detail
