#include "waitless/http/header_map.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace waitless::http {
namespace {

TEST(HeaderMap, CaseInsensitiveLookupInOrder) {
  HeaderMap h{{"Content-Type", "text/plain"}, {"Set-Cookie", "a=1"}};
  h.add("set-cookie", "b=2");
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.get("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(h.get("missing"), "");
  EXPECT_FALSE(h.find("missing").has_value());
  EXPECT_TRUE(h.contains("content-type"));
  EXPECT_EQ(h.count("Set-Cookie"), 2u);
  EXPECT_EQ(h.get("set-cookie"), "a=1");  // the first
  std::vector<std::string> seen;
  for (Header f : h) seen.push_back(std::string(f.name) + "=" + std::string(f.value));
  EXPECT_EQ(seen, (std::vector<std::string>{"Content-Type=text/plain", "Set-Cookie=a=1", "set-cookie=b=2"}));
}

TEST(HeaderMap, SetReplacesAndRemoveDrops) {
  HeaderMap h{{"A", "1"}, {"B", "2"}, {"a", "3"}};
  h.set("A", "4");
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].name, "B");
  EXPECT_EQ(h[1].value, "4");
  EXPECT_EQ(h.remove("b"), 1u);
  EXPECT_EQ(h.remove("b"), 0u);
  EXPECT_EQ(h.size(), 1u);
  // Views into the map itself are safe to pass back in, even when the storage grows.
  for (int i = 0; i < 50; ++i) h.add(h[0].name, h[0].value);
  EXPECT_EQ(h.count("a"), 51u);
  h.set(h[3].name, h[3].value);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.get("A"), "4");
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.bytes(), 0u);
}

}  // namespace
}  // namespace waitless::http
