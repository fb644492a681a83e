#include "waitless/web/etag.hpp"

#include <gtest/gtest.h>

#include "waitless/http/date_cache.hpp"

namespace waitless::web {
namespace {

constexpr std::time_t kExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 5.6.7)

TEST(Etag, MakeEtag) {
  EXPECT_EQ(make_etag(0, 0), "\"0-0\"");
  EXPECT_EQ(make_etag(0x5f3a, 1700000000123456789), "\"5f3a-17979cfe3d85cd15\"");
  EXPECT_NE(make_etag(10, 1), make_etag(10, 2));  // a rewrite within the same second changes it
  EXPECT_NE(make_etag(10, 1), make_etag(11, 1));
}

TEST(Etag, ParsesTheThreeHttpDateForms) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kExample);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kExample);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kExample);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799);
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-26 00:00:00 GMT"), 1767225600);  // 2026
  // Round trip with the server's own Date formatting, over several decades.
  for (std::time_t t = 0; t < 4102444800; t += 86400 * 367 + 3607) {
    char buf[http::DateCache::kValueSize];
    http::format_http_date(t, buf);
    EXPECT_EQ(parse_http_date(std::string_view(buf, sizeof buf)), t) << std::string_view(buf, sizeof buf);
  }
  for (std::string_view bad :
       {"", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37", "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:3x GMT", "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 06 08:49:37 1994 ",
        "Sunday 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37Z", "Sun, 06 Nov 1994 08:49:37 GMT "}) {
    EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
  }
}

TEST(Etag, IfNoneMatchIsWeak) {
  EXPECT_TRUE(if_none_match("\"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match("W/\"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match("\"a\"", "W/\"a\""));
  EXPECT_TRUE(if_none_match("\"x\", W/\"y\" ,\"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match(" * ", "\"a\""));
  EXPECT_FALSE(if_none_match("\"b\"", "\"a\""));
  EXPECT_FALSE(if_none_match("a", "\"a\""));      // not a quoted tag
  EXPECT_FALSE(if_none_match("\"A\"", "\"a\""));  // opaque-tags are case-sensitive
  EXPECT_FALSE(if_none_match("w/\"a\"", "\"a\""));
  EXPECT_FALSE(if_none_match("", "\"a\""));
  EXPECT_FALSE(if_none_match("\"a b\"", "\"a b\""));  // SP is no etagc: malformed, never matches
}

TEST(Etag, IfMatchAndIfRangeAreStrong) {
  EXPECT_TRUE(if_match("\"a\"", "\"a\""));
  EXPECT_TRUE(if_match("*", "\"a\""));
  EXPECT_FALSE(if_match("W/\"a\"", "\"a\""));
  EXPECT_FALSE(if_match("\"a\"", "W/\"a\""));
  EXPECT_TRUE(if_range_matches("\"a\"", "\"a\"", 0));
  EXPECT_FALSE(if_range_matches("W/\"a\"", "\"a\"", 0));
  EXPECT_FALSE(if_range_matches("\"b\"", "\"a\"", 0));
  EXPECT_TRUE(if_range_matches("Sun, 06 Nov 1994 08:49:37 GMT", "\"a\"", kExample));
  EXPECT_FALSE(if_range_matches("Sun, 06 Nov 1994 08:49:38 GMT", "\"a\"", kExample));  // exact match only
  EXPECT_FALSE(if_range_matches("garbage", "\"a\"", kExample));
}

TEST(Etag, NotModified) {
  const std::string tag = make_etag(100, 5);
  EXPECT_TRUE(is_not_modified(tag, std::nullopt, tag, kExample));
  EXPECT_FALSE(is_not_modified("\"other\"", std::nullopt, tag, kExample));
  // If-None-Match present: If-Modified-Since is not looked at.
  EXPECT_FALSE(is_not_modified("\"other\"", "Sun, 06 Nov 1994 08:49:37 GMT", tag, kExample));
  EXPECT_TRUE(is_not_modified(std::nullopt, "Sun, 06 Nov 1994 08:49:37 GMT", tag, kExample));
  EXPECT_TRUE(is_not_modified(std::nullopt, "Mon, 07 Nov 1994 00:00:00 GMT", tag, kExample));
  EXPECT_FALSE(is_not_modified(std::nullopt, "Sun, 06 Nov 1994 08:49:36 GMT", tag, kExample));
  EXPECT_FALSE(is_not_modified(std::nullopt, "yesterday", tag, kExample));
  EXPECT_FALSE(is_not_modified(std::nullopt, std::nullopt, tag, kExample));
}

}  // namespace
}  // namespace waitless::web
