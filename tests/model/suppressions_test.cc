#include <catch2/catch.hpp>

#include "suppressions.h"

using heaplens::model::Frame;
using heaplens::model::Suppressions;
using heaplens::model::template_match;

TEST_CASE("LSan template matching") {
  CHECK(template_match("leak_a", "leak_a"));
  CHECK(template_match("leak", "my_leak_a"));  // substring
  CHECK_FALSE(template_match("^leak", "my_leak_a"));
  CHECK(template_match("^my_", "my_leak_a"));
  CHECK(template_match("_a$", "my_leak_a"));
  CHECK_FALSE(template_match("_a$", "my_leak_ab"));
  CHECK(template_match("^my*_a$", "my_leak_a"));
  CHECK(template_match("ns::*::make", "ns::Widget::make(int)"));
  CHECK_FALSE(template_match("^ns::*::make$", "ns::Widget::make(int)"));
  CHECK(template_match("libfoo.so", "/usr/lib/libfoo.so.1"));
  CHECK_FALSE(template_match("", "anything"));
  CHECK_FALSE(template_match("x", ""));
  CHECK(template_match("*", ""));
  CHECK(template_match("a*b*c", "xxaYYbZZcxx"));
  CHECK_FALSE(template_match("^a*b*c$", "aYYbZZcx"));
}

TEST_CASE("suppressions files: leak: lines, comments, clear errors") {
  Suppressions s;
  std::string error;
  REQUIRE(s.load_text("# comment\n\nleak:leak_a\n  leak: libfoo.so  \r\n", "f.supp", &error));
  REQUIRE(s.all().size() == 2);
  CHECK(s.all()[1].pattern == "libfoo.so");
  CHECK(s.all()[1].origin == "f.supp:4");

  Suppressions bad;
  CHECK_FALSE(bad.load_text("leak:ok\nrace:foo\n", "b.supp", &error));
  CHECK(error == "b.supp:2: expected 'leak:PATTERN', got 'race:foo'");
  CHECK_FALSE(bad.load_text("leak:\n", "c.supp", &error));
  CHECK_FALSE(bad.load_file("/nonexistent/x.supp", &error));
  CHECK(error.find("/nonexistent/x.supp") != std::string::npos);
}

TEST_CASE("a suppression matches function, file, module or inlined frames of any frame") {
  Suppressions s;
  std::string error;
  REQUIRE(s.load_text("leak:site_b\nleak:third_party/\nleak:libplugin.so\nleak:inl_helper\n", "s", &error));
  Frame a{0x1, "site_a", "/src/a.c", "/bin/prog", 3, {}};
  Frame b{0x2, "site_b", "/src/b.c", "/bin/prog", 4, {}};
  Frame c{0x3, "vendor_fn", "/src/third_party/v.c", "/bin/prog", 5, {}};
  Frame d{0x4, "", "", "/usr/lib/libplugin.so", 0, {}};
  Frame e{0x5, "outer", "/src/e.c", "/bin/prog", 6, {{"inl_helper", "/src/e.c", 9}}};
  CHECK(s.match({a}) == nullptr);
  CHECK(s.match({a, b})->pattern == "site_b");
  CHECK(s.match({c})->pattern == "third_party/");
  CHECK(s.match({d})->pattern == "libplugin.so");
  CHECK(s.match({e})->pattern == "inl_helper");
}

TEST_CASE("built-in suppressions look at the allocating frame only") {
  Suppressions s;
  s.add_builtin();
  Frame loader{0x1, "_dl_new_object", "dl-object.c", "/lib64/ld-linux-x86-64.so.2", 1, {}};
  Frame stdio{0x2, "_IO_file_doallocate", "filedoalloc.c", "/lib/x86_64-linux-gnu/libc.so.6", 1, {}};
  Frame cxx{0x3, "", "", "/lib/x86_64-linux-gnu/libstdc++.so.6", 0, {}};
  Frame user{0x4, "plugin_init", "p.c", "/tmp/libp.so", 1, {}};
  Frame call_init{0x5, "call_init", "dl-init.c", "/lib64/ld-linux-x86-64.so.2", 1, {}};
  CHECK(s.match({loader, user}) != nullptr);
  CHECK(s.match({stdio, user}) != nullptr);
  CHECK(s.match({cxx, call_init}) != nullptr);
  CHECK(s.match({cxx, user}) == nullptr);  // libstdc++ allocating for the program
  // A leak in a library's constructor run by the loader is the program's own.
  CHECK(s.match({user, call_init}) == nullptr);
}
