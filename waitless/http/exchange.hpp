// Exchange (internal): one request and its response on a connection, pooled per loop. It is the
// ExchangePort of its Request and Response (exchange_port.hpp): the one way they reach the connection.
//
// Lifecycle (Stage, changed only by on(), which takes the events below; see stage_after() for the table):
//   receiving   bound to a request; its sync handler waits until the whole body has arrived
//   handling    its handler runs; its response has not all left (in order) for the connection's output
//   answered    its handler runs; its whole response left
//   responding  no handler runs (it ended, or none will: a server-made error); the response waits its turn
//   done        handler ended and whole response left: back to the pool
// Events: dispatched (a handler starts), handler_ended (it returned or threw; also "no handler will run"),
// response_left (the connection passed its last byte on, in request order).
//
// Lifetime: taken from the loop's pool at the end of a request head; back to it once (a) its response has
// been written out to the connection (it left the connection's in-flight list) and (b) its handler has
// finished. When the connection goes away first, `conn` becomes null: the handler's token fires, its waits
// end with Error::closed, its writes return Error::closed, and the exchange returns to the pool (or is
// deleted, if the loop's server is gone) when the handler ends.
#pragma once
#include <exception>
#include <optional>
#include <string>

#include "waitless/base/cancel.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"

namespace waitless::http::detail {

class ServerConnection;
class ServerLoop;
struct InflightTag;
struct LiveTag;

enum class BodyMode : uint8_t {
  idle,     // nobody asked for the body yet: the connection does not read it
  collect,  // all of it into `body` (sync handler, or co_await req.body())
  stream,   // piece by piece into `body` (co_await req.read())
};

class Exchange final : public ExchangePort, public ListHook<InflightTag>, public ListHook<LiveTag> {
 public:
  enum class Stage : uint8_t { receiving, handling, answered, responding, done };
  enum class Event : uint8_t { dispatched, handler_ended, response_left };
  // The lifecycle's transition table (pure): what `event` does in stage `s`.
  static constexpr Stage stage_after(Stage s, Event event) noexcept {
    switch (event) {
      case Event::dispatched:
        return s == Stage::receiving || s == Stage::handling ? Stage::handling : s;
      case Event::handler_ended:
        if (s == Stage::answered) return Stage::done;
        return s == Stage::done ? s : Stage::responding;
      case Event::response_left:
        if (s == Stage::handling) return Stage::answered;
        if (s == Stage::responding) return Stage::done;
        return s;
    }
    return s;
  }
  // The one place the stage changes. Returns the new stage.
  Stage on(Event event) noexcept { return stage = stage_after(stage, event); }
  bool handler_running() const noexcept { return stage == Stage::handling || stage == Stage::answered; }
  // A sync handler waits for the whole body (the request's views must be copied before input moves on).
  bool awaiting_body() const noexcept { return stage == Stage::receiving; }

  explicit Exchange(ServerLoop* owner) noexcept : owner(owner) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Binds to a connection for a request whose head the parser just completed.
  void bind(ServerConnection* c, RequestHead& head, uint64_t body_limit) noexcept;
  // Binds for a server-made error response (the head could not be parsed).
  void bind_error(ServerConnection* c) noexcept;
  void clear() noexcept;
  // clear() for the fast-path exchange, which never has a body, waiters, pending output or a token.
  void clear_fast() noexcept {
    req.clear();
    res.clear();
    close = false;
    stage = Stage::receiving;
  }

  // Undoes bind() on the fast exchange: the head (its header array) goes back to the parser.
  void unbind_fast(RequestHead& head) noexcept {
    head.headers.swap(req.head_.headers);
    clear_fast();
  }

  // Wakes a parked body / drain waiter.
  void wake_body(std::error_code ec = {}) noexcept;
  void wake_drain(std::error_code ec = {}) noexcept;
  // The handler task ended (err: what it threw).
  void handler_finished(std::exception_ptr err) noexcept;
  // A server-made response (400, 408, 413, 500...), unless the head was already sent.
  void respond_error(int status, bool close_after) noexcept;
  // Ends a response whose head went out but whose handler failed: marked broken, the connection closes.
  void abandon_response() noexcept;
  // Copies the request's views into its own storage (the receive buffer is about to be reused).
  void persist_request() { req.persist(); }
  // The body limit can no longer change once the body is being read.
  void lock_body_limit() noexcept { req.body_limit_fixed_ = true; }
  // Back to the loop's pool (or deleted when the loop's server is gone).
  void release() noexcept;
  bool http10() const noexcept { return req.version_minor() == 0; }

  // ExchangePort.
  bool body_poll(bool whole) noexcept override;
  void body_wait(Waiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token,
                 bool whole) override;
  Result<std::string_view> body_take(bool whole) noexcept override;
  std::string_view body_collected() const noexcept override { return body; }
  CancelToken cancel_token() const noexcept override { return cancel ? cancel->token() : CancelToken{}; }
  void cancel_handler() noexcept override {
    if (cancel) cancel->cancel();
  }
  Result<net::SocketAddress> peer_address() const override;
  OutBuffer* output() noexcept override;
  void committed(bool head, bool finished) noexcept override;
  bool needs_drain() const noexcept override;
  void drain_wait(Waiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token) override;
  Result<std::size_t> send_file(int fd, uint64_t offset, std::size_t count) noexcept override;
  HeadOutput head_output() noexcept override;
  std::error_code switch_protocols(std::string_view head, UpgradeSink sink) override;
  ServerLoop* session_host() const noexcept override { return owner; }
  // The connection switched protocols (upgrade.hpp): the 101 head it wrote is the whole response.
  void mark_switched() noexcept {
    res.state_ = Response::State::finished;
    res.close_ = true;
  }

  Request req;
  Response res;
  ServerLoop* owner;                 // null once the loop's server is gone (then the exchange deletes itself)
  ServerConnection* conn = nullptr;  // null once the connection is gone
  OutBuffer pending;                 // response bytes waiting behind earlier responses
  std::string body;                  // collected body, or the current streamed piece
  std::optional<CancelSource> cancel;  // for async handlers
  Waiter* body_waiter = nullptr;
  Waiter* drain_waiter = nullptr;
  std::error_code body_error;  // sticky: what every later body await returns
  int body_error_status = 0;   // the server's answer for it when the handler did not answer
  BodyMode body_mode = BodyMode::idle;
  bool body_done = false;      // the whole body arrived (or there is none)
  bool want_piece = false;     // stream: the handler waits for the next piece
  bool piece_taken = false;    // stream: `body` was handed out and must be cleared before refilling
  bool continue_sent = false;  // 100 Continue written (or not needed)
  Stage stage = Stage::receiving;
  bool close = false;  // the request asked for the connection to close after it
  bool fast = false;   // the loop's exchange for the sync fast path: never pooled nor listed, so its
                       // stage is not tracked (used and cleared within one handler call)
};

// Runs the server's async handler for `ex` and reports its end to the exchange.
Task<> run_handler(Exchange* ex);

}  // namespace waitless::http::detail
