// Differential fuzz target for the client's ResponseParser: the same bytes parsed in one piece and in pieces
// chosen by the input must give the same events, heads and bodies, and then the same answer at EOF. Each
// piece lives in its own exact-size heap buffer that is poisoned and freed before the next one (as the
// client reuses its receive buffer): a head view left pointing into an old piece, or a body piece read
// after its buffer is gone, is a use-after-free for ASan and a changed value for the comparison. Any
// broken invariant aborts.
//
// Input: byte 0 = config: bits 0-1 limits profile (0/3 default, 1 small, 2 tiny), bit 2 call finish() (the
// connection's end) after the last piece, bit 3 reset() and parse a known response at the end, bits 4-7 =
// n. Byte 1: bit i set = response i answers a HEAD request (bodiless). Bytes 2..n+1: piece lengths, used
// cyclically (0 = an empty piece); n = 0 or all zero: one piece. The rest is the stream of responses.
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

#include "waitless/http/response_parser.hpp"

using waitless::http::Header;
using waitless::http::ResponseHead;
using waitless::http::ResponseLimits;
using waitless::http::ResponseParser;
using Event = ResponseParser::Event;

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "http_client_fuzz: invariant broken: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

struct Profile {
  ResponseLimits limits;
  uint64_t body_limit;
};

const Profile& profile_for(unsigned p) {
  static const Profile normal{ResponseLimits{}, 1 << 20};
  static const Profile small = [] {
    Profile pr{ResponseLimits{}, 64};
    pr.limits.max_head_size = 256;
    pr.limits.max_headers = 8;
    pr.limits.max_chunk_extension = 16;
    pr.limits.max_interim = 3;
    return pr;
  }();
  static const Profile tiny = [] {
    Profile pr{ResponseLimits{}, 5};
    pr.limits.max_head_size = 40;
    pr.limits.max_headers = 2;
    pr.limits.max_chunk_extension = 3;
    pr.limits.max_interim = 1;
    return pr;
  }();
  return p == 1 ? small : p == 2 ? tiny : normal;
}

