#include "waitless/net/tcp_stream.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "waitless/base/log.hpp"
#include "waitless/base/syscall.hpp"

namespace waitless::net {
namespace {

// The receive buffer shared by every stream of the thread (one loop per thread). A stream reads into it
// and hands a view to its callback; the view dies with the call. If a callback somehow reads another
// stream while the buffer is lent out, that read gets a temporary buffer instead.
class RecvBuffer {
 public:
  RecvBuffer() {
    if (!shared().busy) {
      shared().busy = true;
      data_ = shared().data.get();
    } else {
      own_ = std::make_unique<char[]>(TcpStream::kReadBufferSize);
      data_ = own_.get();
    }
  }
  ~RecvBuffer() {
    if (!own_) shared().busy = false;
  }
  RecvBuffer(const RecvBuffer&) = delete;
  RecvBuffer& operator=(const RecvBuffer&) = delete;
  char* data() const noexcept { return data_; }

 private:
  struct Shared {
    std::unique_ptr<char[]> data = std::make_unique<char[]>(TcpStream::kReadBufferSize);
    bool busy = false;
  };
  static Shared& shared() {
    thread_local Shared s;
    return s;
  }
  std::unique_ptr<char[]> own_;
  char* data_;
};

// Small writes are appended to the last queued chunk rather than queued as chunks of their own.
constexpr std::size_t kCoalesceLimit = 16 * 1024;
constexpr int kMaxIov = 64;

}  // namespace

// ---- creation / destruction -----------------------------------------------------------------------------

Result<std::unique_ptr<TcpStream>> TcpStream::adopt(Loop& loop, int fd) {
  if (fd < 0) return Error::invalid_argument;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
    std::error_code ec = errno_code(errno);
    ::close(fd);
    return ec;
  }
  return std::unique_ptr<TcpStream>(new TcpStream(loop, fd));
}

TcpStream::TcpStream(Loop& loop, int fd) : Handle(loop), fd_(fd) {
  // Internal and unref'd: the stream itself is the handle that keeps the loop alive.
  watcher_.emplace(loop, fd_, [this](unsigned events) { on_io(events); });
  watcher_->unref();
  set_active(true);
}

TcpStream::~TcpStream() {
  if (alive_) *alive_ = false;
  teardown(Error::closed);
}

void TcpStream::on_stop() noexcept { teardown(Error::closed); }

void TcpStream::teardown(std::error_code waiters_get) noexcept {
  if (watcher_) watcher_->stop();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  set_active(false);
  queue_.clear();
  queued_ = front_offset_ = 0;
  if (error_notify_) {
    loop().clear_immediate(error_notify_);
    error_notify_ = 0;
  }
  if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) r->complete(waiters_get);
  while (DrainAwaiter* d = drain_waiters_.pop_front()) d->complete(waiters_get);
}

// ---- readiness ------------------------------------------------------------------------------------------

void TcpStream::update_interest() noexcept {
  if (fd_ < 0 || is_closing()) return;
  unsigned want = (wants_read() ? io::readable : 0u) | (queued_ > 0 && !error_ ? io::writable : 0u);
  // Read interest is dropped lazily: a read() loop re-arms it at once, and each epoll_ctl costs a syscall.
  // on_io drops it when readiness arrives that nobody wants. A paused, ended or failed stream drops it now.
  bool keep_read = (watcher_->events() & io::readable) && !paused_ && !eof_ && !error_;
  if (keep_read) want |= io::readable;
  if (want == watcher_->events()) return;
  if (auto ec = watcher_->start(want)) fail(ec);
}

void TcpStream::on_io(unsigned events) noexcept {
  bool alive = true;
  alive_ = &alive;
  if ((events & (io::readable | io::hangup | io::error)) && (watcher_->events() & io::readable)) {
    if (wants_read()) {
      if (!do_read()) return;
    }
  }
  if (fd_ >= 0 && !is_closing() && queued_ > 0 && (events & (io::writable | io::hangup | io::error))) {
    if (!do_write()) return;
  }
  alive_ = nullptr;
  if (fd_ >= 0 && !is_closing()) {
    // Readable but nobody wants it (lazy removal, see update_interest): stop watching for it now.
    if (!wants_read() && (watcher_->events() & io::readable)) {
      unsigned want = queued_ > 0 && !error_ ? io::writable : 0u;
      if (auto ec = watcher_->start(want)) fail(ec);
    } else {
      update_interest();
    }
  }
}

