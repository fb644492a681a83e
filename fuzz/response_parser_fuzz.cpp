// Differential fuzz target for the client's ResponseParser, as http_parser_fuzz is for the server's: the
// same bytes parsed in one piece and in pieces chosen by the input must give the same events (heads,
// bodies, ends, the error), "however the input is split" (response_parser.hpp). Each piece lives in its
// own exact-size heap buffer, poisoned and freed before the next: the parser keeps nothing pointing into
// it (head fields are copies; a body piece is used at once).
//
// Invariants besides the differential: consumed <= len, need_more uses everything, an error repeats and
// uses nothing; a final head is >= 200 (1xx skipped), within max_head_size / max_headers, bodiless for
// HEAD, 204 and 304; body pieces only for a head with a body, adding up to body_received() and to
// Content-Length at the end; finish() at EOF ends a close-delimited body and only that.
//
// Input: byte 0 = bits 0-1 limits (0/3 default, 1 small, 2 tiny), bit 2 small body limit, bits 4-7 = n.
// Byte 1: which responses answer HEAD (bit i for response i % 8). Bytes 2..n+1: piece lengths (cyclic,
// 0 = an empty piece). The rest is the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http_fuzz_harness.hpp"
#include "waitless/http/response_parser.hpp"

namespace {

using namespace waitless::http;
using Event = ResponseParser::Event;
constexpr const char* kTarget = "response_parser_fuzz";

void check(bool ok, const char* what) {
  if (!ok) fuzzh::fail(kTarget, what);
}

const ResponseLimits& limits_for(unsigned profile) {
  static const ResponseLimits normal;
  static const ResponseLimits small = [] {
    ResponseLimits l;
    l.max_head_size = 256;
    l.max_headers = 8;
    l.max_chunk_extension = 16;
    l.max_interim = 2;
    return l;
  }();
  static const ResponseLimits tiny = [] {
    ResponseLimits l;
    l.max_head_size = 40;
    l.max_headers = 2;
    l.max_chunk_extension = 3;
    l.max_interim = 0;
    return l;
  }();
  return profile == 1 ? small : profile == 2 ? tiny : normal;
}

std::string describe(const ResponseHead& h) {
  std::string s = "head " + std::to_string(h.status) + " v" + std::to_string(h.version_major) + "." +
                  std::to_string(h.version_minor) + " [" + h.reason + "] size=" + std::to_string(h.head_size);
  s += " cl=" + (h.has_content_length ? std::to_string(h.content_length) : std::string("-"));
  s += h.chunked ? " chunked" : "";
  s += h.has_body ? " body" : "";
  s += h.until_close ? " until-close" : "";
  s += h.keep_alive ? " keep" : " close";
  for (const Header& f : h.headers) s += " [" + std::string(f.name) + "=" + std::string(f.value) + "]";
  return s;
}

struct Run {
  std::vector<std::string> events;
};

Run feed(std::string_view stream, const std::vector<std::size_t>& pieces, const ResponseLimits& limits,
         uint8_t head_mask, uint64_t body_limit) {
  Run run;
  ResponseParser p(limits);
  std::size_t index = 0;  // response number
  auto begin = [&] { p.begin((head_mask >> (index % 8)) & 1, body_limit); };
  begin();
  std::string body;
  bool head_seen = false;
  bool failed = false;
  std::size_t at = 0;
  auto on_error = [&](const char* where) {
    run.events.push_back(std::string("error ") + where + " " + p.error().message());
    check(p.error_reason() != nullptr, "error without a reason");
    std::size_t again = 1;
    check(p.parse("HTTP/1.1 200 OK\r\n\r\n", 19, &again) == Event::error && again == 0,
          "error does not repeat");
    failed = true;
  };
  for (std::size_t len : pieces) {
    std::unique_ptr<char[]> buf(new char[len]);
    std::memcpy(buf.get(), stream.data() + at, len);
    at += len;
    std::size_t off = 0;
    int stalls = 0;
    while (!failed) {
      std::size_t used = ~std::size_t{0};
      Event ev = p.parse(buf.get() + off, len - off, &used);
      check(used <= len - off, "consumed > len");
      off += used;
      if (ev == Event::need_more) {
        check(off == len, "need_more without consuming everything");
        break;
      }
      if (ev == Event::error) {
        on_error("parse");
        break;
      }
      if (ev == Event::head) {
        const ResponseHead& h = p.head();
        check(!head_seen, "two heads for one response");
        head_seen = true;
        check(h.status >= 200 && h.status <= 999, "final head with a status below 200");
        check(h.head_size <= limits.max_head_size, "head over max_head_size");
        check(h.headers.size() <= limits.max_headers, "more fields than max_headers");
        check(!(h.chunked && h.has_content_length), "chunked together with Content-Length");
        if ((head_mask >> (index % 8)) & 1 || h.status == 204 || h.status == 304) {
          check(!h.has_body, "body announced for HEAD, 204 or 304");
        }
        for (const Header& f : h.headers) check(is_token(f.name), "field name not a token");
        run.events.push_back(describe(h));
        body.clear();
      } else if (ev == Event::body) {
        check(head_seen && p.head().has_body, "body piece without a head announcing a body");
        std::string_view piece = p.body_piece();
        check(!piece.empty(), "empty body piece");
        check(piece.data() >= buf.get() && piece.data() + piece.size() <= buf.get() + len,
              "body piece outside the input");
        body.append(piece);
        check(p.body_received() == body.size(), "body_received differs from the pieces");
        check(body.size() <= body_limit, "body over the limit delivered");
      } else {  // end
        check(head_seen, "end without a head");
        const ResponseHead& h = p.head();
        if (h.has_body && h.has_content_length && !h.chunked) {
          check(body.size() == h.content_length, "Content-Length body delivered with another length");
        }
        run.events.push_back("end " + body);
        head_seen = false;
        ++index;
        begin();
      }
      stalls = used ? 0 : stalls + 1;
      check(stalls < 4, "parser makes no progress");
    }
    std::memset(buf.get(), 0xA5, len);
    if (failed) break;
  }
  if (!failed) {
    bool close_delimited = head_seen && p.head().until_close;
    Event ev = p.finish();
    if (ev == Event::end) {
      check(close_delimited, "finish() ended a response not delimited by the close");
      run.events.push_back("finish end " + body);
    } else if (ev == Event::error) {
      check(!close_delimited, "finish() refused a close-delimited body");
      on_error("finish");
    } else {
      check(ev == Event::need_more && !p.started(), "finish() with a response in progress");
      run.events.push_back("finish idle");
    }
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const unsigned config = data[0];
  const std::size_t n = config >> 4;
  if (size < 2 + n) return 0;
  const ResponseLimits& limits = limits_for(config & 3);
  const uint64_t body_limit = (config & 4) ? 7 : 1 << 20;
  const uint8_t head_mask = data[1];
  std::vector<std::size_t> lengths(data + 2, data + 2 + n);
  std::string_view stream(reinterpret_cast<const char*>(data + 2 + n), size - 2 - n);
  std::vector<std::size_t> pieces;
  std::size_t sum = 0;
  for (std::size_t l : lengths) sum += l;
  if (sum == 0) {
    pieces.push_back(stream.size());
  } else {
    for (std::size_t i = 0, left = stream.size(); left > 0; ++i) {
      std::size_t l = std::min(lengths[i % n], left);
      pieces.push_back(l);
      left -= l;
    }
  }
  Run whole = feed(stream, {stream.size()}, limits, head_mask, body_limit);
  Run split = feed(stream, pieces, limits, head_mask, body_limit);
  if (std::getenv("WAITLESS_FUZZ_VERBOSE")) {
    for (const std::string& e : whole.events) std::fprintf(stderr, "%s\n", fuzzh::escape(e).c_str());
  }
  // Body pieces are split differently; heads, whole bodies, ends and errors may not be.
  // "The first violation in the stream decides the error, however the input is split": a differing last
  // error is its own invariant (tolerable while a report is open); any other difference is always fatal.
  bool same = whole.events.size() == split.events.size();
  for (std::size_t i = 0; same && i < whole.events.size(); ++i) {
    const std::string &x = whole.events[i], &y = split.events[i];
    if (x == y) continue;
    same = x.rfind("error ", 0) == 0 && y.rfind("error ", 0) == 0 && i + 1 == whole.events.size() &&
           fuzzh::tolerated("error depends on the split");
  }
  if (!same) {
    std::string d;
    for (std::size_t i = 0; i < std::max(whole.events.size(), split.events.size()); ++i) {
      std::string w = i < whole.events.size() ? whole.events[i] : "(none)";
      std::string s = i < split.events.size() ? split.events[i] : "(none)";
      d += (w == s ? "  " : "! ") + std::to_string(i) + "\n    whole: " + fuzzh::escape(w.substr(0, 300)) +
           "\n    split: " + fuzzh::escape(s.substr(0, 300)) + "\n";
    }
    fuzzh::fail(kTarget, "split parse diverges from the one-piece parse", d);
  }
  return 0;
}
