#include "waitless/net/tcp_stream.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "waitless/base/log.hpp"

namespace waitless::net {

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

TcpStream::TcpStream(Loop& loop, int fd) : Handle(loop), transport_(loop, fd, this) {
  // Unref'd: the stream itself is the handle that keeps the loop alive. Nothing is read until on_data or
  // read() asks (update_interest).
  transport_.watcher().unref();
  transport_.pause();
  set_active(true);
}

TcpStream::~TcpStream() {
  if (alive_) *alive_ = false;
  teardown(Error::closed);
}

void TcpStream::on_stop() noexcept { teardown(Error::closed); }

int TcpStream::release_fd() noexcept {
  if (!transport_.is_open() || transport_.queued() > 0) return -1;
  const int fd = transport_.release();
  teardown(Error::closed);
  return fd;
}

void TcpStream::teardown(std::error_code waiters_get) noexcept {
  bytes_accepted_ -= transport_.queued();  // dropped, never written
  queued_seen_ = 0;
  transport_.close();
  set_active(false);
  if (error_notify_) {
    loop().clear_immediate(error_notify_);
    error_notify_ = 0;
  }
  if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) r->complete(waiters_get);
  while (DrainAwaiter* d = drain_waiters_.pop_front()) d->complete(waiters_get);
}

// ---- transport events -------------------------------------------------------------------------------------

void TcpStream::update_interest() noexcept {
  if (!transport_.is_open() || is_closing() || error_) return;
  if (!wants_read()) {
    transport_.pause();  // lazily: the transport drops the read interest at the next unwanted readiness
  } else if (auto ec = transport_.resume()) {
    fail(ec);
  }
}

bool TcpStream::on_bytes(const char* data, std::size_t size) noexcept {
  bytes_read_ += size;
  if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) {
    r->complete(std::string(data, size));
    update_interest();  // one chunk per read(): the rest waits in the kernel unless on_data is set
    return true;
  }
  if (!on_data_) return true;  // not reached: the transport is paused whenever nobody reads
  // The callback may replace itself, close or destroy the stream: check everything afterwards.
  bool alive = true;
  alive_ = &alive;
  uint64_t gen = on_data_gen_;
  auto cb = std::move(on_data_);
  try {
    cb(std::string_view(data, size));
  } catch (const std::exception& e) {
    log::error("TcpStream on_data threw: {}", e.what());
  } catch (...) {
    log::error("TcpStream on_data threw a non-std exception");
  }
  if (!alive) return false;
  alive_ = nullptr;
  if (on_data_gen_ == gen) on_data_ = std::move(cb);
  update_interest();
  return true;
}

bool TcpStream::on_eof() noexcept {
  if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) r->complete(std::string());
  if (on_end_) {
    bool alive = true;
    alive_ = &alive;
    auto cb = on_end_;  // a copy: the callback may replace or clear on_end
    try {
      cb();
    } catch (...) {
      log::error("TcpStream on_end threw");
    }
    if (!alive) return false;
    alive_ = nullptr;
  }
  return true;
}

bool TcpStream::on_writable(std::size_t queued) noexcept {
  queued_seen_ = queued;
  if (queued > 0) return true;
  bool alive = true;
  alive_ = &alive;
  after_flush();
  if (!alive) return false;
  alive_ = nullptr;
  return true;
}

bool TcpStream::on_error(std::error_code ec) noexcept {
  fail(ec);
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
  if (s->error_) {
    result_.emplace(s->error_);
  } else if (!s->transport_.is_open() || s->is_closing()) {
    result_.emplace(Error::closed);
  } else if (s->transport_.at_eof()) {
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

bool TcpStream::accept_write(std::string_view data) {
  if (!writable_state()) return false;
  if (std::error_code ec = transport_.write(data)) {
    fail(ec);
    return false;
  }
  bytes_accepted_ += data.size();
  queued_seen_ = transport_.queued();
  if (transport_.queued() >= high_water_) need_drain_ = true;
  return transport_.queued() < high_water_;
}

bool TcpStream::write(std::string_view data) { return accept_write(data); }

bool TcpStream::write(std::string&& data) { return accept_write(data); }

// The queue just emptied (the transport sent the FIN if one was asked for): close if ending, wake drain() and
// on_drain. False if a callback destroyed the stream.
bool TcpStream::after_flush() noexcept {
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
  } else if (!s->transport_.is_open() || s->is_closing()) {
    result_ = Error::closed;
  } else if (s->transport_.queued() == 0) {
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
  if (!transport_.is_open() || is_closing()) return Error::closed;
  if (shutdown_requested_) return {};
  shutdown_requested_ = true;
  if (error_) return {};
  return transport_.shutdown();
}

void TcpStream::end(std::function<void()> on_close) {
  if (!transport_.is_open() || is_closing() || ending_) return;
  (void)shutdown();
  if (transport_.queued() == 0 || error_) {
    (void)close(std::move(on_close));
    return;
  }
  ending_ = true;
  end_close_cb_ = std::move(on_close);
}

void TcpStream::fail(std::error_code ec) noexcept {
  if (error_) return;
  error_ = ec;
  // The transport stopped reading and writing and dropped its queue; the fd stays open until close.
  bytes_accepted_ -= queued_seen_;
  queued_seen_ = 0;
  transport_.pause();
  if (ReadAwaiter* r = std::exchange(read_waiter_, nullptr)) r->complete(ec);
  while (DrainAwaiter* d = drain_waiters_.pop_front()) d->complete(ec);
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
  if (setsockopt(fd(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0) return errno_code(errno);
  return {};
}

std::error_code TcpStream::set_keep_alive(bool enable, Duration initial_delay) noexcept {
  int v = enable ? 1 : 0;
  if (setsockopt(fd(), SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) < 0) return errno_code(errno);
  if (enable && initial_delay > Duration::zero()) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(initial_delay).count();
    int idle = static_cast<int>(std::clamp<int64_t>(secs, 1, INT_MAX));
    if (setsockopt(fd(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0) return errno_code(errno);
  }
  return {};
}

}  // namespace waitless::net
