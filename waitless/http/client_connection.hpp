// ClientConnection (internal): one HTTP/1.1 client connection on a net::Transport, which does all of its
// socket I/O (non-blocking connect, then one request at a time: no pipelining).
//
// Ownership: a connection belongs to its pool while idle and to a Lease (client_pool.hpp) while a request
// uses it; it never frees itself, except through ClientCore::idle_dead() when it dies while idle.
//
// Operations are awaited one at a time by the lease holder: connected(), exchange() (send the request,
// then receive the head, or head and whole body when collecting), next_piece() (streaming). The I/O
// callbacks drive the state machine and complete the parked operation with a resumption queued on the
// loop (never inline), so user code never runs inside a callback of this class. A failed operation closes
// the connection; cancellation (the awaiting task's token) closes it too: a connection in an unknown state
// is never reused.
//
// Hot path of a kept-alive request (after warm-up): one send, one epoll wakeup, one read, parse, one
// resumption; no allocation here (the request buffer and parser are kept), no epoll_ctl (an idle
// connection keeps its read interest to see the server's close), one timer reschedule.
//
// Input: the transport reads into the loop's shared receive buffer and the parser runs over it in on_bytes.
// What an operation leaves unparsed (the rest of a read after a streamed piece) is copied into `kept_`,
// and a streamed piece into `piece_buf_`, since the shared buffer is reused by the next read on the loop:
// the connection holds no 64 KiB buffer of its own.
//
// Timeouts: one Timer per connection, rescheduled only when a deadline moves earlier; when it fires the
// deadline that applies in the current state is re-evaluated (the state may have moved on).
#pragma once
#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/http/response_parser.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/socket_address.hpp"
#include "waitless/net/tls_layer.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::http {
struct ClientResponse;
}  // namespace waitless::http

