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
  req.ex_ = this;
  req.body_limit_ = body_limit;
  const bool http10 = req.version_minor() == 0;
  res.prepare(this, req.method_id() == Method::head, http10, http10 && req.keep_alive());
}

void Exchange::bind_error(ServerConnection* c) noexcept {
  conn = c;
  req.ex_ = this;
  res.prepare(this, false, false, false);
  body_done = true;
  continue_sent = true;
  close = true;
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
  body_done = want_piece = piece_taken = continue_sent = handler_running = emitted = sync_pending = close =
      head_written = false;  // `fast` stays: it is what the exchange is
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
  handler_running = false;
  if (conn) {
    conn->handler_done(*this, err);
    return;
  }
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

// ---- what Request and Response call -----------------------------------------------------------------------

bool body_poll(Exchange& ex, bool whole) noexcept {
  if (ex.body_error) return true;
  if (ex.body_mode == BodyMode::idle) {
    if (ex.body_done) return true;  // no body, or collected before a sync handler passed the request on
    if (!ex.conn) {
      ex.body_error = Error::closed;
      return true;
    }
    ex.lock_body_limit();
    auto cl = ex.req.content_length();
    if (cl && *cl > ex.req.body_limit()) {
      // Announced too large: the server answers 413 unless the handler does, and reads none of it.
      ex.body_error = Error::limit_exceeded;
      ex.body_error_status = 413;
      ex.close = true;
      return true;
    }
    ex.body_mode = whole ? BodyMode::collect : BodyMode::stream;
    // At most kMaxBodyReserve up front: the declared length is a claim, not bytes received.
    if (whole && cl) ex.body.reserve(static_cast<std::size_t>(std::min<uint64_t>(*cl, kMaxBodyReserve)));
  }
  if (whole) {
    if (ex.body_mode == BodyMode::stream) {
      // body() after read(): collect the rest after what was not handed out yet.
      if (ex.piece_taken) ex.body.clear();
      ex.piece_taken = false;
      ex.body_mode = BodyMode::collect;
    }
    return ex.body_done;
  }
  if (ex.body_mode == BodyMode::collect) return ex.body_done;  // read() after body(): the rest is empty
  if (ex.piece_taken) {
    ex.body.clear();
    ex.piece_taken = false;
  }
  return !ex.body.empty() || ex.body_done;
}

Waiter** body_slot(Exchange& ex) noexcept { return &ex.body_waiter; }

void body_request(Exchange& ex, bool whole) noexcept {
  if (!whole) ex.want_piece = true;
  if (ex.conn) {
    ex.conn->body_requested(ex);
  } else {
    ex.wake_body(Error::closed);
  }
}

Result<std::string_view> body_take(Exchange& ex, bool whole) noexcept {
  if (ex.body_error) return ex.body_error;
  if (whole) return std::string_view(ex.body);
  if (ex.body_mode == BodyMode::collect) {
    // read() after body(): the whole body was the one piece.
    if (ex.piece_taken) return std::string_view{};
  }
  ex.piece_taken = true;
  return std::string_view(ex.body);
}

OutBuffer* out_begin(Exchange& ex) noexcept { return ex.conn ? ex.conn->output_for(ex) : nullptr; }

void out_commit(Exchange& ex, bool finished) noexcept {
  if (ex.conn) ex.conn->committed(ex, finished);
}

bool out_decide_close(Exchange& ex) noexcept { return ex.conn ? ex.conn->decide_close(ex) : true; }

bool out_needs_drain(const Exchange& ex) noexcept { return ex.conn && ex.conn->needs_drain(ex); }

Waiter** drain_slot(Exchange& ex) noexcept { return &ex.drain_waiter; }

std::string_view date_line(const Exchange& ex) noexcept {
  return ex.owner ? ex.owner->date().line() : std::string_view{};
}

std::string_view prefix_200(const Exchange& ex) noexcept {
  return ex.owner ? ex.owner->prefix_200() : std::string_view{};
}

std::string_view server_line(const Exchange& ex) noexcept {
  return ex.owner ? std::string_view(ex.owner->config().server_line) : std::string_view{};
}

}  // namespace detail
}  // namespace waitless::http