bool TcpStream::do_read() noexcept {
  bool* alive = alive_;  // on_io's flag, read through this local: `this` may be gone after a callback
  RecvBuffer buf;
  for (int i = 0; i < kMaxReadsPerReadiness && wants_read() && fd_ >= 0 && !is_closing(); ++i) {
    ssize_t n = sys::recv(fd_, buf.data(), kReadBufferSize, 0);
    if (n > 0) {
      bytes_read_ += static_cast<uint64_t>(n);
      if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) {
        r->complete(std::string(buf.data(), static_cast<std::size_t>(n)));
        break;  // one chunk per read(); the rest waits in the kernel
      }
      // The callback may replace itself, close or destroy the stream: check everything afterwards.
      uint64_t gen = on_data_gen_;
      auto cb = std::move(on_data_);
      try {
        cb(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      } catch (const std::exception& e) {
        log::error("TcpStream on_data threw: {}", e.what());
      } catch (...) {
        log::error("TcpStream on_data threw a non-std exception");
      }
      if (!*alive) return false;
      if (on_data_gen_ == gen) on_data_ = std::move(cb);
      if (static_cast<std::size_t>(n) < kReadBufferSize) break;  // drained what the kernel had
      continue;
    }
    if (n == 0) {
      eof_ = true;
      if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) r->complete(std::string());
      if (on_end_) {
        auto cb = on_end_;  // a copy: the callback may replace or clear on_end
        try {
          cb();
        } catch (...) {
          log::error("TcpStream on_end threw");
        }
        if (!*alive) return false;
      }
      break;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    fail(errno_code(err));
    break;
  }
  return true;
}

// ---- reading API ----------------------------------------------------------------------------------------

void TcpStream::on_data(std::function<void(std::string_view)> cb) {
  on_data_ = std::move(cb);
  ++on_data_gen_;
  update_interest();
}

void TcpStream::pause() noexcept {
  paused_ = true;
  update_interest();
}

void TcpStream::resume() noexcept {
  paused_ = false;
  update_interest();
}

TcpStream::ReadAwaiter TcpStream::read() { return ReadAwaiter(this); }

TcpStream::ReadAwaiter::~ReadAwaiter() {
  if (stream_ && stream_->read_waiter_ == this) stream_->read_waiter_ = nullptr;
}

bool TcpStream::ReadAwaiter::await_ready() noexcept {
  TcpStream* s = stream_;
  if (s->fd_ < 0 || s->is_closing()) {
    result_.emplace(Error::closed);
  } else if (s->error_) {
    result_.emplace(s->error_);
  } else if (s->eof_) {
    result_.emplace(std::string());
  } else if (s->read_waiter_ || s->on_data_) {
    result_.emplace(Error::invalid_argument);
  }
  if (result_) stream_ = nullptr;
  return result_.has_value();
}

void TcpStream::ReadAwaiter::suspend(std::coroutine_handle<> h, const CancelToken& token) {
  awaiting_ = h;
  if (token.cancelled()) {
    result_.emplace(Error::cancelled);
    Loop& loop = stream_->loop();
    stream_ = nullptr;
    loop.queue_resume(h);
    return;
  }
  stream_->read_waiter_ = this;
  stream_->update_interest();
  cancel_.attach(token, [this] {
    if (stream_ && stream_->read_waiter_ == this) stream_->read_waiter_ = nullptr;
    complete(Error::cancelled);
  });
}

void TcpStream::ReadAwaiter::complete(Result<std::string> r) noexcept {
  if (!stream_) return;
  Loop& loop = stream_->loop();
  stream_ = nullptr;
  result_.emplace(std::move(r));
  cancel_.detach();
  loop.queue_resume(awaiting_);  // never inline: the stream is mid-callback
}

// ---- writing --------------------------------------------------------------------------------------------

bool TcpStream::write(std::string_view data) {
  if (!writable_state()) return false;
  if (queue_.empty() && !data.empty()) {
    ssize_t n;
    do n = sys::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        fail(errno_code(errno));
        return false;
      }
      n = 0;
    }
    bytes_written_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (!data.empty()) enqueue(data);
  if (queued_ >= high_water_) need_drain_ = true;
  return queued_ < high_water_;
}

bool TcpStream::write(std::string&& data) {
  if (!writable_state()) return false;
  if (!queue_.empty() || data.size() <= kCoalesceLimit) return write(std::string_view(data));
  // A large string goes out directly; what the kernel does not take is queued without a copy.
  ssize_t n;
  do n = sys::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(errno_code(errno));
      return false;
    }
    n = 0;
  }
  bytes_written_ += static_cast<uint64_t>(n);
  if (static_cast<std::size_t>(n) < data.size()) {
    queued_ += data.size() - static_cast<std::size_t>(n);
    front_offset_ = static_cast<std::size_t>(n);
    queue_.push_back(std::move(data));
    update_interest();
  }
  if (queued_ >= high_water_) need_drain_ = true;
  return queued_ < high_water_;
}

void TcpStream::enqueue(std::string_view data) {
  if (queue_.empty()) front_offset_ = 0;
  // Small writes join the last chunk (appending never moves front_offset_; do_write rebuilds its iovecs
  // from the strings each time), so a burst of small writes is one iovec, not hundreds.
  if (!queue_.empty() && data.size() <= kCoalesceLimit &&
      queue_.back().size() + data.size() <= 4 * kCoalesceLimit) {
    queue_.back().append(data);
  } else {
    queue_.emplace_back(data);
  }
  queued_ += data.size();
  update_interest();
}

