// demangle(): the Itanium C++ ABI demangler of the C++ runtime (abi::__cxa_demangle).
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "symbolizer.h"

namespace heaplens::symbols {

std::string demangle(const std::string& name) {
  // Only symbol names: __cxa_demangle also accepts type encodings, and would turn a C function
  // called "i" or "Foo" into "int" or garbage.
  if (name.size() < 3 || name[0] != '_' || name[1] != 'Z') return name;
  try {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status),
                                               std::free);
    if (out == nullptr || status != 0) return name;
    return std::string(out.get());
  } catch (...) {
    return name;
  }
}

}  // namespace heaplens::symbols
