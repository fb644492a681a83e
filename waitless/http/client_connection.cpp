#include "waitless/http/client_connection.hpp"

#include <algorithm>
#include <charconv>

#include "waitless/http/client.hpp"
#include "waitless/http/client_pool.hpp"
#include "waitless/loop/deadline.hpp"

namespace waitless::http::detail {

ClientConnection::ClientConnection(ClientCore& core, const ResponseLimits& limits)
    : core_(core), loop_(core.loop()), timer_(core.loop()), parser_(limits) {
  // Internal handles: the timer never keeps the loop alive (an operation in flight keeps its watcher
  // referenced, which does), and neither counts in Loop::handle_count().
  timer_.mark_internal();
  timer_.unref();
}

ClientConnection::~ClientConnection() { close_socket(); }

void ClientConnection::close_socket() noexcept {
  if (!is_open()) return;
  transport_->close();  // not destroyed: this may run inside one of its callbacks
  state_ = State::closed;
  sending_ = false;
  (void)timer_.stop();
  armed_at_ = 0;
  kept_.clear();
  kept_off_ = 0;
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
  wake_writer();  // a streamed body stops at the response (or the failure)
}

void ClientConnection::wake_writer() noexcept {
  if (ConnWaiter* w = std::exchange(write_waiter_, nullptr)) {
    w->cancel.detach();
    loop_.queue_resume(w->handle);
  }
}

// ---- deadlines ------------------------------------------------------------------------------------------

int64_t ClientConnection::current_deadline() const noexcept {
  int64_t d = deadline_;
  if (body_phase_ && body_idle_ns_ > 0) d = earliest_deadline(d, progress_ns_ + body_idle_ns_);
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
  if (write_waiter_) {  // a streamed body waits for the upstream to take bytes
    if (write_deadline_ != 0 && now >= write_deadline_) {
      fail(Error::timed_out);
      return;
    }
    arm(write_deadline_);
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

std::error_code ClientConnection::open(const net::SocketAddress& address, net::TlsContext* tls,
                                       std::string_view host, std::string_view session_key) noexcept {
  close_socket();
  auto c = net::Transport::start_connect(address);
  if (!c) return c.error();
  tls_.reset();  // it points at the transport about to be replaced
  transport_.emplace(loop_, c->fd, static_cast<net::TransportHandler*>(this));
  transport_->watcher().mark_internal();
  if (tls) {
    auto layer = net::TlsLayer::client(*tls, *transport_, *this, host, session_key);
    std::error_code ec = layer ? std::error_code() : layer.error();
    if (!ec) {
      tls_ = std::move(layer.value());
      if (c->done) ec = tls_->start_handshake();  // else on_connected starts it
    }
    if (ec) {
      transport_->close();
      return ec;
    }
  }
  state_ = State::connecting;
  connected_now_ = c->done;
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
  if (!c.is_open()) {
    c.complete(Error::closed);
    return false;
  }
  if (c.connected_now_) {
    c.state_ = State::ready;
    return false;
  }
  c.deadline_ = deadline_;
  c.body_phase_ = false;
  if (std::error_code ec = c.transport_->await_connected()) {
    c.fail(ec);
    return false;
  }
  c.arm(deadline_);
  return true;
}

bool ClientConnection::on_connected() noexcept {
  state_ = State::ready;
  deadline_ = 0;
  complete({});
  return true;
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
  if (!is_open()) {
    complete(Error::closed);
    return;
  }
  response_ = spec.response;
  collect_ = spec.collect;
  close_requested_ = spec.close;
  big_body_ = spec.body;
  abandoned_send_ = got_bytes_ = finished_ = reusable_ = piece_ready_ = body_phase_ = head_has_body_ = false;
  piece_ = {};
  parser_.begin(spec.head_request, spec.body_limit, spec.upgrade && !spec.collect);
  total_deadline_ = spec.total_deadline;
  body_idle_ns_ = spec.body_idle_ns;
  body_open_ = spec.streamed_body;
  header_timeout_ns_ = spec.header_timeout_ns;
  // A streamed body: the header deadline starts when the body ends (send_body("")).
  deadline_ = body_open_ ? spec.total_deadline : earliest_deadline(spec.header_deadline, spec.total_deadline);
  state_ = State::busy;
  transport_->watcher().ref();
  std::error_code ec = transport_->resume();
  if (!ec) ec = send(out_);
  if (!ec && !big_body_.empty()) ec = send(big_body_);  // what the kernel does not take is copied
  if (ec) {
    fail(ec);
    return;
  }
  sending_ = body_open_ || queued() > 0;
  arm(deadline_);
}

// ---- transport events -----------------------------------------------------------------------------------

bool ClientConnection::wants_bytes() noexcept {
  // Idle: any byte (or the EOF) means the connection is dead. Busy: while an operation waits for input (a
  // stream whose reader has not asked for the next piece is backpressure).
  return state_ == State::idle || ((state_ == State::busy || state_ == State::streaming) && !op_done_);
}

bool ClientConnection::on_bytes(const char* data, std::size_t size) noexcept {
  if (state_ == State::idle) {
    core_.idle_dead(*this);  // frees this connection: nothing of it may be touched after
    return false;
  }
  got_bytes_ = true;
  progress_ns_ = loop_.now();
  cur_ = data;
  cur_pos_ = 0;
  cur_len_ = size;
  parse_input();
  if (!is_open()) return true;
  // The shared buffer is reused by the next read on this loop: keep what is still needed.
  if (cur_pos_ < cur_len_) {
    kept_.assign(cur_ + cur_pos_, cur_len_ - cur_pos_);
    kept_off_ = 0;
  }
  if (!piece_.empty() && piece_.data() >= data && piece_.data() < data + size) {
    piece_buf_.assign(piece_);
    piece_ = piece_buf_;
  }
  cur_ = nullptr;
  cur_pos_ = cur_len_ = 0;
  return true;
}

bool ClientConnection::on_eof() noexcept {
  if (state_ == State::idle) {
    core_.idle_dead(*this);
    return false;
  }
  on_peer_eof();
  return true;
}

bool ClientConnection::on_writable(std::size_t queued) noexcept {
  if (queued == 0 && !body_open_) sending_ = false;
  if (write_waiter_) {
    if (write_idle_ns_ > 0) write_deadline_ = loop_.now() + write_idle_ns_;  // progress
    if (queued <= kBodyLowWater) wake_writer();
  }
  return true;
}

bool ClientConnection::on_error(std::error_code ec) noexcept {
  if (state_ == State::idle) {
    core_.idle_dead(*this);
    return false;
  }
  fail(ec);
  return true;
}

bool ClientConnection::on_hangup() noexcept {
  if (state_ == State::idle) {
    core_.idle_dead(*this);
    return false;
  }
  return true;  // a stream whose reader has not asked: the EOF waits for the next read
}

void ClientConnection::parse_input() noexcept {
  for (;;) {
    Step step = consume();  // even with nothing buffered: a message can end without another byte
    if (step != Step::more) return;
  }
}

void ClientConnection::parse_kept() noexcept {
  static const char kNothing = 0;
  const bool kept = kept_off_ < kept_.size();
  cur_ = kept ? kept_.data() : &kNothing;
  cur_pos_ = kept ? kept_off_ : 0;
  cur_len_ = kept ? kept_.size() : 0;
  parse_input();
  if (kept && is_open()) {
    kept_off_ = cur_pos_;
    // All of it parsed. A streamed piece may still point into it: clear() would write its terminator over
    // the piece's first byte, so it stays as it is (kept_off_ == size: nothing kept) until the next read
    // assigns new input, which comes only after the reader asked for the next piece.
    const bool piece_in_kept =
        !piece_.empty() && piece_.data() >= kept_.data() && piece_.data() < kept_.data() + kept_.size();
    if (kept_off_ >= kept_.size() && !piece_in_kept) {
      kept_.clear();
      kept_off_ = 0;
    }
  }
  cur_ = nullptr;
  cur_pos_ = cur_len_ = 0;
}

// Parses what was kept from earlier reads; if the operation still needs input, reads what the socket
// already holds (a wakeup saved: the socket often has the next piece).
void ClientConnection::pump() noexcept {
  parse_kept();
  if (op_done_ || !is_open()) return;
  if (std::error_code ec = transport_->resume()) {
    fail(ec);
    return;
  }
  (void)transport_->read_now();
}

// One parser event from the buffered input.
ClientConnection::Step ClientConnection::consume() noexcept {
  std::size_t used = 0;
  ResponseParser::Event ev = parser_.parse(cur_ + cur_pos_, cur_len_ - cur_pos_, &used);
  cur_pos_ += used;
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
    // (What is queued still leaves; nothing more is written.)
    sending_ = false;
    abandoned_send_ = true;
  }
  // The header deadline is met; the total one still runs, and silence in the body is now bounded.
  deadline_ = total_deadline_;
  body_phase_ = true;
  progress_ns_ = loop_.now();
  arm(current_deadline());
}

void ClientConnection::on_end() noexcept {
  finished_ = true;
  // Collecting: the caller's response is still where it was. Streaming: the stream takes them (trailers()).
  if (collect_ && response_ && !parser_.trailers().empty())
    std::swap(response_->trailers, parser_.trailers());
  ++served;
  // Bytes after the response (nothing was asked) or an unsent request rule out reuse.
  reusable_ =
      parser_.head().keep_alive && !close_requested_ && !abandoned_send_ && !sending_ && cur_pos_ == cur_len_;
  state_ = State::done;
  deadline_ = 0;
  body_phase_ = false;
}

void ClientConnection::on_peer_eof() noexcept {
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

int ClientConnection::release_switched(std::string& received, std::string& unsent,
                                       std::unique_ptr<net::TlsLayer>& tls) noexcept {
  if (!is_open() || !parser_.switched() || state_ != State::streaming) return -1;
  if (tls_ && !tls_->handshake_done()) return -1;  // a 101 came through it: cannot happen
  if (kept_off_ < kept_.size()) received.assign(kept_, kept_off_);
  unsent.assign(transport_->unsent());
  const int fd = transport_->release();
  tls = std::move(tls_);  // the session leaves with the fd
  state_ = State::closed;
  sending_ = false;
  (void)timer_.stop();
  armed_at_ = 0;
  kept_.clear();
  kept_off_ = 0;
  return fd;
}

// ---- a streamed request body ----------------------------------------------------------------------

std::size_t ClientConnection::queued() const noexcept {
  if (!is_open()) return 0;
  return tls_ ? tls_->queued() : transport_->queued();
}

std::error_code ClientConnection::send_body(std::string_view piece, bool chunked) noexcept {
  if (op_done_) return result_;  // the response came (nothing more is sent), or the connection failed
  if (!is_open()) return Error::closed;
  std::error_code ec;
  if (chunked) {
    char size[20];
    auto [end, _] = std::to_chars(size, size + sizeof size, piece.size(), 16);
    chunk_.assign(size, end);
    chunk_ += "\r\n";
    chunk_.append(piece);
    chunk_ += "\r\n";  // after the last chunk ("0"): the end of an empty trailer section
    ec = send(chunk_);
  } else if (!piece.empty()) {
    ec = send(piece);
  }
  if (ec) {
    fail(ec);
    return ec;
  }
  ClientMetrics& m = core_.counters();
  m.max_body_queued = std::max(m.max_body_queued, queued());
  if (piece.empty()) {  // the whole request is out (or queued): the wait for the head begins
    body_open_ = false;
    sending_ = queued() > 0;
    deadline_ =
        earliest_deadline(header_timeout_ns_ > 0 ? loop_.now() + header_timeout_ns_ : 0, total_deadline_);
    arm(deadline_);
  }
  return {};
}

void ClientConnection::park_writer(ConnWaiter* w, int64_t idle_ns) noexcept {
  write_waiter_ = w;
  write_idle_ns_ = idle_ns;
  write_deadline_ = idle_ns > 0 ? loop_.now() + idle_ns : 0;
  arm(write_deadline_);
}

ClientConnection::WritableAwaiter ClientConnection::writable(int64_t idle_ns) noexcept {
  return WritableAwaiter(this, idle_ns);
}

ClientConnection::ResponseAwaiter ClientConnection::response() noexcept { return ResponseAwaiter(this); }

// ---- the pool's side ---------------------------------------------------------------------------------

bool ClientConnection::go_idle(int64_t deadline) noexcept {
  state_ = State::idle;
  deadline_ = deadline;
  body_phase_ = false;
  response_ = nullptr;
  big_body_ = {};
  if (std::error_code ec = transport_->resume()) {
    fail(ec);
    return false;
  }
  transport_->watcher()
      .unref();  // an idle pool never keeps the loop alive (as Node's agent unrefs its free sockets)
  arm(deadline);
  return true;
}

// ---- streaming ----------------------------------------------------------------------------------------

ClientConnection::PieceAwaiter ClientConnection::next_piece(int64_t body_idle_ns) noexcept {
  return PieceAwaiter(this, body_idle_ns);
}

// Whether the next piece (or the end, or an error) is ready without waiting, parsing buffered input.
bool ClientConnection::poll_piece() noexcept {
  if (piece_ready_ || state_ != State::streaming || !is_open()) return true;
  op_done_ = false;
  parse_kept();
  return op_done_;
}

bool ClientConnection::PieceAwaiter::start() noexcept {
  ClientConnection& c = *c_;
  c.body_idle_ns_ = idle_ns_;
  c.progress_ns_ = c.loop_.now();  // silence counts from when the reader asks
  c.body_phase_ = true;
  c.deadline_ = 0;
  c.pump();  // the socket often has the next piece already
  if (c.op_done_) return false;
  c.arm(c.current_deadline());
  return true;
}

Result<std::string_view> ClientConnection::PieceAwaiter::await_resume() noexcept {
  ClientConnection& c = *c_;
  if (c.result_) return c.result_;
  if (!c.piece_ready_ && !c.is_open()) return Error::closed;
  c.piece_ready_ = false;
  return c.take_piece();  // "" at the end
}

}  // namespace waitless::http::detail
