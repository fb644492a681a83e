// Response: what a handler writes. Either all at once:
//   res.status(201).set("Content-Type", "text/plain").append("Set-Cookie", "a=1");
//   res.send("created");                            // Content-Length set from the body
// or streamed, with backpressure:
//   res.write(piece);                               // chunked, unless set_content_length() was called
//   if (res.needs_drain()) co_await res.drain();    // wait until the client has taken most of it
//   res.end();
// The server adds Server, Date (cached, refreshed once a second), Content-Length or Transfer-Encoding, and
// Connection when the connection will close (or keep-alive for an HTTP/1.0 client that asked for it).
// A response to HEAD carries the headers of the would-be body and no body; 204 and 304 never carry one.
//
// Headers: a small ordered list the handler and middleware edit until the head goes out: get / has /
// set (replaces every field of that name, the new one at the end) / append (keeps the others) / remove.
// Names are ASCII case-insensitive. "Server" and "Date" replace the automatic ones; "Connection" is not
// a field of the list but the close flag ("close" is the only value accepted; get() reports it).
//
// Errors are values: a header name that is not a token, or a value with CR, LF, NUL or another control
// character, is refused (Error::invalid_argument) and never written; so are Content-Length and
// Transfer-Encoding (framing is the server's) and any change once the head went out. Writing after end,
// or to a client that went away, returns Error::closed and writes nothing. Every failed call also leaves
// its error on the response, the first one kept (error()): the chaining calls (status, set, append,
// remove, add_body_filter) return the response itself, so a chain needs no check in the middle, and one
// look at error() at the end tells whether all of it held. A handler that ends with an error on a response
// it never sent gets a 500 from the server rather than an empty 200.
#pragma once
#include <coroutine>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/http/body_filter.hpp"
#include "waitless/http/header_map.hpp"
#include "waitless/http/request.hpp"
#include "waitless/net/out_buffer.hpp"

namespace waitless::http {

// "OK", "Not Found"...; "Unknown" for codes without a registered reason.
std::string_view reason_phrase(int status) noexcept;

namespace detail {
struct ResponseAccess;  // upgrade.cpp: switch_protocols() reaches the port
}  // namespace detail

// co_await res.drain(): completes once the connection's queued output is below the low-water mark.
class DrainAwaiter {
 public:
  explicit DrainAwaiter(detail::ExchangePort* port) noexcept : port_(port) {}
  DrainAwaiter(const DrainAwaiter&) = delete;
  DrainAwaiter& operator=(const DrainAwaiter&) = delete;
  bool await_ready() const noexcept { return !port_ || !port_->needs_drain(); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = waitless::detail::token_of(h);
    if (token.cancelled()) {
      waiter_.error = Error::cancelled;
      return false;
    }
    port_->drain_wait(waiter_, h, waitless::detail::loop_of(h), token);
    return true;
  }
  std::error_code await_resume() const noexcept { return port_ ? waiter_.error : Error::closed; }

 private:
  detail::ExchangePort* port_;
  detail::Waiter waiter_;
};

class Response {
 public:
  Response() = default;
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  // ---- status ----
  int status() const noexcept { return status_; }
  // 200..599 (informational responses are the server's); Error::invalid_argument otherwise, or once the
  // head has been sent. The chaining form keeps the error (error()).
  std::error_code set_status(int status) noexcept;
  Response& status(int status) noexcept {
    note(set_status(status));
    return *this;
  }

  // ---- headers ----
  // The first field's value with this name, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  bool has(std::string_view name) const noexcept { return get(name).has_value(); }
  // How many fields carry this name.
  std::size_t count(std::string_view name) const noexcept;
  // Replaces every field with this name by one at the end; append() adds one and keeps the others.
  Response& set(std::string_view name, std::string_view value) {
    note(replace_header(name, value));
    return *this;
  }
  Response& append(std::string_view name, std::string_view value) {
    note(set_header(name, value));
    return *this;
  }
  // Removes every field with this name (no error when there is none).
  Response& remove(std::string_view name) noexcept {
    note(remove_header(name));
    return *this;
  }
  // The same, returning the error rather than the response. set_header keeps its first meaning (it adds
  // a field, as append() does: several Set-Cookie fields are several calls); replace_header is set().
  std::error_code set_header(std::string_view name, std::string_view value);
  std::error_code replace_header(std::string_view name, std::string_view value);
  std::error_code remove_header(std::string_view name) noexcept;
  // set("Content-Type", type): twice leaves one.
  std::error_code set_content_type(std::string_view type);

  // The fields in order ("Name", "value"), as the handler set them (without Connection and framing).
  class HeaderIterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Header;
    HeaderIterator() = default;
    Header operator*() const noexcept;
    HeaderIterator& operator++() noexcept;
    HeaderIterator operator++(int) noexcept {
      HeaderIterator t = *this;
      ++*this;
      return t;
    }
    bool operator==(const HeaderIterator& o) const noexcept { return at_ == o.at_; }

