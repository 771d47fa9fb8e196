// Lookup indexes the symbolizer builds once per file / per compilation unit (internal).
//
// libdwfl's own lookups scan: dwfl_module_addrinfo walks the whole symbol table and
// dwarf_getscopes walks the whole CU's DIE tree on every call, which costs milliseconds per pc
// in big C++ CUs. These indexes are built with one pass and answer by binary search.
#pragma once

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace heaplens::symbols::detail {

// The module's code symbols (.symtab, or .dynsym, or the debug file's .symtab), sorted.
class SymbolIndex {
 public:
  void build(Dwfl_Module* mod);
  // The symbol `addr` (a Dwfl address) lies in: the closest sized symbol containing it (of
  // aliases: function over untyped, global over weak over local), else a size-less label
  // right below it. The name is the raw (mangled) one, owned by the ELF data; null if none.
  // *sized (if given) says whether the symbol's size covers addr (not a size-less guess).
  const char* find(GElf_Addr addr, bool* sized = nullptr) const;

 private:
  struct Sym {
    GElf_Addr start, end;  // end == start: size unknown
    const char* name;
    int rank;
  };
  std::vector<Sym> syms_;
  std::vector<GElf_Addr> max_end_;  // max end of syms_[0..i]
};

// The concrete subprograms and inlined subroutines of one CU with their address ranges.
class FunctionIndex {
 public:
  void build(Dwarf_Die* cudie);
  // The function DIEs containing `addr` (a DWARF address of this CU), innermost first: the code
  // executing at addr, then each inlined subroutine's caller, ending with the out-of-line
  // function they were all inlined into. Empty if no function contains addr.
  std::vector<Dwarf_Die> chain(Dwarf_Addr addr) const;
  // The name of a function DIE (following DW_AT_abstract_origin / DW_AT_specification): its
  // demangled linkage name, or else DW_AT_name qualified with the namespaces, classes and
  // functions around its declaration when that lies in this CU ("std::vector<int>::vector"):
  // GCC gives constructors, destructors and members of local types no linkage name.
  std::string name(Dwarf_Die* die) const;

 private:
  struct Node {
    Dwarf_Die die;
    int parent;  // enclosing function node, -1 if none
    int depth;
  };
  struct Range {
    Dwarf_Addr lo, hi;
    int node;
  };
  struct Scope {  // a namespace, class, structure, union or subprogram DIE
    Dwarf_Die die;
    int parent;  // enclosing scope, -1 if none
  };
  void walk(Dwarf_Die* die, int parent, int depth, int scope, int level, int imports);
  std::string qualified(Dwarf_Die* die, int level) const;
  std::vector<Node> nodes_;
  std::vector<Scope> scopes_;
  std::unordered_map<Dwarf_Off, int> scope_of_;  // DIE offset -> its entry in scopes_
  std::vector<Range> ranges_;        // sorted by lo
  std::vector<Dwarf_Addr> max_end_;  // max hi of ranges_[0..i]
};

}  // namespace heaplens::symbols::detail
