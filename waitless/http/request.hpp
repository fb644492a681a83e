// Request: what a handler sees of one HTTP request. Method, target, version and header fields are views:
// for a sync handler into the server's receive buffer (valid during the call); for an async handler into
// the request's own copy (valid until the handler's task ends).
//
// The body: a sync handler is called once the whole body has arrived (body_view(), at most
// Limits::max_body_size). An async handler is called at the end of the head and pulls the body:
//   auto body = co_await req.body();   // all of it (Result<string_view>), at most the body limit
//   while (auto piece = co_await req.read()) { if (piece->empty()) break; ... }   // streamed
// Nothing of the body is read from the socket until the handler asks (backpressure: while a handler holds
// a piece, the server does not read the connection); `Expect: 100-continue` is answered at that moment.
// Per-request storage: arena() lives as long as the request (until the exchange is recycled, after the
// response went out and the handler ended), and locals<T>() is one T per request in it, made on first use:
//   req.locals<RouteParams>().add(name, value);   // the router
//   if (auto* user = req.find_local<User>()) ...   // a later middleware
// Once a pooled exchange's arena has grown to what its requests use, they allocate nothing (a sync
// handler on the fast path included).
//
// Both awaits complete with Error::cancelled when the handler's token fires, Error::closed when the client
// goes away, Error::limit_exceeded past the limit (the server then answers 413 unless the handler
// answered), Error::protocol_error on a malformed body, Error::timed_out when the client stalls.
#pragma once
#include <coroutine>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/base/arena.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/result.hpp"
#include "waitless/http/exchange_port.hpp"
#include "waitless/http/header.hpp"
#include "waitless/http/parser.hpp"
#include "waitless/net/socket_address.hpp"

namespace waitless::http {

// Values match llhttp's method numbers; methods without a name here are Method::other.
enum class Method : uint8_t {
  del = 0,
  get = 1,
  head = 2,
  post = 3,
  put = 4,
  connect = 5,
  options = 6,
  trace = 7,
  patch = 28,
  other = 255,
};

namespace detail {
class Exchange;
}  // namespace detail

class Request;

// co_await req.body() / req.read().
class BodyAwaiter {
 public:
  BodyAwaiter(detail::ExchangePort* port, bool whole) noexcept : port_(port), whole_(whole) {}
  BodyAwaiter(const BodyAwaiter&) = delete;
  BodyAwaiter& operator=(const BodyAwaiter&) = delete;

  bool await_ready() const noexcept { return !port_ || port_->body_poll(whole_); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = waitless::detail::token_of(h);
    if (token.cancelled()) {
      waiter_.error = Error::cancelled;
      return false;
    }
    port_->body_wait(waiter_, h, waitless::detail::loop_of(h), token, whole_);
    return true;
  }
  Result<std::string_view> await_resume() noexcept {
    if (!port_) return Error::closed;
    if (waiter_.error) return waiter_.error;
    return port_->body_take(whole_);
  }

