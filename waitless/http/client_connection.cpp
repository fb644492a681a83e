#include "waitless/http/client_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "waitless/base/syscall.hpp"
#include "waitless/http/client.hpp"
#include "waitless/http/client_pool.hpp"

namespace waitless::http::detail {

namespace {
int64_t earliest(int64_t a, int64_t b) noexcept {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}
}  // namespace

ClientConnection::ClientConnection(ClientCore& core, const ResponseLimits& limits)
    : core_(core), loop_(core.loop()), timer_(core.loop()), in_(new char[kBufferSize]), parser_(limits) {
  // Internal handles: the timer never keeps the loop alive (an operation in flight keeps its watcher
  // referenced, which does), and neither counts in Loop::handle_count().
  timer_.mark_internal();
  timer_.unref();
}

ClientConnection::~ClientConnection() { close_socket(); }

void ClientConnection::close_socket() noexcept {
  if (fd_ < 0) return;
  watcher_.reset();  // safe inside its own callback: IoWatcher::dispatch checks for that
  ::close(fd_);
  fd_ = -1;
  state_ = State::closed;
  reading_ = writing_ = sending_ = false;
  (void)timer_.stop();
  armed_at_ = 0;
  in_pos_ = in_end_ = 0;
}

void ClientConnection::fail(std::error_code ec) noexcept {
  close_socket();
  complete(ec);
}

void ClientConnection::complete(std::error_code ec) noexcept {
  result_ = ec;
  op_done_ = true;
  if (ConnWaiter* w = std::exchange(waiter_, nullptr)) {
    w->cancel.detach();
    loop_.queue_resume(w->handle);  // never inline: the awaiting code may close or reuse this connection
  }
}

bool ClientConnection::set_interest(bool read, bool write) noexcept {
  if (!watcher_) return false;
  if (read == reading_ && write == writing_ && watcher_->is_active() == (read || write)) return true;
  unsigned events = (read ? io::readable : 0u) | (write ? io::writable : 0u);
  if (std::error_code ec = watcher_->start(events)) {
    fail(ec);
    return false;
  }
  reading_ = read;
  writing_ = write;
  return true;
}

// ---- deadlines ------------------------------------------------------------------------------------------

int64_t ClientConnection::current_deadline() const noexcept {
  int64_t d = deadline_;
  if (body_phase_ && body_idle_ns_ > 0) d = earliest(d, progress_ns_ + body_idle_ns_);
  return d;
}

void ClientConnection::arm(int64_t deadline) noexcept {
  if (deadline == 0 || (armed_at_ != 0 && armed_at_ <= deadline)) return;  // an earlier firing re-evaluates
  armed_at_ = deadline;
  (void)timer_.start(Duration(std::max<int64_t>(deadline - loop_.now(), 0)), [this] { on_timer(); });
}

void ClientConnection::on_timer() noexcept {
  armed_at_ = 0;
  const int64_t now = loop_.now();
  if (state_ == State::idle) {
    if (deadline_ != 0 && now >= deadline_) {
      core_.idle_dead(*this);  // frees this connection: nothing of it may be touched after
      return;
    }
    arm(deadline_);
    return;
  }
  if (!waiter_) return;  // no operation waits (a stream between reads): no deadline runs
  int64_t d = current_deadline();
  if (d != 0 && now >= d) {
    fail(Error::timed_out);
    return;
  }
  arm(d);
}

// ---- connecting ---------------------------------------------------------------------------------------

std::error_code ClientConnection::open(const net::SocketAddress& address) noexcept {
  close_socket();
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  if (address.is_ip()) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  // EINTR: the connect goes on asynchronously, as with EINPROGRESS.
  int r = ::connect(fd, address.data(), address.size());
  if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
    int err = errno;
    ::close(fd);
    return errno_code(err);
  }
  fd_ = fd;
  watcher_.emplace(loop_, fd, [this](unsigned events) { on_io(events); });
  watcher_->mark_internal();
  state_ = State::connecting;
  connected_now_ = r == 0;
  served = 0;
  parser_.reset();
  result_ = {};
  finished_ = reusable_ = got_bytes_ = false;
  return {};
}

ClientConnection::ConnectAwaiter ClientConnection::connected(int64_t deadline) noexcept {
  return ConnectAwaiter(this, deadline);
}

bool ClientConnection::ConnectAwaiter::start() noexcept {
  ClientConnection& c = *c_;
  c.op_done_ = false;
  c.result_ = {};
  if (c.fd_ < 0) {
    c.complete(Error::closed);
    return false;
  }
  if (c.connected_now_) {
    c.state_ = State::ready;
    return false;
  }
  c.deadline_ = deadline_;
  c.body_phase_ = false;
  if (!c.set_interest(false, true)) return false;
  c.arm(deadline_);
  return true;
}

