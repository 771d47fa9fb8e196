// Turns return addresses of a traced process into function names (demangled), source files
// and lines, with elfutils libdw, from the ELF files on disk (and their separate debug info,
// found by build-id in /usr/lib/debug or next to the file, as debuginfod-less gdb would).
//
// Modules are identified by path and build-id: a file whose build-id no longer matches the
// one recorded (rebuilt since) is not used, and its frames resolve to module+offset only.
// One Symbolizer serves many process images: an ELF file is opened once and every image's
// addresses are translated to file addresses (pc - load_bias) before lookup.
//
// Strictly offline: separate debug files are looked up by build-id under the debuginfo path
// (<dir>/.build-id/xx/yyyy.debug) and by .gnu_debuglink (next to the file, in its .debug/
// folder, under <dir>/<file's folder>/); debuginfod is never asked, even when
// DEBUGINFOD_URLS is set. Not thread-safe: use one Symbolizer per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace heaplens::symbols {

struct InlineFrame {
  std::string function, file;
  std::uint32_t line = 0;
};

struct Location {
  std::string function;    // demangled; empty when unknown
  std::string file;        // source file (as DWARF names it); empty when unknown
  std::uint32_t line = 0, column = 0;
  std::string module;      // path of the object the pc falls in; empty when none
  std::uint64_t offset = 0;  // pc - load_bias inside `module`
  std::vector<InlineFrame> inlined;  // callers `function` was inlined into, innermost first
};

struct ModuleRef {
  std::string path;
  std::vector<std::uint8_t> build_id;  // empty: unknown, not checked
  std::uint64_t load_bias = 0, start = 0, end = 0;
};

struct SymbolizerOptions {
  // libdw's syntax: folders separated by ':'; absolute ones are searched for
  // .build-id/xx/yyyy.debug and <folder>/<file's folder>/<debuglink>. Empty: ":.debug:/usr/lib/debug".
  std::string debuginfo_path;
};

class Symbolizer {
 public:
  Symbolizer();
  explicit Symbolizer(SymbolizerOptions options);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Resolves a return address `pc` taken in a process whose modules were `modules`.
  // Looks up pc - 1 (the call instruction) for function and line. Never throws; unreadable
  // files or missing debug info give a Location with what is known (at least module+offset).
  Location resolve(const std::vector<ModuleRef>& modules, std::uint64_t pc);

  // Files that could not be used and why (one line each), for a report's footnote.
  std::vector<std::string> problems() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The demangled form of a symbol name, or the name itself if it is not a mangled C++ name.
std::string demangle(const std::string& name);

}  // namespace heaplens::symbols