bool has_ctl(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

std::string describe(const ResponseHead& h) {
  std::string s = "head " + std::to_string(h.status) + " v" + std::to_string(h.version_major) + "." +
                  std::to_string(h.version_minor) + " [" + h.reason + "] size=" + std::to_string(h.head_size);
  s += " cl=" + (h.has_content_length ? std::to_string(h.content_length) : std::string("-"));
  s += h.chunked ? " chunked" : "";
  s += h.has_body ? " body" : "";
  s += h.until_close ? " until-close" : "";
  s += h.keep_alive ? " keep" : " close";
  for (Header f : h.headers) {
    s += " [";
    s += f.name;
    s += "=";
    s += f.value;
    s += "]";
  }
  return s;
}

void check_head(const ResponseHead& h, const Profile& p, bool head_request) {
  check(h.status >= 200 && h.status <= 999, "final head with a status outside 200..999");
  check(h.version_major == 1, "head reported for a version other than 1.x");
  check(h.head_size <= p.limits.max_head_size, "head over max_head_size reported");
  check(h.headers.size() <= p.limits.max_headers, "more headers than max_headers reported");
  check(!(h.chunked && h.has_content_length), "chunked together with Content-Length");
  check(!has_ctl(h.reason), "CR/LF/NUL in the reason phrase");
  if (head_request || h.status == 204 || h.status == 304)
    check(!h.has_body, "a bodiless response with a body");
  if (h.has_content_length && h.has_body)
    check(h.content_length <= p.body_limit, "Content-Length over the limit");
  for (Header f : h.headers) {
    check(waitless::http::is_token(f.name), "header name is not a token");
    check(!has_ctl(f.value), "CR/LF/NUL in a header value");
    check(f.value.empty() || (f.value.front() != ' ' && f.value.front() != '\t' && f.value.back() != ' ' &&
                              f.value.back() != '\t'),
          "header value not trimmed");
  }
}

struct Run {
  std::vector<std::string> events;
};

Run feed(std::string_view stream, const std::vector<std::size_t>& pieces, const Profile& p,
         unsigned head_mask, bool eof, bool reset_check) {
  Run run;
  ResponseParser parser(p.limits);
  std::size_t response = 0;
  auto begin = [&] { parser.begin(response < 8 && ((head_mask >> response) & 1), p.body_limit); };
  begin();
  std::string body;
  bool head_request = false, cl_framed = false, failed = false, in_response = false;
  uint64_t declared = 0;
  std::size_t at = 0;
  auto on_error = [&] {
    check(parser.error() == waitless::Error::protocol_error ||
              parser.error() == waitless::Error::limit_exceeded || parser.error() == waitless::Error::eof,
          "error of an unexpected kind");
    check(parser.error_reason() != nullptr, "error without a reason");
    run.events.push_back("error " + parser.error().message() + ": " + parser.error_reason());
    std::size_t again = 1;
    check(parser.parse("HTTP/1.1 200 OK\r\n\r\n", 19, &again) == Event::error && again == 0,
          "parser recovered after an error without reset");
    failed = true;
  };
  for (std::size_t len : pieces) {
    std::unique_ptr<char[]> buf(new char[len]);  // exact size: a read past the piece is an ASan report
    std::memcpy(buf.get(), stream.data() + at, len);
    at += len;
    std::size_t off = 0;
    int stalls = 0;
    for (;;) {
      std::size_t used = ~std::size_t{0};
      Event ev = parser.parse(buf.get() + off, len - off, &used);
      check(used <= len - off, "consumed > len");
      off += used;
      if (ev == Event::need_more) {
        check(off == len, "need_more without consuming everything");
        break;
      }
      if (ev == Event::error) {
        on_error();
        break;
      }
      if (ev == Event::head) {
        head_request = response < 8 && ((head_mask >> response) & 1);
        const ResponseHead& h = parser.head();
        check_head(h, p, head_request);
        run.events.push_back(describe(h));
        cl_framed = h.has_content_length && h.has_body;
        declared = h.content_length;
        body.clear();
        in_response = true;
      } else if (ev == Event::body) {
        check(in_response, "body before a head");
        std::string_view piece = parser.body_piece();
        check(!piece.empty(), "empty body piece");
        check(piece.data() >= buf.get() && piece.data() + piece.size() <= buf.get() + len,
              "body piece outside the input");
        body.append(piece);  // taken now: the buffer is poisoned after this piece
        check(body.size() <= p.body_limit, "body over the limit delivered");
      } else {  // end
        check(in_response, "end before a head");
        check(parser.body_received() == body.size(), "body_received differs from the pieces");
        if (cl_framed) check(body.size() == declared, "Content-Length body delivered with another length");
        if (head_request) check(body.empty(), "a body for a HEAD request");
        run.events.push_back("end " + body);
        in_response = false;
        ++response;
        begin();
      }
      stalls = used ? 0 : stalls + 1;  // a bodiless response's end comes from a call that uses nothing
      check(stalls < 4, "parser makes no progress");
    }
    std::memset(buf.get(), 0xA5, len);
    if (failed) break;
  }
  if (!failed && eof) {
    Event ev = parser.finish();
    if (ev == Event::end) {
      check(in_response, "end at EOF without a head");
      check(parser.body_received() == body.size(), "body_received differs from the pieces at EOF");
      run.events.push_back("eof-end " + body);
    } else if (ev == Event::need_more) {
      check(!in_response && !parser.started(), "EOF inside a response reported as clean");
      run.events.push_back("eof-idle");
    } else {
      check(ev == Event::error, "finish() returned a body or head event");
      on_error();
    }
  }
  if (reset_check) {
    parser.reset();
    parser.begin(false, 10);
    static const char kRes[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    std::size_t used = 0;
    check(parser.parse(kRes, sizeof kRes - 1, &used) == Event::head, "no head after reset");
    std::size_t used2 = 0;
    check(parser.parse(kRes + used, sizeof kRes - 1 - used, &used2) == Event::body &&
              parser.body_piece() == "ok",
          "no body after reset");
    check(parser.parse(kRes + used + used2, sizeof kRes - 1 - used - used2, &used) == Event::end,
          "no end after reset");
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const unsigned config = data[0];
  const unsigned head_mask = data[1];
  const std::size_t n = config >> 4;
  if (size < 2 + n) return 0;
  const Profile& profile = profile_for(config & 3);
  const bool eof = config & 4;
  const bool reset_check = config & 8;
  std::vector<std::size_t> lengths(data + 2, data + 2 + n);
  std::string_view stream(reinterpret_cast<const char*>(data + 2 + n), size - 2 - n);

  std::vector<std::size_t> pieces;
  std::size_t sum = 0;
  for (std::size_t l : lengths) sum += l;
  if (sum == 0) {
    pieces.push_back(stream.size());
  } else {
    std::size_t left = stream.size();
    for (std::size_t i = 0; left > 0; ++i) {
      std::size_t l = std::min(lengths[i % n], left);
      pieces.push_back(l);
      left -= l;
    }
  }

  Run whole = feed(stream, {stream.size()}, profile, head_mask, eof, false);
  Run split = feed(stream, pieces, profile, head_mask, eof, reset_check);
  // Body pieces may be cut differently: the events compare whole bodies, so only a real difference shows.
  if (whole.events != split.events) {
    std::fprintf(stderr, "http_client_fuzz: split parse diverges from the one-piece parse\n");
    std::size_t m = std::max(whole.events.size(), split.events.size());
    for (std::size_t i = 0; i < m; ++i) {
      const char* w = i < whole.events.size() ? whole.events[i].c_str() : "(none)";
      const char* s = i < split.events.size() ? split.events[i].c_str() : "(none)";
      std::fprintf(stderr, "  %s %zu\n    whole: %.300s\n    split: %.300s\n",
                   std::string_view(w) == s ? " " : "!", i, w, s);
    }
    std::abort();
  }
  return 0;
}
