// Finding separate debug info, offline only (internal to the symbolizer).
#pragma once

#include <elfutils/libdwfl.h>

#include <cstdint>
#include <string>

namespace heaplens::symbols::detail {

// What the find_debuginfo callback needs; the module's userdata slot points to one.
struct DebuginfoContext {
  std::string debuginfo_path;  // libdw syntax, never empty
};

// Dwfl_Callbacks::find_debuginfo: by build-id (dwfl_build_id_find_debuginfo, which also finds
// dwz alternate files), then by .gnu_debuglink in the folders gdb and elfutils use. Unlike
// dwfl_standard_find_debuginfo it never falls back to debuginfod (no network, no waiting).
// *userdata must be a DebuginfoContext* or null (then the default path is used).
int find_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name);

// CRC-32 (the .gnu_debuglink one, as zlib's crc32) of a whole file; false if unreadable.
bool file_crc32(int fd, std::uint32_t* crc);

}  // namespace heaplens::symbols::detail
