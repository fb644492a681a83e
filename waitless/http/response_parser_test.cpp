#include "waitless/http/response_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace waitless::http {
namespace {

using Event = ResponseParser::Event;

// What a stream of responses parses to, as text: "head 200 OK [name=value]...", "body <bytes>" (pieces
// joined), "end", "error <code>: <reason>", "eof-end" / "eof-idle" / "eof-error" from finish().
struct Seen {
  std::vector<std::string> events;
  std::string last_body;
};

std::string describe(const ResponseHead& h) {
  std::string s = "head " + std::to_string(h.status) + " " + h.reason;
  for (Header f : h.headers) s += " [" + std::string(f.name) + "=" + std::string(f.value) + "]";
  return s;
}

// Feeds `input` in pieces of `step` bytes (0: all at once), each copied into a scratch buffer that the
// next piece overwrites, as the client's receive buffer is reused. `heads`: per response, HEAD or not.
Seen feed(const std::string& input, std::size_t step = 0, const ResponseLimits& limits = {},
          uint64_t body_limit = 1 << 20, std::vector<bool> heads = {}, bool eof = false) {
  ResponseParser parser(limits);
  Seen seen;
  std::size_t response = 0;
  auto begin = [&] { parser.begin(response < heads.size() && heads[response], body_limit); };
  begin();
  std::string scratch, body;
  if (step == 0) step = input.size() ? input.size() : 1;
  bool failed = false;
  for (std::size_t off = 0; off < input.size() && !failed; off += step) {
    scratch.assign(input, off, step);
    const char* p = scratch.data();
    std::size_t left = scratch.size();
    int stalls = 0;
    for (;;) {  // until need_more: a HEAD response's end comes from a call with nothing left
      std::size_t used = 0;
      Event ev = parser.parse(p, left, &used);
      EXPECT_LE(used, left);
      p += used;
      left -= used;
      if (ev == Event::need_more) break;
      if (ev == Event::error) {
        seen.events.push_back("error " + parser.error().message() + ": " + parser.error_reason());
        failed = true;
        break;
      }
      if (ev == Event::head) {
        seen.events.push_back(describe(parser.head()));
        body.clear();
      } else if (ev == Event::body) {
        body += parser.body_piece();
      } else {  // end
        if (!body.empty()) seen.events.push_back("body " + body);
        seen.last_body = body;
        seen.events.push_back("end");
        parser.head().clear();
        ++response;
        begin();
      }
      stalls = used ? 0 : stalls + 1;
      if (stalls > 3) {
        ADD_FAILURE() << "no progress";
        return seen;
      }
    }
  }
  if (eof && !failed) {
    Event ev = parser.finish();
    if (ev == Event::end) {
      if (!body.empty()) seen.events.push_back("body " + body);
      seen.events.push_back("eof-end");
    } else if (ev == Event::need_more) {
      seen.events.push_back("eof-idle");
    } else {
      seen.events.push_back(std::string("eof-error ") + parser.error().message());
    }
  }
  return seen;
}

// The same events whatever the split.
void expect_split_independent(const std::string& input, const std::vector<std::string>& want,
                              std::vector<bool> heads = {}, bool eof = false) {
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7}}) {
    Seen s = feed(input, step, {}, 1 << 20, heads, eof);
    EXPECT_EQ(s.events, want) << "step " << step;
  }
}

TEST(ResponseParser, ContentLengthResponse) {
  expect_split_independent("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  v  \r\n\r\nhello",
                           {"head 200 OK [Content-Length=5] [X-A=v]", "body hello", "end"});
}

TEST(ResponseParser, ChunkedResponseWithTrailers) {
  expect_split_independent(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nT: "
      "x\r\n\r\n",
      {"head 200 OK [Transfer-Encoding=chunked]", "body hello world", "end"});
}

TEST(ResponseParser, KeepAliveSequenceOfResponses) {
  std::string two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
  two += "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  expect_split_independent(two, {"head 200 OK [Content-Length=1]", "body a", "end",
                                 "head 404 Not Found [Content-Length=0]", "end"});
}

TEST(ResponseParser, InterimResponsesAreSkipped) {
  expect_split_independent(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      {"head 200 OK [Content-Length=2]", "body ok", "end"});
}

TEST(ResponseParser, TooManyInterimResponsesIsAnError) {
  std::string s;
  for (int i = 0; i < 17; ++i) s += "HTTP/1.1 100 Continue\r\n\r\n";
  Seen r = feed(s);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0],
            "error " + make_error_code(Error::protocol_error).message() + ": too many interim responses");
}

TEST(ResponseParser, SwitchingProtocolsIsRefused) {
  Seen r = feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_NE(r.events[0].find("101"), std::string::npos) << r.events[0];
}

