// Validators for static files and conditional requests (RFC 9110 8.8, 13): an ETag from size and mtime,
// If-None-Match (weak comparison), If-Match and If-Range (strong), If-Modified-Since, and HTTP-date.
//
//   const std::string tag = make_etag(st.size, st.mtime_ns);              // "\"5f3a-17c2e0d1a2b3c4d5\""
//   if (is_not_modified(req.header("If-None-Match"), req.header("If-Modified-Since"), tag, mtime)) -> 304
//
// The ETag is strong (like nginx's), so that If-Range can use it: size and modification time in ns change
// whenever a file is rewritten in place, except by a writer that restores the mtime. Date comparisons are
// to the second (HTTP-date's precision): a file modified within the second of a client's copy is not
// 304'd by If-Modified-Since alone, hence the ETag.
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace waitless::web {

std::string make_etag(uint64_t size, int64_t mtime_ns);

// HTTP-date (RFC 9110 5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients must
// accept. nullopt when it is none of them (or names an impossible date).
std::optional<std::time_t> parse_http_date(std::string_view text) noexcept;

// If-None-Match: true when `etag` matches one of the list's tags by weak comparison, or the list is "*".
bool if_none_match(std::string_view header, std::string_view etag) noexcept;
// If-Match: true when `etag` (strong) matches one of the list's strong tags, or the list is "*".
bool if_match(std::string_view header, std::string_view etag) noexcept;
// If-Range: true when the validator is `etag` (strong comparison) or exactly `last_modified`'s HTTP-date.
// A false answer means: ignore the Range header, send the whole representation.
bool if_range_matches(std::string_view header, std::string_view etag, std::time_t last_modified) noexcept;

// A GET or HEAD answered 304? If-None-Match decides when present (RFC 9110 13.2.2: If-Modified-Since is
// then ignored); otherwise If-Modified-Since, when it is a valid date not earlier than last_modified.
bool is_not_modified(std::optional<std::string_view> if_none_match_header,
                     std::optional<std::string_view> if_modified_since, std::string_view etag,
                     std::time_t last_modified) noexcept;

}  // namespace waitless::web