namespace waitless::http::detail {

class ClientCore;
struct Pool;
struct IdleTag;
struct AllTag;
template <typename Derived>
class ConnAwaiterBase;

// The coroutine parked on a connection's current operation.
struct ConnWaiter {
  std::coroutine_handle<> handle;
  CancelCallback cancel;
};

// What one request needs from the connection. Deadlines are absolute loop times in ns (0: none).
struct ExchangeSpec {
  ClientResponse* response = nullptr;  // the head goes here (and the body when collecting)
  std::string_view body;               // a large body, sent from the caller's memory after out()
  bool head_request = false;
  bool upgrade = false;  // the request asks to switch protocols: a 101 is its final response (streaming)
  bool collect = true;   // receive the whole body into response->body; else stop after the head
  bool close = false;    // the request said Connection: close
  uint64_t body_limit = 0;
  int64_t header_deadline = 0;
  int64_t total_deadline = 0;
  int64_t body_idle_ns = 0;  // longest silence while a body is being received
  // The request body follows the head piece by piece (begin_streamed(), send_body()); the header deadline
  // then runs from the body's end, header_timeout_ns after it.
  bool streamed_body = false;
  int64_t header_timeout_ns = 0;
};

class ClientConnection final : public ListHook<IdleTag>,
                               public ListHook<AllTag>,
                               private net::TransportHandler {
 public:
  static constexpr std::size_t kInlineBody =
      std::size_t{16} * 1024;                           // bodies up to this are copied after the head
  static constexpr uint64_t kMaxBodyReserve = 1 << 20;  // a collected body's up-front reservation, at most

  ClientConnection(ClientCore& core, const ResponseLimits& limits);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  Pool* pool = nullptr;
  uint64_t served = 0;  // responses completed on the current socket

  // ---- connecting: open() starts a non-blocking connect; co_await connected(deadline) finishes it.
  // With `tls`: a TLS layer verifying `host` (and keeping its session under `session_key`); its handshake
  // starts once connected, and the request waits in the layer until it is done (header_timeout bounds
  // both).
  std::error_code open(const net::SocketAddress& address, net::TlsContext* tls = nullptr,
                       std::string_view host = {}, std::string_view session_key = {}) noexcept;
  class ConnectAwaiter;
  ConnectAwaiter connected(int64_t deadline) noexcept;

  // ---- one request: fill out() with the request head (and a small body), then co_await exchange().
  std::string& out() noexcept { return out_; }
  class ExchangeAwaiter;
  ExchangeAwaiter exchange(const ExchangeSpec& spec) noexcept;
  // A streamed request body: begin_streamed() sends the head in out() and starts reading for the response
  // without waiting; then send_body() for each piece ("" ends it; chunked: framed as chunks), writable()
  // while queued() is over kBodyHighWater (it waits for kBodyLowWater, at most `idle_ns` without progress),
  // and response() for the head. The response may come while the body is still being sent
  // (response_ready()): nothing more is sent then, and the connection is not reused.
  static constexpr std::size_t kBodyHighWater = std::size_t{256} * 1024;
  static constexpr std::size_t kBodyLowWater = std::size_t{64} * 1024;
  void begin_streamed(const ExchangeSpec& spec) noexcept { start_exchange(spec); }
  std::error_code send_body(std::string_view piece, bool chunked) noexcept;
  bool response_ready() const noexcept { return op_done_; }
  // The last response's trailer fields (streaming: taken by the stream at the body's end).
  HeaderMap& trailers() noexcept { return parser_.trailers(); }
  std::size_t queued() const noexcept;
  class WritableAwaiter;
  WritableAwaiter writable(int64_t idle_ns) noexcept;
  class ResponseAwaiter;
  ResponseAwaiter response() noexcept;
  // Streaming: the next body piece (valid until the next call), "" at the end.
  class PieceAwaiter;
  PieceAwaiter next_piece(int64_t body_idle_ns) noexcept;

  // ---- state, for the lease and the pool.
  bool is_open() const noexcept { return transport_ && transport_->is_open(); }
  // The response is complete and the socket can carry another request.
  bool reusable() const noexcept { return is_open() && finished_ && reusable_; }
  bool finished() const noexcept { return finished_; }
  // After a streamed exchange: whether a body follows the head.
  bool head_has_body() const noexcept { return head_has_body_; }
  // The last exchange failed before a byte of its response arrived (the server may have closed an idle
  // connection just as the request left): a retry on a fresh connection is safe for idempotent methods.
  bool failed_before_response() const noexcept { return !got_bytes_; }
  std::error_code result() const noexcept { return result_; }
  // Idle in the pool until `deadline` (0: no limit): unreferenced, watching only for the server's close.
  // False if the socket could not be watched (it is closed then).
  bool go_idle(int64_t deadline) noexcept;
  // After a 101 head (ExchangeSpec::upgrade): gives the socket up to the new protocol, with its TLS layer
  // (https; null for http), the bytes received after the head (plaintext) and the bytes for the wire not
  // sent yet (ciphertext under TLS). -1 (nothing given) unless the last head was a 101 on an open
  // connection. The connection is closed afterwards, as after close(), without anything on the wire.
  int release_switched(std::string& received, std::string& unsent,
                       std::unique_ptr<net::TlsLayer>& tls) noexcept;
  // Closes the socket; a parked operation completes with `ec`. The object can be open()ed again.
  void fail(std::error_code ec) noexcept;
  void close() noexcept { fail(Error::closed); }

 private:
  enum class State : uint8_t { closed, connecting, ready, idle, busy, streaming, done };
  // What one parser event meant: the operation completed (or failed), parse on, or bytes are needed.
  enum class Step : uint8_t { done, more, need_input };

  // net::TransportHandler. Each returns false if the connection was freed (idle_dead).
  bool wants_bytes() noexcept override;
  bool on_bytes(const char* data, std::size_t size) noexcept override;
  bool on_eof() noexcept override;
  bool on_writable(std::size_t queued) noexcept override;
  bool on_error(std::error_code ec) noexcept override;
  bool on_hangup() noexcept override;
  bool on_connected() noexcept override;

  void on_timer() noexcept;
  // Parses the input in [cur_ + cur_pos_, cur_ + cur_len_) until the operation completes or it is used up.
  void parse_input() noexcept;
  // parse_input() over what earlier reads left (kept_; nothing: a message can end without another byte).
  void parse_kept() noexcept;
  // parse_kept(), then, if the operation still needs input, reads what the socket already holds.
  void pump() noexcept;
  Step consume() noexcept;
  void on_peer_eof() noexcept;
  void on_head() noexcept;
  void on_end() noexcept;
  void arm(int64_t deadline) noexcept;
  int64_t current_deadline() const noexcept;
  void close_socket() noexcept;
  void park(ConnWaiter* w) noexcept { waiter_ = w; }
  void park_writer(ConnWaiter* w, int64_t idle_ns) noexcept;
  void wake_writer() noexcept;
  void unpark(ConnWaiter* w) noexcept {
    if (waiter_ == w) waiter_ = nullptr;
  }
  void complete(std::error_code ec) noexcept;
  void start_exchange(const ExchangeSpec& spec) noexcept;
  bool poll_piece() noexcept;
  std::string_view take_piece() noexcept { return std::exchange(piece_, std::string_view{}); }

  ClientCore& core_;
  Loop& loop_;
  std::optional<net::Transport> transport_;  // closed, not destroyed, by close_socket (inside callbacks)
  std::unique_ptr<net::TlsLayer> tls_;       // https: between transport_ and this; null for http
  std::error_code send(std::string_view data) noexcept {
    return tls_ ? tls_->write(data) : transport_->write(data);
  }
  State state_ = State::closed;
  bool sending_ = false;  // request bytes are still queued in the transport
  bool collect_ = true;
  bool close_requested_ = false;
  bool got_bytes_ = false;
  bool finished_ = false;
  bool reusable_ = false;
  bool piece_ready_ = false;  // streaming: piece_ (or the end, or result_) is ready to be taken
  bool connected_now_ = false;
  bool op_done_ = false;         // the current operation has its result
  bool abandoned_send_ = false;  // the response came before the whole request was sent
  bool body_phase_ = false;      // the head is in: body_idle_ns_ applies
  bool body_open_ = false;       // a streamed request body is still being sent
  bool head_has_body_ = false;
  std::error_code result_;
  ConnWaiter* waiter_ = nullptr;
  ConnWaiter* write_waiter_ = nullptr;  // a streamed body waits for the queue to drain
  int64_t write_deadline_ = 0;          // ... until then (0: none), moved on by each progress
  int64_t write_idle_ns_ = 0;
  int64_t header_timeout_ns_ = 0;
  std::string chunk_;  // a chunk's framing and bytes, written at once
  std::optional<IoWatcher> watcher_;
  Timer timer_;
  int64_t armed_at_ = 0;  // when timer_ fires (0: not armed)
  int64_t deadline_ = 0;  // the fixed deadline of the current state (connect, header/total, idle)
  int64_t total_deadline_ = 0;
  int64_t body_idle_ns_ = 0;
  int64_t progress_ns_ = 0;  // last time response bytes arrived
  ClientResponse* response_ = nullptr;
  std::string out_;
  std::string_view big_body_;
  const char* cur_ = nullptr;  // the input being parsed: the shared receive buffer or kept_
  std::size_t cur_pos_ = 0;
  std::size_t cur_len_ = 0;
  std::string kept_;  // received, not parsed yet, from kept_off_
  std::size_t kept_off_ = 0;
  std::string piece_buf_;  // a streamed piece's copy (the shared buffer it came from is reused)
  std::string_view piece_;
  ResponseParser parser_;

  template <typename>
  friend class ConnAwaiterBase;
  friend class ConnectAwaiter;
  friend class ExchangeAwaiter;
  friend class PieceAwaiter;
  friend class WritableAwaiter;
  friend class ResponseAwaiter;
};

// Each awaiter: an already-cancelled token fails at once (closing the connection); a token that fires
// while parked closes the connection and resumes with Error::cancelled. The result is the connection's
// result(). A frame destroyed while parked unparks itself; its lease then closes the connection.
template <typename Derived>
class ConnAwaiterBase {
 public:
  explicit ConnAwaiterBase(ClientConnection* c) noexcept : c_(c) {}
  ConnAwaiterBase(const ConnAwaiterBase&) = delete;
  ConnAwaiterBase& operator=(const ConnAwaiterBase&) = delete;
  ~ConnAwaiterBase() { c_->unpark(&w_); }