 private:
  detail::ExchangePort* port_;
  bool whole_;
  detail::Waiter waiter_;
};

class Request {
 public:
  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  std::string_view method() const noexcept { return head_.method; }
  Method method_id() const noexcept { return method_id_; }
  // The request-target as sent ("/a/b?x=1", "*", "http://host/a" or "host:443").
  std::string_view target() const noexcept { return head_.target; }
  // The target's path (for the absolute form, without scheme and authority) and query (after '?').
  std::string_view path() const noexcept { return path_; }
  std::string_view query() const noexcept { return query_; }
  int version_major() const noexcept { return head_.version_major; }
  int version_minor() const noexcept { return head_.version_minor; }
  std::string_view version() const noexcept { return head_.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1"; }

  const std::vector<Header>& headers() const noexcept { return head_.headers; }
  // The first field with this name (ASCII case-insensitive), or null.
  const Header* find_header(std::string_view name) const noexcept;
  // Its value, or empty when absent.
  std::string_view header(std::string_view name) const noexcept {
    const Header* h = find_header(name);
    return h ? h->value : std::string_view{};
  }
  bool has_header(std::string_view name) const noexcept { return find_header(name) != nullptr; }

  bool keep_alive() const noexcept { return head_.keep_alive; }
  bool has_body() const noexcept { return head_.has_body(); }
  bool chunked() const noexcept { return head_.chunked; }
  std::optional<uint64_t> content_length() const noexcept {
    if (head_.has_content_length) return head_.content_length;
    return std::nullopt;
  }
  bool expects_continue() const noexcept { return head_.expect_continue; }
  bool is_upgrade() const noexcept { return head_.upgrade; }

  // The body limit for this request (default: Limits::max_body_size). Raise it before reading a large
  // upload; it cannot change once the body is being read.
  uint64_t body_limit() const noexcept { return body_limit_; }
  void set_body_limit(uint64_t limit) noexcept;

  // Async handlers: the whole body / the next piece (empty at the end). See the file comment.
  BodyAwaiter body() noexcept { return BodyAwaiter(port_, true); }
  BodyAwaiter read() noexcept { return BodyAwaiter(port_, false); }
  // What has been collected: the whole body for a sync handler.
  std::string_view body_view() const noexcept { return port_ ? port_->body_collected() : std::string_view{}; }

  // Fires when the client disconnects (or the server force-closes) while the handler runs. Empty for
  // sync handlers: they cannot wait.
  CancelToken cancel_token() const noexcept { return port_ ? port_->cancel_token() : CancelToken{}; }
  // Fires that token now, as a disconnect would (a request timeout middleware): the handler's pending
  // waits end with Error::cancelled. The response is not touched. Nothing for a sync handler.
  void cancel() noexcept {
    if (port_) port_->cancel_handler();
  }

  // The client's address as the socket sees it (getpeername: one syscall per call; a proxy in front makes
  // it the proxy's). Error::closed once the connection is gone.
  Result<net::SocketAddress> peer_address() const;

  // Per-request storage (see the file comment). Objects made in the arena are destroyed, newest first,
  // when the request is recycled.
  Arena& arena() noexcept { return arena_; }
  template <typename T>
  T& locals() {
    if (T* found = find_local<T>()) return *found;
    T* obj = arena_.make<T>();
    locals_ = arena_.make<LocalSlot>(LocalSlot{&kLocalKey<T>, obj, locals_});
    return *obj;
  }
  template <typename T>
  T* find_local() const noexcept {
    for (const LocalSlot* s = locals_; s; s = s->next) {
      if (s->key == &kLocalKey<T>) return static_cast<T*>(s->obj);
    }
    return nullptr;
  }

 private:
  struct LocalSlot {
    const void* key;
    void* obj;
    LocalSlot* next;
  };
  template <typename T>
  static constexpr char kLocalKey = 0;  // its address names the type

  friend class detail::Exchange;
  // Takes the parser's head (header array swapped, views unchanged).
  void adopt(RequestHead& head) noexcept;
  // Copies every view into this request's own storage (before an async handler runs).
  void persist();
  // Inline and small: it runs for every request (the rare work is out of line).
  void clear() noexcept {
    head_.clear();
    path_ = query_ = {};
    method_id_ = Method::other;
    body_limit_fixed_ = false;
    body_limit_ = 0;
    persisted_ = false;
    locals_ = nullptr;
    arena_.reset();
    if (storage_.capacity() > kKeptStorage) [[unlikely]]
      release_storage();
  }
  static constexpr std::size_t kKeptStorage = 16 * 1024;  // persisted copies' capacity kept across reuse
  [[gnu::noinline]] void release_storage() noexcept;

  RequestHead head_;
  std::string_view path_, query_;
  Method method_id_ = Method::other;
  bool body_limit_fixed_ = false;
  bool persisted_ = false;
  uint64_t body_limit_ = 0;
  detail::ExchangePort* port_ = nullptr;
  std::string storage_;  // persisted copies; capacity kept across pooled reuse
  Arena arena_;
  LocalSlot* locals_ = nullptr;
};

}  // namespace waitless::http
