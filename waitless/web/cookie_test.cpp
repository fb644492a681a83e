#include "waitless/web/cookie.hpp"

#include <gtest/gtest.h>

#include <string>

namespace waitless::web {
namespace {

using namespace std::chrono_literals;

std::string cookies(std::string_view header) {
  std::string out;
  for_each_cookie(header,
                  [&](Cookie c) { out += "[" + std::string(c.name) + "=" + std::string(c.value) + "]"; });
  return out;
}

TEST(Cookie, ParsesTheCookieHeader) {
  EXPECT_EQ(cookies(""), "");
  EXPECT_EQ(cookies("a=1"), "[a=1]");
  EXPECT_EQ(cookies("a=1; b=2;c=3 ;  d = 4 "), "[a=1][b=2][c=3][d=4]");
  EXPECT_EQ(cookies("sid=\"quoted\"; e=; f=\"\"; g=a=b"), "[sid=quoted][e=][f=][g=a=b]");
  EXPECT_EQ(cookies("a=1; a=2"), "[a=1][a=2]");  // both kept, in order (the more specific path first)
  // Lenient: malformed pairs are skipped, the others kept.
  EXPECT_EQ(cookies("novalue; =x; bad name=1; ok=1;; ;x\x01y=2; z=%41"), "[ok=1][z=%41]");
  EXPECT_EQ(cookies("q=\"half"), "[q=\"half]");
  EXPECT_EQ(find_cookie("a=1; sid=abc; sid=def", "sid"), "abc");
  EXPECT_EQ(find_cookie("a=1; SID=abc", "sid"), std::nullopt);  // names are case-sensitive
  EXPECT_EQ(find_cookie("", "a"), std::nullopt);
  int seen = 0;
  for_each_cookie("a=1; b=2; c=3", [&](Cookie) { return ++seen < 2; });
  EXPECT_EQ(seen, 2);
}

std::string set_cookie(const SetCookie& c) {
  std::string out = "prefix:";
  if (auto ec = append_set_cookie(c, out)) {
    EXPECT_EQ(out, "prefix:") << "nothing appended on an error";
    return "error: " + ec.message();
  }
  return out.substr(7);
}

TEST(Cookie, SerializesEveryAttribute) {
  EXPECT_EQ(set_cookie({.name = "a", .value = "1"}), "a=1");
  EXPECT_EQ(set_cookie({.name = "a", .value = ""}), "a=");
  EXPECT_EQ(set_cookie({.name = "a", .value = "\"q\""}), "a=\"q\"");
  // 784111777 s since the epoch is the RFC 9110 example date, Sun, 06 Nov 1994 08:49:37 GMT.
  const auto when = std::chrono::system_clock::time_point(784111777s);
  EXPECT_EQ(set_cookie({.name = "sid",
                        .value = "abc.DEF-_~!",
                        .expires = when,
                        .max_age = 3600s,
                        .domain = "example.com",
                        .path = "/app",
                        .secure = true,
                        .http_only = true,
                        .partitioned = true,
                        .same_site = SameSite::none}),
            "sid=abc.DEF-_~!; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Max-Age=3600; Domain=example.com; "
            "Path=/app; Secure; HttpOnly; SameSite=None; Partitioned");
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .same_site = SameSite::strict}), "a=1; SameSite=Strict");
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .same_site = SameSite::lax}), "a=1; SameSite=Lax");
  EXPECT_EQ(set_cookie({.name = "a", .value = "", .max_age = 0s}), "a=; Max-Age=0");
  EXPECT_EQ(set_cookie({.name = "a", .value = "", .max_age = -1s}), "a=; Max-Age=-1");
  EXPECT_EQ(set_cookie({.name = "__Secure-a", .value = "1", .secure = true}), "__Secure-a=1; Secure");
  EXPECT_EQ(set_cookie({.name = "__Host-a", .value = "1", .path = "/", .secure = true}),
            "__Host-a=1; Path=/; Secure");
}

TEST(Cookie, RefusesInvalidNamesValuesAndCombinations) {
  for (std::string_view name : {"", "a b", "a;b", "a=b", "a,b", "a\x01", "a\"", "a\x7f", "\xc3\xa9"}) {
    EXPECT_EQ(set_cookie({.name = name, .value = "1"}), "error: invalid cookie name") << name;
  }
  for (std::string_view value :
       std::initializer_list<std::string_view>{"a b", "a;b", "a,b", "a\\b", "a\"b", "\"", "\"a", "a\r\nX: y",
                                               "\x7f", "\xc3\xa9", std::string_view("a\0b", 3)}) {
    EXPECT_EQ(set_cookie({.name = "a", .value = value}), "error: invalid cookie value") << value;
  }
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .domain = "a.com; x"}), "error: invalid cookie Domain");
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .domain = "a .com"}), "error: invalid cookie Domain");
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .path = "/a\r\nX: y"}), "error: invalid cookie Path");
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .path = "/a;b"}), "error: invalid cookie Path");
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .same_site = SameSite::none}),
            "error: SameSite=None requires Secure");
  EXPECT_EQ(set_cookie({.name = "a", .value = "1", .partitioned = true}),
            "error: Partitioned requires Secure");
  const std::string prefix = "error: cookie name prefix requirements not met";
  EXPECT_EQ(set_cookie({.name = "__Secure-a", .value = "1"}), prefix);
  EXPECT_EQ(set_cookie({.name = "__Host-a", .value = "1", .path = "/"}), prefix);
  EXPECT_EQ(set_cookie({.name = "__Host-a", .value = "1", .path = "/x", .secure = true}), prefix);
  EXPECT_EQ(set_cookie({.name = "__Host-a", .value = "1", .domain = "a.com", .path = "/", .secure = true}),
            prefix);
  EXPECT_EQ(set_cookie({.name = "__Host-a", .value = "1", .secure = true}), prefix);  // no Path at all
  SetCookie c{.name = "a", .value = "1"};
  std::string out;
  EXPECT_EQ(append_set_cookie({.name = "a b", .value = "1"}, out), CookieError::bad_name);
  EXPECT_FALSE(append_set_cookie(c, out));
}

}  // namespace
}  // namespace waitless::web