   private:
    friend class Response;
    HeaderIterator(const char* at, const char* end) noexcept : at_(at), end_(end) {}
    const char* at_ = nullptr;
    const char* end_ = nullptr;
  };
  struct HeaderRange {
    HeaderIterator b, e;
    HeaderIterator begin() const noexcept { return b; }
    HeaderIterator end() const noexcept { return e; }
  };
  HeaderRange headers() const noexcept {
    const char* b = headers_.data();
    const char* e = b + headers_.size();
    return {{b, e}, {e, e}};
  }

  // ---- body ----
  // The whole response at once.
  std::error_code send(std::string_view body);
  std::error_code send(int status, std::string_view body, std::string_view content_type = {});

  // Streaming: declare the length first to send it raw instead of chunked (the server closes the
  // connection if end() comes with a different count).
  std::error_code set_content_length(uint64_t length) noexcept;
  std::error_code write(std::string_view piece);
  std::error_code end(std::string_view last = {});
  // end() with trailer fields after the last chunk (a proxy relays an upstream's). Sent only when the body
  // went out chunked (after write(), without a declared length, no body filter); else a plain end().
  std::error_code end_with_trailers(const HeaderMap& trailers);
  bool needs_drain() const noexcept { return port_ && port_->needs_drain(); }
  DrainAwaiter drain() noexcept { return DrainAwaiter(port_); }
  // The next body bytes from a file, copied by the kernel (sendfile(2)): up to `count` bytes of `fd` from
  // `offset` (the first call writes the head, as write() does). Returns the bytes sent; 0 while the client
  // is slow (needs_drain() is true then: co_await drain() and call again) or at the file's end.
  // std::errc::operation_not_supported (not kept in error()) when these bytes must go through write()
  // instead: a body filter transforms the body (compression), TLS, a chunked body (no declared length),
  // a response to HEAD, or a pipelined response behind another one.
  Result<std::size_t> write_file(int fd, uint64_t offset, std::size_t count);

  // Wraps the outgoing body (see body_filter.hpp); before the head goes out only. The filter is not owned.
  Response& add_body_filter(BodyFilter& filter) noexcept;
  bool has_body_filter() const noexcept { return filters_ != nullptr; }

  // Ends a streamed response whose body cannot be completed (its source failed: a proxy's upstream died
  // mid-body): the connection closes after what was written, so the client cannot take it as complete.
  // Before the head went out, send an error response instead.
  void abort() noexcept {
    if (state_ != State::finished) abandon();
  }

  // Connection: close on this response.
  Response& close_connection() noexcept {
    close_ = true;
    return *this;
  }

  // The first error of any call on this response (empty when all held).
  std::error_code error() const noexcept { return error_; }

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
  void prepare(detail::ExchangePort* port, bool head_request, bool http10, bool http10_keep_alive) noexcept;
  void clear() noexcept;
  // Keeps the first error.
  void note(std::error_code ec) noexcept {
    if (ec && !error_) error_ = ec;
  }
  std::error_code fail(std::error_code ec) noexcept {
    note(ec);
    return ec;
  }
  // Validation and the special names shared by set and append; false when the field is not a list entry
  // (Connection: close, already applied).
  std::error_code check_field(std::string_view name, std::string_view value, bool& listed) noexcept;
  [[gnu::noinline]] void erase_fields(std::string_view name) noexcept;  // rare: out of the setters' path
  // Appends the head, then `body`, to out. length: the body length, or npos when unknown (streaming).
  void write_head(const detail::ExchangePort::HeadOutput& head, uint64_t length, std::string_view body = {});
  bool body_allowed() const noexcept { return status_ != 204 && status_ != 304; }
  // Server-made responses (errors, timeouts): replaces whatever the handler set if nothing was sent.
  std::error_code send_error(int status, bool close);
  // The body paths without filters.
  std::error_code send_raw(std::string_view body);
  std::error_code write_raw(std::string_view piece);
  std::error_code end_raw(std::string_view last);
  // The filtered paths: the head decision (keeps only the transforming filters; true if any), the chain.
  bool start_filters(std::optional<uint64_t> length);
  Result<std::string_view> run_filters(std::string_view in, bool last);
  std::error_code send_filtered(std::string_view body);
  std::error_code write_filtered(std::string_view piece, bool last);
  // Ends a response whose head went out but whose body cannot be completed: marked broken (the connection
  // closes, so the client cannot take it as complete).
  void abandon() noexcept;

  static constexpr uint64_t npos = ~uint64_t{0};
  detail::ExchangePort* port_ = nullptr;
  detail::OutBuffer headers_;      // "Name: value\r\n" lines, in order (capacity kept across requests)
  BodyFilter* filters_ = nullptr;  // innermost first
  uint64_t declared_ = npos;
  uint64_t written_ = 0;
  std::error_code error_;
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
