// ServerConnection, the output half: response ordering, handing output to the transport, closing and
// deadlines.
#include "waitless/http/server_connection.hpp"
#include "waitless/http/server_loop.hpp"

namespace waitless::http::detail {

Result<net::SocketAddress> ServerConnection::peer_address() const { return sl_.peer_of(fd()); }

// ---- output -----------------------------------------------------------------------------------------------

OutBuffer* ServerConnection::output_for(Exchange& ex) noexcept {
  if (!ex.fast && &ex != st_->inflight.front()) return &ex.pending;
  return sl_.batching == this ? &sl_.shared_out() : &st_->out;
}

bool ServerConnection::decide_close(Exchange& ex) noexcept {
  if (ex.close) return true;
  ConnState& st = *st_;
  if (phase_ != Phase::open && (ex.fast || &ex == st.newest)) return true;
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
  if (transport_.write_blocked()) return true;  // a file's bytes wait for the socket (send_file)
  std::size_t out = queued() + (sl_.batching == this ? sl_.shared_out().size() : 0);
  return out >= hwm;
}

Result<std::size_t> ServerConnection::send_file(Exchange& ex, int fd, uint64_t offset,
                                                std::size_t count) noexcept {
  // The kernel copies straight to the socket: only for the response at the head of the output, with no
  // other response's bytes batched in the loop's shared output, and without TLS (OpenSSL must see them).
  if (tls_ || !st_ || sl_.batching == this || (!ex.fast && &ex != st_->inflight.front()))
    return std::make_error_code(std::errc::operation_not_supported);
  Entry guard(this);
  // What the response appended so far (its head) goes first.
  if (!st_->out.empty() && !flush(false)) return make_error_code(Error::closed);
  const std::size_t before = transport_.queued();
  auto sent = transport_.send_file(fd, offset, count);
  if (!sent) {
    close_now();
    return make_error_code(Error::closed);
  }
  // A send deadline runs while the socket is full (update_deadline), refreshed by progress only.
  update_deadline(*sent > 0 || transport_.queued() < before);
  return sent;
}

void ServerConnection::committed(Exchange& ex, bool head, bool finished) noexcept {
  Entry guard(this);
  if (head && ex.res.closes_connection()) enter(Phase::last_request);
  if (finished) {
    if (ex.res.closes_connection()) enter(Phase::last_request);
    if (!ex.fast && &ex == st_->inflight.front()) advance();
  }
  if (sl_.batching != this && !closed()) {
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
    front->on(Exchange::Event::response_left);
    if (front->res.closes_connection()) {
      // The connection ends with this response: the requests pipelined after it are never answered, and
      // nothing they write may follow it on the wire.
      enter(Phase::last_request);
      drop_pipelined();
    } else if (Exchange* next = st.inflight.front(); next && !next->pending.empty()) {
      (sl_.batching == this ? sl_.shared_out() : st.out).append(next->pending.data(), next->pending.size());
      next->pending.clear();
    }
    maybe_release(*front);
    if (closed()) return;
  }
}

void ServerConnection::finish_batch() noexcept {
  sl_.batching = nullptr;
  if (closed()) {
    sl_.shared_out().clear();
    return;
  }
  OutBuffer& shared = sl_.shared_out();
  if (st_ && st_->out.empty() && transport_.queued() == 0 && !shared.empty()) {
    // Nothing queued from before: one send of this read's responses, and usually that is all.
    const bool all = tls_ ? tls_->write_now(shared.data(), shared.size())
                          : transport_.write_now(shared.data(), shared.size());
    shared.clear();
    if (!all && (transport_.failed() || !transport_.is_open())) {
      close_now();
      return;
    }
    // Parsing paused at the high-water mark resumes once the batch is out (a handler waiting in drain()
    // is woken below); else the rest waits for the socket: update_deadline (send_timeout), on_writable.
    if (transport_.queued() == 0 && st_->in_off < st_->in.size()) resume_input();
  } else if (!flush(true)) {
    return;
  }
  if (at_rest()) {
    // The common end of a keep-alive request: no state, no buffer, one deadline store.
    sl_.release_state(st_);
    st_ = nullptr;
    wait_ = Wait::idle;
    transport_.set_deadline(sl_.loop().now() + to_ns(sl_.limits().keep_alive_timeout));
    return;
  }
  // A handler that wrote past the high-water mark during this read (its bytes counted in the shared
  // output) waits in drain(): if the kernel took them at once, no on_writable will come to wake it.
  if (st_ && queued() < sl_.limits().write_low_water) {
    if (Exchange* front = st_->inflight.front()) front->wake_drain();
  }
  maybe_close();
  if (!closed()) update_deadline(false);
}

bool ServerConnection::flush(bool with_shared) noexcept {
  OutBuffer& shared = sl_.shared_out();
  const std::size_t before = transport_.queued();
  std::size_t handed = 0;
  std::error_code ec;
  if (st_ && !st_->out.empty()) {
    handed += st_->out.size();
    ec = send_out(st_->out.data(), st_->out.size());
    st_->out.clear();
  }
  if (with_shared) {
    if (!shared.empty() && !ec) {
      handed += shared.size();
      ec = send_out(shared.data(), shared.size());
    }
    shared.clear();
  }
  if (ec) {
    close_now();
    return false;
  }
  if (handed == 0) return true;
  // A send deadline is refreshed by progress only: bytes that joined a stuck queue are not progress.
  if (const std::size_t after = transport_.queued(); after > 0) update_deadline(before + handed > after);
  after_output();
  return !closed();
}

void ServerConnection::after_output() noexcept {
  ConnState* st = st_;
  if (!st || queued() >= sl_.limits().write_low_water) return;
  if (Exchange* front = st->inflight.front()) front->wake_drain();
  resume_input();
}

void ServerConnection::maybe_close() noexcept {
  if (phase_ <= Phase::grace || phase_ >= Phase::lingering || upgrade_) return;
  if (st_ && (!st_->inflight.empty() || queued() > 0)) return;
  if (sl_.batching == this && !sl_.shared_out().empty()) return;
  enter(Phase::lingering);
}

// ---- closing ----------------------------------------------------------------------------------------------

void ServerConnection::drop_pipelined() noexcept {
  ConnState& st = *st_;
  while (Exchange* ex = st.inflight.pop_front()) {
    --st.inflight_count;
    if (st.body_ex == ex) {
      // Its body is never read: input stops (the connection is past Phase::open), and the parser keeps no
      // pointer into it.
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
  if (ex.handler_running()) {
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
  if (phase_ != Phase::open) return;
  enter(Phase::grace);
  if (st_ && st_->newest && !st_->newest->res.headers_sent()) enter(Phase::last_request);
}

// The grace is over (options.shutdown_idle_grace after begin_drain): what has nothing in flight closes,
// what has finishes it and closes. A request that reached the socket just now is read and answered first.
void ServerConnection::end_grace() noexcept {
  Entry guard(this);
  if (phase_ != Phase::grace) return;
  if (!transport_.read_now() || phase_ != Phase::grace) return;
  if (!st_ || (st_->live.empty() && queued() == 0)) {
    close_now();  // idle, or only part of a request: nothing in flight to finish
    return;
  }
  enter(st_->live.empty() ? Phase::no_input : Phase::last_request);
  maybe_close();
}

// ---- deadlines --------------------------------------------------------------------------------------------

void ServerConnection::update_deadline(bool progress) noexcept {
  if (phase_ >= Phase::lingering) return;
  const Limits& limits = sl_.limits();
  Wait w;
  int64_t timeout = 0;
  if (!st_) {
    w = Wait::idle;
    timeout = to_ns(limits.keep_alive_timeout);
  } else if (queued() > 0 || transport_.write_blocked()) {
    w = Wait::send;
    timeout = to_ns(limits.send_timeout);
  } else if ((st_->body_ex || st_->discard) && input_wanted()) {
    w = Wait::body;
    timeout = to_ns(limits.body_timeout);
  } else if (st_->parser.in_head() && st_->inflight.empty()) {
    w = Wait::headers;
    timeout = to_ns(limits.headers_timeout);
  } else if (st_->live.empty() && !st_->parser.in_message()) {
    w = Wait::idle;
    timeout = to_ns(limits.keep_alive_timeout);
  } else {
    w = Wait::none;  // a handler runs: its own business
  }
  if (w == wait_ && !(progress && (w == Wait::body || w == Wait::send))) return;
  wait_ = w;
  transport_.set_deadline(w == Wait::none ? 0 : sl_.loop().now() + timeout);
}

void ServerConnection::on_sweep(int64_t now) noexcept {
  if (!transport_.expired(now)) return;
  Entry guard(this);
  transport_.set_deadline(0);
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
        if (!closed() && flush(false)) maybe_close();
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
      if (!closed() && flush(false)) maybe_close();
      return;
    case Wait::none:
      return;
  }
}

}  // namespace waitless::http::detail
