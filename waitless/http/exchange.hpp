// Exchange (internal): one request and its response on a connection, pooled per loop.
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

class Exchange final : public ListHook<InflightTag>, public ListHook<LiveTag> {
 public:
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
    close = head_written = false;
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
  bool handler_running = false;
  bool emitted = false;       // its whole response went to the connection's output
  bool sync_pending = false;  // a sync handler waits for the body to be collected
  bool close = false;         // the request asked for the connection to close after it
  bool head_written = false;  // the response head went out (close decision taken)
  bool fast = false;          // the loop's exchange for the sync fast path: never pooled nor listed
};

// Runs the server's async handler for `ex` and reports its end to the exchange.
Task<> run_handler(Exchange* ex);

}  // namespace waitless::http::detail
