#include "waitless/web/range.hpp"

#include <charconv>

#include "waitless/http/header.hpp"
#include "waitless/web/header_params.hpp"

namespace waitless::web {
namespace {

// 1*DIGIT without sign or overflow.
std::optional<uint64_t> parse_digits(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

RangeDecision evaluate_range(std::optional<std::string_view> range_header, uint64_t size) noexcept {
  if (!range_header) return {};
  const std::string_view h = trim_ows(*range_header);
  const std::size_t eq = h.find('=');
  if (eq == std::string_view::npos || !http::iequals(trim_ows(h.substr(0, eq)), "bytes")) return {};
  const std::string_view spec = trim_ows(h.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return {};  // several ranges: served whole
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  const std::string_view first_text = spec.substr(0, dash), last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // suffix-range
    const auto suffix = parse_digits(last_text);
    if (!suffix) return {};
    if (*suffix == 0 || size == 0) return {RangeOutcome::unsatisfiable, {}};
    return {RangeOutcome::partial, {*suffix >= size ? 0 : size - *suffix, size - 1}};
  }
  const auto first = parse_digits(first_text);
  if (!first) return {};
  uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    const auto parsed = parse_digits(last_text);
    if (!parsed || *parsed < *first) return {};  // invalid: ignored
    last = *parsed;
  }
  if (*first >= size) return {RangeOutcome::unsatisfiable, {}};
  return {RangeOutcome::partial, {*first, last >= size ? size - 1 : last}};
}

std::string content_range(ByteRange range, uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(size);
}

std::string content_range_unsatisfied(uint64_t size) { return "bytes */" + std::to_string(size); }

}  // namespace waitless::web
