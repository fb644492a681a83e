// Differential fuzz target for the Redis client's RespParser (waitless/data/redis_parser.hpp): the same
// bytes fed in one piece and in pieces chosen by the input must give the same replies and the same error
// ("a reply split across any number of reads costs what it costs whole", and parses the same).
//
// Invariants besides the differential: every reply respects the limits it was parsed under (depth,
// element count, bulk length, line length); an error is sticky (next() keeps returning it); an error is
// only protocol_error or reply_too_large; after an error nothing more is returned; buffered() never exceeds
// what was fed.
//
// Input: byte 0 = limits profile (bits 0-1: 0/3 default, 1 small, 2 tiny), bits 4-7 = n. Bytes 1..n: piece
// lengths (cyclic, 0 = an empty piece). The rest is the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/data/redis_parser.hpp"

namespace {

using namespace waitless::data;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "resp_fuzz: invariant broken: %s\n%.2000s\n", what, detail.c_str());
  std::abort();
}

RespLimits limits_for(unsigned profile) {
  if (profile == 1)
    return {.max_bulk = 64, .max_line = 32, .max_elements = 64, .max_depth = 4, .max_reply_bytes = 8192};
  if (profile == 2)
    return {.max_bulk = 4, .max_line = 4, .max_elements = 5, .max_depth = 2, .max_reply_bytes = 1024};
  return {};
}

struct Outcome {
  std::vector<Reply> replies;
  std::error_code error;
};

// Depth, element count and string sizes of a reply, checked against the limits.
void check_limits(const Reply& r, const RespLimits& l, std::size_t depth, std::size_t& elements) {
  ++elements;
  if (elements > l.max_elements) fail("more elements than max_elements", r.debug_string());
  if (r.is_aggregate()) {
    if (depth + 1 > l.max_depth) fail("deeper than max_depth", r.debug_string());
    for (const Reply& e : r.elements()) check_limits(e, l, depth + 1, elements);
    return;
  }
  const bool line = r.type() == ReplyType::simple_string || r.type() == ReplyType::big_number;
  if (line && r.str().size() > l.max_line) fail("a line longer than max_line", r.debug_string());
  if (r.str().size() > std::max(l.max_bulk, l.max_line))
    fail("a string longer than max_bulk", r.debug_string());
}

Outcome parse(std::string_view stream, const RespLimits& limits, const std::vector<std::size_t>& pieces) {
  RespParser p(limits);
  Outcome out;
  std::size_t fed = 0, i = 0, k = 0;
  while (true) {
    std::size_t n =
        pieces.empty() ? stream.size() - i : std::min(pieces[k++ % pieces.size()], stream.size() - i);
    p.feed(stream.data() + i, n);
    fed += n;
    i += n;
    if (p.buffered() > fed) fail("buffered() exceeds the bytes fed");
    while (true) {
      auto r = p.next();
      if (!r) {
        out.error = r.error();
        if (out.error != make_error_code(RedisErrc::protocol_error) &&
            out.error != make_error_code(RedisErrc::reply_too_large))
          fail("unexpected error", out.error.message());
        auto again = p.next();
        if (again.ok() || again.error() != out.error) fail("error not sticky");
        return out;
      }
      if (!*r) break;
      std::size_t elements = 0;
      check_limits(**r, limits, 0, elements);
      out.replies.push_back(std::move(**r));
    }
    if (i >= stream.size()) return out;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned profile = data[0] & 3;
  const std::size_t n = std::min<std::size_t>(data[0] >> 4, size - 1);
  std::vector<std::size_t> pieces;
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    pieces.push_back(data[1 + i]);
    any = any || data[1 + i] != 0;
  }
  if (!any) pieces.assign(1, 1);  // all-empty pieces would never advance: byte by byte instead
  std::string_view stream(reinterpret_cast<const char*>(data) + 1 + n, size - 1 - n);
  const RespLimits limits = limits_for(profile);

  const Outcome whole = parse(stream, limits, {});
  const Outcome split = parse(stream, limits, pieces);
  if (whole.error != split.error || whole.replies != split.replies) {
    std::string detail = "whole: " + std::to_string(whole.replies.size()) + " replies, " +
                         whole.error.message() + "\nsplit: " + std::to_string(split.replies.size()) +
                         " replies, " + split.error.message();
    fail("split and whole feeding diverge", detail);
  }
  return 0;
}
