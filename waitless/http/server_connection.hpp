// ServerConnection (internal): one accepted HTTP/1.1 connection on a net::Transport, which does all of its
// socket I/O (this file makes no system call). The state machine of the server: parse what the transport
// delivers, dispatch, order responses, hand them to the transport.
//
// Lifecycle (Phase, changed only by enter(), which moves forward only):
//   open           requests are read and answered (keep-alive)
//   grace          graceful shutdown began (begin_drain): requests are still read, for the client may be
//                  sending its next one right now, but every response says Connection: close; end_grace()
//                  closes what is idle and lets the rest finish (last_request)
//   last_request   no request after the ones already read; responses still go out, a body still in
//                  progress is still read; once everything is out: lingering
//   no_input       as last_request, and nothing more is read at all (a parse error, the peer's EOF)
//   lingering      our side is shut down (FIN sent); the transport reads and drops input until the peer's
//                  EOF or a 2 s deadline, so the peer's kernel does not reset our last response away
//   closed         the fd is closed, exchanges detached; deleted when the outermost Entry guard ends
//
// Memory: an idle keep-alive connection is this object alone (well under 256 bytes): it has no read or
// write buffer. Reads go to the transport's per-loop shared 64 KiB buffer; a ConnState (parser, queues) is
// taken from the loop's pool only while a request is incomplete, a handler runs or output waits, and goes
// back at rest.
//
// Hot path (one read holding complete requests, sync handler): one read(), the responses of every request
// in that read appended to the loop's shared output buffer in order, one send() at the end. No timer
// operation: a deadline field is checked by the loop's once-a-second sweep.
//
// Ordering: responses leave in request order. The exchange at the front of the in-flight list writes to
// the connection's output; the others collect their bytes until they reach the front.
//
// Backpressure: reading stops while (a) an async handler has not asked for the body being received, or
// holds the previous piece, (b) max_in_flight handlers run, or (c) queued output passes write_high_water
// (until it drains below write_low_water). Input already received then waits in the ConnState.
//
// TLS (a listener with a TlsContext): a net::TlsLayer sits between transport_ and this connection; it is
// the transport's handler and calls ours with plaintext. Chosen once per connection: reads cost nothing
// more on a plaintext connection (the transport calls us directly), and each handing of output to the
// kernel tests tls_ once (send_out). The handshake is bounded by limits.tls_handshake_timeout (the first
// deadline of the connection); a protocol switch (WebSocket) is refused on a TLS connection.
//
// User code can close or destroy anything: every entry point holds an Entry guard, and a connection closed
// inside one is deleted when the outermost guard ends.
#pragma once
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "waitless/base/intrusive_list.hpp"
#include "waitless/http/exchange.hpp"
#include "waitless/http/parser.hpp"
#include "waitless/http/upgrade.hpp"
#include "waitless/loop/deadline.hpp"
#include "waitless/net/tls_layer.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::http::detail {

class ServerLoop;
struct ConnListTag;

// What a connection needs only while it is not at rest. Pooled by the loop.
struct ConnState {
  explicit ConnState(const Limits& limits) : parser(limits) {}
  RequestParser parser;
  IntrusiveList<Exchange, InflightTag> inflight;  // responses not yet written out, in request order
  IntrusiveList<Exchange, LiveTag> live;          // every exchange bound to the connection
  std::size_t inflight_count = 0;
  Exchange* newest = nullptr;  // the last one pushed on inflight (the list has no back())
  OutBuffer out;               // responses written outside a read's batch, handed to the transport at flush
  std::string in;              // input received but not parsed yet (parsing paused), from in_off
  std::size_t in_off = 0;
  Exchange* body_ex = nullptr;  // the exchange whose body the parser is in
  bool discard = false;         // the parser is in a body nobody reads: dropped, up to max_drain
  ConnState* next_free = nullptr;
};

class ServerConnection final : public ListHook<ConnListTag>, private net::TransportHandler {
 public:
  ServerConnection(ServerLoop& sl, int fd) noexcept;
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Creates a connection for an accepted fd and starts watching it (closed at once if that fails).
  static void start(ServerLoop& sl, int fd);

