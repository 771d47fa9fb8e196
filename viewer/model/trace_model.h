// Every process image of a trace (or of a live run), fed chunk by chunk. It is a
// TraceVisitor, so the same object is filled from a trace file (report), from the sessions a
// run drains (run, check), and later by the viewer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "image_model.h"
#include "trace_reader.h"

namespace heaplens::model {

class TraceModel : public trace::TraceVisitor {
 public:
  TraceModel() = default;
  // Every image counts only what happened inside `window` (see Window).
  explicit TraceModel(Window window) : window_(window) {}

  void on_command(const trace::CommandDef& c) override { command_ = c; }
  void on_image(const trace::ImageInfo& i) override;
  void on_records(std::uint32_t image, std::span<const wire::Record> records) override;
  void on_stack(const trace::StackDef& s) override;
  void on_module(const trace::ModuleDef& m) override;
  void on_stats(const trace::StatsSnapshot& s) override;
  void on_image_end(const trace::ImageEnd& e) override;
  void on_symbol(const trace::SymbolDef& s) override;
  void on_exit(const trace::ExitDef& e) override { exit_ = e; }

  // Settles what only the whole trace tells: an image that vanished while a later image of
  // its pid exists was replaced by exec.
  void finish();

  const std::vector<std::unique_ptr<ImageModel>>& images() const { return images_; }
  ImageModel* image(std::uint32_t index);
  const trace::CommandDef& command() const { return command_; }
  const std::optional<trace::ExitDef>& exit() const { return exit_; }

 private:
  Window window_;
  std::vector<std::unique_ptr<ImageModel>> images_;  // by trace image index (dense)
  trace::CommandDef command_;
  std::optional<trace::ExitDef> exit_;
};

}  // namespace heaplens::model
