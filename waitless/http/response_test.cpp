// Response's handler-facing API over a real server and socket: the header list, chaining with a sticky
// error, and body filters (a test filter: http cannot use the web layer's compression).
#include "waitless/http/response.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/http/test_client.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using testing::get;
using testing::Harness;
using testing::TestClient;

// Every field of the response head with this name, in order.
std::vector<std::string> all(const testing::TestResponse& r, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : r.headers) {
    if (iequals(n, name)) out.push_back(v);
  }
  return out;
}

TEST(ResponseHeaders, SetReplacesAppendKeepsRemoveDeletes) {
  Harness h;
  std::vector<std::string> seen;
  h.start([&](Request&, Response& res) {
    res.append("Set-Cookie", "a=1").append("set-cookie", "b=2").set("X-One", "1").set("X-Two", "2");
    seen.push_back(std::to_string(res.count("SET-COOKIE")));
    seen.push_back(std::string(res.get("x-one").value_or("?")));
    res.set("x-ONE", "uno");  // replaces, whatever the case; the field moves to the end
    seen.push_back(std::string(res.get("X-One").value_or("?")));
    seen.push_back(res.has("X-Missing") ? "has" : "-");
    res.remove("X-Two").remove("X-Never");
    seen.push_back(res.has("x-two") ? "has" : "-");
    std::string order;
    for (Header f : res.headers()) order += std::string(f.name) + "=" + std::string(f.value) + ";";
    seen.push_back(order);
    EXPECT_FALSE(res.error());
    // set_header adds, as it always did; replace_header is set().
    EXPECT_FALSE(res.set_header("X-Multi", "1"));
    EXPECT_FALSE(res.set_header("X-Multi", "2"));
    EXPECT_FALSE(res.replace_header("X-Once", "1"));
    EXPECT_FALSE(res.replace_header("X-Once", "2"));
    (void)res.send("x");
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(all(*r, "X-Multi"), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(all(*r, "X-Once"), (std::vector<std::string>{"2"}));
    EXPECT_EQ(all(*r, "Set-Cookie"), (std::vector<std::string>{"a=1", "b=2"}));
    EXPECT_EQ(all(*r, "X-One"), (std::vector<std::string>{"uno"}));
    EXPECT_FALSE(r->has("X-Two"));
    EXPECT_EQ(r->body, "x");
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"2", "1", "uno", "-", "-",
                                            "Set-Cookie=a=1;set-cookie=b=2;x-ONE=uno;"}));
}

// Values are checked eight bytes at a time: a refused byte (CR, LF, NUL, DEL, another control) is found in
// any position of a long value, a tab and obs-text are kept, in a block or in the tail.
TEST(ResponseHeaders, LongValuesAreCheckedAtEveryPosition) {
  Harness h;
  int bad_accepted = 0, good_refused = 0, checked = 0;
  h.start([&](Request&, Response& res) {
    const std::string base = "abcdefghijklmnopqrstuvwxyz0123";  // 30 bytes: three blocks and a tail
    for (std::size_t at = 0; at < base.size(); ++at) {
      for (char bad : {'\r', '\n', '\0', '\x7f', '\x01', '\x1f'}) {
        std::string v = base;
        v[at] = bad;
        if (!res.set_header("X-Bad", v)) ++bad_accepted;
        if (!res.set_content_type(v)) ++bad_accepted;
        ++checked;
      }
      std::string good = base;
      good[at] = at % 2 ? '\t' : '\xe9';
      if (res.set_header("X-Good", good)) ++good_refused;
      if (res.set_content_type(good)) ++good_refused;
    }
    (void)res.send("x");
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/")));
    EXPECT_TRUE(c.read_response());
  });
  EXPECT_EQ(checked, 180);
  EXPECT_EQ(bad_accepted, 0);
  EXPECT_EQ(good_refused, 0);
}

TEST(ResponseHeaders, ContentTypeTwiceLeavesOneAndAutomaticFieldsComeBack) {
  Harness h;
  h.start([](Request& req, Response& res) {
    (void)res.set_content_type("text/plain");
    (void)res.set_content_type("application/json");
    res.set("Server", "mine").set("Date", "Thu, 01 Jan 1970 00:00:00 GMT");
    if (req.path() == "/restore") res.remove("server").remove("DATE");
    (void)res.send("{}");
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/custom") + get("/restore")));
    auto custom = c.read_response();
    ASSERT_TRUE(custom);
    EXPECT_EQ(all(*custom, "Content-Type"), (std::vector<std::string>{"application/json"}));
    EXPECT_EQ(all(*custom, "Server"), (std::vector<std::string>{"mine"}));
    EXPECT_EQ(all(*custom, "Date"), (std::vector<std::string>{"Thu, 01 Jan 1970 00:00:00 GMT"}));
    auto restored = c.read_response();
    ASSERT_TRUE(restored);
    EXPECT_EQ(all(*restored, "Server"), (std::vector<std::string>{"waitless"}));
    ASSERT_EQ(all(*restored, "Date").size(), 1u);
    EXPECT_NE(restored->header("Date"), "Thu, 01 Jan 1970 00:00:00 GMT");
  });
}

