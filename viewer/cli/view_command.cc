// `heaplens view` and `heaplens run --view`: the viewer is its own executable (heaplens-view,
// next to this one), so the command line tools never load GL or a window system.
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "commands.h"

namespace heaplens::cli {

namespace {

std::string find_viewer(std::string* error) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("HEAPLENS_VIEWER"); env != nullptr && *env != '\0') candidates.emplace_back(env);
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back((self.parent_path() / "heaplens-view").string());
#ifdef HEAPLENS_BUILD_VIEWER
  candidates.emplace_back(HEAPLENS_BUILD_VIEWER);
#endif
  for (const auto& c : candidates)
    if (access(c.c_str(), X_OK) == 0) return c;
  *error = "heaplens-view is not installed next to heaplens (set HEAPLENS_VIEWER to its path)";
  return {};
}

}  // namespace

int view_command(const std::vector<std::string>& args) {
  std::string error;
  std::string viewer = find_viewer(&error);
  if (viewer.empty()) {
    fmt::print(stderr, "heaplens: {}\n", error);
    return kExitOwnFailure;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(viewer.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(viewer.c_str(), argv.data());
  fmt::print(stderr, "heaplens: cannot start {}: {}\n", viewer, std::strerror(errno));
  return kExitOwnFailure;
}

}  // namespace heaplens::cli
