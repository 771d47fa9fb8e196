// LeakSanitizer-style suppressions: one `leak:PATTERN` per line, `#` comments. A pattern
// matches a leak when it matches the function, the source file or the module (library path)
// of any frame of the leak's stack, inlined frames included. As in LSan, `*` matches any run
// of characters, a leading `^` anchors at the start and a trailing `$` at the end; otherwise
// the pattern may match anywhere (`leak:libfoo.so` suppresses everything allocated from
// libfoo).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frames.h"

namespace heaplens::model {

struct Suppression {
  std::string pattern;
  std::string origin;  // "FILE:LINE" or "built-in: why"
  // Built-in suppressions are narrower than LSan's lines: they look only at the frame that
  // called the allocator, and may also require `also` to match some frame of the stack.
  bool allocating_frame_only = false;
  std::string also;
  std::uint64_t sites = 0, blocks = 0, bytes = 0;  // what it matched (filled by the report)
};

class Suppressions {
 public:
  // Appends the suppressions of a file; false with a one-line *error naming the file and line.
  bool load_file(const std::string& path, std::string* error);
  bool load_text(std::string_view text, const std::string& origin, std::string* error);
  // Allocations the C and C++ runtimes make for themselves and keep until exit by design
  // (valgrind frees them through __libc_freeres before it looks; LSan finds them reachable).
  void add_builtin();

  // The first suppression matching the stack, or nullptr.
  Suppression* match(const std::vector<Frame>& frames);
  std::vector<Suppression>& all() { return list_; }
  const std::vector<Suppression>& all() const { return list_; }

 private:
  std::vector<Suppression> list_;
};

// LSan's template match (see above), exposed for tests.
bool template_match(std::string_view pattern, std::string_view text);

}  // namespace heaplens::model
