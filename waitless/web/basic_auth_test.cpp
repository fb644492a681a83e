#include "waitless/web/basic_auth.hpp"

#include <gtest/gtest.h>

#include <string>

#include "waitless/web/base64.hpp"

namespace waitless::web {
namespace {

std::string basic(std::string_view credentials) {
  std::string v = "Basic ";
  append_base64(credentials, v);
  return v;
}

TEST(BasicAuth, ParsesCredentials) {
  // RFC 7617 2: "Aladdin" / "open sesame".
  auto c = parse_basic_auth("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->user, "Aladdin");
  EXPECT_EQ(c->password, "open sesame");
  c = parse_basic_auth("bAsIc   " + basic("user:pa:ss:").substr(6));  // split at the first colon
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->user, "user");
  EXPECT_EQ(c->password, "pa:ss:");
  c = parse_basic_auth(basic(":"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->user, "");
  EXPECT_EQ(c->password, "");
  // RFC 7617 2.1's UTF-8 example: "test" / "123£".
  c = parse_basic_auth("Basic dGVzdDoxMjPCow==");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->password, "123\xc2\xa3");
}

TEST(BasicAuth, RefusesWhatIsNotStrict) {
  EXPECT_EQ(parse_basic_auth("").error(), AuthError::missing);
  EXPECT_EQ(parse_basic_auth("Bearer abc").error(), AuthError::missing);
  EXPECT_EQ(parse_basic_auth("Basic").error(), AuthError::missing);
  EXPECT_EQ(parse_basic_auth("BasicQWxh").error(), AuthError::missing);
  for (const std::string& bad :
       {std::string("Basic "), std::string("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ"),  // padding missing
        std::string("Basic QWxhZGRpbjpvcGVuIHNlc2FtZR=="),                       // stray bits
        std::string("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== "), std::string("Basic QWxh ZGRp"),
        std::string("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==,x"), basic("no colon"), basic("user:pa\x01ss"),
        basic("us\x7f"
              "er:x"),
        basic("user:caf\xe9"), basic("user:\n")}) {
    EXPECT_EQ(parse_basic_auth(bad).error(), AuthError::malformed) << bad;
  }
}

TEST(BasicAuth, Challenges) {
  EXPECT_EQ(www_authenticate_basic("admin area").value(), "Basic realm=\"admin area\", charset=\"UTF-8\"");
  EXPECT_EQ(www_authenticate_basic("a\"b\\c").value(), "Basic realm=\"a\\\"b\\\\c\", charset=\"UTF-8\"");
  EXPECT_EQ(www_authenticate_basic("a\r\nX: y").error(), AuthError::bad_parameter);
  EXPECT_EQ(www_authenticate_bearer("api").value(), "Bearer realm=\"api\"");
  EXPECT_EQ(www_authenticate_bearer("api", "invalid_token", "The access token expired").value(),
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The access token expired\"");
  EXPECT_EQ(www_authenticate_bearer("api", "", "x\x01").error(), AuthError::bad_parameter);
}

TEST(BasicAuth, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret "));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_TRUE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace waitless::web
