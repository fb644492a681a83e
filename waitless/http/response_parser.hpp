// ResponseParser: HTTP/1.1 response parsing over llhttp (HTTP_RESPONSE, strict mode, no lenient flag),
// incremental, for the client.
//
// The caller announces each response with begin() (whether the request was HEAD, the body limit), then
// calls parse() with whatever bytes it has. parse() stops at the first event and says how much it used:
//   head      the final response head is complete: head() (status, reason, owned header copies, framing)
//   body      one piece of the body: body_piece(), a view into the caller's input (chunked framing removed)
//   end       the response is complete (after its head, and its pieces if it has a body)
//   error     error(): Error::protocol_error (malformed), Error::limit_exceeded (a limit below), or
//             Error::eof (from finish(): the connection ended inside a response); error_reason() says why
//   need_more every byte was used and the response is not complete; nothing is buffered
// Interim 1xx responses (100 Continue, 103 Early Hints) are checked and skipped: the caller never sees
// them. 101 Switching Protocols is an error unless begin() allowed it (the request asked to upgrade): then
// it is the final head (no body) and the parser stops right after it: what follows is the new protocol's,
// and parse() must not be called again (it fails). A response to HEAD, 1xx,
// 204 and 304 have no body whatever their fields say; a response with neither Content-Length nor chunked
// framing is delimited by the connection's end: finish() at EOF completes it.
//
// Strictness (all Error::protocol_error): what llhttp's strict mode refuses (bad status line, bad field
// syntax, bad chunk sizes, bare CR...), plus bare LF and obs-fold in the head and trailers (scanned here,
// as the server's parser does), an empty field name, a version other than 1.x, Content-Length together
// with Transfer-Encoding, a transfer coding other than chunked, more than ResponseLimits::max_interim
// interim responses. The first violation in the stream decides the error, however the input is split.
//
// Header names and values are copied into head().headers as they arrive (one copy; the caller may reuse
// its input buffer between calls). Trailer fields are checked, counted and kept apart: trailers(), valid
// from the end event until the next response starts.
#pragma once
#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/base/error.hpp"
#include "waitless/http/header_map.hpp"
#include "waitless/http/section_scanner.hpp"

namespace waitless::http {

struct ResponseLimits {
  // Status line + fields of one response head, both CRLFs of the blank line included (each interim
  // response counts alone); also the trailer section. One byte more: Error::limit_exceeded.
  std::size_t max_head_size = std::size_t{64} * 1024;
  // Fields per head (and per trailer section).
  std::size_t max_headers = 100;
  // Bytes of chunk extensions on one chunk-size line.
  std::size_t max_chunk_extension = std::size_t{16} * 1024;
  // Interim (1xx) responses before the final one.
  std::size_t max_interim = 16;
};

struct ResponseHead {
  int status = 0;
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  std::string reason;  // reason phrase as sent (may be empty)
  HeaderMap headers;
  uint64_t content_length = 0;  // valid when has_content_length
  std::size_t head_size = 0;    // bytes of the status line and fields
  bool has_content_length = false;
  bool chunked = false;
  bool has_body = false;     // a body follows (false for HEAD, 1xx, 204, 304, or a zero length)
  bool until_close = false;  // the body ends with the connection
  bool keep_alive = true;    // the connection may carry another request after this response

  void clear() noexcept {
    status = 0;
    version_major = version_minor = 1;
    reason.clear();
    headers.clear();
    content_length = 0;
    head_size = 0;
    has_content_length = chunked = has_body = until_close = false;
    keep_alive = true;
  }
};

class ResponseParser {
 public:
  enum class Event : uint8_t { need_more, head, body, end, error };

  explicit ResponseParser(const ResponseLimits& limits = default_limits());
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Back to the state of a fresh connection (also clears an error).
  void reset() noexcept;
  // Announces the next response: whether it answers a HEAD request, and the most body bytes accepted
  // (more: Error::limit_exceeded; a Content-Length above it fails at the head).
  void begin(bool head_request, uint64_t body_limit, bool upgrade_allowed = false) noexcept;
  // The last head was a 101 (allowed by begin()): the connection now carries another protocol.
  bool switched() const noexcept { return switched_; }
  // Parses from `data`; *consumed is the bytes used. After an error, returns error and uses nothing.
  Event parse(const char* data, std::size_t len, std::size_t* consumed) noexcept;
  // The connection ended. end: a body delimited by the close is complete; need_more: no response was in
  // progress (not a byte of one seen); error: the response was cut short (Error::eof).
  Event finish() noexcept;

  HeaderMap& trailers() noexcept { return trailers_; }
  ResponseHead& head() noexcept { return head_; }
  const ResponseHead& head() const noexcept { return head_; }
  std::string_view body_piece() const noexcept { return piece_; }
  uint64_t body_received() const noexcept { return body_received_; }
  // Whether any byte of a response (interim ones included) has been parsed since begin() or the last end.
  bool started() const noexcept { return started_; }
  bool in_body() const noexcept { return phase_ == Phase::body || phase_ == Phase::trailers; }
  std::error_code error() const noexcept { return error_; }
  const char* error_reason() const noexcept { return reason_; }

  static const ResponseLimits& default_limits() noexcept;

 private:
  enum class Phase : uint8_t { idle, head, body, trailers, done };
  enum class Field : uint8_t { none, name, value };
  // Why llhttp paused: the callbacks pause at every point parse() must act on.
  enum class Pause : uint8_t { none, begin, head, head_end, interim_end, trailers, body, end };

  friend struct ResponseCallbacks;
  Event fail(std::error_code ec, const char* reason) noexcept;
  void set_user_error(std::error_code ec, const char* reason) noexcept;
  bool section_failed(const char* start, const char* end) noexcept;
  bool head_failed() noexcept;
  void start_section(char prev) noexcept;

  llhttp_t parser_;
  const ResponseLimits* limits_;
  HeaderMap& section_map() noexcept { return phase_ == Phase::trailers ? trailers_ : head_.headers; }
  ResponseHead head_;
  HeaderMap trailers_;
  std::string_view piece_;
  Phase phase_ = Phase::idle;
  Field field_ = Field::none;
  Pause pause_ = Pause::none;
  bool head_request_ = false;
  bool upgrade_allowed_ = false;
  bool switched_ = false;
  bool interim_ = false;  // the head being parsed is a 1xx
  bool pending_end_ = false;
  bool head_reported_ = false;  // the current response's head event was returned
  bool started_ = false;
  bool te_seen_ = false;
  bool in_section_ = false;          // a head or trailer section is being scanned
  SectionScanner scanner_;           // bare LF and obs-fold in the head and trailers
  std::size_t section_carried_ = 0;  // bytes of the current section consumed by earlier parse() calls
  std::size_t interim_count_ = 0;
  std::size_t trailer_count_ = 0;
  std::size_t ext_bytes_ = 0;
  static constexpr std::size_t kMaxHint = std::size_t{16} * 1024;
  std::size_t hint_bytes_ = 256;  // header bytes and fields to reserve for the next head (the last one's)
  std::size_t hint_fields_ = 8;
  uint64_t body_limit_ = 0;
  uint64_t body_received_ = 0;
  std::error_code error_;
  const char* reason_ = nullptr;
  std::error_code user_error_;  // set by a callback that failed the message
  const char* user_reason_ = nullptr;
  const char* user_pos_ = nullptr;  // where that callback found the violation, when before llhttp's position
};

}  // namespace waitless::http
