#include "waitless/fs/watch.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "waitless/loop/test_support.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

using waitless::test::expect_empty;

// A fresh directory from mkdtemp, removed with its contents at the end.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/waitless-watch-XXXXXX";
    if (mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool create_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

bool append(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

// Fails the test and closes the watcher if the expected events do not come within 5 s. Every filesystem
// operation in these tests happens after the watch is set, so its events are already queued when the
// loop runs: no sleeps anywhere.
struct Guard {
  Guard(Loop& loop, fs::Watcher& w) : timer(loop) {
    (void)timer.start(5s, [&w] {
      ADD_FAILURE() << "timed out waiting for inotify events";
      (void)w.close();
    });
  }
  void done(fs::Watcher& w) {
    (void)timer.stop();
    (void)w.close();
  }
  Timer timer;
};

TEST(FsWatch, SeesCreateAndRenameInDirectory) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Loop loop;
  {
    auto w = fs::watch(loop, dir.path());
    ASSERT_TRUE(w) << w.error().message();
    fs::Watcher& watcher = **w;
    EXPECT_EQ(loop.handle_count(), 1u);  // the watcher's internal fd watcher is not counted
    Guard guard(loop, watcher);
    std::vector<std::string> renames, changes;
    watcher.on<fs::Rename>([&](std::string_view name) {
      renames.emplace_back(name);
      if (renames.size() == 3) guard.done(watcher);
    });
    watcher.on<fs::Change>([&](std::string_view name) { changes.emplace_back(name); });

    ASSERT_TRUE(create_file(dir / "a"));
    ASSERT_EQ(std::rename((dir / "a").c_str(), (dir / "b").c_str()), 0);
    loop.run();
    EXPECT_EQ(renames, (std::vector<std::string>{"a", "a", "b"}));  // create a; move a -> b
    EXPECT_TRUE(changes.empty());
  }
  expect_empty(loop);
}

TEST(FsWatch, SeesChangeAndDeleteInDirectory) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(create_file(dir / "f"));
  Loop loop;
  {
    auto w = fs::watch(loop, dir.path());
    ASSERT_TRUE(w) << w.error().message();
    fs::Watcher& watcher = **w;
    Guard guard(loop, watcher);
    std::string log;
    watcher.on<fs::Change>([&](std::string_view name) { log += "change:" + std::string(name) + ","; });
    watcher.on<fs::Rename>([&](std::string_view name) {
      log += "rename:" + std::string(name) + ",";
      guard.done(watcher);
    });
    ASSERT_TRUE(append(dir / "f", "data"));
    ASSERT_EQ(::unlink((dir / "f").c_str()), 0);
    loop.run();
    // The write gives one or more modify events; the unlink a Rename (an attrib for the link count may
    // come first).
    EXPECT_EQ(log.rfind("change:f,", 0), 0u) << log;
    EXPECT_NE(log.find("rename:f,"), std::string::npos) << log;
    EXPECT_EQ(log.find("rename:"), log.size() - std::string("rename:f,").size()) << log;
  }
  expect_empty(loop);
}

TEST(FsWatch, WatchedFileReportsItsOwnName) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(create_file(dir / "config.json"));
  Loop loop;
  {
    auto w = fs::watch(loop, dir / "config.json");
    ASSERT_TRUE(w) << w.error().message();
    fs::Watcher& watcher = **w;
    EXPECT_EQ(watcher.path(), dir / "config.json");
    Guard guard(loop, watcher);
    std::vector<std::string> changes;
    watcher.on<fs::Change>([&](std::string_view name) {
      changes.emplace_back(name);
      guard.done(watcher);
    });
    ASSERT_EQ(::chmod((dir / "config.json").c_str(), 0600), 0);  // IN_ATTRIB
    loop.run();
    EXPECT_EQ(changes, std::vector<std::string>{"config.json"});
  }
  expect_empty(loop);
}

TEST(FsWatch, CloseDropsEventsAlreadyQueued) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Loop loop;
  {
    auto w = fs::watch(loop, dir.path());
    ASSERT_TRUE(w) << w.error().message();
    int events = 0, closed = 0;
    (*w)->on<fs::Rename>([&](std::string_view) { ++events; });
    ASSERT_TRUE(create_file(dir / "queued"));
    EXPECT_FALSE((*w)->close([&] { ++closed; }));
    EXPECT_EQ((*w)->close(), make_error_code(Error::already_closing));
    ASSERT_TRUE(create_file(dir / "after"));
    EXPECT_FALSE(loop.run());
    EXPECT_EQ(events, 0);
    EXPECT_EQ(closed, 1);
  }
  expect_empty(loop);
}

