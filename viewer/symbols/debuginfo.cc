#include "debuginfo.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace heaplens::symbols::detail {
namespace {

constexpr const char* kDefaultPath = ":.debug:/usr/lib/debug";

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

std::string dir_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    std::size_t colon = s.find(':', pos);
    std::string part = s.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    // elfutils' "+" / "-" prefixes (CRC checking on/off) do not apply here.
    if (!part.empty() && (part[0] == '+' || part[0] == '-')) part.erase(0, 1);
    out.push_back(part);
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return out;
}

// Opens `candidate` if it is a regular file other than `main_st` and looks like the debug file
// of the module: same build-id when the module has one, otherwise same CRC as the debuglink.
int try_candidate(const std::string& candidate, const struct stat& main_st, bool have_main_st,
                  const unsigned char* bits, int bits_len, GElf_Word crc) {
  int fd = ::open(candidate.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            !(have_main_st && st.st_dev == main_st.st_dev && st.st_ino == main_st.st_ino);
  if (ok) {
    if (bits_len > 0) {
      ok = false;
      if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
        const void* id = nullptr;
        ssize_t n = elf_kind(elf) == ELF_K_ELF ? dwelf_elf_gnu_build_id(elf, &id) : -1;
        ok = n == bits_len && std::memcmp(id, bits, static_cast<std::size_t>(n)) == 0;
        elf_end(elf);
      }
    } else {
      std::uint32_t c = 0;
      ok = file_crc32(fd, &c) && c == crc;
    }
  }
  if (!ok) {
    ::close(fd);
    return -1;
  }
  // libdwfl reads the file through this descriptor: it must block normally.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace

bool file_crc32(int fd, std::uint32_t* crc) {
  static const std::array<std::uint32_t, 256> table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  std::vector<unsigned char> buf(1 << 16);
  off_t off = 0;
  while (true) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) c = table[(c ^ buf[static_cast<std::size_t>(i)]) & 0xFF] ^ (c >> 8);
    off += n;
  }
  *crc = c ^ 0xFFFFFFFFu;
  return true;
}

int find_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name) {
  try {
    // Build-id first (this also serves dwz alternate files, by their own build-id).
    errno = 0;
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                          debuglink_crc, debuginfo_file_name);
    if (fd >= 0) return fd;
    if (debuglink_file == nullptr || debuglink_file[0] == '\0' || file_name == nullptr) return -1;

    const auto* ctx = userdata != nullptr ? static_cast<const DebuginfoContext*>(*userdata) : nullptr;
    std::string path = ctx != nullptr && !ctx->debuginfo_path.empty() ? ctx->debuginfo_path : kDefaultPath;

    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    int bits_len = dwfl_module_build_id(mod, &bits, &vaddr);
    if (bits_len <= 0 && debuglink_crc == 0) return -1;  // nothing to check a candidate by

    struct stat main_st;
    bool have_main_st = ::stat(file_name, &main_st) == 0;
    std::string file_dir = dir_of(file_name);
    std::vector<std::string> dirs{file_dir};
    if (char* real = ::realpath(file_name, nullptr)) {
      std::string real_dir = dir_of(real);
      std::free(real);
      if (real_dir != file_dir) dirs.push_back(real_dir);
    }

    std::vector<std::string> candidates;
    if (debuglink_file[0] == '/') {
      candidates.emplace_back(debuglink_file);
    } else {
      for (const std::string& d : dirs) {
        for (const std::string& entry : split_path(path)) {
          if (entry.empty())
            candidates.push_back(d + "/" + debuglink_file);
          else if (entry[0] != '/')
            candidates.push_back(d + "/" + entry + "/" + debuglink_file);
          else if (d[0] == '/')
            candidates.push_back(entry + d + "/" + debuglink_file);
        }
      }
    }
    for (const std::string& c : candidates) {
      fd = try_candidate(c, main_st, have_main_st, bits, bits_len, debuglink_crc);
      if (fd >= 0) {
        if (debuginfo_file_name != nullptr) {
          std::free(*debuginfo_file_name);
          *debuginfo_file_name = ::strdup(c.c_str());
        }
        return fd;
      }
    }
  } catch (...) {
  }
  return -1;
}

}  // namespace heaplens::symbols::detail
