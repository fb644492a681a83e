#include "apps/demo/pbkdf2.hpp"

#include <gtest/gtest.h>

namespace waitless::demo {
namespace {

// RFC 7914 section 11's PBKDF2-HMAC-SHA256 test vector (P="passwd", S="salt", c=1, dkLen=64): its first
// 32 bytes.
TEST(DemoPbkdf2, Rfc7914Vector) {
  EXPECT_EQ(pbkdf2_sha256_hex("passwd", "salt", 1),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
}

TEST(DemoPbkdf2, PasswordRoundTrip) {
  const std::string stored = hash_password("s3cret", "0123456789abcdef", 1000);
  EXPECT_TRUE(stored.starts_with("pbkdf2_sha256$1000$0123456789abcdef$"));
  EXPECT_TRUE(verify_password("s3cret", stored));
  EXPECT_FALSE(verify_password("s3cret!", stored));
  EXPECT_FALSE(verify_password("s3cret", "pbkdf2_sha256$x$salt$00"));
  EXPECT_FALSE(verify_password("s3cret", "plain"));
}

TEST(DemoPbkdf2, RandomHex) {
  EXPECT_EQ(random_hex(16).size(), 32u);
  EXPECT_NE(random_hex(16), random_hex(16));
}

}  // namespace
}  // namespace waitless::demo
