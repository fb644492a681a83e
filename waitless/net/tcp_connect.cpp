// TcpStream::connect: DNS (dns::resolve on the loop), then a connect per address started by
// Transport::start_connect (the one place sockets are made and connected), each watched for writability
// with a Timer for the deadline and the awaiting task's CancelToken: the coroutine face of a connect.
#include <unistd.h>

#include "waitless/base/syscall.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/tcp_stream.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::net {
namespace {

// co_await ConnectAwaiter(...) -> Result<int>: a connected, non-blocking, close-on-exec socket fd.
// The awaiter owns the fd until await_resume hands it over; its watcher and timer live only while it waits.
class ConnectAwaiter {
 public:
  ConnectAwaiter(Loop& loop, const SocketAddress& address, Duration timeout, bool no_delay) noexcept
      : loop_(loop), address_(address), timeout_(timeout), no_delay_(no_delay) {}
  ConnectAwaiter(ConnectAwaiter&&) = delete;
  ~ConnectAwaiter() {
    watcher_.reset();  // before the fd it watches is closed
    timer_.reset();
    if (fd_ >= 0) sys::close(fd_);
  }

  bool await_ready() noexcept {
    auto started = Transport::start_connect(address_, no_delay_);
    if (!started) {
      ec_ = started.error();  // ECONNREFUSED, ENETUNREACH, EAGAIN (a full Unix backlog)...
      return true;
    }
    fd_ = started->fd;
    return started->done;  // loopback and Unix sockets often connect at once
  }

  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = detail::token_of(h);
    if (token.cancelled()) {
      ec_ = Error::cancelled;
      return false;
    }
    awaiting_ = h;
    watcher_.emplace(loop_, fd_, [this](unsigned) { finish(Transport::connect_result(fd_)); });
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
  bool no_delay_;
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
  Result<int> fd = co_await ConnectAwaiter(loop, address, options.timeout, options.no_delay);
  if (!fd) co_return fd.error();
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
