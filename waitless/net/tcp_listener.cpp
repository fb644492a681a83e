#include "waitless/net/tcp_listener.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <exception>

#include "waitless/base/log.hpp"

namespace waitless::net {
namespace {

int open_spare() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

std::error_code set_int_opt(int fd, int level, int name, int value) noexcept {
  if (setsockopt(fd, level, name, &value, sizeof value) < 0) return errno_code(errno);
  return {};
}

}  // namespace

Result<std::unique_ptr<TcpListener>> TcpListener::listen(Loop& loop, const ListenOptions& options,
                                                         OnConnection cb) {
  if (!cb || options.backlog <= 0) return Error::invalid_argument;
  bool is_unix = !options.unix_path.empty();
  Result<SocketAddress> addr = is_unix ? SocketAddress::unix_path(options.unix_path)
                                       : SocketAddress::parse(options.host, options.port);
  if (!addr) return addr.error();

  int fd = ::socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  auto fail = [fd](std::error_code ec) {
    ::close(fd);
    return ec;
  };
  if (!is_unix) {
    // SO_REUSEADDR as libuv and Node: a restarted server can bind while old connections sit in TIME_WAIT.
    if (auto ec = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1)) return fail(ec);
    if (options.reuse_port) {
      if (auto ec = set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1)) return fail(ec);
    }
    if (addr->is_ipv6()) {
      if (auto ec = set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.ipv6_only ? 1 : 0)) return fail(ec);
    }
  }
  if (::bind(fd, addr->data(), addr->size()) < 0) return fail(errno_code(errno));
  if (::listen(fd, options.backlog) < 0) {
    std::error_code ec = errno_code(errno);
    if (is_unix && options.unix_path.front() != '@') ::unlink(options.unix_path.c_str());
    return fail(ec);
  }
  SocketAddress bound = *addr;
  if (!is_unix) {
    auto local = SocketAddress::local_of(fd);
    if (!local) return fail(local.error());
    bound = *local;
  }
  std::string owned = is_unix && options.unix_path.front() != '@' ? options.unix_path : std::string();
  std::unique_ptr<TcpListener> l(new TcpListener(loop, fd, bound, std::move(cb), std::move(owned)));
  if (auto ec = l->watcher_->start(io::readable)) return ec;  // the destructor closes fd and unlinks
  return l;
}

TcpListener::TcpListener(Loop& loop, int fd, SocketAddress address, OnConnection cb, std::string owned_path)
    : Handle(loop),
      fd_(fd),
      spare_fd_(open_spare()),
      address_(address),
      cb_(std::move(cb)),
      owned_path_(std::move(owned_path)),
      is_tcp_(address.is_ip()) {
  if (spare_fd_ < 0) log::warn("listener {}: no spare fd for EMFILE shedding", address_.to_string());
  // The watcher is internal and unref'd: the listener itself is the handle that keeps the loop alive.
  watcher_.emplace(loop, fd_, [this](unsigned) { on_readable(); });
  watcher_->unref();
  set_active(true);
}

TcpListener::~TcpListener() {
  if (alive_) *alive_ = false;
  close_socket();
}

void TcpListener::on_stop() noexcept { close_socket(); }

void TcpListener::close_socket() noexcept {
  if (watcher_) watcher_->stop();
  if (backoff_timer_) (void)backoff_timer_->stop();
  set_active(false);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    if (!owned_path_.empty()) ::unlink(owned_path_.c_str());
  }
  if (spare_fd_ >= 0) {
    ::close(spare_fd_);
    spare_fd_ = -1;
  }
}

void TcpListener::pause() noexcept {
  paused_ = true;
  update_watch();
}

void TcpListener::resume() noexcept {
  paused_ = false;
  update_watch();
}

void TcpListener::update_watch() noexcept {
  if (fd_ < 0 || is_closing()) return;
  if (paused_ || backing_off_) {
    watcher_->stop();
    return;
  }
  if (auto ec = watcher_->start(io::readable)) {
    log::error("listener {}: cannot watch socket: {}", address_.to_string(), ec.message());
  }
}

void TcpListener::on_readable() noexcept {
  bool alive = true;
  alive_ = &alive;
  for (int i = 0; i < kMaxAcceptsPerReadiness; ++i) {
    if (fd_ < 0 || paused_ || backing_off_ || is_closing()) break;
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      // The client went away between SYN and accept, or a signal: nothing wrong with the listener.
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
      if (!on_fd_exhaustion(err)) break;
      continue;
    }
    if (is_tcp_) (void)set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    ++accepted_;
    // Each connection is its own callback for error reporting and microtasks (a coroutine the callback
    // spawned runs before the next accept), as Node delivers one 'connection' event at a time.
    try {
      cb_(fd);
    } catch (const std::exception& e) {
      log::error("listener {}: connection callback threw: {}", address_.to_string(), e.what());
    } catch (...) {
      log::error("listener {}: connection callback threw a non-std exception", address_.to_string());
    }
    if (!alive) return;  // destroyed by the callback
    loop().drain_microtasks();
    if (!alive) return;
  }
  alive_ = nullptr;
}

bool TcpListener::on_fd_exhaustion(int err) noexcept {
  bool exhausted = err == EMFILE || err == ENFILE;
  bool shed = false;
  int shed_err = 0;
  if (exhausted && spare_fd_ >= 0) {
    ::close(spare_fd_);
    spare_fd_ = -1;
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      ++shed_;
      shed = true;
    } else {
      shed_err = errno;
    }
    spare_fd_ = open_spare();
  }
  int64_t now = loop().now();
  if (last_log_ns_ == 0 || now - last_log_ns_ >= 1'000'000'000) {
    last_log_ns_ = now;
    log::warn("listener {}: accept failed: {}{}", address_.to_string(), errno_code(err).message(),
              shed ? "; shedding connections while out of file descriptors" : "");
  }
  if (spare_fd_ >= 0) {
    if (shed) return true;                                            // try the next pending client
    if (shed_err == EAGAIN || shed_err == EWOULDBLOCK) return false;  // nothing left to accept
  }
  back_off();
  return false;
}

void TcpListener::back_off() noexcept {
  if (is_closing() || fd_ < 0) return;
  backing_off_ = true;
  update_watch();
  if (!backoff_timer_) {
    backoff_timer_.emplace(loop());
    backoff_timer_->unref();  // the listener is the handle keeping the loop alive
  }
  (void)backoff_timer_->start(kBackoff, [this] {
    backing_off_ = false;
    if (spare_fd_ < 0) spare_fd_ = open_spare();
    update_watch();
  });
}

}  // namespace waitless::net
