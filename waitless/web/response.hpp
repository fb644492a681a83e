// web::Response: what a middleware or handler answers. Chainable, with errors kept as values:
//
//   res.status(201).set_header("Location", "/items/7").json(item);
//   res.send("created");                         // text/plain; charset=utf-8 unless type() said otherwise
//   res.redirect("/login");                      // 302 (or the status given) with Location
//   res.cookie({.name = "sid", .value = v, .http_only = true, .same_site = SameSite::lax});
//   res.server_timing("db", 12.5ms, "users query");
//   if (res.error()) ...                         // the first refused call (a bad header, a bad cookie...)
//
// Commit (Koa's model): send/json/redirect only record the response; it is written once the whole chain
// has returned, so a middleware can still change the status or add headers after `co_await next()`.
// Streaming is the exception: the first write() commits the head (status, headers, type, Server-Timing)
// and sends the body chunked (or raw after set_content_length); `if (res.needs_drain()) co_await
// res.drain();` waits while the client is slow; end() finishes (the App ends a stream left open).
//
// Header fields go to the server's http::Response as they are set (validated there); the Content-Type,
// the Server-Timing entries and the body are kept here until commit, so the last type() wins and an
// error can replace a body that was not sent.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "waitless/http/response.hpp"
#include "waitless/web/cookie.hpp"
#include "waitless/web/json.hpp"

namespace waitless::web {

namespace detail {
struct ResponseState {
  std::string body;
  std::string content_type;
  std::string timing;  // Server-Timing entries, comma-separated
  int status = 200;
  bool status_set = false;
  bool body_set = false;
  bool committed = false;
  std::error_code error;
  void reset() noexcept {
    body.clear();
    content_type.clear();
    timing.clear();
    status = 200;
    status_set = body_set = committed = false;
    error = {};
  }
};
}  // namespace detail

class Response {
 public:
  Response(http::Response& raw, detail::ResponseState& state) noexcept : raw_(raw), st_(state) {}
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  http::Response& raw() noexcept { return raw_; }

  int status() const noexcept { return st_.status; }
  // 200..599; other values are refused (error()).
  Response& status(int code) noexcept;
  // Adds a header field (several with one name are allowed: Set-Cookie, Link...). Refused (error()):
  // names that are not tokens, values with control characters, framing fields, and anything after the head
  // went out (streaming). Content-Type goes through type().
  Response& set_header(std::string_view name, std::string_view value);
  // The Content-Type of the body (the last call wins).
  Response& type(std::string_view content_type);

  // The body, sent when the chain returns. send() keeps the type set with type(), else
  // "text/plain; charset=utf-8"; json() sets "application/json" unless type() set one.
  Response& send(std::string_view body);
  Response& json(const Json& value);
  template <typename T>
  requires(!std::is_convertible_v<const T&, const Json&>) Response& json(const T& value) {
    return json(Json(json::value_from(value)));
  }
  // Location + status (3xx; 302 by default) + a short text body.
  Response& redirect(std::string_view location, int code = 302);

  // Set-Cookie with every attribute (cookie.hpp); a refused cookie sets error() and writes nothing.
  Response& cookie(const SetCookie& c);
  // Expires the cookie at once (Max-Age=0) for `path`.
  Response& clear_cookie(std::string_view name, std::string_view path = "/");
  // A Server-Timing entry (RFC: metric;dur=ms;desc="..."), sent with the head.
  template <typename Rep, typename Period>
  Response& server_timing(std::string_view metric, std::chrono::duration<Rep, Period> d,
                          std::string_view description = {}) {
    return server_timing_ms(metric, std::chrono::duration<double, std::milli>(d).count(), description);
  }
  Response& server_timing(std::string_view metric, std::string_view description = {}) {
    return server_timing_ms(metric, -1, description);
  }

  // Streaming (see the file comment). The first write commits the head.
  std::error_code set_content_length(uint64_t length) noexcept;
  std::error_code write(std::string_view piece);
  bool needs_drain() const noexcept { return raw_.needs_drain(); }
  http::DrainAwaiter drain() noexcept { return raw_.drain(); }
  // A piece of a file as the next body bytes by sendfile(2) (http::Response::write_file: the bytes sent,
  // or operation_not_supported when they must go through write()). The first call commits the head.
  Result<std::size_t> write_file(int fd, uint64_t offset, std::size_t count);
  std::error_code end(std::string_view last = {});

  // The first refused call of this response, sticky.
  std::error_code error() const noexcept { return st_.error; }
  // Whether the chain answered: a status, a body or a stream.
  bool answered() const noexcept { return st_.status_set || st_.body_set || raw_.headers_sent(); }
  bool has_body() const noexcept { return st_.body_set; }
  bool headers_sent() const noexcept { return raw_.headers_sent(); }
  const std::string& body_text() const noexcept { return st_.body; }
  std::string_view content_type() const noexcept { return st_.content_type; }

  // For the framework (and middleware that rewrites a response, like compression): drops a recorded
  // body and type (and the sticky error) so another answer can take their place (headers already set
  // stay).
  void discard_body() noexcept;
  // Writes what was recorded (the App calls it when the chain has returned).
  std::error_code commit();

 private:
  Response& server_timing_ms(std::string_view metric, double ms, std::string_view description);
  std::error_code write_head_fields();
  Response& fail(std::error_code ec) noexcept {
    if (!st_.error) st_.error = ec;
    return *this;
  }
  http::Response& raw_;
  detail::ResponseState& st_;
};

}  // namespace waitless::web
