// ExchangePort (internal): the one interface through which a Request and its Response reach the server.
// The server's Exchange implements it (exchange.cpp); Request and Response see nothing else of the
// server, so the connection's state machine stays behind this line and another transport of exchanges
// (HTTP/2 streams, a test double) could stand behind it too.
//
// Down (Request): the body: can an await complete now, park a waiter until it can, take the result, the
// whole collected body of a sync handler, the handler's cancel token.
// Down (Response): where its bytes go, that they were appended (and whether the response is complete),
// backpressure (needs_drain, park a drain waiter), for the head also the close decision and the automatic
// head lines (the cached "200 OK + Server + Date" prefix, Server, Date), and the switch to another protocol
// (upgrade.hpp).
// Up: the exchange wakes a parked Waiter (Waiter::wake), or the awaiting task's token cancels it.
#pragma once
#include <coroutine>
#include <string_view>
#include <system_error>

#include "waitless/base/cancel.hpp"
#include "waitless/base/result.hpp"
#include "waitless/http/upgrade.hpp"
#include "waitless/net/out_buffer.hpp"
#include "waitless/net/socket_address.hpp"

namespace waitless {
class Loop;
}

namespace waitless::http::detail {

using net::OutBuffer;
class ServerLoop;

// A coroutine parked on the exchange (body data, output drain). The exchange wakes it (wake()) or the
// awaiting task's token cancels it; whichever comes first unregisters the other, so it resumes once.
struct Waiter {
  std::coroutine_handle<> handle;
  Loop* loop = nullptr;
  Waiter** slot = nullptr;  // where the exchange keeps it while parked
  CancelCallback cancel;
  std::error_code error;

  Waiter() = default;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  ~Waiter() { unpark(); }
  // Registers in *where and on the token (resumes with Error::cancelled if it fires first).
  void park(Waiter** where, std::coroutine_handle<> h, Loop& l, const CancelToken& token);
  void unpark() noexcept {
    if (slot && *slot == this) *slot = nullptr;
    slot = nullptr;
  }
  // From the exchange: resume the coroutine (as a microtask) with `ec`.
  void wake(std::error_code ec = {}) noexcept;
};

class ExchangePort {
 public:
  // ---- the request's body (Request) ----
  // Whether co_await req.body() (whole) / req.read() can complete now (starting the body if needed).
  virtual bool body_poll(bool whole) noexcept = 0;
  // Parks `w` until it can, and asks the connection for body bytes. Never resumes `w` synchronously.
  virtual void body_wait(Waiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token,
                         bool whole) = 0;
  virtual Result<std::string_view> body_take(bool whole) noexcept = 0;
  // What has been collected: the whole body, for a sync handler.
  virtual std::string_view body_collected() const noexcept = 0;
  // Fires when the client goes away while an async handler runs (empty for a sync handler).
  virtual CancelToken cancel_token() const noexcept = 0;
  // Fires that token now (a request timeout); nothing for a sync handler.
  virtual void cancel_handler() noexcept = 0;
  // The client's address as the socket sees it; Error::closed once the connection is gone.
  virtual Result<net::SocketAddress> peer_address() const = 0;

  // ---- the response's output (Response) ----
  // Where to append the response's bytes now; null when the client is gone.
  virtual OutBuffer* output() noexcept = 0;
  // Bytes were appended (`head`: the head among them); `finished`: the response is complete.
  virtual void committed(bool head, bool finished) noexcept = 0;
  // Queued output above the high-water mark; drain_wait parks `w` until it is below the low-water mark.
  virtual bool needs_drain() const noexcept = 0;
  virtual void drain_wait(Waiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token) = 0;
  // Sends up to `count` bytes of the file `fd` from `offset` as the next body bytes, by sendfile(2), after
  // what the response appended so far: the bytes sent (0 while the socket is full: needs_drain() holds
  // until it is writable again). std::errc::operation_not_supported when the bytes must be written
  // instead (TLS, a response queued behind another, output batched with other responses); Error::closed
  // when the client is gone.
  virtual Result<std::size_t> send_file(int fd, uint64_t offset, std::size_t count) noexcept = 0;
  // What writing the head needs, in one call (it is on every response's path): where the bytes go (null
  // when the client is gone), whether the connection closes after this response, and the automatic lines.
  struct HeadOutput {
    OutBuffer* out = nullptr;
    bool closes = true;
    std::string_view prefix_200;  // "HTTP/1.1 200 OK\r\n" + Server + Date lines
    std::string_view server;      // "Server: ...\r\n" or empty
    std::string_view date;        // "Date: ...\r\n"
  };
  virtual HeadOutput head_output() noexcept = 0;
  // upgrade.hpp: `head` is the whole response, then the socket goes to `sink`.
  virtual std::error_code switch_protocols(std::string_view head, UpgradeSink sink) = 0;
  // The server loop that counts long-lived sessions (UpgradedSession::join_server); null when none.
  virtual ServerLoop* session_host() const noexcept = 0;

 protected:
  ExchangePort() = default;
  ExchangePort(const ExchangePort&) = default;
  ExchangePort& operator=(const ExchangePort&) = default;
  ~ExchangePort() = default;
};

}  // namespace waitless::http::detail
