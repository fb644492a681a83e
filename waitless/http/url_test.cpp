#include "waitless/http/url.hpp"

#include <gtest/gtest.h>

namespace waitless::http {
namespace {

TEST(Url, SplitsAnAbsoluteHttpUrl) {
  auto u = parse_url("http://example.com:8080/a/b?x=1&y#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8080);
  EXPECT_FALSE(u->ipv6);
  EXPECT_EQ(u->authority, "example.com:8080");
  EXPECT_EQ(u->path, "/a/b");
  EXPECT_EQ(u->query, "x=1&y");
  EXPECT_EQ(u->target, "/a/b?x=1&y");
}

TEST(Url, DefaultsAndShortForms) {
  auto u = parse_url("HTTP://h");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "");
  EXPECT_EQ(u->authority, "h");
  u = parse_url("http://h:/p");  // empty port: the default
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->authority, "h:");
  u = parse_url("http://h?q=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->query, "q=1");
  EXPECT_EQ(u->target, "?q=1");
  u = parse_url("http://127.0.0.1:65535#x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 65535);
  EXPECT_EQ(u->target, "");
}

TEST(Url, Ipv6Literal) {
  auto u = parse_url("http://[::1]:9000/x");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->ipv6);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->authority, "[::1]:9000");
  u = parse_url("http://[fe80::1]");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
}

TEST(Url, RefusesWhatItCannotSendSafely) {
  for (const char* bad : {"",
                          "example.com/x",
                          "://h/",
                          "httpx://h/",
                          "ftp://h/",
                          "http:///x",
                          "http://u@h/",
                          "http://u:p@h/",
                          "http://h:0/",
                          "http://h:65536/",
                          "http://h:12a/",
                          "http://h:123456/",
                          "http://[::1/",
                          "http://[zz]/",
                          "http://[1.2.3.4]/",
                          "http://[::1]x/",
                          "http://h/a b",
                          "http://h/a\r\nX: y",
                          "http://h/\x7f",
                          "http://h/caf\xc3\xa9",
                          "http://h o/",
                          "http://h/#a b"}) {
    auto u = parse_url(bad);
    EXPECT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error(), make_error_code(Error::invalid_argument)) << bad;
  }
}

}  // namespace
}  // namespace waitless::http
