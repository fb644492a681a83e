// Response: what a handler writes. Either all at once:
//   res.set_header("Content-Type", "text/plain");
//   res.send("Hello");                              // Content-Length set from the body
// or streamed, with backpressure:
//   res.write(piece);                               // chunked, unless set_content_length() was called
//   if (res.needs_drain()) co_await res.drain();    // wait until the client has taken most of it
//   res.end();
// The server adds Server, Date (cached, refreshed once a second), Content-Length or Transfer-Encoding, and
// Connection when the connection will close (or keep-alive for an HTTP/1.0 client that asked for it).
// A response to HEAD carries the headers of the would-be body and no body; 204 and 304 never carry one.
//
// Errors are values: a header name that is not a token, or a value with CR, LF, NUL or another control
// character, is refused (Error::invalid_argument) and never written; so are Content-Length and
// Transfer-Encoding (framing is the server's). Writing after end, or to a client that went away, returns
// Error::closed and writes nothing.
#pragma once
#include <coroutine>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/http/request.hpp"
#include "waitless/net/out_buffer.hpp"

namespace waitless::http {

// "OK", "Not Found"...; "Unknown" for codes without a registered reason.
std::string_view reason_phrase(int status) noexcept;

namespace detail {
struct ResponseAccess;  // upgrade.cpp: switch_protocols() reaches the exchange
using net::OutBuffer;
// Implemented by the server (server_connection.cpp).
OutBuffer* out_begin(Exchange& ex) noexcept;            // where to append; null when the client is gone
void out_commit(Exchange& ex, bool finished) noexcept;  // bytes appended; finished: the response is complete
bool out_decide_close(Exchange& ex) noexcept;           // as the head is written: will the connection close?
bool out_needs_drain(const Exchange& ex) noexcept;      // queued output above the high-water mark
Waiter** drain_slot(Exchange& ex) noexcept;
std::string_view date_line(const Exchange& ex) noexcept;    // "Date: ...\r\n"
std::string_view server_line(const Exchange& ex) noexcept;  // "Server: ...\r\n" or empty
std::string_view prefix_200(const Exchange& ex) noexcept;   // "HTTP/1.1 200 OK\r\n" + Server + Date lines
}  // namespace detail

// co_await res.drain(): completes once the connection's queued output is below the low-water mark.
class DrainAwaiter {
 public:
  explicit DrainAwaiter(detail::Exchange* ex) noexcept : ex_(ex) {}
  DrainAwaiter(const DrainAwaiter&) = delete;
  DrainAwaiter& operator=(const DrainAwaiter&) = delete;
  bool await_ready() const noexcept { return !ex_ || !detail::out_needs_drain(*ex_); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = waitless::detail::token_of(h);
    if (token.cancelled()) {
      waiter_.error = Error::cancelled;
      return false;
    }
    waiter_.park(detail::drain_slot(*ex_), h, waitless::detail::loop_of(h), token);
    return true;
  }
  std::error_code await_resume() const noexcept { return ex_ ? waiter_.error : Error::closed; }

 private:
  detail::Exchange* ex_;
  detail::Waiter waiter_;
};

class Response {
 public:
  Response() = default;
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  int status() const noexcept { return status_; }
  // 200..599 (informational responses are the server's); Error::invalid_argument otherwise, or once the
  // head has been sent.
  std::error_code set_status(int status) noexcept;
  // Adds a field (several with one name are allowed). "Server" and "Date" replace the automatic ones;
  // "Connection: close" closes the connection after this response; other Connection values, and
  // Content-Length / Transfer-Encoding, are refused.
  std::error_code set_header(std::string_view name, std::string_view value);
  std::error_code set_content_type(std::string_view type);

  // The whole response at once.
  std::error_code send(std::string_view body);
  std::error_code send(int status, std::string_view body, std::string_view content_type = {});

  // Streaming: declare the length first to send it raw instead of chunked (the server closes the
  // connection if end() comes with a different count).
  std::error_code set_content_length(uint64_t length) noexcept;
  std::error_code write(std::string_view piece);
  std::error_code end(std::string_view last = {});
  bool needs_drain() const noexcept { return ex_ && detail::out_needs_drain(*ex_); }
  DrainAwaiter drain() noexcept { return DrainAwaiter(ex_); }

  // Connection: close on this response.
  void close_connection() noexcept { close_ = true; }

  // Whether the connection closes after this response (decided when its head is written).
  bool closes_connection() const noexcept { return close_ || broken_; }
  bool touched() const noexcept { return touched_; }  // status, a header or output set by the handler
  bool headers_sent() const noexcept { return state_ != State::fresh; }
  bool finished() const noexcept { return state_ == State::finished; }
  uint64_t body_bytes() const noexcept { return written_; }

 private:
  friend class detail::Exchange;
  friend struct detail::ResponseAccess;
  enum class State : uint8_t { fresh, streaming, finished };
  void prepare(detail::Exchange* ex, bool head_request, bool http10, bool http10_keep_alive) noexcept;
  void clear() noexcept;
  // Appends the head, then `body`, to out. length: the body length, or npos when unknown (streaming).
  void write_head(detail::OutBuffer& out, uint64_t length, std::string_view body = {});
  bool body_allowed() const noexcept { return status_ != 204 && status_ != 304; }
  // Server-made responses (errors, timeouts): replaces whatever the handler set if nothing was sent.
  std::error_code send_error(int status, bool close);

  static constexpr uint64_t npos = ~uint64_t{0};
  detail::Exchange* ex_ = nullptr;
  detail::OutBuffer headers_;  // "Name: value\r\n" lines from set_header (capacity kept across requests)
  uint64_t declared_ = npos;
  uint64_t written_ = 0;
  int status_ = 200;
  State state_ = State::fresh;
  bool chunked_ = false;
  bool head_request_ = false;
  bool http10_ = false;
  bool http10_keep_alive_ = false;
  bool custom_server_ = false;
  bool custom_date_ = false;
  bool close_ = false;
  bool touched_ = false;
  bool broken_ = false;  // the body sent does not match its framing: the connection must close
};

}  // namespace waitless::http