TEST(ResponseParser, SwitchingProtocolsAllowedEndsParsingAtTheHead) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string input = head + "\x81\x05hello";  // the new protocol's first bytes follow at once
  ResponseParser parser;
  parser.begin(false, 1000, true);
  std::size_t used = 0;
  ASSERT_EQ(parser.parse(input.data(), input.size(), &used), ResponseParser::Event::head);
  EXPECT_EQ(used, head.size());  // nothing after the head is taken
  EXPECT_EQ(parser.head().status, 101);
  EXPECT_EQ(parser.head().headers.get("upgrade"), "websocket");
  EXPECT_FALSE(parser.head().has_body);
  EXPECT_FALSE(parser.head().keep_alive);
  EXPECT_TRUE(parser.switched());
  EXPECT_EQ(parser.parse(input.data() + used, input.size() - used, &used), ResponseParser::Event::error);
}

TEST(ResponseParser, TrailerFieldsAreKeptApartFromTheHead) {
  const std::string input =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\n"
      "X-Sum:  900150983cd24fb0 \r\nX-Count: 3\r\n\r\n";
  ResponseParser parser;
  parser.begin(false, 1000);
  std::size_t used = 0, at = 0;
  std::vector<ResponseParser::Event> events;
  for (int i = 0; i < 10 && (events.empty() || events.back() != ResponseParser::Event::end); ++i) {
    events.push_back(parser.parse(input.data() + at, input.size() - at, &used));
    at += used;
    ASSERT_NE(events.back(), ResponseParser::Event::error) << parser.error_reason();
  }
  ASSERT_EQ(events.back(), ResponseParser::Event::end);
  EXPECT_EQ(parser.head().headers.get("x-sum"), "");
  EXPECT_EQ(parser.trailers().get("x-sum"), "900150983cd24fb0");
  EXPECT_EQ(parser.trailers().get("x-count"), "3");
  EXPECT_EQ(parser.trailers().size(), 2u);
}

TEST(ResponseParser, HeadResponseHasNoBody) {
  // The second response follows the first at once: its Content-Length described a body never sent.
  std::string s =
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz";
  expect_split_independent(
      s, {"head 200 OK [Content-Length=10]", "end", "head 200 OK [Content-Length=1]", "body z", "end"},
      {true, false});
  // Chunked framing on a HEAD response is not read either.
  expect_split_independent("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                           {"head 200 OK [Transfer-Encoding=chunked]", "end"}, {true});
}

TEST(ResponseParser, NoBodyFor204And304) {
  expect_split_independent(
      "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
      {"head 204 No Content", "end", "head 304 Not Modified [Content-Length=5]", "end"});
}

TEST(ResponseParser, BodyUntilCloseEndsAtFinish) {
  expect_split_independent("HTTP/1.1 200 OK\r\n\r\nall of it", {"head 200 OK", "body all of it", "eof-end"},
                           {}, true);
  ResponseParser p;
  p.begin(false, 100);
  std::size_t used = 0;
  std::string in = "HTTP/1.0 200 OK\r\n\r\nabc";
  ASSERT_EQ(p.parse(in.data(), in.size(), &used), Event::head);
  EXPECT_TRUE(p.head().until_close);
  EXPECT_FALSE(p.head().keep_alive);
  ASSERT_EQ(p.parse(in.data() + used, in.size() - used, &used), Event::body);
  EXPECT_EQ(p.body_piece(), "abc");
  EXPECT_EQ(p.finish(), Event::end);
}

TEST(ResponseParser, TruncatedResponsesFailAtFinish) {
  for (std::string cut :
       {"HTTP/1.1 200 OK\r\nContent-Le", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "HTTP/1.1 100 Continue\r\n\r\n"}) {
    Seen s = feed(cut, 0, {}, 1 << 20, {}, true);
    ASSERT_FALSE(s.events.empty());
    EXPECT_EQ(s.events.back(), "eof-error " + make_error_code(Error::eof).message()) << cut;
  }
  Seen idle = feed("", 0, {}, 1 << 20, {}, true);
  EXPECT_EQ(idle.events, std::vector<std::string>{"eof-idle"});
}

TEST(ResponseParser, KeepAliveFlags) {
  ResponseParser p;
  auto head_of = [&](const std::string& in) {
    p.reset();
    p.begin(false, 100);
    std::size_t used = 0;
    EXPECT_EQ(p.parse(in.data(), in.size(), &used), Event::head) << in;
    return p.head();
  };
  EXPECT_TRUE(head_of("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(head_of("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(head_of("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_TRUE(head_of("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(head_of("HTTP/1.1 200 OK\r\n\r\n").keep_alive);  // until close
}

std::string error_of(const std::string& in, const ResponseLimits& limits = {},
                     uint64_t body_limit = 1 << 20) {
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
    Seen s = feed(in, step, limits, body_limit);
    std::string last = s.events.empty() ? "" : s.events.back();
    Seen whole = feed(in, 0, limits, body_limit);
    EXPECT_EQ(s.events, whole.events) << "step " << step;
    if (step == 3) return last;
  }
  return {};
}

TEST(ResponseParser, MalformedResponsesAreProtocolErrors) {
  const std::string proto = "error " + make_error_code(Error::protocol_error).message();
  for (const std::string& bad : std::vector<std::string>{
           "HTTP/1.1 2000 OK\r\n\r\n",
           "HTTP/1.1 20 OK\r\n\r\n",
           std::string("HTTP/1.1 200 O\0K\r\n\r\n", 21),
           "HTTP/1.1 200 O\x01K\r\n\r\n",
           "HTTP/1.1 020 OK\r\nContent-Length: 0\r\n\r\n",
           "HTTX/1.1 200 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
           "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
           "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
           "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
           "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
           "HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
           "HTTP/2.0 200 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nA: b\n\r\n",
       }) {
    std::string got = error_of(bad);
    EXPECT_EQ(got.rfind(proto, 0), 0u) << bad << " -> " << got;
  }
}

TEST(ResponseParser, LimitsAreEnforcedAtTheirEdges) {
  const std::string limit = "error " + make_error_code(Error::limit_exceeded).message();
  ResponseLimits small;
  small.max_head_size = 64;
  small.max_headers = 2;
  small.max_chunk_extension = 4;
  // A head of exactly 64 bytes passes; 65 fails.
  std::string head64 = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ";
  head64 += std::string(64 - head64.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(head64.size(), 64u);
  EXPECT_EQ(error_of(head64, small), "end");
  std::string head65 = head64;
  head65.insert(head65.size() - 4, "a");
  EXPECT_EQ(error_of(head65, small).rfind(limit, 0), 0u);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small).rfind(limit, 0), 0u);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;abcde\r\nx\r\n0\r\n\r\n", small)
                .rfind(limit, 0),
            0u);
  // Body: Content-Length over the limit fails at the head; chunked fails when the count passes it.
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", {}, 10).rfind(limit, 0), 0u);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", {}, 10), "end");
  EXPECT_EQ(
      error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n",
               {}, 10)
          .rfind(limit, 0),
      0u);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\n\r\n01234567890", {}, 10).rfind(limit, 0), 0u);
}

