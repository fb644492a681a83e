// MultipartParser: a streaming multipart/form-data parser (RFC 7578 over RFC 2046), fed the body in
// chunks of any size and split anywhere (inside a delimiter, a CRLF or a header), in constant memory.
//
//   auto p = MultipartParser::from_content_type(req_content_type, limits);   // boundary from the header
//   p->feed(chunk);                       // then call next() until it says need_more, then feed again
//   for (;;) switch (auto ev = p->next(); ev.kind) {
//     case MultipartEvent::part_begin: p->part().name, .filename, .content_type ... (valid until the next
//                                      part_begin)
//     case MultipartEvent::part_data:  ev.data (a view: valid until the next call to next() or feed())
//     case MultipartEvent::part_end:   ...
//     case MultipartEvent::need_more:  feed the next chunk, or finish() at the end of the body
//     case MultipartEvent::done:       the close delimiter was read (what follows, the epilogue, is ignored)
//     case MultipartEvent::error:      ev.error (a MultipartError); sticky
//   }
//
// A pull interface on purpose: between two events the caller may suspend (write a piece to disk, wait
// for a slow consumer), and the parser holds nothing but its small state meanwhile.
//
// Memory: the parser owns the delimiter (<= 74 bytes), one part's header block (reserved once, at most
// limits.max_header_size, and as much again for unescaped names) and a fixed table of header lines. Part data
// is never copied: every part_data view points into the caller's chunk, except for a held-back candidate
// delimiter prefix that turned out to be data (then the view points into the parser's copy of the delimiter).
// The whole body is never held.
//
// What is accepted: a preamble before the first delimiter (ignored; the first delimiter may start the body
// without a CRLF), transport padding (SP / HTAB) after a delimiter, an epilogue after the close delimiter.
// Each part must have a header block ending in CRLF CRLF with a `Content-Disposition: form-data` carrying a
// `name` (RFC 7578 4.2); other header lines are kept as views. Header lines are strict: a token name, ':',
// a value of visible characters / obs-text / SP / HTAB, CRLF line ends (a bare LF or obs-fold is refused).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/http/header.hpp"

namespace waitless::web {

enum class MultipartError {
  ok = 0,
  not_multipart,            // the Content-Type is not multipart/form-data
  missing_boundary,         // the Content-Type has no boundary parameter
  bad_boundary,             // boundary empty, longer than 70, or outside RFC 2046's bchars
  bad_content_type,         // the Content-Type's parameters do not parse
  too_many_parts,           // limit: more than max_parts parts
  header_too_large,         // limit: a part's header block longer than max_header_size, or too many lines
  field_too_large,          // limit: a part without filename longer than max_field_size
  file_too_large,           // limit: a part with a filename longer than max_file_size
  bad_delimiter,            // a delimiter followed by something else than "--", padding + CRLF
  bad_part_headers,         // a malformed header line, or no valid Content-Disposition: form-data; name=...
  missing_first_delimiter,  // the body ended before any delimiter
  missing_final_delimiter,  // the body ended inside a part or its headers (no close delimiter)
  feed_while_pending,       // feed() before next() returned need_more (a caller's mistake)
};
const std::error_category& multipart_category() noexcept;
inline std::error_code make_error_code(MultipartError e) noexcept {
  return {static_cast<int>(e), multipart_category()};
}
// The four limit errors (a 413 for the framework); every other multipart error is the client's bad input
// (a 400). False for errors of other categories.
bool is_multipart_limit(std::error_code ec) noexcept;

struct MultipartLimits {
  std::size_t max_parts = 1000;
  // One part's header block, its final CRLF CRLF included. Exactly this many bytes pass; one more fails.
  std::size_t max_header_size = std::size_t{8} * 1024;
  std::size_t max_header_lines = 16;
  uint64_t max_field_size = uint64_t{1024} * 1024;       // a part without filename (a form field)
  uint64_t max_file_size = uint64_t{100} * 1024 * 1024;  // a part with a filename (an uploaded file)
};

struct MultipartPart {
  std::string_view name;          // Content-Disposition's name (quoted-pairs resolved)
  std::string_view filename;      // its filename, as sent: never a safe path (may hold '/', "..", %22)
  bool has_filename = false;      // filename="" is a file input left empty: has_filename, empty filename
  std::string_view content_type;  // the part's Content-Type value; empty when absent (then text/plain)
  std::span<const http::Header> headers;  // every header line of the part, in order
  bool is_file() const noexcept { return has_filename; }
};

struct MultipartEvent {
  enum Kind { need_more, part_begin, part_data, part_end, done, error };
  Kind kind = need_more;
  std::string_view data;  // part_data: a non-empty piece of the current part's content
  std::error_code ec;     // error: a MultipartError
};

// The boundary parameter of a `multipart/form-data` Content-Type value (quoted or not), checked against
// RFC 2046 (1 to 70 bchars, not ending in a space). The view points into content_type.
Result<std::string_view> multipart_boundary(std::string_view content_type);

class MultipartParser {
 public:
  // boundary: as in the Content-Type (without the leading "--"); checked as multipart_boundary checks it.
  static Result<MultipartParser> create(std::string_view boundary, MultipartLimits limits = {});
  static Result<MultipartParser> from_content_type(std::string_view content_type,
                                                   MultipartLimits limits = {});
  // Movable before the first feed() only: views given out point into the parser's own strings.

  // The next chunk of the body. Only after next() returned need_more (or before the first next()); the
  // chunk must stay alive and unchanged until next() returns need_more again. An empty chunk is allowed.
  void feed(std::string_view chunk);
  // The body has ended: next() reports done or the error of a truncated body.
  void finish() noexcept { finished_ = true; }
  MultipartEvent next();

  // The current part (after part_begin; valid until the next part_begin).
  const MultipartPart& part() const noexcept { return part_; }
  std::size_t part_count() const noexcept { return parts_; }

 private:
  enum class State { preamble, after_delimiter, dash, padding, cr, headers, data, done, failed };
  enum class ScanResult { data, delimiter, need_more };

  MultipartParser(std::string_view boundary, MultipartLimits limits);
  ScanResult scan(std::string_view& data);
  MultipartEvent fail(MultipartError e);
  MultipartEvent delimiter_byte(char c);
  MultipartEvent header_bytes();
  std::error_code parse_headers();

  MultipartLimits limits_;
  std::string delimiter_;  // CRLF "--" boundary
  std::string head_;       // the current part's header block (capacity reserved once)
  std::string values_;     // the part's name and filename when they held quoted-pairs
  std::vector<http::Header> header_lines_;
  MultipartPart part_;
  std::string_view in_;        // the current chunk
  std::size_t pos_ = 0;        // consumed bytes of in_
  std::size_t match_ = 0;      // bytes of delimiter_ matched at the end of the previous chunks (held back)
  bool virtual_crlf_ = false;  // the first 2 held-back bytes are no data (see scan())
  uint64_t part_size_ = 0;
  std::size_t parts_ = 0;
  State state_ = State::preamble;
  bool finished_ = false;
  std::error_code error_;
};

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::MultipartError> : std::true_type {};
