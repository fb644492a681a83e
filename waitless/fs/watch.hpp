// fs::watch: Node's fs.watch on Linux, with inotify on the loop.
//
//   auto w = fs::watch(loop, "/srv/uploads");            // Result<std::unique_ptr<fs::Watcher>>
//   if (!w) return w.error();                            // e.g. ENOENT
//   (*w)->on<fs::Rename>([](std::string_view name) { ... });
//   (*w)->on<fs::Change>([](std::string_view name) { ... });
//   (*w)->on<ErrorEvent>([](const ErrorInfo& e) { ... });
//   ...
//   (*w)->close();
//
// Events, as Node's (and libuv's) mapping of inotify:
//   Change{filename}  content or metadata changed (IN_MODIFY, IN_ATTRIB)
//   Rename{filename}  an entry appeared, disappeared or moved (IN_CREATE, IN_DELETE, IN_MOVED_FROM,
//                     IN_MOVED_TO), or the watched path itself was deleted or moved
//   ErrorEvent        the kernel's event queue overflowed (Error::limit_exceeded: events were lost, the
//                     watcher goes on), or reading the inotify fd failed (errno; the watcher stops)
// `filename` is the entry's name inside a watched directory, or the watched path's own last component
// for a watched file and for events about the watched directory itself. It is only valid during the call.
// A move within the directory gives two Rename events (old name, then new name). Not recursive.
//
// The Watcher is a Handle: active (keeping the loop alive unless unref'd) from watch() until close(),
// destruction, or a read error. Closing or destroying it, even from one of its own listeners, stops every
// event at once, including any the kernel had already queued. A watched path that is deleted gives Rename
// and then nothing more (as in Node, the watcher stays open until closed).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "waitless/async/event_emitter.hpp"
#include "waitless/base/result.hpp"
#include "waitless/base/source_location.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless::fs {

struct Change {
  using args = std::tuple<std::string_view>;
  static constexpr std::string_view name = "change";
};
struct Rename {
  using args = std::tuple<std::string_view>;
  static constexpr std::string_view name = "rename";
};

class Watcher;

// Watches `path` (a file or a directory). Errors: Error::invalid_argument for an empty path or one with a
// NUL byte; errno from inotify (ENOENT, EACCES, ENOSPC when out of inotify watches, EMFILE...).
// `where` names the caller for the loop's watchdog and exception logs.
Result<std::unique_ptr<Watcher>> watch(Loop& loop, std::string_view path,
                                       SourceLocation where = SourceLocation::current());

class Watcher final : public Handle, public EventEmitter<Change, Rename> {
 public:
  ~Watcher() override;

  const std::string& path() const noexcept { return path_; }

 private:
  friend Result<std::unique_ptr<Watcher>> watch(Loop&, std::string_view, SourceLocation);
  Watcher(Loop& loop, int fd, std::string path, SourceLocation where);

  void on_stop() noexcept override;
  void on_readable() noexcept;
  // Stops reading and releases the inotify fd (and with it the kernel's watch).
  void stop_reading() noexcept;

  int fd_;
  std::string path_;
  std::string basename_;  // the filename reported for events without a name
  IoWatcher io_;
  bool* alive_ = nullptr;  // set while events are dispatched; cleared by the destructor
};

}  // namespace waitless::fs