bool TcpStream::do_write() noexcept {
  while (queued_ > 0) {
    iovec iov[kMaxIov];
    int count = 0;
    std::size_t offset = front_offset_;
    for (auto it = queue_.begin(); it != queue_.end() && count < kMaxIov; ++it, offset = 0) {
      iov[count].iov_base = it->data() + offset;
      iov[count].iov_len = it->size() - offset;
      ++count;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    ssize_t n = sys::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      fail(errno_code(errno));
      return true;
    }
    auto left = static_cast<std::size_t>(n);
    bytes_written_ += left;
    queued_ -= left;
    while (left > 0) {
      std::size_t rest = queue_.front().size() - front_offset_;
      if (left < rest) {
        front_offset_ += left;
        break;
      }
      left -= rest;
      queue_.pop_front();
      front_offset_ = 0;
    }
  }
  return after_flush();
}

// The queue just emptied: FIN if asked, close if ending, wake drain() and on_drain. False if a callback
// destroyed the stream.
bool TcpStream::after_flush() noexcept {
  if (shutdown_requested_ && !shutdown_done_ && fd_ >= 0) {
    shutdown_done_ = true;
    if (::shutdown(fd_, SHUT_WR) < 0 && errno != ENOTCONN) fail(errno_code(errno));
  }
  while (DrainAwaiter* d = drain_waiters_.pop_front()) d->complete(error_);
  if (ending_) {
    (void)close(std::move(end_close_cb_));
    return true;
  }
  if (need_drain_ && !error_) {
    need_drain_ = false;
    if (on_drain_) {
      bool* alive = alive_;  // set when called from on_io; `this` may be gone after the callback
      auto cb = on_drain_;
      try {
        cb();
      } catch (...) {
        log::error("TcpStream on_drain threw");
      }
      if (alive && !*alive) return false;
    }
  }
  return true;
}

TcpStream::DrainAwaiter TcpStream::drain() { return DrainAwaiter(this); }

TcpStream::DrainAwaiter::~DrainAwaiter() {
  if (stream_) unlink_from_list();
}

bool TcpStream::DrainAwaiter::await_ready() noexcept {
  TcpStream* s = stream_;
  if (s->error_) {
    result_ = s->error_;
  } else if (s->fd_ < 0 || s->is_closing()) {
    result_ = Error::closed;
  } else if (s->queued_ == 0) {
    result_ = {};
  } else {
    return false;
  }
  stream_ = nullptr;
  return true;
}

void TcpStream::DrainAwaiter::suspend(std::coroutine_handle<> h, const CancelToken& token) {
  awaiting_ = h;
  if (token.cancelled()) {
    result_ = Error::cancelled;
    Loop& loop = stream_->loop();
    stream_ = nullptr;
    loop.queue_resume(h);
    return;
  }
  stream_->drain_waiters_.push_back(*this);
  cancel_.attach(token, [this] { complete(Error::cancelled); });
}

void TcpStream::DrainAwaiter::complete(std::error_code ec) noexcept {
  if (!stream_) return;
  Loop& loop = stream_->loop();
  unlink_from_list();
  stream_ = nullptr;
  result_ = ec;
  cancel_.detach();
  loop.queue_resume(awaiting_);
}

// ---- ending / failing -----------------------------------------------------------------------------------

std::error_code TcpStream::shutdown() {
  if (fd_ < 0 || is_closing()) return Error::closed;
  if (shutdown_requested_) return {};
  shutdown_requested_ = true;
  if (queued_ == 0 && !error_) {
    shutdown_done_ = true;
    if (::shutdown(fd_, SHUT_WR) < 0 && errno != ENOTCONN) return errno_code(errno);
  }
  return {};
}

void TcpStream::end(std::function<void()> on_close) {
  if (fd_ < 0 || is_closing() || ending_) return;
  (void)shutdown();
  if (queued_ == 0 || error_) {
    (void)close(std::move(on_close));
    return;
  }
  ending_ = true;
  end_close_cb_ = std::move(on_close);
}

void TcpStream::fail(std::error_code ec) noexcept {
  if (error_) return;
  error_ = ec;
  queue_.clear();
  queued_ = front_offset_ = 0;
  if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) r->complete(ec);
  while (DrainAwaiter* d = drain_waiters_.pop_front()) d->complete(ec);
  if (watcher_ && fd_ >= 0) watcher_->stop();
  // Reported from the check phase, never from inside write(): the caller's code is not re-entered.
  error_notify_ = loop().set_immediate([this] {
    error_notify_ = 0;
    if (!on_error_) return;
    auto cb = on_error_;
    cb(error_);
  });
  if (ending_) {
    ending_ = false;
    (void)close(std::move(end_close_cb_));
  }
}

// ---- options --------------------------------------------------------------------------------------------

std::error_code TcpStream::set_no_delay(bool enable) noexcept {
  int v = enable ? 1 : 0;
  if (setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0) return errno_code(errno);
  return {};
}

std::error_code TcpStream::set_keep_alive(bool enable, Duration initial_delay) noexcept {
  int v = enable ? 1 : 0;
  if (setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) < 0) return errno_code(errno);
  if (enable && initial_delay > Duration::zero()) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(initial_delay).count();
    int idle = static_cast<int>(std::clamp<int64_t>(secs, 1, INT_MAX));
    if (setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0) return errno_code(errno);
  }
  return {};
}

}  // namespace waitless::net
