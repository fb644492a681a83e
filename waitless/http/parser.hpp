// RequestParser: HTTP/1.1 request parsing over llhttp (strict mode, no lenient flag), incremental.
//
// parse() consumes what it is given and stops at the first event: the head is complete, a message with a
// body is complete, an error, or everything was consumed ("need more": nothing is buffered; llhttp keeps
// its state). Method, target and header fields are string_views into the caller's input. When a head is
// still incomplete at the end of the input and the caller is about to reuse that memory, it calls spill():
// the views are copied into the parser's own arena, and later pieces of a field are appended there. A head
// that arrives in one read is never copied.
//
// Framing and hygiene refused with 400 (the caller closes the connection afterwards): obs-fold, bare LF or
// CR, whitespace before the colon, Content-Length together with Transfer-Encoding, more than one
// Content-Length (llhttp refuses even identical duplicates), a Transfer-Encoding whose last coding is not
// chunked, a malformed chunk size, chunk extensions over the limit, an HTTP/1.1 request without exactly one
// Host. Limits (Limits): head size and header count 431, body size 413. A version other than 1.x: 505; a
// transfer coding other than chunked: 501; an Expect other than 100-continue: 417.
//
// Bodies go to a sink chosen by the caller after the head event (set_body_sink): appended to a string, or
// discarded. A message with a body ends with a message_end event; a message without one is complete at
// its head event.
#pragma once
#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/http/header.hpp"
#include "waitless/http/limits.hpp"
#include "waitless/http/section_scanner.hpp"

namespace waitless::http {

// What the parser knows of a request once its head is complete.
struct RequestHead {
  std::string_view method;  // as sent ("GET")
  uint8_t method_id = 0;    // llhttp_method_t
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  std::string_view target;  // request-target as sent
  std::vector<Header> headers;
  uint64_t content_length = 0;  // valid when has_content_length
  std::size_t head_size = 0;    // bytes of request line + headers, both CRLFs of the blank line included
  bool has_content_length = false;
  bool chunked = false;
  bool keep_alive = true;        // what the client asked for (version default, Connection header)
  bool expect_continue = false;  // Expect: 100-continue
  bool upgrade = false;          // Upgrade + Connection: upgrade, or CONNECT: the rest is another protocol

  bool has_body() const noexcept { return chunked || content_length > 0; }
  void clear() noexcept {
    method = target = {};
    headers.clear();
    content_length = 0;
    head_size = 0;
    has_content_length = chunked = expect_continue = upgrade = false;
    keep_alive = true;
    version_major = version_minor = 1;
    method_id = 0;
  }
};

class RequestParser {
 public:
  enum class Event : uint8_t {
    need_more,    // all input consumed; the current message (if any) is incomplete
    head,         // request head complete (head()); without a body, the message is complete too
    message_end,  // a message with a body is complete (its body went to the sink)
    error,        // error_status() / error_reason(); nothing more can be parsed
  };

  explicit RequestParser(const Limits& limits = default_limits());
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Back to the state of a fresh connection.
  void reset() noexcept;
  // Parses from `data`; sets *consumed to the bytes used. Events after `error` repeat the error.
  Event parse(const char* data, std::size_t len, std::size_t* consumed) noexcept;

  RequestHead& head() noexcept { return head_; }
  const RequestHead& head() const noexcept { return head_; }
  int error_status() const noexcept { return error_status_; }
  const char* error_reason() const noexcept { return error_reason_; }

  // Where the current message's body goes (after the head event): appended to *sink, or discarded when
  // sink is null. More than `limit` bytes in all is an error (413).
  void set_body_sink(std::string* sink, uint64_t limit) noexcept {
    sink_ = sink;
    body_limit_ = limit;
  }
  uint64_t body_received() const noexcept { return body_received_; }

  bool in_message() const noexcept { return phase_ != Phase::idle && phase_ != Phase::done; }
  bool in_head() const noexcept { return phase_ == Phase::head; }
  // Between two messages with nothing pending: another connection may go on with this parser as is.
  bool between_messages() const noexcept {
    return (phase_ == Phase::idle || phase_ == Phase::done) && !error_status_ && parser_.error == HPE_OK &&
           head_.keep_alive && !head_.upgrade;
  }
  bool in_body() const noexcept { return phase_ == Phase::body || phase_ == Phase::trailers; }
  // The input given to parse() is about to be overwritten: copy the views of an incomplete head into the
  // parser's arena. Cheap when no head is in progress.
  void spill();
  std::size_t arena_capacity() const noexcept { return arena_cap_; }
  // Frees the arena and the header array (a pooled parser going back to rest).
  void release_memory() noexcept;

  static const Limits& default_limits() noexcept;

 private:
  // done: a message without a body reported at its head; llhttp ends it on the next parse().
  enum class Phase : uint8_t { idle, head, body, trailers, done };
  enum class Field : uint8_t { none, name, value };

  friend struct ParserCallbacks;
  Event fail(int status, const char* reason) noexcept;
  bool section_failed(const char* start, const char* end, bool trailers) noexcept;
  void scan_request_line(const char* p, const char* end) noexcept;
  bool target_holds(const char* start, const char* over) noexcept;
  Event on_head_paused(const char* pos) noexcept;
  // Extends `view` by the span llhttp just reported. Inline for the common cases (a new field; the same
  // input, contiguous); a field continued from an earlier input goes through the arena.
  void append(std::string_view& view, const char* at, std::size_t len) {
    if (view.empty()) {
      view = {at, len};
    } else if (view.data() + view.size() == at) {
      view = {view.data(), view.size() + len};
    } else {
      append_across_inputs(view, at, len);
    }
  }
  void append_across_inputs(std::string_view& view, const char* at, std::size_t len);
  void rebase(const char* old_base, const char* new_base, std::size_t old_size) noexcept;
  bool in_arena(const char* p) const noexcept;
  void set_user_error(int status, const char* reason) noexcept;

  llhttp_t parser_;
  const Limits* limits_;
  RequestHead head_;
  Phase phase_ = Phase::idle;
  Field field_ = Field::none;
  bool paused_for_head_ = false;
  bool paused_for_end_ = false;
  bool paused_for_trailers_ = false;
  bool ended_in_trailers_ = false;
  bool te_seen_ = false;  // a Transfer-Encoding field, even an empty one
  // How far scan_request_line() has followed the request line (for 414 vs 431: target_holds()).
  enum class LineScan : uint8_t { method, target, past_target };
  LineScan line_scan_ = LineScan::method;
  SectionScanner scanner_;  // bare LF and obs-fold in the head and trailers
  int error_status_ = 0;
  const char* error_reason_ = nullptr;
  int user_status_ = 0;  // set by a callback that failed the message
  const char* user_reason_ = nullptr;
  const char* msg_start_ = nullptr;  // where the current message's head began in the current input
  std::size_t head_carried_ = 0;     // head bytes consumed by earlier parse() calls
  std::size_t host_count_ = 0;
  std::size_t trailer_count_ = 0;
  std::size_t ext_bytes_ = 0;
  std::string* sink_ = nullptr;
  uint64_t body_limit_ = 0;
  uint64_t body_received_ = 0;
  std::unique_ptr<char[]> arena_;  // copies of head pieces that arrived in earlier inputs
  std::size_t arena_size_ = 0;
  std::size_t arena_cap_ = 0;
};

}  // namespace waitless::http
