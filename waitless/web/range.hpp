// A single `Range: bytes=...` request (RFC 9110 14.2) against a representation of known size: serve the
// whole (200), a part (206 with Content-Range), or nothing (416 with `Content-Range: bytes */size`).
//
//   auto r = evaluate_range(req.header("Range"), file_size);
//   switch (r.outcome) { case RangeOutcome::full: ...; case RangeOutcome::partial: r.range.first ... ;
//                        case RangeOutcome::unsatisfiable: 416 with content_range_unsatisfied(size) }
//
// Only one range is served: a request for several (a multipart/byteranges answer) is answered whole, which
// RFC 9110 allows ("a server MAY ignore the Range header field"), as is a unit other than bytes and any
// syntax error (RFC 9110 14.2: an invalid range-set is ignored). Forms: "first-last" (last clamped to the
// end), "first-" (to the end), "-suffix" (the last suffix bytes, all of them when larger than the size).
// Unsatisfiable: first >= size, or a suffix of 0, or any range of an empty representation.
// If-Range is the caller's (etag.hpp's if_range_matches): when it does not match, do not call this.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace waitless::web {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const noexcept { return last - first + 1; }
};

enum class RangeOutcome { full, partial, unsatisfiable };

struct RangeDecision {
  RangeOutcome outcome = RangeOutcome::full;
  ByteRange range;  // partial only
};

// range_header: the Range value, nullopt when absent.
RangeDecision evaluate_range(std::optional<std::string_view> range_header, uint64_t size) noexcept;

std::string content_range(ByteRange range, uint64_t size);  // "bytes 0-99/1000"
std::string content_range_unsatisfied(uint64_t size);       // "bytes */1000"

}  // namespace waitless::web
