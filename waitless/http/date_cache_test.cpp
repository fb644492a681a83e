#include "waitless/http/date_cache.hpp"

#include <gtest/gtest.h>

namespace waitless::http {
namespace {

TEST(HttpDateCache, FormatsImfFixdate) {
  char buf[DateCache::kValueSize];
  format_http_date(784111777, buf);  // RFC 9110's example
  EXPECT_EQ(std::string_view(buf, sizeof buf), "Sun, 06 Nov 1994 08:49:37 GMT");
  format_http_date(0, buf);
  EXPECT_EQ(std::string_view(buf, sizeof buf), "Thu, 01 Jan 1970 00:00:00 GMT");
  format_http_date(4102444799, buf);
  EXPECT_EQ(std::string_view(buf, sizeof buf), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(HttpDateCache, LineAndRefresh) {
  DateCache cache;
  EXPECT_TRUE(cache.refresh(784111777));
  EXPECT_EQ(cache.line(), "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  EXPECT_FALSE(cache.refresh(784111777));  // same second: nothing to do
  EXPECT_TRUE(cache.refresh(784111778));
  EXPECT_EQ(cache.value(), "Sun, 06 Nov 1994 08:49:38 GMT");
}

}  // namespace
}  // namespace waitless::http
