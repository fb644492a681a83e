// ServerConnection, the output half: response ordering, sends, closing and deadlines.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "waitless/base/syscall.hpp"
#include "waitless/http/server_connection.hpp"
#include "waitless/http/server_loop.hpp"

namespace waitless::http::detail {

namespace {
constexpr int64_t kLingerNs = 2'000'000'000;  // how long a closing connection reads and drops input
}  // namespace

// ---- output -----------------------------------------------------------------------------------------------

OutBuffer* ServerConnection::output_for(Exchange& ex) noexcept {
  if (!ex.fast && &ex != st_->inflight.front()) return &ex.pending;
  return sl_.batching == this ? &sl_.shared_out() : &st_->out;
}

bool ServerConnection::decide_close(Exchange& ex) noexcept {
  if (ex.close) return true;
  ConnState& st = *st_;
  if ((close_after_ || draining_) && (ex.fast || &ex == st.newest)) return true;
  if (st.body_ex == &ex && !ex.body_done) {
    // The rest of the body may never be read: keep the connection only if it can be drained cheaply.
    if (ex.req.expects_continue() && !ex.continue_sent) return true;  // the client may or may not send it
    if (!ex.req.chunked()) {
      uint64_t rest = ex.req.content_length().value_or(0) - st.parser.body_received();
      if (rest > sl_.limits().max_drain) return true;
    }
  }
  return false;
}

bool ServerConnection::needs_drain(const Exchange& ex) const noexcept {
  std::size_t hwm = sl_.limits().write_high_water;
  if (!ex.fast && &ex != st_->inflight.front()) return ex.pending.size() >= hwm;
  std::size_t queued = st_->queued() + (sl_.batching == this ? sl_.shared_out().size() : 0);
  return queued >= hwm;
}

void ServerConnection::committed(Exchange& ex, bool finished) noexcept {
  Entry guard(this);
  if (!ex.head_written) {
    ex.head_written = true;
    if (ex.res.closes_connection()) close_after_ = true;
  }
  if (finished) {
    if (ex.res.closes_connection()) close_after_ = true;
    if (!ex.fast && &ex == st_->inflight.front()) advance();
  }
  if (sl_.batching != this && !dead_) {
    if (flush(false)) maybe_close();
  }
}

void ServerConnection::advance() noexcept {
  ConnState& st = *st_;
  for (;;) {
    Exchange* front = st.inflight.front();
    if (!front || !front->res.finished()) return;
    st.inflight.pop_front();
    --st.inflight_count;
    if (st.newest == front) st.newest = nullptr;
    front->emitted = true;
    if (front->res.closes_connection()) {
      // The connection ends with this response: the requests pipelined after it are never answered, and
      // nothing they write may follow it on the wire.
      close_after_ = true;
      drop_pipelined();
    } else if (Exchange* next = st.inflight.front(); next && !next->pending.empty()) {
      (sl_.batching == this ? sl_.shared_out() : st.out).append(next->pending.data(), next->pending.size());
      next->pending.clear();
    }
    maybe_release(*front);
    if (dead_) return;
  }
}

void ServerConnection::finish_batch() noexcept {
  sl_.batching = nullptr;
  if (dead_) {
    sl_.shared_out().clear();
    return;
  }
  OutBuffer& shared = sl_.shared_out();
  if (st_ && st_->out.empty() && !writing_ && !shared.empty()) {
    // Nothing queued from before: one send of this read's responses, and usually that is all.
    ssize_t n = sys::send(watcher_.fd(), shared.data(), shared.size(), MSG_NOSIGNAL);
    if (n >= 0 && static_cast<std::size_t>(n) == shared.size()) {
      shared.clear();
      if (st_->in_off < st_->in.size()) resume_input();  // parsing paused at the high-water mark
    } else {
      if (n > 0) shared.consume(static_cast<std::size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        shared.clear();
        abort();
        return;
      }
      if (!flush(true)) return;  // queues the rest and watches for writability
    }
  } else if (!flush(true)) {
    return;
  }
  if (at_rest()) {
    // The common end of a keep-alive request: no state, no buffer, one deadline store.
    sl_.release_state(st_);
    st_ = nullptr;
    wait_ = Wait::idle;
    deadline_ = sl_.loop().now() + ns(sl_.limits().keep_alive_timeout);
    return;
  }
  maybe_close();
  if (!dead_) update_deadline(false);
}

bool ServerConnection::flush(bool with_shared) noexcept {
  OutBuffer& shared = sl_.shared_out();
  const std::size_t q = st_ ? st_->out.size() : 0;
  const std::size_t s = with_shared ? shared.size() : 0;
  if (q + s == 0) {
    if (writing_) set_interest(reading_, false);
    return !dead_;
  }
  ssize_t n;
  const int fd = watcher_.fd();
  if (q == 0) {
    n = sys::send(fd, shared.data(), s, MSG_NOSIGNAL);
  } else if (s == 0) {
    n = sys::send(fd, st_->out.data(), q, MSG_NOSIGNAL);
  } else {
    iovec iov[2] = {{const_cast<char*>(st_->out.data()), q}, {const_cast<char*>(shared.data()), s}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    n = sys::sendmsg(fd, &msg, MSG_NOSIGNAL);
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      if (with_shared) shared.clear();
      abort();
      return false;
    }
    n = 0;
  }
  auto sent = static_cast<std::size_t>(n);
  if (q > 0) {
    std::size_t from_q = sent < q ? sent : q;
    st_->out.consume(from_q);
    sent -= from_q;
  }
  if (s > 0) {
    if (sent < s) state().out.append(shared.data() + sent, s - sent);  // the kernel's buffer is full
    shared.clear();
  }
  ConnState* st = st_;
  if (!st) return true;
  const bool pending = !st->out.empty();
  set_interest(reading_, pending);
  if (pending && n > 0) update_deadline(true);
  if (st->out.size() < sl_.limits().write_low_water) {
    if (Exchange* front = st->inflight.front()) front->wake_drain();
    if (!reading_ || st->in_off < st->in.size()) resume_input();
  }
  return !dead_;
}

void ServerConnection::maybe_close() noexcept {
  if (!close_after_ || dead_) return;
  if (st_ && (!st_->inflight.empty() || st_->queued() > 0)) return;
  if (sl_.batching == this && !sl_.shared_out().empty()) return;
  // Lingering close: stop sending, keep reading (and dropping) what the client is still sending for a
  // moment, so its kernel does not answer our last response with a reset before the client read it.
  if (::shutdown(watcher_.fd(), SHUT_WR) != 0) {
    close_now();
    return;
  }
  detach_all();
  lingering_ = true;
  stop_input_ = true;
  wait_ = Wait::linger;
  deadline_ = sl_.loop().now() + kLingerNs;
  set_interest(true, false);
}

// ---- closing ----------------------------------------------------------------------------------------------

void ServerConnection::drop_pipelined() noexcept {
  ConnState& st = *st_;
  while (Exchange* ex = st.inflight.pop_front()) {
    --st.inflight_count;
    if (st.body_ex == ex) {
      // Its body is never read: input stops (close_after_), and the parser keeps no pointer into it.
      st.body_ex = nullptr;
      st.parser.set_body_sink(nullptr, st.parser.body_received());
    }
    ex->ListHook<LiveTag>::unlink_from_list();
    detach(*ex);
  }
  st.newest = nullptr;
}

void ServerConnection::detach(Exchange& ex) noexcept {
  ex.conn = nullptr;
  if (!ex.body_done && !ex.body_error) ex.body_error = Error::closed;
  ex.wake_body(Error::closed);
  ex.wake_drain(Error::closed);
  if (ex.handler_running) {
    sl_.orphan(ex);
    if (ex.cancel) ex.cancel->cancel();  // user callbacks may run here
  } else {
    ex.release();
  }
}

void ServerConnection::detach_all() noexcept {
  if (!st_) return;
  ConnState& st = *st_;
  st.inflight.clear();
  st.inflight_count = 0;
  st.newest = nullptr;
  st.body_ex = nullptr;
  while (Exchange* ex = st.live.pop_front()) detach(*ex);
}

void ServerConnection::close_now() noexcept {
  if (dead_) return;
  dead_ = true;
  if (sl_.batching == this) {
    sl_.shared_out().clear();
    sl_.batching = nullptr;
  }
  watcher_.stop();
  ::close(watcher_.fd());
  detach_all();
  sl_.connection_closed(*this);
  // Deleted by the outermost Entry guard: every path to here holds one.
}

void ServerConnection::abort() noexcept {
  Entry guard(this);
  close_now();
}

// Graceful shutdown begins: from here every response closes the connection (decide_close). A request in
// flight whose response has not started finishes, and its response says so (nothing more is read). Every
// other connection (idle, part of a request received, or a keep-alive response already started or queued)
// has told its client it stays open, and that client may be sending its next request right now: it is
// still read until end_grace(), so such a request is answered rather than met by a close.
void ServerConnection::begin_drain() noexcept {
  Entry guard(this);
  if (dead_) return;
  draining_ = true;
  if (lingering_ || close_after_ || !st_) return;
  if (st_->newest && !st_->newest->head_written) close_after_ = true;
}

// The grace is over (options.shutdown_idle_grace after begin_drain): what has nothing in flight closes,
// what has finishes it and closes. A request that reached the socket just now is read and answered first.
void ServerConnection::end_grace() noexcept {
  Entry guard(this);
  if (dead_ || lingering_ || close_after_) return;
  char byte;
  if (input_wanted() && ::recv(watcher_.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
    on_readable(io::readable);
    if (dead_ || lingering_ || close_after_) return;
  }
  if (!st_ || (st_->live.empty() && st_->queued() == 0)) {
    close_now();  // idle, or only part of a request: nothing in flight to finish
    return;
  }
  close_after_ = true;
  if (st_->live.empty()) stop_input_ = true;
  maybe_close();
}

// ---- deadlines --------------------------------------------------------------------------------------------

void ServerConnection::update_deadline(bool progress) noexcept {
  if (lingering_) return;
  const Limits& limits = sl_.limits();
  Wait w;
  int64_t timeout = 0;
  if (!st_) {
    w = Wait::idle;
    timeout = ns(limits.keep_alive_timeout);
  } else if (st_->queued() > 0) {
    w = Wait::send;
    timeout = ns(limits.send_timeout);
  } else if ((st_->body_ex || st_->discard) && input_wanted()) {
    w = Wait::body;
    timeout = ns(limits.body_timeout);
  } else if (st_->parser.in_head() && st_->inflight.empty()) {
    w = Wait::headers;
    timeout = ns(limits.headers_timeout);
  } else if (st_->live.empty() && !st_->parser.in_message()) {
    w = Wait::idle;
    timeout = ns(limits.keep_alive_timeout);
  } else {
    w = Wait::none;  // a handler runs: its own business
  }
  if (w == wait_ && !(progress && (w == Wait::body || w == Wait::send))) return;
  wait_ = w;
  deadline_ = w == Wait::none ? 0 : sl_.loop().now() + timeout;
}

void ServerConnection::on_sweep(int64_t now) noexcept {
  if (deadline_ == 0 || now < deadline_) return;
  Entry guard(this);
  deadline_ = 0;
  switch (wait_) {
    case Wait::idle:
    case Wait::linger:
      close_now();
      return;
    case Wait::send:
      abort();
      return;
    case Wait::headers:
      if (st_ && st_->parser.in_head() && st_->inflight.empty()) {
        (void)error_exchange(408);
        if (!dead_ && flush(false)) maybe_close();
      } else {
        close_now();
      }
      return;
    case Wait::body:
      if (st_ && st_->discard) {
        close_now();
        return;
      }
      if (st_) fail_body(408);
      if (!dead_ && flush(false)) maybe_close();
      return;
    case Wait::none:
      return;
  }
}

}  // namespace waitless::http::detail