TEST(ResponseHeaders, ConnectionIsTheCloseFlagNotAField) {
  Harness h;
  std::vector<std::string> seen;
  h.start([&](Request& req, Response& res) {
    res.set("Connection", "close");
    seen.push_back(std::string(res.get("connection").value_or("-")));
    if (req.path() == "/keep") res.remove("Connection");
    seen.push_back(std::string(res.get("connection").value_or("-")));
    (void)res.send("x");
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/keep") + get("/close") + get("/never")));
    auto keep = c.read_response();
    ASSERT_TRUE(keep);
    EXPECT_FALSE(keep->has("Connection"));
    auto close = c.read_response();
    ASSERT_TRUE(close);
    EXPECT_EQ(all(*close, "Connection"), (std::vector<std::string>{"close"}));
    EXPECT_TRUE(c.closed_within(2000));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"close", "-", "close", "close"}));
}

TEST(ResponseChain, TheFirstErrorSticksAndTheRestOfTheChainHolds) {
  Harness h;
  std::vector<std::error_code> errors;
  h.start([&](Request&, Response& res) {
    errors.push_back(res.error());
    res.status(1000).set("Bad Name", "v").status(404).set("X-Ok", "yes").set("X-Bad", "a\r\nInjected: 1");
    errors.push_back(res.error());
    res.set("Content-Length", "3").append("Transfer-Encoding", "chunked");
    EXPECT_FALSE(res.send("gone"));
    EXPECT_EQ(res.send("twice"), std::error_code(Error::closed));
    res.set("X-Late", "1");  // after the head: refused, but the first error is what error() keeps
    errors.push_back(res.error());
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->header("X-Ok"), "yes");
    EXPECT_EQ(r->header("Content-Length"), "4");
    EXPECT_EQ(r->raw_head.find("Injected"), std::string::npos);
    EXPECT_FALSE(r->has("X-Late"));
    EXPECT_EQ(r->body, "gone");
  });
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_FALSE(errors[0]);
  EXPECT_EQ(errors[1], std::error_code(Error::invalid_argument));
  EXPECT_EQ(errors[2], std::error_code(Error::invalid_argument));
}

// A handler whose calls failed and that never answered gets a 500, not an empty 200; an untouched one
// still gets the empty 200.
TEST(ResponseChain, AnErrorLeftUnansweredBecomes500) {
  Harness h;
  h.start([](Request& req, Response& res) {
    if (req.path() == "/bad") res.status(99);
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/bad") + get("/untouched")));
    auto bad = c.read_response();
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 500);
    auto untouched = c.read_response();
    ASSERT_TRUE(untouched);
    EXPECT_EQ(untouched->status, 200);
    EXPECT_EQ(untouched->body, "");
  });
}

// Test filters. Upper uppercases ASCII letters; Suffix adds a word after the body (it acts only when the
// body ends: it shows that the last piece reaches each filter); Failing refuses its input.
struct Upper final : BodyFilter {
  Mode on_head(Response& res, std::optional<uint64_t> length) override {
    heads.push_back(length ? static_cast<int64_t>(*length) : -1);
    res.set("X-Filtered", "upper");
    return Mode::transform;
  }
  Result<std::string_view> transform(std::string_view in, bool last) override {
    out.assign(in);
    for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    pieces.push_back(std::string(in) + (last ? "$" : ""));
    return std::string_view(out);
  }
  std::string out;
  std::vector<int64_t> heads;
  std::vector<std::string> pieces;
};
struct Suffix final : BodyFilter {
  explicit Suffix(Mode m = Mode::transform) : mode(m) {}
  Mode on_head(Response&, std::optional<uint64_t>) override { return mode; }
  Result<std::string_view> transform(std::string_view in, bool last) override {
    out.assign(in);
    if (last) out += "-end";
    return std::string_view(out);
  }
  Mode mode;
  std::string out;
};
struct Failing final : BodyFilter {
  Mode on_head(Response&, std::optional<uint64_t>) override { return Mode::transform; }
  Result<std::string_view> transform(std::string_view in, bool) override {
    if (in.find("bad") != std::string_view::npos) return Error::protocol_error;
    return in;
  }
};

