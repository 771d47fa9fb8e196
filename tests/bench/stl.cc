// STL-heavy C++: std::map and std::unordered_map keyed by std::string, string building,
// vectors of strings sorted and deduplicated. Everything goes through operator new/delete.
// Deterministic; prints a checksum.
//
// usage: bench_stl [rounds]   (default 12)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

std::uint64_t g_rng = 0x0123456789ABCDEFull;

std::uint32_t next_u32() {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<std::uint32_t>(g_rng >> 33);
}

// Words of 3..40 characters: some fit the small-string buffer, most do not.
std::string word() {
  std::uint32_t r = next_u32();
  std::size_t n = 3 + r % 38;
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + (next_u32() >> 7) % 26));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 12;
  std::uint64_t checksum = 0;
  for (int round = 0; round < rounds; ++round) {
    std::map<std::string, std::vector<int>> index;
    std::unordered_map<std::string, std::size_t> counts;
    std::vector<std::string> all;
    for (int i = 0; i < 60000; ++i) {
      std::string w = word();
      index[w].push_back(i);
      ++counts[w + std::to_string(i % 97)];
      all.push_back(std::move(w));
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    // Build and tear down text: concatenation, substrings, a map of lines.
    std::string text;
    for (const auto& w : all) {
      text += w;
      text += ' ';
    }
    std::map<std::size_t, std::string> lines;
    for (std::size_t pos = 0; pos + 80 < text.size(); pos += 61) lines.emplace(pos, text.substr(pos, 80));
    for (auto it = index.begin(); it != index.end();) {
      checksum += it->first.size() + it->second.size();
      it = (it->second.size() & 1) ? index.erase(it) : std::next(it);
    }
    for (const auto& [k, v] : counts) checksum += v * k.size();
    checksum += lines.size() + text.size();
  }
  std::printf("stl checksum %llu\n", static_cast<unsigned long long>(checksum));
  return 0;
}
