// Upgrade (RFC 9110 7.8, 101 Switching Protocols): a request handler hands its connection over to another
// protocol (WebSocket). The HTTP connection writes the 101 head as its last response, stops parsing, and
// gives the socket away: the fd (watched by nobody), its TLS session if any, the output the kernel has not
// taken yet and the bytes already received after the request head (a client may send its first frames right
// behind the request).
//
//   switch_protocols(res, "HTTP/1.1 101 Switching Protocols\r\n...\r\n\r\n", [](Result<Upgraded> u) {...});
//
// The sink runs once, from a microtask after the handler's call returned (a sync handler may be inside the
// server's parse loop, which must finish first): with the connection, or with Error::closed when the
// client left meanwhile. An async handler should return right after switching: the exchange is detached
// at the handover (its token fires if it still runs).
//
// The new protocol's connection is an UpgradedSession of the server's loop: the server counts it (a
// graceful shutdown waits for it), tells it when a graceful shutdown begins (WebSocket: close 1001), and
// aborts it at the shutdown's deadline or when the server goes away.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/net/tls_layer.hpp"

namespace waitless::http {

class Response;
namespace detail {
class ExchangePort;
class ServerLoop;
struct SessionTag;
// The port behind a response (null for a response not bound to a server's connection).
ExchangePort* port_of(Response& res) noexcept;
}  // namespace detail

// Over TLS the session goes with the fd: `tls` is the connection's layer (tls_layer.hpp), which the new
// owner rebinds to its Transport of `fd`; `unsent` is then ciphertext, written to that Transport as it is
// (before anything goes through the layer), and `received` is plaintext, as on a plain connection.
// Move-only; the new owner closes the fd (and frees the layer, whose session state the fd needs).
struct Upgraded {
  Loop* loop = nullptr;
  int fd = -1;                         // open, non-blocking; the new owner closes it
  std::unique_ptr<net::TlsLayer> tls;  // null on a plaintext connection
  std::string unsent;    // the bytes for the wire the kernel has not taken yet: to be sent first, as they are
  std::string received;  // bytes (plaintext) after the head: the new protocol's first input
  detail::ServerLoop* server = nullptr;  // for UpgradedSession::join_server (null: not from a server)
};

using UpgradeSink = std::function<void(Result<Upgraded>)>;

// From a handler, before anything of its response was written. `head` is the complete response head
// (status line 101, fields, blank line). Errors (nothing written, the handler may still answer):
// Error::closed (the client is gone), Error::invalid_argument (the response has started, another request is
// in flight before this one, or the request has a body).
std::error_code switch_protocols(Response& res, std::string_view head, UpgradeSink sink);

class UpgradedSession : public ListHook<detail::SessionTag> {
 public:
  UpgradedSession(const UpgradedSession&) = delete;
  UpgradedSession& operator=(const UpgradedSession&) = delete;

  // Graceful shutdown began: finish politely, then leave_server().
  virtual void on_server_shutdown() noexcept = 0;
  // The shutdown's deadline passed, or the server is going away: close now and leave_server() before
  // returning.
  virtual void on_server_abort() noexcept = 0;

 protected:
  UpgradedSession() = default;
  ~UpgradedSession() { leave_server(); }
  // Registers with the server's loop (no-op for null). True when that server is already shutting down
  // (the session was upgraded as the shutdown began): it should finish at once, as on_server_shutdown().
  bool join_server(detail::ServerLoop* server) noexcept;
  void leave_server() noexcept;

 private:
  detail::ServerLoop* server_ = nullptr;
};

}  // namespace waitless::http