  // Exchange-facing (what its ExchangePort methods need from the connection).
  OutBuffer* output_for(Exchange& ex) noexcept;
  void committed(Exchange& ex, bool head, bool finished) noexcept;
  bool decide_close(Exchange& ex) noexcept;
  bool needs_drain(const Exchange& ex) const noexcept;
  Result<std::size_t> send_file(Exchange& ex, int fd, uint64_t offset, std::size_t count) noexcept;
  void body_requested(Exchange& ex) noexcept;
  void handler_done(Exchange& ex, std::exception_ptr err) noexcept;
  // upgrade.hpp (server_connection_upgrade.cpp): writes `head` as ex's response, stops HTTP, and hands the
  // socket to `sink` from a microtask.
  std::error_code switch_protocols(Exchange& ex, std::string_view head, UpgradeSink sink);
  int fd() const noexcept { return transport_.fd(); }
  Result<net::SocketAddress> peer_address() const;  // the loop's per-connection copy (ServerLoop::peer_of)

  // Loop-facing.
  void on_sweep(int64_t now) noexcept;
  void begin_drain() noexcept;  // graceful shutdown: finish in-flight requests, then close
  void end_grace() noexcept;    // the shutdown's grace for idle connections is over: close them
  void abort() noexcept;        // close now, cancelling handlers
  int64_t deadline() const noexcept { return transport_.deadline(); }

 private:
  static constexpr int64_t kLingerNs = 2'000'000'000;  // how long a closing connection reads and drops input
  enum class Phase : uint8_t { open, grace, last_request, no_input, lingering, closed };
  enum class Wait : uint8_t { none, idle, headers, body, send, linger };
  struct Entry {
    explicit Entry(ServerConnection* c) noexcept : c(c) { ++c->depth_; }
    ~Entry();
    ServerConnection* c;
  };

  // The lifecycle's one transition function (see Phase above); a phase at or before the current one is a
  // no-op. Lingering and closing happen here.
  void enter(Phase p) noexcept;
  bool closed() const noexcept { return phase_ == Phase::closed; }

  // net::TransportHandler. Each returns false once the connection is closed (it may be gone).
  bool wants_bytes() noexcept override { return input_wanted(); }
  bool on_bytes(const char* data, std::size_t size) noexcept override;
  bool on_eof() noexcept override;
  bool on_writable(std::size_t queued) noexcept override;
  bool on_error(std::error_code ec) noexcept override;
  bool on_hangup() noexcept override;
  bool on_closed() noexcept override;

  void process(const char* data, std::size_t len, bool from_shared) noexcept;
  void process_kept() noexcept;
  void on_head() noexcept;
  void on_message_end() noexcept;
  void on_parse_error() noexcept;
  void dispatch(Exchange& ex) noexcept;
  void run_fast(RequestHead& head) noexcept;
  // The fast path with a HandlerChooser: false (nothing done, the head given back) when it picks async.
  bool run_fast_chosen(RequestHead& head) noexcept;
  void run_fast_bound(Exchange& ex, bool keep_alive) noexcept;
  void start_async(Exchange& ex) noexcept;
  void finish_response(Exchange& ex) noexcept;
  void finish_batch() noexcept;
  // Hands staged output (and the loop's shared output when with_shared) to the transport. False if the
  // connection died.
  bool flush(bool with_shared) noexcept;
  void after_output() noexcept;  // the queue moved: drain waiters, input, deadline
  void advance() noexcept;
  void maybe_release(Exchange& ex) noexcept;
  void maybe_close() noexcept;
  bool input_wanted() const noexcept;
  void resume_input() noexcept;
  void update_deadline(bool progress) noexcept;
  void send_continue(Exchange& ex) noexcept;
  void fail_body(int status) noexcept;
  Exchange& error_exchange(int status) noexcept;
  void drop_pipelined() noexcept;  // forgets every in-flight exchange (after one that closes)
  void detach(Exchange& ex) noexcept;
  void detach_all() noexcept;
  void close_now() noexcept { enter(Phase::closed); }
  void hand_over() noexcept;
  ConnState& state() noexcept;
  bool at_rest() const noexcept;
  // Output not yet accepted by the kernel: staged here and queued in the transport.
  std::size_t queued() const noexcept { return transport_.queued() + (st_ ? st_->out.size() : 0); }
  // Output to the kernel, through the TLS layer when there is one.
  std::error_code send_out(const char* data, std::size_t size) noexcept {
    return tls_ ? tls_->write(data, size) : transport_.write(data, size);
  }

  net::Transport transport_;
  std::unique_ptr<net::TlsLayer> tls_;  // null on a plaintext connection
  ServerLoop& sl_;
  ConnState* st_ = nullptr;
  UpgradeSink* upgrade_ = nullptr;  // a switch of protocols waits for its handover (no lingering close)
  uint32_t depth_ = 0;
  Phase phase_ = Phase::open;
  Wait wait_ = Wait::idle;
  bool process_scheduled_ = false;
  bool processing_ = false;  // inside process(): a handler asking for its body is served by that loop
};

}  // namespace waitless::http::detail