  // Starts the operation (Derived::start() returns whether it must wait: an operation that completes or
  // fails at once does not suspend), then parks until the connection completes it.
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = waitless::detail::token_of(h);
    if (token.cancelled()) {
      c_->fail(Error::cancelled);
      return false;
    }
    if (!static_cast<Derived*>(this)->start()) return false;
    w_.handle = h;
    c_->park(&w_);
    if (token.can_be_cancelled()) w_.cancel.attach(token, [c = c_] { c->fail(Error::cancelled); });
    return true;
  }

 protected:
  ClientConnection* c_;
  ConnWaiter w_;
};

class ClientConnection::ConnectAwaiter : public ConnAwaiterBase<ConnectAwaiter> {
 public:
  ConnectAwaiter(ClientConnection* c, int64_t deadline) noexcept : ConnAwaiterBase(c), deadline_(deadline) {}
  bool await_ready() const noexcept { return false; }
  bool start() noexcept;
  std::error_code await_resume() const noexcept { return c_->result_; }

 private:
  int64_t deadline_;
};

class ClientConnection::ExchangeAwaiter : public ConnAwaiterBase<ExchangeAwaiter> {
 public:
  ExchangeAwaiter(ClientConnection* c, const ExchangeSpec& spec) noexcept : ConnAwaiterBase(c), spec_(spec) {}
  bool await_ready() const noexcept { return false; }
  bool start() noexcept;
  std::error_code await_resume() const noexcept { return c_->result_; }

