#include "waitless/fs/watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace waitless::fs {
namespace {

// Node's set (libuv's): everything that makes a Change or a Rename.
constexpr uint32_t kMask = IN_ATTRIB | IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                           IN_MOVED_FROM | IN_MOVED_TO;
constexpr uint32_t kChange = IN_ATTRIB | IN_MODIFY;
constexpr uint32_t kRename =
    IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_UNMOUNT;

std::string last_component(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos || path.size() == 1 ? path : path.substr(slash + 1));
}

}  // namespace

Result<std::unique_ptr<Watcher>> watch(Loop& loop, std::string_view path, SourceLocation where) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return Error::invalid_argument;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return errno_code(errno);
  std::string p(path);
  if (inotify_add_watch(fd, p.c_str(), kMask) < 0) {
    int err = errno;
    ::close(fd);
    return errno_code(err);
  }
  std::unique_ptr<Watcher> w(new Watcher(loop, fd, std::move(p), where));
  if (std::error_code ec = w->io_.start(io::readable)) return ec;  // the destructor closes fd
  w->set_active(true);
  return w;
}

Watcher::Watcher(Loop& loop, int fd, std::string path, SourceLocation where)
    : Handle(loop),
      fd_(fd),
      path_(std::move(path)),
      basename_(last_component(path_)),
      io_(
          loop, fd, [this](unsigned) { on_readable(); }, where) {
  // The IoWatcher is this handle's internals: the Watcher is what is active, ref'd and counted, so ref(),
  // unref() and loop.handle_count() mean what the user expects. Unlinking it from the loop's handle list
  // is what Loop does with its own internal watcher; its destructor unlinks nothing twice.
  io_.unref();
  static_cast<ListHook<HandleListTag>&>(io_).unlink_from_list();
}

Watcher::~Watcher() {
  stop_reading();
  if (alive_) *alive_ = false;
}

void Watcher::on_stop() noexcept { stop_reading(); }

void Watcher::stop_reading() noexcept {
  io_.stop();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Watcher::on_readable() noexcept {
  // One read per readiness callback: the poller is level-triggered, so a flood is spread over iterations
  // instead of starving the rest of the loop. Listeners see names in `buf` or `own_name`, both on this
  // stack frame, so even a listener that destroys the watcher keeps a valid view.
  alignas(inotify_event) char buf[4096];
  std::string own_name;
  ssize_t n;
  do n = ::read(fd_, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return;
    ErrorInfo info{errno_code(errno), "reading inotify events for " + path_, {}};
    stop_reading();
    set_active(false);
    emit<ErrorEvent>(info);
    return;
  }

  bool alive = true;
  alive_ = &alive;
  // Any listener may close or destroy the watcher: after each emit, stop unless both still hold.
  auto still = [&] { return alive && !is_closing() && fd_ >= 0; };
  for (ssize_t off = 0; off < n && still();) {
    const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
    off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    if (ev->mask & IN_Q_OVERFLOW) {
      emit<ErrorEvent>(ErrorInfo{make_error_code(Error::limit_exceeded),
                                 "inotify event queue overflowed for " + path_ + ": events were lost",
                                 {}});
      continue;
    }
    // The kernel pads names with NULs up to `len`.
    std::string_view name = ev->len ? std::string_view(ev->name, strnlen(ev->name, ev->len))
                                    : std::string_view(own_name = basename_);
    if (ev->mask & kChange) {
      emit<Change>(name);
      if (!still()) break;
    }
    if (ev->mask & kRename) emit<Rename>(name);
    // IN_IGNORED (the watch is gone: path deleted or unmounted) follows a Rename already given.
  }
  if (alive) alive_ = nullptr;
}

}  // namespace waitless::fs