// The first violation in the stream decides, even when llhttp reports a later one first (it hands a span
// to its callback only at the span's end): the same error whatever the split.
TEST(ResponseParser, FirstViolationWinsWhateverTheSplit) {
  ResponseLimits two;
  two.max_headers = 2;
  const std::string limit =
      "error " + make_error_code(Error::limit_exceeded).message() + ": too many header fields";
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
    // A third field (one too many) whose name then turns invalid.
    Seen s = feed("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nP/1.1\r\n\r\n", step, two);
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0], limit) << step;
    // A NUL in the reason phrase, and a bare LF after it.
    Seen r = feed(std::string("HTTP/1.1 200 O\0K junk\nX: y\r\n\r\n", 30), step);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_NE(r.events[0].find("invalid reason phrase"), std::string::npos) << r.events[0];
  }
}

TEST(ResponseParser, ErrorsRepeatAndResetRecovers) {
  ResponseParser p;
  p.begin(false, 100);
  std::size_t used = 1;
  std::string bad = "HTTP/1.1 999999 X\r\n\r\n";
  ASSERT_EQ(p.parse(bad.data(), bad.size(), &used), Event::error);
  EXPECT_EQ(p.error(), Error::protocol_error);
  ASSERT_EQ(p.parse(bad.data(), bad.size(), &used), Event::error);
  EXPECT_EQ(used, 0u);
  p.reset();
  p.begin(false, 100);
  std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(p.parse(ok.data(), ok.size(), &used), Event::head);
  EXPECT_EQ(p.parse(ok.data() + used, ok.size() - used, &used), Event::end);
}

TEST(ResponseParser, HeadersAreCopiesThatOutliveTheInput) {
  ResponseParser p;
  p.begin(false, 100);
  std::string in =
      "HTTP/1.1 200 Fine\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"
      "Content-Length: 0\r\n\r\n";
  std::size_t used = 0;
  ASSERT_EQ(p.parse(in.data(), in.size(), &used), Event::head);
  std::fill(in.begin(), in.end(), 'X');
  const ResponseHead& h = p.head();
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.reason, "Fine");
  EXPECT_EQ(h.headers.get("content-type"), "text/plain");
  EXPECT_EQ(h.headers.count("SET-COOKIE"), 2u);
  EXPECT_EQ(h.headers.size(), 4u);
  EXPECT_EQ(h.head_size, in.size());
  EXPECT_FALSE(h.has_body);
}

}  // namespace
}  // namespace waitless::http
