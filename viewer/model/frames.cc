#include "frames.h"

#include <fmt/format.h>


namespace heaplens::model {

std::vector<symbols::ModuleRef> module_refs(const ImageModel& image) {
  std::vector<symbols::ModuleRef> refs;
  for (const trace::ModuleDef& m : image.modules()) {
    symbols::ModuleRef r;
    r.path = m.path;
    r.build_id = m.build_id;
    r.load_bias = m.load_bias;
    r.start = m.start;
    r.end = m.end;
    refs.push_back(std::move(r));
  }
  return refs;
}

namespace {

trace::SymbolDef to_symbol(std::uint32_t index, std::uint64_t pc, const symbols::Location& l) {
  trace::SymbolDef s;
  s.image = index;
  s.pc = pc;
  s.line = l.line;
  s.column = l.column;
  s.function = l.function;
  s.file = l.file;
  s.module = l.module;
  for (const auto& i : l.inlined) s.inlined.push_back({i.function, i.file, i.line});
  return s;
}

Frame to_frame(std::uint64_t pc, const trace::SymbolDef& s) {
  Frame f;
  f.pc = pc;
  f.function = s.function;
  f.file = s.file;
  f.module = s.module;
  f.line = s.line;
  f.inlined = s.inlined;
  return f;
}

}  // namespace

FrameResolver::FrameResolver(bool local) {
  if (local) local_ = std::make_unique<symbols::Symbolizer>();
}
FrameResolver::~FrameResolver() = default;

const Frame& FrameResolver::resolve(const ImageModel& image, std::uint64_t pc) {
  auto& cache = cache_[&image];
  if (auto it = cache.find(pc); it != cache.end()) return it->second;
  Frame f;
  if (const trace::SymbolDef* s = image.symbol(pc); s != nullptr && (!s->function.empty() || !local_)) {
    f = to_frame(pc, *s);
  } else if (local_) {
    // A live image maps modules as it runs (dlopen): refresh when it has new ones.
    auto [mit, inserted] = modules_.try_emplace(&image);
    if (inserted || mit->second.size() != image.modules().size()) mit->second = module_refs(image);
    f = to_frame(pc, to_symbol(0, pc, local_->resolve(mit->second, pc)));
  } else {
    f.pc = pc;
  }
  return cache.emplace(pc, std::move(f)).first->second;
}

std::vector<Frame> FrameResolver::stack(const ImageModel& image, std::uint32_t stack_id) {
  std::vector<Frame> out;
  if (const auto* frames = image.stack(stack_id))
    for (std::uint64_t pc : *frames) out.push_back(resolve(image, pc));
  return out;
}

std::vector<std::string> FrameResolver::problems() const {
  return local_ ? local_->problems() : std::vector<std::string>{};
}

std::string describe(const Frame& f) {
  std::string s = f.function.empty() ? fmt::format("0x{:x}", f.pc) : f.function;
  if (!f.file.empty()) {
    s += fmt::format(" ({}:{})", f.file, f.line);
  } else if (!f.module.empty()) {
    auto slash = f.module.rfind('/');
    s += fmt::format(" ({})", slash == std::string::npos ? f.module : f.module.substr(slash + 1));
  }
  return s;
}

}  // namespace heaplens::model
