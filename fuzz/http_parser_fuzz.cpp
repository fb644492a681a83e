// Differential fuzz target for RequestParser: the same bytes parsed in one piece and in pieces chosen by
// the input must give the same events, heads and bodies. Each piece lives in its own exact-size heap
// buffer that is spilled, poisoned and freed before the next one (as a connection reusing its receive
// buffer): a view left pointing into an old piece is a use-after-free for ASan and a changed value for
// the snapshot check. Any broken invariant aborts.
//
// Input: byte 0 = config: bits 0-1 limits profile (0/3 default, 1 small, 2 tiny), bit 2 discard the body
// (null sink), bit 3 reset() and parse a known request at the end, bits 4-7 = n. Bytes 1..n: piece
// lengths, used cyclically (0 = an empty piece); n = 0 or all zero: one piece. The rest is the stream.
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

#include "waitless/http/parser.hpp"

using waitless::http::Header;
using waitless::http::Limits;
using waitless::http::RequestHead;
using waitless::http::RequestParser;
using Event = RequestParser::Event;

namespace {

// WAITLESS_FUZZ_TOLERATE="a|b": invariants (whose message contains a or b) reported but not fatal, to keep
// fuzzing past a known, reported bug. Never set in run_all.sh: a known bug keeps the run red until it is
// fixed.
bool tolerated(const char* what) {
  static const std::string env =
      std::getenv("WAITLESS_FUZZ_TOLERATE") ? std::getenv("WAITLESS_FUZZ_TOLERATE") : "";
  std::string_view rest = env, w = what;
  while (!rest.empty()) {
    std::size_t bar = rest.find('|');
    std::string_view part = rest.substr(0, bar);
    if (!part.empty() && w.find(part) != std::string_view::npos) return true;
    rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
  }
  return false;
}

void fail(const char* what) {
  if (tolerated(what)) return;
  std::fprintf(stderr, "http_parser_fuzz: invariant broken: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

const Limits& limits_for(unsigned profile) {
  static const Limits normal;
  static const Limits small = [] {
    Limits l;
    l.max_head_size = 256;
    l.max_headers = 8;
    l.max_body_size = 64;
    l.max_chunk_extension = 16;
    return l;
  }();
  static const Limits tiny = [] {
    Limits l;
    l.max_head_size = 48;
    l.max_headers = 2;
    l.max_body_size = 5;
    l.max_chunk_extension = 3;
    return l;
  }();
  return profile == 1 ? small : profile == 2 ? tiny : normal;
}

bool has_ctl(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

// The head as text (every field the parser reports), reading every byte of every view.
std::string describe(const RequestHead& h) {
  std::string s = "head ";
  s += h.method;
  s += ' ';
  s += h.target;
  s += " v" + std::to_string(h.version_major) + "." + std::to_string(h.version_minor);
  s += " id=" + std::to_string(h.method_id) + " size=" + std::to_string(h.head_size);
  s += " cl=" + (h.has_content_length ? std::to_string(h.content_length) : std::string("-"));
  s += h.chunked ? " chunked" : "";
  s += h.keep_alive ? " keep" : " close";
  s += h.expect_continue ? " continue" : "";
  s += h.upgrade ? " upgrade" : "";
  for (const Header& f : h.headers) {
    s += " [";
    s += f.name;
    s += "=";
    s += f.value;
    s += "]";
  }
  return s;
}

// Head invariants that hold whatever the split.
void check_head(const RequestHead& h, const Limits& limits) {
  check(!h.method.empty() && !h.target.empty(), "head without method or target");
  check(h.version_major == 1, "head reported for a version other than 1.x");
  check(h.head_size <= limits.max_head_size, "head over max_head_size reported");
  check(h.headers.size() <= limits.max_headers, "more headers than max_headers reported");
  check(!(h.chunked && h.has_content_length), "chunked together with Content-Length");
  check(h.has_body() == (h.chunked || (h.has_content_length && h.content_length > 0)), "has_body");
  check(!has_ctl(h.target), "CR/LF/NUL in target");
  for (const Header& f : h.headers) {
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

// Parses `stream` in the given pieces (sizes summing to stream.size()).
Run feed(std::string_view stream, const std::vector<std::size_t>& pieces, const Limits& limits, bool discard,
         bool reset_check) {
  Run run;
  RequestParser parser(limits);
  std::string body;
  bool cl_framed = false;
  uint64_t declared = 0;
  std::size_t at = 0;
  bool failed = false;
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
      if (ev == Event::need_more) {
        check(used == len - off, "need_more without consuming everything");
        break;
      }
      if (ev == Event::error) {
        int status = parser.error_status();
        check(status >= 400 && status <= 599, "error status out of range");
        check(parser.error_reason() != nullptr, "error without a reason");
        run.events.push_back("error " + std::to_string(status));
        const char* reason = parser.error_reason();
        std::size_t again = 1;
        check(parser.parse(buf.get() + off + used, len - off - used, &again) == Event::error,
              "error does not repeat");
        check(again == 0 && parser.error_status() == status && parser.error_reason() == reason,
              "repeated error differs or consumes");
        check(parser.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &again) == Event::error && again == 0,
              "parser recovered after an error without reset");
        failed = true;
        break;
      }
      if (ev == Event::head) {
        const RequestHead& h = parser.head();
        check_head(h, limits);
        run.events.push_back(describe(h));
        cl_framed = h.has_content_length && !h.chunked;
        declared = h.content_length;
        body.clear();
        if (h.has_body()) parser.set_body_sink(discard ? nullptr : &body, limits.max_body_size);
        check(!parser.in_head(), "in_head after the head event");
      } else {  // message_end
        uint64_t got = discard ? parser.body_received() : body.size();
        check(parser.body_received() == got, "body_received differs from the bytes sunk");
        check(got <= limits.max_body_size, "body over the limit delivered");
        if (cl_framed) check(got == declared, "Content-Length body delivered with another length");
        run.events.push_back("end " + (discard ? std::to_string(got) : body));
        check(!parser.in_message(), "in_message after message_end");
      }
      off += used;
      // Every event but one (the message after a head-only message may end without a byte) consumes.
      stalls = used ? 0 : stalls + 1;
      check(stalls < 4, "parser makes no progress");
    }
    if (failed) break;
    // About to reuse the memory: spill, poison, and the views must still read the same.
    std::string before = parser.in_head() ? describe(parser.head()) : std::string();
    parser.spill();
    std::memset(buf.get(), 0xA5, len);
    if (parser.in_head()) check(describe(parser.head()) == before, "head views changed across spill");
  }
  if (!failed) {
    run.events.push_back(std::string("final head=") + (parser.in_head() ? "1" : "0") + " body=" +
                         (parser.in_body() ? "1" : "0") + " msg=" + (parser.in_message() ? "1" : "0"));
  }
  if (reset_check) {
    parser.reset();
    if (reset_check && (at & 1)) parser.release_memory();
    static const char kReq[] = "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok";
    std::size_t used = 0;
    check(parser.parse(kReq, sizeof kReq - 1, &used) == Event::head, "no head after reset");
    std::string b;
    parser.set_body_sink(&b, 2);
    std::size_t used2 = 0;
    check(parser.parse(kReq + used, sizeof kReq - 1 - used, &used2) == Event::message_end && b == "ok",
          "no body after reset");
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const unsigned config = data[0];
  const std::size_t n = config >> 4;
  if (size < 1 + n) return 0;
  const Limits& limits = limits_for(config & 3);
  const bool discard = config & 4;
  const bool reset_check = config & 8;
  std::vector<std::size_t> lengths(data + 1, data + 1 + n);
  std::string_view stream(reinterpret_cast<const char*>(data + 1 + n), size - 1 - n);

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

  Run whole = feed(stream, {stream.size()}, limits, discard, false);
  Run split = feed(stream, pieces, limits, discard, reset_check);
  // The first violation in the stream decides the status, whatever the split: a differing status is its
  // own invariant (tolerable while a report is open); any other difference is always fatal.
  bool status_only = whole.events.size() == split.events.size();
  for (std::size_t i = 0; status_only && i < whole.events.size(); ++i) {
    const std::string &x = whole.events[i], &y = split.events[i];
    if (x == y) continue;
    bool errors = x.rfind("error ", 0) == 0 && y.rfind("error ", 0) == 0 && i + 1 == whole.events.size();
    if (!errors || !tolerated("error status depends on the split")) status_only = false;
  }
  if (!status_only) {
    std::fprintf(stderr, "http_parser_fuzz: split parse diverges from the one-piece parse\n");
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
