// TcpStream::connect: DNS (dns::resolve on the loop), then a non-blocking connect per address, each
// watched for writability with a Timer for the deadline and the awaiting task's CancelToken.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "waitless/loop/timer.hpp"
#include "waitless/net/tcp_stream.hpp"

namespace waitless::net {
namespace {

// co_await ConnectAwaiter(...) -> Result<int>: a connected, non-blocking, close-on-exec socket fd.
// The awaiter owns the fd until await_resume hands it over; its watcher and timer live only while it waits.
class ConnectAwaiter {
 public:
  ConnectAwaiter(Loop& loop, const SocketAddress& address, Duration timeout) noexcept
      : loop_(loop), address_(address), timeout_(timeout) {}
  ConnectAwaiter(ConnectAwaiter&&) = delete;
  ~ConnectAwaiter() {
    watcher_.reset();  // before the fd it watches is closed
    timer_.reset();
    if (fd_ >= 0) ::close(fd_);
  }

  bool await_ready() noexcept {
    if (address_.empty()) {
      ec_ = Error::invalid_argument;
      return true;
    }
    fd_ = ::socket(address_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      ec_ = errno_code(errno);
      return true;
    }
    int r;
    do r = ::connect(fd_, address_.data(), address_.size());
    while (r < 0 && errno == EINTR);
    if (r == 0) return true;  // loopback and Unix sockets often connect at once
    if (errno == EINPROGRESS) return false;
    ec_ = errno_code(errno);  // ECONNREFUSED, ENETUNREACH, EAGAIN (a full Unix backlog)...
    return true;
  }

  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = detail::token_of(h);
    if (token.cancelled()) {
      ec_ = Error::cancelled;
      return false;
    }
    awaiting_ = h;
    watcher_.emplace(loop_, fd_, [this](unsigned) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      finish(err ? errno_code(err) : std::error_code{});
    });
    if (auto ec = watcher_->start(io::writable)) {
      ec_ = ec;
      return false;
    }
    if (timeout_ > Duration::zero()) {
      timer_.emplace(loop_);
      (void)timer_->start(timeout_, [this] { finish(Error::timed_out); });
    }
    cancel_.attach(token, [this] { finish(Error::cancelled); });
    return true;
  }

  Result<int> await_resume() noexcept {
    if (ec_) return ec_;
    return std::exchange(fd_, -1);
  }

 private:
  void finish(std::error_code ec) noexcept {
    if (done_) return;
    done_ = true;
    ec_ = ec;
    watcher_->stop();
    if (timer_) (void)timer_->stop();
    cancel_.detach();
    loop_.queue_resume(awaiting_);  // from a watcher, timer or cancel callback: never resume inline
  }

  Loop& loop_;
  SocketAddress address_;
  Duration timeout_;
  int fd_ = -1;
  std::error_code ec_;
  bool done_ = false;
  std::coroutine_handle<> awaiting_;
  std::optional<IoWatcher> watcher_;
  std::optional<Timer> timer_;
  CancelCallback cancel_;
};

}  // namespace

Task<Result<std::unique_ptr<TcpStream>>> TcpStream::connect(Loop& loop, SocketAddress address,
                                                            ConnectOptions options) {
  Result<int> fd = co_await ConnectAwaiter(loop, address, options.timeout);
  if (!fd) co_return fd.error();
  if (address.is_ip() && options.no_delay) {
    int one = 1;
    (void)setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  co_return adopt(loop, *fd);
}

Task<Result<std::unique_ptr<TcpStream>>> TcpStream::connect(Loop& loop, std::string host, uint16_t port,
                                                            ConnectOptions options) {
  // One deadline for the lookup and every attempt.
  const int64_t deadline = options.timeout > Duration::zero() ? loop.now() + options.timeout.count() : 0;
  auto addrs = co_await dns::resolve(loop, host, {.family = options.family, .timeout = options.timeout});
  if (!addrs) co_return addrs.error();
  std::error_code last = dns::dns_errc::not_found;
  for (SocketAddress address : *addrs) {
    address.set_port(port);
    ConnectOptions attempt = options;
    if (deadline) {
      if (loop.now() >= deadline) co_return Error::timed_out;
      attempt.timeout = Duration(deadline - loop.now());
    }
    auto stream = co_await connect(loop, address, attempt);
    if (stream) co_return std::move(stream);
    last = stream.error();
    // Give up on what another address cannot fix; try the next address on refusal, unreachability...
    if (last == Error::cancelled || last == Error::timed_out) co_return last;
  }
  co_return last;
}

}  // namespace waitless::net