void ClientConnection::on_connect_ready() noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) {
    fail(errno_code(err));
    return;
  }
  state_ = State::ready;
  deadline_ = 0;
  if (!set_interest(true, false)) return;
  complete({});
}

// ---- the exchange -------------------------------------------------------------------------------------

ClientConnection::ExchangeAwaiter ClientConnection::exchange(const ExchangeSpec& spec) noexcept {
  return ExchangeAwaiter(this, spec);
}

bool ClientConnection::ExchangeAwaiter::start() noexcept {
  c_->start_exchange(spec_);
  return !c_->op_done_;
}

void ClientConnection::start_exchange(const ExchangeSpec& spec) noexcept {
  op_done_ = false;
  result_ = {};
  if (fd_ < 0) {
    complete(Error::closed);
    return;
  }
  response_ = spec.response;
  collect_ = spec.collect;
  close_requested_ = spec.close;
  big_body_ = spec.body;
  big_off_ = out_off_ = 0;
  sending_ = true;
  abandoned_send_ = got_bytes_ = finished_ = reusable_ = piece_ready_ = body_phase_ = head_has_body_ = false;
  piece_ = {};
  parser_.begin(spec.head_request, spec.body_limit);
  total_deadline_ = spec.total_deadline;
  body_idle_ns_ = spec.body_idle_ns;
  deadline_ = earliest(spec.header_deadline, spec.total_deadline);
  state_ = State::busy;
  watcher_->ref();
  if (!set_interest(true, false)) return;
  arm(deadline_);
  flush();
}

bool ClientConnection::flush() noexcept {
  while (sending_) {
    iovec iov[2];
    int n = 0;
    if (out_off_ < out_.size()) iov[n++] = {out_.data() + out_off_, out_.size() - out_off_};
    if (big_off_ < big_body_.size()) {
      iov[n++] = {const_cast<char*>(big_body_.data()) + big_off_, big_body_.size() - big_off_};
    }
    if (n == 0) {
      sending_ = false;
      break;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(n);
    ssize_t w = sys::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return set_interest(true, true);
      fail(errno_code(errno));
      return false;
    }
    auto left = static_cast<std::size_t>(w);
    std::size_t from_out = std::min(left, out_.size() - out_off_);
    out_off_ += from_out;
    big_off_ += left - from_out;
  }
  return writing_ ? set_interest(true, false) : true;
}

void ClientConnection::on_io(unsigned events) noexcept {
  switch (state_) {
    case State::connecting:
      on_connect_ready();
      return;
    case State::idle:
      on_idle_event();  // may free this connection
      return;
    case State::busy:
    case State::streaming:
      if ((events & io::writable) && sending_ && !flush()) return;
      if (events & (io::readable | io::hangup | io::error)) {
        if (!waiter_) {
          set_interest(false, sending_);  // a stream whose reader has not asked: backpressure
          return;
        }
        pump();
      }
      return;
    default:
      // ready / done: nothing is expected until the next operation, which restores the interest.
      set_interest(false, false);
      return;
  }
}

