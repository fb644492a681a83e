#include "waitless/http/exchange.hpp"

#include <algorithm>

#include "waitless/http/server_connection.hpp"
#include "waitless/http/server_loop.hpp"

namespace waitless::http {
namespace detail {

// ---- Waiter ---------------------------------------------------------------------------------------------

void Waiter::park(Waiter** where, std::coroutine_handle<> h, Loop& l, const CancelToken& token) {
  handle = h;
  loop = &l;
  slot = where;
  *where = this;
  cancel.attach(token, [this] {
    unpark();
    error = Error::cancelled;
    loop->queue_resume(handle);
  });
}

void Waiter::wake(std::error_code ec) noexcept {
  cancel.detach();
  unpark();
  error = ec;
  loop->queue_resume(handle);
}

// ---- Exchange -------------------------------------------------------------------------------------------

void Exchange::bind(ServerConnection* c, RequestHead& head, uint64_t body_limit) noexcept {
  conn = c;
  req.adopt(head);
  req.port_ = this;
  req.body_limit_ = body_limit;
  const bool http10 = req.version_minor() == 0;
  res.prepare(this, req.method_id() == Method::head, http10, http10 && req.keep_alive());
}

void Exchange::bind_error(ServerConnection* c) noexcept {
  conn = c;
  req.port_ = this;
  res.prepare(this, false, false, false);
  body_done = true;
  continue_sent = true;
  close = true;
  on(Event::handler_ended);  // no handler: the server answers
}

void Exchange::clear() noexcept {
  req.clear();
  res.clear();
  if (pending.capacity() > 64 * 1024) {
    pending.release();
  } else {
    pending.clear();
  }
  if (body.capacity() > 64 * 1024) {
    std::string().swap(body);
  } else {
    body.clear();
  }
  cancel.reset();
  body_waiter = drain_waiter = nullptr;
  body_error = {};
  body_error_status = 0;
  body_mode = BodyMode::idle;
  body_done = want_piece = piece_taken = continue_sent = close = false;  // `fast` stays: what the exchange is
  stage = Stage::receiving;
  conn = nullptr;
}

void Exchange::wake_body(std::error_code ec) noexcept {
  want_piece = false;
  if (Waiter* w = body_waiter) w->wake(ec);
}

void Exchange::wake_drain(std::error_code ec) noexcept {
  if (Waiter* w = drain_waiter) w->wake(ec);
}

void Exchange::respond_error(int status, bool close_after) noexcept {
  (void)res.send_error(status, close_after);
}

void Exchange::abandon_response() noexcept {
  // The handler failed after part of its response was written: the client must not take it as complete.
  res.abandon();
}

void Exchange::release() noexcept {
  if (owner) {
    owner->release_exchange(this);
  } else {
    delete this;  // the loop's server is gone
  }
}

void Exchange::handler_finished(std::exception_ptr err) noexcept {
  if (conn) {
    conn->handler_done(*this, err);
    return;
  }
  on(Event::handler_ended);
  ListHook<LiveTag>::unlink_from_list();  // from the loop's orphans
  release();
}

Task<> run_handler(Exchange* ex) {
  std::exception_ptr err;
  try {
    co_await ex->owner->config().handler(ex->req, ex->res);
  } catch (...) {
    err = std::current_exception();
  }
  ex->handler_finished(err);
}

// ---- ExchangePort: what Request and Response call
// ----------------------------------------------------------

bool Exchange::body_poll(bool whole) noexcept {
  if (body_error) return true;
  if (body_mode == BodyMode::idle) {
    if (body_done) return true;  // no body, or collected before a sync handler passed the request on
    if (!conn) {
      body_error = Error::closed;
      return true;
    }
    lock_body_limit();
    auto cl = req.content_length();
    if (cl && *cl > req.body_limit()) {
      // Announced too large: the server answers 413 unless the handler does, and reads none of it.
      body_error = Error::limit_exceeded;
      body_error_status = 413;
      close = true;
      return true;
    }
    body_mode = whole ? BodyMode::collect : BodyMode::stream;
    // At most kMaxBodyReserve up front: the declared length is a claim, not bytes received.
    if (whole && cl) body.reserve(static_cast<std::size_t>(std::min<uint64_t>(*cl, kMaxBodyReserve)));
  }
  if (whole) {
    if (body_mode == BodyMode::stream) {
      // body() after read(): collect the rest after what was not handed out yet.
      if (piece_taken) body.clear();
      piece_taken = false;
      body_mode = BodyMode::collect;
    }
    return body_done;
  }
  if (body_mode == BodyMode::collect) return body_done;  // read() after body(): the rest is empty
  if (piece_taken) {
    body.clear();
    piece_taken = false;
  }
  return !body.empty() || body_done;
}

void Exchange::body_wait(Waiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token,
                         bool whole) {
  w.park(&body_waiter, h, loop, token);
  if (!whole) want_piece = true;
  if (conn) {
    conn->body_requested(*this);
  } else {
    wake_body(Error::closed);
  }
}

Result<std::string_view> Exchange::body_take(bool whole) noexcept {
  if (body_error) return body_error;
  if (whole) return std::string_view(body);
  if (body_mode == BodyMode::collect) {
    // read() after body(): the whole body was the one piece.
    if (piece_taken) return std::string_view{};
  }
  piece_taken = true;
  return std::string_view(body);
}

Result<net::SocketAddress> Exchange::peer_address() const {
  if (!conn) return Error::closed;
  return conn->peer_address();
}

OutBuffer* Exchange::output() noexcept { return conn ? conn->output_for(*this) : nullptr; }

void Exchange::committed(bool head, bool finished) noexcept {
  if (conn) conn->committed(*this, head, finished);
}

Result<std::size_t> Exchange::send_file(int fd, uint64_t offset, std::size_t count) noexcept {
  if (!conn) return Error::closed;
  return conn->send_file(*this, fd, offset, count);
}

bool Exchange::needs_drain() const noexcept { return conn && conn->needs_drain(*this); }

void Exchange::drain_wait(Waiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token) {
  w.park(&drain_waiter, h, loop, token);
}

ExchangePort::HeadOutput Exchange::head_output() noexcept {
  if (!conn || !owner) return {};
  return {conn->output_for(*this), conn->decide_close(*this), owner->prefix_200(),
          owner->config().server_line, owner->date().line()};
}

std::error_code Exchange::switch_protocols(std::string_view head, UpgradeSink sink) {
  if (!conn) return Error::closed;
  return conn->switch_protocols(*this, head, std::move(sink));
}

}  // namespace detail
}  // namespace waitless::http
