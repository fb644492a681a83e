#include "waitless/web/base64.hpp"

#include <gtest/gtest.h>

#include <string>

#include "waitless/web/utf8.hpp"

namespace waitless::web {
namespace {

std::string b64(std::string_view s) {
  std::string out;
  append_base64(s, out);
  return out;
}
std::string b64url(std::string_view s) {
  std::string out;
  append_base64url(s, out);
  return out;
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(b64(plain), encoded);
    std::string out;
    ASSERT_TRUE(decode_base64(encoded, out)) << encoded;
    EXPECT_EQ(out, plain);
    std::string unpadded(encoded.substr(0, encoded.find('=')));
    EXPECT_EQ(b64url(plain), unpadded);
    out.clear();
    ASSERT_TRUE(decode_base64url(unpadded, out));
    EXPECT_EQ(out, plain);
  }
  EXPECT_EQ(b64("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(b64url("\xfb\xff\xbf"), "-_-_");
}

TEST(Base64, StrictDecoding) {
  std::string out = "keep";
  for (std::string_view bad : {"Zg", "Zg=", "Zm8", "Zg===", "Z===", "=Zg=", "Zg==Zg==", "Zm9v\n", " Zm9v",
                               "Zm9v-_", "Zh==", "Zm9=", "Zm!v", "Z"}) {
    EXPECT_FALSE(decode_base64(bad, out)) << bad;
  }
  for (std::string_view bad : {"Zg==", "Zg=", "+/+/", "Zh", "Zm9", "Z", "Zm9vY", "Zm9v.", "Zm 9v"}) {
    EXPECT_FALSE(decode_base64url(bad, out)) << bad;
  }
  EXPECT_EQ(out, "keep");  // nothing appended on a failure
  EXPECT_TRUE(decode_base64url("Zm9", out) == false && decode_base64url("Zm8", out));
  EXPECT_EQ(out, "keepfo");
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac\xf4\x8f\xbf\xbf\xef\xbf\xbf"));  // U+20AC, U+10FFFF, U+FFFF
  for (std::string_view bad : {"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xed\xbf\xbf",
                               "\xf5\x80\x80\x80", "\xc3\x28", "a\xe2\x82"}) {
    EXPECT_FALSE(is_valid_utf8(bad));
  }
}

}  // namespace
}  // namespace waitless::web