TEST(ResponseFilter, SendGoesThroughTheChainAndGetsAContentLength) {
  Harness h;
  std::vector<std::vector<int64_t>> heads;
  h.start([&](Request& req, Response& res) {
    auto& upper = *req.arena().make<Upper>();
    res.add_body_filter(upper);                        // outer: added first
    res.add_body_filter(*req.arena().make<Suffix>());  // inner: sees the handler's bytes first
    EXPECT_TRUE(res.has_body_filter());
    (void)res.send("hello");
    heads.push_back(upper.heads);
    EXPECT_EQ(upper.pieces, (std::vector<std::string>{"hello-end$"}));
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/") + "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "HELLO-END");  // the other order would give "HELLO-end"
    EXPECT_EQ(r->header("Content-Length"), "9");
    EXPECT_EQ(r->header("X-Filtered"), "upper");
    auto head = c.read_response(true);  // HEAD: the length GET would send, no body
    ASSERT_TRUE(head);
    EXPECT_EQ(head->header("Content-Length"), "9");
  });
  // The outer filter learns that the inner one made the length unknown.
  EXPECT_EQ(heads, (std::vector<std::vector<int64_t>>{{-1}, {-1}}));
}

TEST(ResponseFilter, StreamedBodyIsFilteredPieceByPieceAndChunked) {
  Harness h;
  std::vector<std::string> pieces;
  std::vector<int64_t> heads;
  h.start([&](Request& req, Response& res) -> Task<> {
    auto& upper = *req.arena().make<Upper>();
    res.add_body_filter(upper);
    EXPECT_FALSE(res.set_content_length(12));  // the filter's output has another length: chunked
    EXPECT_FALSE(res.write("abc"));
    co_await sleep(1ms);
    EXPECT_FALSE(res.write("def"));
    EXPECT_FALSE(res.end("ghijkl"));
    pieces = upper.pieces;
    heads = upper.heads;
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(r->has("Content-Length"));
    EXPECT_EQ(r->body, "ABCDEFGHIJKL");
  });
  EXPECT_EQ(pieces, (std::vector<std::string>{"abc", "def", "ghijkl$"}));
  EXPECT_EQ(heads, (std::vector<int64_t>{12}));
}

TEST(ResponseFilter, PassingFiltersAndBodilessResponsesLeaveTheBodyAlone) {
  Harness h;
  h.start([](Request& req, Response& res) {
    if (req.path() == "/204") {
      res.status(204).add_body_filter(*req.arena().make<Upper>());  // never called: no body
      (void)res.send({});
      return;
    }
    res.add_body_filter(*req.arena().make<Suffix>(BodyFilter::Mode::pass));
    EXPECT_FALSE(res.set_content_length(5));
    EXPECT_FALSE(res.write("ab"));
    EXPECT_FALSE(res.end("cde"));
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/pass") + get("/204")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Content-Length"), "5");
    EXPECT_EQ(r->body, "abcde");
    auto none = c.read_response();
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 204);
    EXPECT_FALSE(none->has("X-Filtered"));
  });
}

// Before the head: the handler sees the error and the server answers 500. After: the response is cut
// short and the connection closes, so the client cannot take it as complete.
TEST(ResponseFilter, AFilterErrorIsTheResponsesError) {
  Harness h;
  h.start([](Request& req, Response& res) {
    res.add_body_filter(*req.arena().make<Failing>());
    if (req.path() == "/send") {
      EXPECT_EQ(res.send("bad"), std::error_code(Error::protocol_error));
      EXPECT_EQ(res.error(), std::error_code(Error::protocol_error));
      return;
    }
    EXPECT_FALSE(res.write("good;"));
    EXPECT_EQ(res.write("bad"), std::error_code(Error::protocol_error));
    EXPECT_TRUE(res.finished());
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/send")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    ASSERT_TRUE(c.send(get("/stream")));
    EXPECT_TRUE(c.closed_within(3000));
    const std::string raw = c.buffered();
    EXPECT_NE(raw.find("good;"), std::string::npos);
    EXPECT_EQ(raw.find("0\r\n\r\n"), std::string::npos);  // never terminated
  });
}

}  // namespace
}  // namespace waitless::http