void ClientConnection::on_idle_event() noexcept {
  // An idle connection has no request out: the server's close (EOF), a reset, or any byte at all means it
  // cannot carry another request.
  ssize_t n = sys::recv(fd_, in_.get(), kBufferSize, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  core_.idle_dead(*this);  // frees this connection: nothing of it may be touched after
}

// Parses and reads until the parked operation completes, the socket has nothing more, or an error.
void ClientConnection::pump() noexcept {
  bool may_read = true;
  for (;;) {
    Step step = consume();  // even with nothing buffered: a message can end without another byte
    if (step == Step::done) return;
    if (step == Step::more) continue;
    // After a short read the socket is most likely empty: wait for readiness instead of an EAGAIN read.
    if (!may_read) return;
    in_pos_ = in_end_ = 0;
    ssize_t n = sys::read(fd_, in_.get(), kBufferSize);
    if (n > 0) {
      in_end_ = static_cast<std::size_t>(n);
      got_bytes_ = true;
      progress_ns_ = loop_.now();
      may_read = in_end_ == kBufferSize;
    } else if (n == 0) {
      on_eof();
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno != EINTR) {
      fail(errno_code(errno));
      return;
    }
  }
}

// One parser event from the buffered input.
ClientConnection::Step ClientConnection::consume() noexcept {
  std::size_t used = 0;
  ResponseParser::Event ev = parser_.parse(in_.get() + in_pos_, in_end_ - in_pos_, &used);
  in_pos_ += used;
  switch (ev) {
    case ResponseParser::Event::need_more:
      return Step::need_input;
    case ResponseParser::Event::error:
      fail(parser_.error());
      return Step::done;
    case ResponseParser::Event::head:
      on_head();
      if (collect_) return Step::more;
      state_ = State::streaming;
      complete({});
      return Step::done;
    case ResponseParser::Event::body:
      if (collect_) {
        response_->body.append(parser_.body_piece());
        return Step::more;
      }
      piece_ = parser_.body_piece();
      piece_ready_ = true;
      complete({});
      return Step::done;
    case ResponseParser::Event::end:
      on_end();
      piece_ready_ = true;
      complete({});
      return Step::done;
  }
  return Step::need_input;
}

void ClientConnection::on_head() noexcept {
  ResponseHead& h = parser_.head();
  response_->status = h.status;
  response_->version_minor = h.version_minor;
  response_->reason.swap(h.reason);
  std::swap(response_->headers, h.headers);
  head_has_body_ = h.has_body;
  // Reserved up to kMaxBodyReserve only: the declared length is the peer's claim, not bytes received.
  if (collect_ && h.has_content_length && h.has_body) {
    response_->body.reserve(static_cast<std::size_t>(std::min<uint64_t>(h.content_length, kMaxBodyReserve)));
  }
  if (sending_) {
    // The server answered before taking the whole request: stop sending; the connection will not be reused.
    sending_ = false;
    abandoned_send_ = true;
    set_interest(true, false);
  }
  // The header deadline is met; the total one still runs, and silence in the body is now bounded.
  deadline_ = total_deadline_;
  body_phase_ = true;
  progress_ns_ = loop_.now();
  arm(current_deadline());
}

void ClientConnection::on_end() noexcept {
  finished_ = true;
  ++served;
  // Bytes after the response (nothing was asked) or an unsent request rule out reuse.
  reusable_ =
      parser_.head().keep_alive && !close_requested_ && !abandoned_send_ && !sending_ && in_pos_ == in_end_;
  state_ = State::done;
  deadline_ = 0;
  body_phase_ = false;
}

void ClientConnection::on_eof() noexcept {
  ResponseParser::Event ev = parser_.finish();
  if (ev == ResponseParser::Event::end) {  // a body delimited by the close
    on_end();
    reusable_ = false;
    piece_ready_ = true;
    complete({});
  } else if (ev == ResponseParser::Event::need_more) {
    fail(Error::eof);  // closed before a byte of the response
  } else {
    fail(parser_.error());
  }
}

// ---- the pool's side ---------------------------------------------------------------------------------

bool ClientConnection::go_idle(int64_t deadline) noexcept {
  state_ = State::idle;
  deadline_ = deadline;
  body_phase_ = false;
  response_ = nullptr;
  big_body_ = {};
  if (!set_interest(true, false)) return false;
  watcher_->unref();  // an idle pool never keeps the loop alive (as Node's agent unrefs its free sockets)
  arm(deadline);
  return true;
}

// ---- streaming ----------------------------------------------------------------------------------------

ClientConnection::PieceAwaiter ClientConnection::next_piece(int64_t body_idle_ns) noexcept {
  return PieceAwaiter(this, body_idle_ns);
}

// Whether the next piece (or the end, or an error) is ready without waiting, parsing buffered input.
bool ClientConnection::poll_piece() noexcept {
  if (piece_ready_ || state_ != State::streaming || fd_ < 0) return true;
  op_done_ = false;
  for (;;) {
    Step step = consume();
    if (step == Step::done) return true;
    if (step == Step::need_input) return false;
  }
}

bool ClientConnection::PieceAwaiter::start() noexcept {
  ClientConnection& c = *c_;
  c.body_idle_ns_ = idle_ns_;
  c.progress_ns_ = c.loop_.now();  // silence counts from when the reader asks
  c.body_phase_ = true;
  c.deadline_ = 0;
  if (!c.set_interest(true, c.sending_)) return false;
  c.pump();  // the socket often has the next piece already
  if (c.op_done_) return false;
  c.arm(c.current_deadline());
  return true;
}

Result<std::string_view> ClientConnection::PieceAwaiter::await_resume() noexcept {
  ClientConnection& c = *c_;
  if (c.result_) return c.result_;
  if (!c.piece_ready_ && c.fd_ < 0) return Error::closed;
  c.piece_ready_ = false;
  return c.take_piece();  // "" at the end
}

}  // namespace waitless::http::detail
