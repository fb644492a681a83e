#include "waitless/data/redis_parser.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "waitless/data/db_error.hpp"

namespace waitless::data {
namespace {

// Parses `bytes` fed whole; every complete reply, or the error.
Result<std::vector<Reply>> parse_all(std::string_view bytes, RespLimits limits = {}, std::size_t chunk = 0) {
  RespParser p(limits);
  std::vector<Reply> out;
  const std::size_t step = chunk ? chunk : bytes.size() + 1;
  for (std::size_t i = 0; i <= bytes.size(); i += step) {
    const std::size_t n = std::min(step, bytes.size() - std::min(i, bytes.size()));
    p.feed(bytes.data() + i, n);
    while (true) {
      auto r = p.next();
      if (!r) return r.error();
      if (!*r) break;
      out.push_back(std::move(**r));
    }
  }
  return out;
}

Reply one(std::string_view bytes) {
  auto r = parse_all(bytes);
  EXPECT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->size(), 1u);
  return r->empty() ? Reply() : (*r)[0];
}

TEST(RedisParser, Resp2Types) {
  EXPECT_EQ(one("+OK\r\n"), Reply::simple("OK"));
  EXPECT_EQ(one("-ERR bad\r\n"), Reply::error("ERR bad"));
  EXPECT_EQ(one(":-42\r\n"), Reply::integer(-42));
  EXPECT_EQ(one("$5\r\nhe\r\no\r\n"), Reply::bulk("he\r\no"));  // binary-safe
  EXPECT_EQ(one("$0\r\n\r\n"), Reply::bulk(""));
  EXPECT_TRUE(one("$-1\r\n").is_null());
  EXPECT_TRUE(one("*-1\r\n").is_null());
  EXPECT_EQ(one("*0\r\n"), Reply::aggregate(ReplyType::array, {}));
  Reply nested = one("*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n$1\r\nz\r\n");
  EXPECT_EQ(nested.debug_string(), "[1, [a, nil], \"z\"]");
}

TEST(RedisParser, Resp3Types) {
  EXPECT_TRUE(one("_\r\n").is_null());
  EXPECT_EQ(one("#t\r\n").boolean(), true);
  EXPECT_EQ(one("#f\r\n").type(), ReplyType::boolean);
  EXPECT_DOUBLE_EQ(one(",3.25\r\n").dbl(), 3.25);
  EXPECT_TRUE(std::isinf(one(",-inf\r\n").dbl()));
  EXPECT_TRUE(std::isnan(one(",nan\r\n").dbl()));
  EXPECT_EQ(one("(3492890328409238509324850943850943825024385\r\n").str(),
            "3492890328409238509324850943850943825024385");
  EXPECT_EQ(one("!9\r\nSYNTAX xy\r\n"), Reply::error("SYNTAX xy"));
  Reply v = one("=8\r\ntxt:some\r\n");
  EXPECT_EQ(v.type(), ReplyType::verbatim);
  EXPECT_EQ(v.str(), "some");
  Reply m = one("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n");
  EXPECT_EQ(m.type(), ReplyType::map);
  EXPECT_EQ(m.debug_string(), "{a: 1, b: 2}");
  EXPECT_EQ(one("~2\r\n+x\r\n+y\r\n").type(), ReplyType::set);
  EXPECT_EQ(one(">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n").type(), ReplyType::push);
}

TEST(RedisParser, AttributesAreDropped) {
  // An attribute before a top-level value and one inside an array.
  auto r =
      parse_all("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n|1\r\n+ttl\r\n:3\r\n:2\r\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].debug_string(), "[1, 2]");
}

TEST(RedisParser, SplitFeedingAgreesWithWhole) {
  const std::string bytes =
      "+OK\r\n:7\r\n$11\r\nhello world\r\n*2\r\n*1\r\n$0\r\n\r\n%1\r\n+k\r\n~1\r\n,1.5\r\n-ERR x\r\n_\r\n";
  auto whole = parse_all(bytes);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->size(), 6u);
  for (std::size_t chunk = 1; chunk < 12; ++chunk) {
    auto split = parse_all(bytes, {}, chunk);
    ASSERT_TRUE(split.ok()) << chunk;
    EXPECT_EQ(*split, *whole) << chunk;
  }
}

TEST(RedisParser, PipelinedRepliesInOneFeed) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += ":" + std::to_string(i) + "\r\n";
  auto r = parse_all(bytes);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1000u);
  EXPECT_EQ((*r)[999].integer(), 999);
}

