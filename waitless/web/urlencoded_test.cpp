#include "waitless/web/urlencoded.hpp"

#include <gtest/gtest.h>

#include <string>

namespace waitless::web {
namespace {

std::string fields(std::string_view text, const FormLimits& limits = {}) {
  FormFields f;
  if (auto ec = f.parse(text, limits)) return "error: " + ec.message();
  std::string out;
  for (auto [k, v] : f) out += "[" + std::string(k) + "=" + std::string(v) + "]";
  return out;
}

TEST(UrlEncoded, DecodesPairsInOrder) {
  EXPECT_EQ(fields(""), "");
  EXPECT_EQ(fields("a=1&b=2"), "[a=1][b=2]");
  EXPECT_EQ(fields("a=1&b=x+y&a=%C3%a9"), "[a=1][b=x y][a=\xc3\xa9]");
  EXPECT_EQ(fields("&&a&=v&b=&c==d&"), "[a=][=v][b=][c==d]");  // empty pairs skipped, first '=' splits
  EXPECT_EQ(fields("k%3D%26=v%3d%26%2B+"), "[k=&=v=&+ ]");     // encoded separators are data
  EXPECT_EQ(fields("a;b=1"), "[a;b=1]");                       // ';' is no separator (WHATWG)
  EXPECT_EQ(fields("%00=%ff"), std::string("[\0=\xff]", 5));   // bytes, not checked as UTF-8
}

TEST(UrlEncoded, RefusesInvalidPercentEncoding) {
  for (std::string_view bad : {"%", "a=%", "a=%4", "a=%4g", "%zz=1", "a=1&b=%%41", "a=%+1", "a=% 1"}) {
    FormFields f;
    EXPECT_EQ(f.parse(bad), FormError::bad_percent_encoding) << bad;
    EXPECT_TRUE(f.empty());
  }
  std::string out;
  EXPECT_TRUE(percent_decode("a+b%2B", out, false));
  EXPECT_EQ(out, "a+b+");
  EXPECT_FALSE(percent_decode("%2", out, false));
}

TEST(UrlEncoded, LimitsAtTheirEdges) {
  FormLimits limits;
  limits.max_pairs = 3;
  limits.max_size = 11;
  EXPECT_EQ(fields("a=1&b=2&c=3", limits), "[a=1][b=2][c=3]");  // 3 pairs, 11 bytes
  EXPECT_EQ(fields("a=1&b=2&c=34", limits), "error: form data too large");
  EXPECT_EQ(fields("a&b&c&d", limits), "error: too many form fields");
  EXPECT_EQ(fields("a&b&c&&&", limits), "[a=][b=][c=]");  // empty pairs do not count
  FormFields f;
  EXPECT_EQ(f.parse("a&b&c&d", limits), FormError::too_many_pairs);
  EXPECT_TRUE(f.empty());
}

TEST(UrlEncoded, LookupAndReuse) {
  FormFields f;
  ASSERT_FALSE(f.parse("tag=a&x=1&tag=b&tag=c"));
  EXPECT_EQ(f.get("tag"), "a");
  EXPECT_EQ(f.get("TAG"), std::nullopt);  // keys are case-sensitive
  EXPECT_EQ(f.count("tag"), 3u);
  EXPECT_EQ(f.all("tag"), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_EQ(f.size(), 4u);
  EXPECT_EQ(f[1].key, "x");
  FormFields copy = f;  // offsets, not views: the copy reads its own text
  ASSERT_FALSE(f.parse("y=2"));
  EXPECT_EQ(f.get("x"), std::nullopt);
  EXPECT_EQ(f.get("y"), "2");
  EXPECT_EQ(copy.get("x"), "1");
  EXPECT_EQ(copy.all("tag").back(), "c");
}

}  // namespace
}  // namespace waitless::web
