#include "waitless/http/server_connection.hpp"

#include <algorithm>

#include "waitless/async/task.hpp"
#include "waitless/base/log.hpp"
#include "waitless/http/server_loop.hpp"

namespace waitless::http::detail {

namespace {
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
}  // namespace

ServerConnection::Entry::~Entry() {
  if (--c->depth_ == 0 && c->closed()) delete c;
}

ServerConnection::ServerConnection(ServerLoop& sl, int fd) noexcept
    : transport_(sl.loop(), fd, this), sl_(sl) {
  sl.forget_peer(fd);  // what was kept for this fd's previous connection
}

ServerConnection::~ServerConnection() {
  close_now();
  if (st_) sl_.release_state(st_);
}

void ServerConnection::start(ServerLoop& sl, int fd) {
  auto* c = new ServerConnection(sl, fd);
  sl.connection_opened(*c);
  // A new connection gets headers_timeout to start its first request (a TLS one: tls_handshake_timeout to
  // finish its handshake, then the rest of it for the head); idle means closed without a word.
  c->wait_ = Wait::idle;
  Entry guard(c);
  if (net::TlsContext* tls = sl.tls()) {
    c->transport_.set_deadline(sl.loop().now() + to_ns(sl.limits().tls_handshake_timeout));
    auto layer = net::TlsLayer::server(*tls, c->transport_, *c);
    if (!layer) {
      log::error("http: no TLS session for fd {}: {}", c->transport_.fd(), layer.error().message());
      c->close_now();
      return;
    }
    c->tls_ = std::move(layer.value());
  } else {
    c->transport_.set_deadline(sl.loop().now() + to_ns(sl.limits().headers_timeout));
  }
  if (c->transport_.start()) {
    log::error("http: cannot watch connection fd {}", c->transport_.fd());
    c->close_now();
  }
}

ConnState& ServerConnection::state() noexcept {
  if (!st_) st_ = sl_.acquire_state();
  return *st_;
}

bool ServerConnection::at_rest() const noexcept {
  return st_ && phase_ <= Phase::grace && st_->inflight.empty() && st_->live.empty() && queued() == 0 &&
         st_->in_off >= st_->in.size() && !st_->body_ex && !st_->discard && !st_->parser.in_message();
}

void ServerConnection::enter(Phase p) noexcept {
  if (p <= phase_) return;
  phase_ = p;
  switch (p) {
    case Phase::open:
    case Phase::grace:
    case Phase::last_request:
    case Phase::no_input:
      return;  // input_wanted() and maybe_close() read the phase
    case Phase::lingering:
      // Stop sending, keep reading (and dropping) what the client is still sending for a moment, so its
      // kernel does not answer our last response with a reset before the client read it.
      if (!(tls_ ? tls_->close_lingering(sl_.loop().now() + kLingerNs)
                 : transport_.close_lingering(sl_.loop().now() + kLingerNs))) {
        enter(Phase::closed);
        return;
      }
      detach_all();
      wait_ = Wait::linger;
      return;
    case Phase::closed:
      if (sl_.batching == this) {
        sl_.shared_out().clear();
        sl_.batching = nullptr;
      }
      transport_.close();
      detach_all();
      sl_.connection_closed(*this);
      // Deleted by the outermost Entry guard: every path to here holds one (or is the destructor).
      return;
  }
}

// ---- input ------------------------------------------------------------------------------------------------

bool ServerConnection::on_bytes(const char* data, std::size_t size) noexcept {
  Entry guard(this);
  if (st_ && st_->in_off < st_->in.size()) {
    // Input kept from before (parsing paused) goes first: these bytes join it.
    st_->in.append(data, size);
    process_kept();
    return !closed();
  }
  sl_.batching = this;
  process(data, size, true);
  finish_batch();
  return !closed();
}

bool ServerConnection::on_eof() noexcept {
  Entry guard(this);
  // The client closed (or half-closed) its side. A request still being received or handled cannot be
  // answered usefully: cancel it (Go's net/http does the same). Output already queued is still sent.
  if (st_ && (!st_->live.empty() || st_->parser.in_message())) {
    close_now();
  } else if (queued() > 0) {
    enter(Phase::no_input);
    flush(false);
  } else {
    close_now();
  }
  return !closed();
}

bool ServerConnection::on_error(std::error_code) noexcept {
  Entry guard(this);
  close_now();
  return false;
}

bool ServerConnection::on_hangup() noexcept {
  Entry guard(this);
  close_now();  // gone while we were not reading: nothing of ours can reach it
  return false;
}

bool ServerConnection::on_closed() noexcept {
  Entry guard(this);
  close_now();  // the lingering close ended with the peer's EOF
  return false;
}

bool ServerConnection::on_writable(std::size_t) noexcept {
  Entry guard(this);
  update_deadline(true);
  after_output();
  if (!closed()) maybe_close();
  return !closed();
}

bool ServerConnection::input_wanted() const noexcept {
  if (phase_ >= Phase::no_input) return false;
  if (!st_) return phase_ <= Phase::grace;
  if (st_->discard) return true;
  if (const Exchange* ex = st_->body_ex) {
    return ex->body_mode == BodyMode::collect || (ex->body_mode == BodyMode::stream && ex->want_piece);
  }
  if (phase_ > Phase::grace) return false;
  const Limits& limits = sl_.limits();
  // Output of this read's responses counts too: a pipelined burst stops at the high-water mark.
  std::size_t out = queued() + (sl_.batching == this ? sl_.shared_out().size() : 0);
  return st_->inflight_count < limits.max_in_flight && out < limits.write_high_water;
}

void ServerConnection::process(const char* data, std::size_t len, bool from_shared) noexcept {
  ConnState& st = state();
  bool body_progress = false;
  processing_ = true;
  while (len > 0 && !closed()) {
    if (!input_wanted()) break;
    std::size_t used = 0;
    uint64_t before = st.parser.body_received();
    RequestParser::Event ev = st.parser.parse(data, len, &used);
    data += used;
    len -= used;
    body_progress |= st.parser.body_received() != before;
    if (ev == RequestParser::Event::head) {
      on_head();
    } else if (ev == RequestParser::Event::message_end) {
      on_message_end();
    } else if (ev == RequestParser::Event::error) {
      on_parse_error();
      len = 0;
    }
  }
  processing_ = false;
  if (closed()) return;
  // The input is about to be overwritten (shared buffer) or dropped (kept input): nothing may point into
  // it any more. Copy out what does first, while the bytes are still there.
  if (st.parser.in_head()) st.parser.spill();
  if (Exchange* ex = st.body_ex; ex && ex->awaiting_body()) ex->persist_request();
  if (from_shared) {
    if (len > 0) {
      st.in.assign(data, len);
      st.in_off = 0;
    }
  } else if (len == 0) {
    st.in.clear();
    st.in_off = 0;
  } else {
    st.in_off = static_cast<std::size_t>(data - st.in.data());
  }
  if (Exchange* ex = st.body_ex) {
    if (ex->body_mode == BodyMode::stream && ex->want_piece && !ex->body.empty()) ex->wake_body();
  }
  if (body_progress) update_deadline(true);
}

void ServerConnection::process_kept() noexcept {
  Entry guard(this);
  bool batch = sl_.batching == nullptr;
  if (batch) sl_.batching = this;
  process(st_->in.data() + st_->in_off, st_->in.size() - st_->in_off, false);
  if (batch) {
    finish_batch();
  } else {
    flush(false);
  }
}

void ServerConnection::resume_input() noexcept {
  if (!input_wanted()) return;
  if (st_ && st_->in_off < st_->in.size()) {
    if (process_scheduled_) return;
    // Not from here: the caller may be user code in the middle of a handler. The pin keeps us alive.
    process_scheduled_ = true;
    ++depth_;
    sl_.loop().queue_microtask([this] {
      Entry guard(this);
      --depth_;
      process_scheduled_ = false;
      if (closed() || !st_ || !input_wanted()) return;
      process_kept();
      if (!closed() && input_wanted() && !(st_ && st_->in_off < st_->in.size())) {
        if (transport_.resume()) close_now();
      }
    });
    return;
  }
  if (transport_.resume()) close_now();
}

void ServerConnection::body_requested(Exchange& ex) noexcept {
  Entry guard(this);
  if (closed() || !st_ || st_->body_ex != &ex) {
    ex.wake_body(ex.body_error ? ex.body_error : std::error_code(Error::closed));
    return;
  }
  st_->parser.set_body_sink(&ex.body, ex.req.body_limit());
  if (ex.req.expects_continue() && !ex.continue_sent) send_continue(ex);
  if (processing_) return;  // the parse loop that called the handler goes on with the body
  resume_input();
  update_deadline(true);
}

void ServerConnection::on_head() noexcept {
  ConnState& st = *st_;
  RequestHead& head = st.parser.head();
  if (head.method_id == HTTP_CONNECT) {
    (void)error_exchange(501);  // not a proxy: no tunnels
    return;
  }
  const ServerConfig& cfg = sl_.config();
  if (!head.has_body() && st.inflight.empty() && !head.upgrade) {
    if (!cfg.handler) {
      run_fast(head);
      return;
    }
    // Chosen async there: asked again below for the pooled exchange's request (what the chooser set on
    // the fast exchange's request is gone with it).
    if (cfg.chooser && run_fast_chosen(head)) return;
  }
  Exchange& ex = *sl_.acquire_exchange();
  ex.bind(this, st.parser.head(), sl_.limits().max_body_size);
  st.live.push_back(ex);
  st.inflight.push_back(ex);
  st.newest = &ex;
  ++st.inflight_count;
  if (!ex.req.keep_alive() || ex.req.is_upgrade()) {
    // No request after this one (an upgrade's bytes belong to another protocol we do not speak).
    ex.close = true;
    enter(Phase::last_request);
  }
  const bool chosen_async = cfg.chooser && cfg.chooser(ex.req);
  if (!ex.req.has_body()) {
    ex.body_done = ex.continue_sent = true;
    if (chosen_async) {
      start_async(ex);
    } else {
      dispatch(ex);
    }
    return;
  }
  st.body_ex = &ex;
  if (!cfg.sync_handler || chosen_async) {
    start_async(ex);  // the handler asks for the body, or not
    return;
  }
  // A sync handler needs the whole body: the server asks for it on the handler's behalf.
  auto cl = ex.req.content_length();
  if (cl && *cl > ex.req.body_limit()) {
    fail_body(413);
    return;
  }
  ex.lock_body_limit();
  ex.body_mode = BodyMode::collect;  // stays receiving until the body is in: on_message_end dispatches
  // Reserve at most kMaxBodyReserve up front: a declared length is a claim, not bytes received, and a flood
  // of heads declaring large bodies must not reserve memory it never fills (the body grows as bytes arrive).
  if (cl) ex.body.reserve(static_cast<std::size_t>(std::min<uint64_t>(*cl, kMaxBodyReserve)));
  st.parser.set_body_sink(&ex.body, ex.req.body_limit());
  if (ex.req.expects_continue()) send_continue(ex);
}

void ServerConnection::on_message_end() noexcept {
  ConnState& st = *st_;
  if (st.discard) {
    st.discard = false;
    return;
  }
  Exchange* ex = st.body_ex;
  st.body_ex = nullptr;
  if (!ex) return;
  ex->body_done = true;
  if (ex->awaiting_body()) {
    dispatch(*ex);
  } else {
    ex->wake_body();
  }
}

void ServerConnection::on_parse_error() noexcept {
  ConnState& st = *st_;
  const int status = st.parser.error_status();
  log::debug("http: fd {}: {} {}", transport_.fd(), status, st.parser.error_reason());
  if (st.discard) {  // the response is out; nothing to answer
    enter(Phase::no_input);
    st.discard = false;
    return;
  }
  if (st.body_ex) {
    fail_body(status);
    return;
  }
  (void)error_exchange(status);
}

Exchange& ServerConnection::error_exchange(int status) noexcept {
  ConnState& st = state();
  enter(Phase::no_input);
  Exchange& ex = *sl_.acquire_exchange();
  ex.bind_error(this);
  st.live.push_back(ex);
  st.inflight.push_back(ex);
  st.newest = &ex;
  ++st.inflight_count;
  ex.respond_error(status, true);
  return ex;
}

void ServerConnection::fail_body(int status) noexcept {
  ConnState& st = *st_;
  enter(Phase::no_input);
  Exchange* ex = st.body_ex;
  st.body_ex = nullptr;
  if (!ex) return;
  if (!ex->handler_running()) {
    ex->on(Exchange::Event::handler_ended);  // none will run (a sync handler waiting for the body)
    ex->respond_error(status, true);
    maybe_release(*ex);
    return;
  }
  // The async handler is waiting for (or will ask for) the body: it learns of the failure; if it does not
  // answer, the server answers `status` when it ends.
  ex->body_error = status == 413   ? Error::limit_exceeded
                   : status == 408 ? Error::timed_out
                                   : Error::protocol_error;
  ex->body_error_status = status;
  ex->close = true;
  ex->wake_body(ex->body_error);
}

void ServerConnection::send_continue(Exchange& ex) noexcept {
  ex.continue_sent = true;
  output_for(ex)->append(kContinue);
  if (sl_.batching != this) flush(false);
}

namespace {
void log_failure(const Exchange& ex, std::exception_ptr err) noexcept {
  try {
    std::rethrow_exception(err);
  } catch (const std::exception& e) {
    log::error("http: handler for {} {} failed: {}", ex.req.method(), ex.req.target(), e.what());
  } catch (...) {
    log::error("http: handler for {} {} failed with a non-std exception", ex.req.method(), ex.req.target());
  }
}
}  // namespace

// A handler ended without finishing its response: an untouched or partly set one goes out as it is (an
// empty body), a streamed one is ended, and one whose calls failed (Response::error()) and never went out
// becomes a 500: the handler meant something else than what it could say.
void ServerConnection::finish_response(Exchange& ex) noexcept {
  if (ex.res.headers_sent()) {
    (void)ex.res.end();
  } else if (ex.res.error()) {
    ex.respond_error(500, false);
  } else {
    (void)ex.res.send({});
  }
}

// ---- handlers ---------------------------------------------------------------------------------------------

void ServerConnection::dispatch(Exchange& ex) noexcept {
  const ServerConfig& cfg = sl_.config();
  if (cfg.sync_handler) {
    std::exception_ptr err;
    ex.on(Exchange::Event::dispatched);  // the handler may still use req/res after sending
    try {
      cfg.sync_handler(ex.req, ex.res);
    } catch (...) {
      err = std::current_exception();
    }
    if (!ex.conn) {
      ex.handler_finished(err);  // the connection closed during the call: the exchange is an orphan now
      return;
    }
    if (!err && !ex.res.touched() && cfg.handler) {
      start_async(ex);
      return;
    }
    handler_done(ex, err);
    return;
  }
  start_async(ex);
}

// The sync fast path: no pool, no list, no scheduling; the response goes straight to the output.
void ServerConnection::run_fast(RequestHead& head) noexcept {
  Exchange& ex = sl_.fast_exchange();
  const bool keep_alive = head.keep_alive;
  ex.bind(this, head, sl_.limits().max_body_size);
  run_fast_bound(ex, keep_alive);
}

bool ServerConnection::run_fast_chosen(RequestHead& head) noexcept {
  Exchange& ex = sl_.fast_exchange();
  const bool keep_alive = head.keep_alive;
  ex.bind(this, head, sl_.limits().max_body_size);
  if (sl_.config().chooser(ex.req)) {
    ex.unbind_fast(head);
    return false;
  }
  run_fast_bound(ex, keep_alive);
  return true;
}

// Inlined into both callers: it is the whole sync fast path, and a call here costs a frame per request.
[[gnu::always_inline]] void ServerConnection::run_fast_bound(Exchange& ex, bool keep_alive) noexcept {
  ex.body_done = ex.continue_sent = true;
  if (!keep_alive) {
    ex.close = true;
    enter(Phase::last_request);
  }
  std::exception_ptr err;
  try {
    sl_.config().sync_handler(ex.req, ex.res);
  } catch (...) {
    err = std::current_exception();
  }
  if (err) {
    log_failure(ex, err);
    if (!ex.res.headers_sent()) {
      ex.respond_error(500, false);
    } else if (!ex.res.finished()) {
      ex.abandon_response();
    }
  } else if (!ex.res.finished()) {
    finish_response(ex);
  }
  ex.clear_fast();
}

void ServerConnection::start_async(Exchange& ex) noexcept {
  try {
    ex.persist_request();  // the handler may keep views past this read
    ex.cancel.emplace();
    ex.on(Exchange::Event::dispatched);
    spawn(run_handler(&ex).with_token(ex.cancel->token()));  // runs until its first suspension
  } catch (...) {
    handler_done(ex, std::current_exception());
  }
}

void ServerConnection::handler_done(Exchange& ex, std::exception_ptr err) noexcept {
  Entry guard(this);
  ex.on(Exchange::Event::handler_ended);
  if (err) {
    log_failure(ex, err);
    if (!ex.res.headers_sent()) {
      ex.respond_error(500, false);
    } else if (!ex.res.finished()) {
      ex.abandon_response();
    }
  } else if (!ex.res.finished()) {
    if (ex.body_error_status && !ex.res.headers_sent()) {
      ex.respond_error(ex.body_error_status, true);
    } else {
      finish_response(ex);
    }
  }
  if (closed()) return;
  maybe_release(ex);
  resume_input();
}

void ServerConnection::maybe_release(Exchange& ex) noexcept {
  if (ex.stage != Exchange::Stage::done) return;
  if (st_->body_ex == &ex) {
    // Its body is still arriving and nobody will read it: drop a small rest, or close (the response
    // then said Connection: close, see decide_close).
    st_->body_ex = nullptr;
    if (phase_ > Phase::grace || ex.req.expects_continue()) {
      enter(Phase::no_input);
    } else {
      st_->discard = true;
      st_->parser.set_body_sink(nullptr, st_->parser.body_received() + sl_.limits().max_drain);
    }
  }
  ex.ListHook<LiveTag>::unlink_from_list();
  ex.release();
  maybe_close();
}

}  // namespace waitless::http::detail
