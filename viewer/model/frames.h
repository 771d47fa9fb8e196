// Symbolized stack frames for reports: from the Symbol chunks a trace carries (resolved when
// its run ended) or, for frames the trace has no symbol for (a run cut short), from the ELF
// files on this machine when their build-ids still match.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "image_model.h"
#include "symbolizer.h"

namespace heaplens::model {

struct Frame {
  std::uint64_t pc = 0;
  std::string function, file, module;
  std::uint32_t line = 0;
  std::vector<trace::InlineFrame> inlined;  // callers `function` was inlined into
};

std::vector<symbols::ModuleRef> module_refs(const ImageModel& image);

class FrameResolver {
 public:
  // local: also resolve frames the trace has no symbols for from files on this machine.
  explicit FrameResolver(bool local);
  ~FrameResolver();
  const Frame& resolve(const ImageModel& image, std::uint64_t pc);
  std::vector<Frame> stack(const ImageModel& image, std::uint32_t stack_id);
  std::vector<std::string> problems() const;

 private:
  std::unique_ptr<symbols::Symbolizer> local_;
  std::unordered_map<const ImageModel*, std::vector<symbols::ModuleRef>> modules_;
  std::unordered_map<const ImageModel*, std::unordered_map<std::uint64_t, Frame>> cache_;
};

// "function (file:line)" or "module+0xoffset" for one line of text.
std::string describe(const Frame& f);

}  // namespace heaplens::model
