// Request paths for routing: percent-decoding, once, segment by segment.
//
//   DecodedPath p;
//   if (auto r = decode_path("/files/a%2Fb/caf%C3%A9", p); !r) return 400;   // r.error() is a PathError
//   p.segments() == {"files", "a/b", "café"}                                    // %2F stays inside its
//   segment
//
// The policy (the router's, documented here once):
//   - The path is the request-target's path without the query ("/a/b"); it must start with '/'.
//   - It is split at every raw '/', then each segment is percent-decoded. An encoded slash (%2F) does not
//     split: it is a '/' byte inside one decoded segment. '+' is a plus (form encoding is for queries).
//   - Refused with a PathError (the App answers 400): a '%' not followed by two hex digits (bad hex or
//     truncated), a NUL or other control byte (0x00-0x1F, 0x7F) raw or decoded, a decoded segment that is
//     not valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF included), and dot
//     segments "." and ".." raw or encoded ("%2e%2E"): clients normalize them away, so one arriving at
//     the server is a traversal attempt, and refusing it here means no handler or parameter ever sees one.
//   - "/" has no segments. One trailing slash is ignored ("/users/" == "/users"). Any other empty segment
//     ("/a//b", "/a//") is kept as an empty segment: no static segment or parameter matches it, only a
//     wildcard covers it.
//   - Matching is case-sensitive, byte for byte on the decoded segments.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "waitless/base/result.hpp"

namespace waitless::web {

enum class PathError {
  ok = 0,
  not_absolute = 1,       // the path does not start with '/'
  bad_percent = 2,        // '%' not followed by two hex digits (bad hex or truncated)
  control_character = 3,  // NUL or another control byte, raw or decoded
  invalid_utf8 = 4,       // a decoded segment is not valid UTF-8
  dot_segment = 5,        // a "." or ".." segment, raw or encoded
};

const std::error_category& path_category() noexcept;
inline std::error_code make_error_code(PathError e) noexcept {
  return {static_cast<int>(e), path_category()};
}

// Decodes one segment (no '/' splitting) into `out` (appended). Returns PathError::ok or the refusal
// (bad_percent, control_character, invalid_utf8); dot segments are the path's business, not checked here.
PathError percent_decode_segment(std::string_view raw, std::string& out);

// Encodes bytes so that percent_decode_segment gives them back and no '/' splits them: unreserved
// characters, sub-delims, ':' and '@' stay as they are, every other byte becomes %XX (uppercase hex).
std::string percent_encode_segment(std::string_view bytes);

// The decoded segments of one path. Reused across requests: clear() keeps the memory, so decoding costs no
// allocation once the buffers have grown to the longest path seen.
class DecodedPath {
 public:
  // The decoded segments, views into this object (valid until the next decode or clear).
  std::span<const std::string_view> segments() const noexcept { return segments_; }
  // Segments [first, end) joined with '/': a view, no copy (the decoded bytes are stored that way).
  // A '/' inside the result may come from an encoded %2F; segments() tells them apart.
  std::string_view joined_from(std::size_t first) const noexcept;
  void clear() noexcept {
    bytes_.clear();
    segments_.clear();
  }

 private:
  friend Result<void> decode_path(std::string_view path, DecodedPath& out);
  std::string bytes_;  // "/" seg0 "/" seg1 ...: each segment preceded by its separator
  std::vector<std::string_view> segments_;
};

// Splits and decodes `path` into `out` (cleared first). On error, `out` is left cleared.
Result<void> decode_path(std::string_view path, DecodedPath& out);

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::PathError> : std::true_type {};