TEST(RedisParser, ProtocolErrors) {
  for (std::string_view bad : {"?x\r\n", ":12a\r\n", ":\r\n", ":+1\r\n", "$-2\r\n", "$3\r\nabcd\r\n",
                               "*-2\r\n", "%-1\r\n", "#x\r\n", ",1.5x\r\n", ",infinity\r\n", "_x\r\n",
                               "+a\rb\r\n", "+a\nb\r\n", "=3\r\ntxt\r\n", "$?\r\n", "(12a\r\n"}) {
    auto r = parse_all(bad);
    EXPECT_EQ(r.error(), make_error_code(RedisErrc::protocol_error)) << bad;
  }
}

TEST(RedisParser, ErrorIsSticky) {
  RespParser p;
  p.feed("?\r\n+OK\r\n", 8);
  EXPECT_FALSE(p.next().ok());
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.next().ok());
  p.reset();
  p.feed("+OK\r\n", 5);
  auto r = p.next();
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(**r, Reply::simple("OK"));
}

TEST(RedisParser, LimitsFailAtTheHeader) {
  const auto too_large = make_error_code(RedisErrc::reply_too_large);
  // A bulk announced over the limit fails before its payload arrives.
  EXPECT_EQ(parse_all("$1000\r\n", {.max_bulk = 999}).error(), too_large);
  // An aggregate count over the element budget fails at its header: nothing is reserved for it.
  EXPECT_EQ(parse_all("*1000000000\r\n").error(), too_large);
  EXPECT_EQ(parse_all("*3\r\n:1\r\n:2\r\n:3\r\n", {.max_elements = 3}).error(), too_large);
  EXPECT_TRUE(parse_all("*3\r\n:1\r\n:2\r\n:3\r\n", {.max_elements = 4}).ok());
  // Depth.
  std::string deep;
  for (int i = 0; i < 10; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  EXPECT_EQ(parse_all(deep, {.max_depth = 9}).error(), too_large);
  EXPECT_TRUE(parse_all(deep, {.max_depth = 10}).ok());
  // A line that never ends.
  EXPECT_EQ(parse_all("+" + std::string(100, 'a'), {.max_line = 64}).error(), too_large);
  EXPECT_TRUE(parse_all("+" + std::string(64, 'a') + "\r\n", {.max_line = 64}).ok());
  // The byte estimate of the whole reply.
  EXPECT_EQ(
      parse_all("*2\r\n$100\r\n" + std::string(100, 'x') + "\r\n$100\r\n" + std::string(100, 'x') + "\r\n",
                {.max_reply_bytes = 150 + 3 * sizeof(Reply)})
          .error(),
      too_large);
}

TEST(RedisParser, LimitsAreCountedPerReply) {
  // Each reply gets the whole budget: many small replies in a row never trip it.
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes += "*2\r\n:1\r\n:2\r\n";
  auto r = parse_all(bytes, {.max_elements = 3});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 100u);
}

TEST(RedisParser, LongLineFedByteByByteScansOnce) {
  // A 256 KiB bulk fed in 1-byte pieces: linear, finishes quickly.
  const std::string payload(256 * 1024, 'q');
  std::string bytes = "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  RespParser p;
  std::size_t got = 0;
  for (char c : bytes) {
    p.feed(&c, 1);
    auto r = p.next();
    ASSERT_TRUE(r.ok());
    if (*r) got = (*r)->str().size();
  }
  EXPECT_EQ(got, payload.size());
}

TEST(RedisReply, ConnectionErrorsAreDatabaseUnavailability) {
  EXPECT_TRUE(make_error_code(RedisErrc::connection_lost) == DbCondition::unavailable);
  EXPECT_TRUE(make_error_code(RedisErrc::not_connected) == DbCondition::connection);
  EXPECT_FALSE(make_error_code(RedisErrc::error_reply) == DbCondition::unavailable);
  EXPECT_EQ(http_status_for(make_error_code(RedisErrc::connection_lost)), 503);
  EXPECT_EQ(http_status_for(make_error_code(RedisErrc::protocol_error)), 500);
}

TEST(RedisReply, EncodesCommandsAsBulkArrays) {
  std::string out;
  append_command(out, {"SET", "k", "a\r\nb"});
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
}

}  // namespace
}  // namespace waitless::data
