#include <catch2/catch.hpp>

#include "symbolizer.h"

using heaplens::symbols::demangle;

TEST_CASE("demangle turns mangled C++ names into readable ones", "[symbols][demangle]") {
  CHECK(demangle("_ZN2ns6Widget4makeEi") == "ns::Widget::make(int)");
  CHECK(demangle("_ZNSt6vectorIiSaIiEE9push_backERKi") == "std::vector<int, std::allocator<int> >::push_back(int const&)");
  CHECK(demangle("_Znwm") == "operator new(unsigned long)");
  CHECK(demangle("_ZN12_GLOBAL__N_113hidden_helperEP8sym_site") == "(anonymous namespace)::hidden_helper(sym_site*)");
  CHECK(demangle("_Z3fooi.cold") == "foo(int) [clone .cold]");
}

TEST_CASE("demangle leaves other names alone", "[symbols][demangle]") {
  CHECK(demangle("main") == "main");
  CHECK(demangle("malloc") == "malloc");
  CHECK(demangle("i") == "i");      // a type encoding, not a symbol: stays a C name
  CHECK(demangle("Foo") == "Foo");
  CHECK(demangle("") == "");
  CHECK(demangle("_Z") == "_Z");
  CHECK(demangle("_Zgarbage!!") == "_Zgarbage!!");
  CHECK(demangle("foo.cold") == "foo.cold");
  CHECK(demangle("_GLOBAL__sub_I_main") == "_GLOBAL__sub_I_main");
}
