#include "suppressions.h"

#include <fstream>
#include <sstream>

namespace heaplens::model {

namespace {

// '*' matches any run of characters; the text must match the whole pattern from `p`.
bool glob_here(std::string_view p, std::string_view t, bool to_end) {
  // Iterative wildcard match with backtracking to the last '*' (linear in practice).
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (pi == p.size() && !to_end) {
      return true;  // the pattern is used up and the rest of the text may be anything
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool template_match(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return false;
  bool start = pattern.front() == '^';
  if (start) pattern.remove_prefix(1);
  bool end = !pattern.empty() && pattern.back() == '$';
  if (end) pattern.remove_suffix(1);
  if (start) return glob_here(pattern, text, end);
  for (std::size_t i = 0; i <= text.size(); ++i)
    if (glob_here(pattern, text.substr(i), end)) return true;
  return false;
}

bool Suppressions::load_text(std::string_view text, const std::string& origin, std::string* error) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    std::size_t colon = line.find(':');
    std::string_view kind = colon == std::string_view::npos ? std::string_view{} : trim(line.substr(0, colon));
    std::string_view pattern = colon == std::string_view::npos ? std::string_view{} : trim(line.substr(colon + 1));
    if (kind != "leak" || pattern.empty()) {
      std::string shown(line.substr(0, 80));
      *error = origin + ":" + std::to_string(line_no) + ": expected 'leak:PATTERN', got '" + shown + "'";
      return false;
    }
    list_.push_back({std::string(pattern), origin + ":" + std::to_string(line_no)});
  }
  return true;
}

bool Suppressions::load_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read suppressions file '" + path + "'";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    *error = "cannot read suppressions file '" + path + "'";
    return false;
  }
  return load_text(text.str(), path, error);
}

void Suppressions::add_builtin() {
  auto add = [&](const char* pattern, const char* why, const char* also = "") {
    Suppression s;
    s.pattern = pattern;
    s.origin = std::string("built-in: ") + why;
    s.allocating_frame_only = true;
    s.also = also;
    list_.push_back(std::move(s));
  };
  // The dynamic loader allocates only for itself (link maps, TLS blocks, dlopen state): no
  // loader allocation is ever handed to the program.
  add("/ld-linux", "the dynamic loader's own data");
  // The buffers of stdio streams (stdout's among them) live until exit.
  add("^_IO_file_doallocate$", "stdio stream buffers");
  // libstdc++'s static initialisers, run by the loader, allocate its emergency exception
  // pool once.
  add("/libstdc++.so", "libstdc++'s static initialisation (its exception pool)", "/ld-linux");
}

namespace {

bool frame_matches(const std::string& pattern, const Frame& f) {
  if (template_match(pattern, f.function) || template_match(pattern, f.file) || template_match(pattern, f.module))
    return true;
  for (const auto& i : f.inlined)
    if (template_match(pattern, i.function) || template_match(pattern, i.file)) return true;
  return false;
}

}  // namespace

Suppression* Suppressions::match(const std::vector<Frame>& frames) {
  for (Suppression& s : list_) {
    bool hit = false;
    if (s.allocating_frame_only) {
      hit = !frames.empty() && frame_matches(s.pattern, frames.front());
    } else {
      for (const Frame& f : frames) hit = hit || frame_matches(s.pattern, f);
    }
    if (hit && !s.also.empty()) {
      hit = false;
      for (const Frame& f : frames) hit = hit || frame_matches(s.also, f);
    }
    if (hit) return &s;
  }
  return nullptr;
}

}  // namespace heaplens::model