TEST(FsWatch, CloseFromListenerStopsTheRestOfTheBatch) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Loop loop;
  {
    auto w = fs::watch(loop, dir.path());
    ASSERT_TRUE(w) << w.error().message();
    fs::Watcher& watcher = **w;
    std::vector<std::string> seen;
    watcher.on<fs::Rename>([&](std::string_view name) {
      seen.emplace_back(name);
      (void)watcher.close();
    });
    for (const char* name : {"one", "two", "three"}) ASSERT_TRUE(create_file(dir / name));
    loop.run();  // ends by itself: the closed watcher no longer keeps the loop alive
    EXPECT_EQ(seen, std::vector<std::string>{"one"});
  }
  expect_empty(loop);
}

TEST(FsWatch, DestroyedByItsOwnListener) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Loop loop;
  auto w = fs::watch(loop, dir.path());
  ASSERT_TRUE(w) << w.error().message();
  std::unique_ptr<fs::Watcher> watcher = std::move(*w);
  std::vector<std::string> seen;
  watcher->on<fs::Rename>([&](std::string_view name) {
    watcher.reset();
    seen.emplace_back(name);  // the name view outlives the watcher for the rest of this call
  });
  for (const char* name : {"one", "two"}) ASSERT_TRUE(create_file(dir / name));
  loop.run();
  EXPECT_EQ(watcher, nullptr);
  EXPECT_EQ(seen, std::vector<std::string>{"one"});
  expect_empty(loop);
}

TEST(FsWatch, UnrefdWatcherDoesNotKeepTheLoopAlive) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Loop loop;
  auto w = fs::watch(loop, dir.path());
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_TRUE((*w)->is_active());
  EXPECT_TRUE(loop.alive());
  (*w)->unref();
  EXPECT_FALSE(loop.alive());
  EXPECT_FALSE(loop.run());
  w->reset();
  expect_empty(loop);
}

// Alternating chmods on two files cannot be coalesced by the kernel, so more of them than the queue holds
// overflow it: the watcher reports Error::limit_exceeded as an ErrorEvent and keeps going.
TEST(FsWatch, QueueOverflowIsAnErrorEvent) {
  long max_queued = 0;
  if (FILE* f = std::fopen("/proc/sys/fs/inotify/max_queued_events", "r")) {
    if (std::fscanf(f, "%ld", &max_queued) != 1) max_queued = 0;
    std::fclose(f);
  }
  if (max_queued <= 0 || max_queued > 200'000) GTEST_SKIP() << "max_queued_events = " << max_queued;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(create_file(dir / "a"));
  ASSERT_TRUE(create_file(dir / "b"));
  Loop loop;
  {
    auto w = fs::watch(loop, dir.path());
    ASSERT_TRUE(w) << w.error().message();
    fs::Watcher& watcher = **w;
    Guard guard(loop, watcher);
    std::vector<ErrorInfo> errors;
    long changes = 0;
    watcher.on<fs::Change>([&](std::string_view) { ++changes; });
    watcher.on<ErrorEvent>([&](const ErrorInfo& e) {
      errors.push_back(e);
      guard.done(watcher);
    });
    for (long i = 0; i <= max_queued; ++i) {
      ASSERT_EQ(::chmod((dir / (i % 2 ? "a" : "b")).c_str(), i % 4 < 2 ? 0600 : 0644), 0);
    }
    loop.run();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].code, make_error_code(Error::limit_exceeded));
    EXPECT_NE(errors[0].message.find("overflow"), std::string::npos);
    EXPECT_EQ(changes, max_queued);  // every event the queue held was delivered before the error
  }
  expect_empty(loop);
}

TEST(FsWatch, MissingPathIsAnErrorValue) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Loop loop;
  auto w = fs::watch(loop, dir / "does-not-exist");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), errno_code(ENOENT));
  auto empty = fs::watch(loop, "");
  EXPECT_EQ(empty.error(), make_error_code(Error::invalid_argument));
  auto nul = fs::watch(loop, std::string_view("a\0b", 3));
  EXPECT_EQ(nul.error(), make_error_code(Error::invalid_argument));
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless
