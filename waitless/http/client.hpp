// Client: an HTTP/1.1 client on the loop, with a connection pool per origin (Node's http.Agent with
// keepAlive, as coroutines).
//
//   http::Client client(loop);
//   Result<http::ClientResponse> r = co_await client.get("http://127.0.0.1:8080/plaintext");
//   if (!r) co_return r.error();            // ECONNREFUSED, Error::timed_out, Error::protocol_error...
//   r->status; r->header("content-type"); r->body;
//
//   ClientRequest req{.method = "PUT", .url = url, .headers = {{"Content-Type", "application/json"}},
//                     .body = json};
//   auto r = co_await client.request(std::move(req));   // (named: see the g++ 12 caveat below)
//
//   ClientRequest big{.url = url};
//   auto s = co_await client.stream(std::move(big));     // the head; the body on demand, with backpressure
//   while (auto piece = co_await s->read()) { if (piece->empty()) break; consume(*piece); }
//
// Pooling: connections are kept per origin (scheme, host, port) and reused while alive.
// At most max_connections_per_origin exist per origin (connecting, busy or idle); further requests wait in
// a FIFO queue (each wait cancellable, bounded by max_queued_per_origin: Error::queue_full). A connection
// goes back to the pool only after a complete response that allows it (keep-alive, no `Connection: close`
// either way, nothing unexpected after it); idle ones are closed after idle_timeout or as soon as the server
// closes them, and never keep the loop alive. A request that fails on a reused connection before a byte of
// its response arrived (the server closed it just as the request left) is retried once on a new connection
// if its method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE).
//
// Errors are values (Result): the errno of socket/connect/send/recv (ECONNREFUSED, ECONNRESET...), DNS
// errors (net::dns), Error::timed_out (connect, header, body or total timeout), Error::protocol_error (a
// malformed response; see response_parser.hpp), Error::limit_exceeded (body over max_body, head over
// max_head_size, too many fields), Error::eof (the server closed the connection before the response was
// complete), Error::invalid_argument (a bad URL, method, header name or value: CR, LF, NUL and other
// controls are refused before anything is sent; Content-Length and Transfer-Encoding are the client's),
// Error::queue_full, Error::cancelled (the awaiting task's token fired: the connection in use is closed,
// never returned to the pool), Error::closed (the Client was destroyed while the request ran).
//
// Timeouts (0 disables each): connect_timeout bounds DNS and TCP connect of a new connection;
// header_timeout runs from the start of sending to the end of the final response head; body_timeout is the
// longest silence while a body is received; total_timeout bounds the whole call (queueing, connect, send,
// head, and for request()/get() the body; a stream's body reads are bounded by body_timeout only).
//
// A Client belongs to the loop it was made with: await its calls from tasks on that loop (one Client per
// loop, as one server loop per core). Nothing in it is thread-safe.
//
// Lifetimes: every call owns its arguments (the tasks are lazy: they may start after the caller's
// temporaries are gone). A Client may be destroyed while requests run: they end with Error::closed. A
// ClientStream may outlive its Client.
//
// g++ 12 caveat: a braced aggregate temporary inside a co_await expression is destroyed twice (a compiler
// bug: `co_await client.request({.url = u})` frees the request's strings twice). Name it first:
//   ClientRequest req{.url = u};  auto r = co_await client.request(std::move(req));
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/http/client_connection.hpp"
#include "waitless/http/header_map.hpp"
#include "waitless/http/response_parser.hpp"
#include "waitless/http/upgrade.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/net/dns.hpp"
#include "waitless/net/tls_context.hpp"

namespace waitless::http {

struct ClientOptions {
  std::size_t max_connections_per_origin = 16;
  std::size_t max_queued_per_origin = 10'000;  // requests waiting for a connection; more: queue_full
  Duration connect_timeout = std::chrono::seconds(10);
  Duration header_timeout = std::chrono::seconds(30);
  Duration body_timeout = std::chrono::seconds(30);
  Duration total_timeout = Duration::zero();
  Duration idle_timeout = std::chrono::seconds(60);  // a pooled connection unused this long is closed
  bool keep_alive = true;                            // false: every request says Connection: close
  uint64_t max_body = 64ull << 20;                   // collected bodies (request(), get())
  ResponseLimits limits = {};                        // head size, field count, chunk extensions, interim
  net::dns::ResolverOptions resolver = {};           // the Client's own resolver (created at first use)
  // https:// (a client context, net/tls_context.hpp: CA file, insecure for tests). Null: one made at the
  // first https request, verifying against the system's store.
  std::shared_ptr<net::TlsContext> tls = nullptr;
  // https://: the name sent as SNI and verified against the certificate instead of the URL's host (a
  // proxy connecting to an address whose certificate names the service). Empty: the URL's host.
  std::string tls_server_name = {};
};

// A request body produced while the request is sent (ClientRequest::body_source): the client asks for the
// next piece once the previous one was taken by the connection and its write queue is under the
// high-water mark (backpressure toward the source).
class BodySource {
 public:
  virtual ~BodySource() = default;
  // The next piece, valid until the next call; "" at the end. An error aborts the request: the connection
  // is closed and the call ends with that error.
  virtual Task<Result<std::string_view>> next() = 0;
  // Back to the first byte, to send the request again (a retry). False: it cannot; no retry then.
  virtual bool rewind() { return false; }
};

struct ClientRequest {
  std::string method = "GET";
  std::string url = {};
  HeaderMap headers = {};
  std::string body = {};
  uint64_t max_body = 0;  // 0: ClientOptions::max_body for request(), no limit for stream()
  // A streamed body instead of `body` (which must be empty): sent with Content-Length: body_length
  // (the source must give exactly that many bytes, else Error::invalid_argument), or chunked when
  // body_length is negative.
  std::shared_ptr<BodySource> body_source = nullptr;
  int64_t body_length = -1;
};

struct ClientResponse {
  int status = 0;
  uint8_t version_minor = 1;
  std::string reason = {};
  HeaderMap headers = {};
  std::string body = {};
  HeaderMap trailers = {};  // a chunked body's trailer fields (once the body is complete)

  std::string_view header(std::string_view name) const noexcept { return headers.get(name); }
};

struct ClientMetrics {
  uint64_t requests = 0;             // calls started
  uint64_t connections_opened = 0;   // TCP connections established
  uint64_t connections_reused = 0;   // requests sent on a connection that had served an earlier one
  uint64_t retries = 0;              // requests repeated on a new connection after a stale one failed
  uint64_t connect_errors = 0;       // new connections that could not be established (DNS or connect)
  std::size_t open_connections = 0;  // now: connecting, busy or idle, every origin
  std::size_t idle_connections = 0;  // now, in the pools
  std::size_t queued = 0;            // now: requests waiting for a connection
  std::size_t max_body_queued = 0;   // the longest write queue a streamed request body reached (bounded)
};

namespace detail {
class ClientCore;
struct Pool;
struct ClientAccess;

// A slot in an origin's pool, with or without its connection; given back when destroyed (the connection
// to the pool if reusable, else closed). Keeps the ClientCore alive.
class Lease {
 public:
  Lease() = default;
  Lease(ClientCore* core, Pool* pool) noexcept;
  Lease(Lease&& o) noexcept;
  Lease& operator=(Lease&& o) noexcept;
  ~Lease();
  void reset() noexcept;
  // Closes the connection but keeps the slot (to open a new one at once).
  void drop_connection() noexcept;

  ClientCore* core = nullptr;
  Pool* pool = nullptr;
  ClientConnection* conn = nullptr;
  bool slot = false;
};
}  // namespace detail

// A response whose body is read piece by piece. The connection reads only while a read() waits
// (backpressure); it goes back to the pool when the body has been read to its end, and is closed if the
// stream is destroyed before that.
class ClientStream {
 public:
  class ReadAwaiter;
  ClientStream() = default;
  ClientStream(ClientStream&&) noexcept = default;
  ClientStream& operator=(ClientStream&&) noexcept = default;

  int status() const noexcept { return head_.status; }
  const std::string& reason() const noexcept { return head_.reason; }
  const HeaderMap& headers() const noexcept { return head_.headers; }
  std::string_view header(std::string_view name) const noexcept { return head_.headers.get(name); }

  // co_await read(): the next piece of the body (valid until the next read() or the stream's end), ""
  // at the end and after it. Errors as for requests; after one, every read returns it.
  ReadAwaiter read() noexcept;
  // The rest of the body, at most `limit` bytes (Error::limit_exceeded beyond).
  Task<Result<std::string>> read_all(uint64_t limit = 64ull << 20);
  bool done() const noexcept { return done_; }
  // The trailer fields of a chunked body, once read() returned its end (empty before, and without any).
  const HeaderMap& trailers() const noexcept { return head_.trailers; }
  // Switching protocols: a request that carried an Upgrade field may be answered 101 (the stream has no
  // body then). This takes the socket for the new protocol (upgrade.hpp's Upgraded: the fd, its TLS layer
  // for https, the bytes received after the 101 head, the request bytes not sent yet; server is null); the
  // connection leaves the pool for good. Error::invalid_argument if the head is not a 101 or the
  // connection is gone.
  Result<Upgraded> take_upgraded() noexcept;

 private:
  friend struct detail::ClientAccess;
  ClientResponse head_;
  detail::Lease lease_;
  int64_t body_idle_ns_ = 0;
  std::error_code error_;
  bool done_ = false;
};

class ClientStream::ReadAwaiter {
 public:
  explicit ReadAwaiter(ClientStream* s) noexcept;
  bool await_ready() noexcept { return !inner_ || inner_->await_ready(); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return inner_->await_suspend(h);
  }
  Result<std::string_view> await_resume() noexcept;

 private:
  ClientStream* s_;
  std::optional<detail::ClientConnection::PieceAwaiter> inner_;
};

class Client {
 public:
  explicit Client(Loop& loop, ClientOptions options = {});
  // Closes idle connections; requests in flight end with Error::closed.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Task<Result<ClientResponse>> get(std::string url);
  // POST with a body (and a Content-Type when given).
  Task<Result<ClientResponse>> post(std::string url, std::string body, std::string_view content_type = {});
  Task<Result<ClientResponse>> request(ClientRequest request);
  // Completes with the response head; read the body from the stream.
  Task<Result<ClientStream>> stream(ClientRequest request);

  ClientMetrics metrics() const noexcept;
  const ClientOptions& options() const noexcept;
  // Closes every idle pooled connection now.
  void close_idle() noexcept;

 private:
  detail::ClientCore* core_;
};

}  // namespace waitless::http