 private:
  ExchangeSpec spec_;
};

class ClientConnection::PieceAwaiter : public ConnAwaiterBase<PieceAwaiter> {
 public:
  PieceAwaiter(ClientConnection* c, int64_t body_idle_ns) noexcept
      : ConnAwaiterBase(c), idle_ns_(body_idle_ns) {}
  bool await_ready() noexcept { return c_->poll_piece(); }
  bool start() noexcept;
  Result<std::string_view> await_resume() noexcept;

 private:
  int64_t idle_ns_;
};

class ClientConnection::ResponseAwaiter : public ConnAwaiterBase<ResponseAwaiter> {
 public:
  explicit ResponseAwaiter(ClientConnection* c) noexcept : ConnAwaiterBase(c) {}
  bool await_ready() const noexcept { return c_->op_done_; }
  bool start() noexcept {
    c_->arm(c_->current_deadline());
    return !c_->op_done_;
  }
  std::error_code await_resume() const noexcept { return c_->result_; }
};

// Resumes when the write queue is down to kBodyLowWater, or when the operation completes (the response
// head came, or the connection failed: the result says which).
class ClientConnection::WritableAwaiter {
 public:
  WritableAwaiter(ClientConnection* c, int64_t idle_ns) noexcept : c_(c), idle_ns_(idle_ns) {}
  WritableAwaiter(const WritableAwaiter&) = delete;
  WritableAwaiter& operator=(const WritableAwaiter&) = delete;
  ~WritableAwaiter() {
    if (c_->write_waiter_ == &w_) c_->write_waiter_ = nullptr;
  }
  bool await_ready() const noexcept {
    return c_->op_done_ || !c_->is_open() || c_->queued() <= kBodyLowWater;
  }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = waitless::detail::token_of(h);
    if (token.cancelled()) {
      c_->fail(Error::cancelled);
      return false;
    }
    w_.handle = h;
    c_->park_writer(&w_, idle_ns_);
    if (token.can_be_cancelled()) w_.cancel.attach(token, [c = c_] { c->fail(Error::cancelled); });
    return true;
  }
  std::error_code await_resume() const noexcept {
    if (c_->op_done_) return c_->result_;
    return c_->is_open() ? std::error_code{} : std::error_code(Error::closed);
  }

 private:
  ClientConnection* c_;
  int64_t idle_ns_;
  ConnWaiter w_;
};

}  // namespace waitless::http::detail
