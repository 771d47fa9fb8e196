// What is not a trace (missing, a directory, empty, another file, another version) and
// writers that cannot write: one clear line each.
#include <signal.h>
#include <sys/resource.h>

#include <random>

#include "trace_test_util.h"

namespace heaplens::trace {
namespace {

using test::Collector;
using test::TempDir;
using Status = ReadResult::Status;

ReadResult read_path(const std::string& path) {
  Collector c;
  ReadResult r = read_trace(path, c);
  CHECK(c.items.empty());
  CHECK(test::one_line(r.message));
  return r;
}

TEST_CASE("files that are not traces are named and refused", "[trace]") {
  TempDir dir;
  SECTION("missing") {
    ReadResult r = read_path(dir.file("nope.hltrace"));
    CHECK(r.status == Status::kError);
    CHECK(r.message == "cannot open " + dir.file("nope.hltrace") + ": No such file or directory");
    CHECK_FALSE(looks_like_trace(dir.file("nope.hltrace")));
  }
  SECTION("a directory") {
    ReadResult r = read_path(dir.path());
    CHECK(r.status == Status::kError);
    CHECK(r.message == "cannot read " + dir.path() + ": Is a directory");
    CHECK_FALSE(looks_like_trace(dir.path()));
  }
  SECTION("empty") {
    test::spit(dir.file("empty"), "");
    ReadResult r = read_path(dir.file("empty"));
    CHECK(r.status == Status::kError);
    CHECK(r.message == dir.file("empty") + " is empty, not a heaplens trace");
    CHECK_FALSE(looks_like_trace(dir.file("empty")));
  }
  SECTION("another kind of file") {
    test::spit(dir.file("text"), "4242\nnot a trace at all, but long enough\n");
    ReadResult r = read_path(dir.file("text"));
    CHECK(r.status == Status::kError);
    CHECK(r.message == dir.file("text") + " is not a heaplens trace");
    CHECK_FALSE(looks_like_trace(dir.file("text")));
    test::spit(dir.file("short"), "HEAP");
    CHECK(read_path(dir.file("short")).message == dir.file("short") + " is not a heaplens trace");
  }
  SECTION("another version") {
    test::spit(dir.file("v2"), test::file_header(2) + test::frame(test::end_chunk().data()));
    ReadResult r = read_path(dir.file("v2"));
    CHECK(r.status == Status::kError);
    CHECK_THAT(r.message, Catch::Contains("trace format version 2 is not supported (this heaplens reads version 1"));
    CHECK_THAT(r.message, Catch::Contains("newer heaplens"));
    CHECK(looks_like_trace(dir.file("v2")));  // it is a trace, just not one this reader reads
    test::spit(dir.file("v0"), test::file_header(0));
    CHECK_THAT(read_path(dir.file("v0")).message, Catch::Contains("version 0 is not supported"));
  }
  SECTION("only a header") {
    test::spit(dir.file("header"), test::file_header());
    ReadResult r = read_path(dir.file("header"));
    CHECK(r.status == Status::kTruncated);
    CHECK_THAT(r.message, Catch::Contains("ends early after 0 blocks"));
    CHECK(r.file_bytes == kFileHeaderBytes);
  }
  SECTION("part of a header") {
    test::spit(dir.file("part"), test::file_header().substr(0, 11));
    ReadResult r = read_path(dir.file("part"));
    CHECK(r.status == Status::kTruncated);
    CHECK_THAT(r.message, Catch::Contains("inside its header"));
  }
}

TEST_CASE("a writer that cannot create its file says where and why", "[trace]") {
  std::string error;
  CHECK(TraceWriter::create("/proc/nonexistent/x", &error) == nullptr);
  CHECK(error == "cannot create /proc/nonexistent/x: No such file or directory");
  TempDir dir;
  CHECK(TraceWriter::create(dir.path(), &error) == nullptr);
  CHECK(error == "cannot create " + dir.path() + ": Is a directory");
  // The header is written at once, so a full device fails before anything is recorded.
  CHECK(TraceWriter::create("/dev/full", &error) == nullptr);
  CHECK(error == "cannot write /dev/full: No space left on device");
}

// Restores a resource limit and a signal disposition on scope exit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_) == 0);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

TEST_CASE("a write that fails is reported by error(), and every later call fails", "[trace]") {
  TempDir dir;
  std::string path = dir.file("limited.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w != nullptr);
  ImageInfo img;
  REQUIRE(w->add_image(img));
  REQUIRE(w->flush());
  std::mt19937_64 rng(9);
  std::vector<wire::Record> noise(1 << 17);  // 2 MiB that do not compress
  for (auto& r : noise) r = {rng(), rng()};
  {
    FileSizeLimit limit(64 << 10);
    bool ok = w->add_records(0, noise) && w->flush();
    CHECK_FALSE(ok);
  }
  CHECK(w->error() == "cannot write " + path + ": File too large");
  CHECK_FALSE(w->add_exit(ExitDef{}));
  CHECK_FALSE(w->add_records(0, std::span(noise).first(1)));
  CHECK_FALSE(w->flush());
  CHECK_FALSE(w->close());
  CHECK(w->error() == "cannot write " + path + ": File too large");  // the first failure stays
  // What did reach the file reads as a trace cut short.
  Collector got;
  ReadResult r = read_trace(path, got);
  CHECK(r.status == Status::kTruncated);
  CHECK(got.images.size() == 1);
}

TEST_CASE("a writer refuses chunks about images it was not given", "[trace]") {
  TempDir dir;
  std::string error;
  SECTION("records before their image") {
    auto w = TraceWriter::create(dir.file("a"), &error);
    REQUIRE(w != nullptr);
    wire::Record r{1, 2};
    CHECK_FALSE(w->add_records(5, std::span(&r, 1)));
    CHECK_THAT(w->error(), Catch::Contains("Records chunk for image 5 before its Image chunk"));
    CHECK_FALSE(w->close());
  }
  SECTION("an image twice") {
    auto w = TraceWriter::create(dir.file("b"), &error);
    REQUIRE(w != nullptr);
    ImageInfo img;
    img.image = 2;
    REQUIRE(w->add_image(img));
    CHECK_FALSE(w->add_image(img));
    CHECK_THAT(w->error(), Catch::Contains("image 2 added twice"));
  }
}

}  // namespace
}  // namespace heaplens::trace
