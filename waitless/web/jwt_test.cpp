#include "waitless/web/jwt.hpp"

#include <gtest/gtest.h>

#include <string>

#include "waitless/web/base64.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

// Vectors made once with Node 20 (crypto.createHmac('sha256',
// kKey).update(signing_input).digest('base64url'), Buffer.from(json).toString('base64url') for the parts), so
// that signing and verification are checked against another implementation:
//   header  {"alg":"HS256","typ":"JWT"}
//   kValid    {"sub":"user-1","iss":"https://id.example","aud":["api","other"],"iat":1700000000,
//              "nbf":1700000000,"exp":1700003600}
//   kAlgNone  the same claims, header {"alg":"none","typ":"JWT"}, empty signature
//   kHs384    the same claims, header {"alg":"HS384","typ":"JWT"}, signed with HMAC-SHA384
//   kOtherKey the same claims signed with "another-secret-that-is-also-32-bytes-or-more"
//   kAudString {"aud":"api","exp":1700003600,"sub":"x"}
//   kUnicode  header { "typ" : "JWT" , "alg" : "HS256" }, claims {"sub":"caf\u00e9 \ud83d\ude00 \"q\"",
//             "exp":1.7000036e9}
//   kNoExp    {"sub":"x"}
constexpr std::string_view kKey = "a-string-secret-at-least-256-bits-long";
constexpr std::string_view kValid =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUiLCJhdWQiOlsiYXBp"
    "Iiwib3RoZXIiXSwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0."
    "OigudJb4CGUa3vxtArt8Ky6hN"
    "rwl5VoxgbPl1cpANIk";
constexpr std::string_view kAlgNone =
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
    "eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUiLCJhdWQiOlsiYXBp"
    "Iiwib3RoZXIiXSwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0.";
constexpr std::string_view kHs384 =
    "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUiLCJhdWQiOlsiYXBp"
    "Iiwib3RoZXIiXSwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0."
    "9VBrTHvMGW2f3vooijLQDpcIr"
    "9OiaK0OYtG-cR9eswcvJwxCmqHm-IyIveBNIE51";
constexpr std::string_view kOtherKey =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUiLCJhdWQiOlsiYXBp"
    "Iiwib3RoZXIiXSwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0.Mb4rIIZgMN2XbdDzq1_"
    "8BADj9"
    "xHypCB_LkRyN1bGZUg";
constexpr std::string_view kAudString =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJhcGkiLCJleHAiOjE3MDAwMDM2MDAsInN1YiI6IngifQ."
    "uQAlxPhzDlRbKTSwIq"
    "DVFxYT5aO6TCWkIEIQqqqXgyU";
constexpr std::string_view kUnicode =
    "eyAidHlwIiA6ICJKV1QiICwgImFsZyIgOiAiSFMyNTYiIH0."
    "eyJzdWIiOiJjYWZcdTAwZTkgXHVkODNkXHVkZTAwIFwicVwiIiwiZXhwIjoxLj"
    "cwMDAwMzZlOX0.gN9oj2NhQeKM5lfyou094EMLOgbXEVVtkA-__Dospxo";
constexpr std::string_view kNoExp =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.OWHGEeKFaKfc5AwioNaMlu2eYPx9rwFnzgvno6_EM3k";

JwtVerifyOptions at(int64_t unix_seconds, JwtVerifyOptions o = {}) {
  o.now = Clock::time_point(std::chrono::seconds(unix_seconds));
  return o;
}

TEST(Jwt, VerifiesNodeSignedTokens) {
  auto jwt =
      verify_jwt_hs256(kValid, kKey, at(1700000100, {.issuer = "https://id.example", .audience = "other"}));
  ASSERT_TRUE(jwt.ok()) << jwt.error().message();
  EXPECT_EQ(jwt->subject, "user-1");
  EXPECT_EQ(jwt->issuer, "https://id.example");
  EXPECT_EQ(jwt->audience, (std::vector<std::string>{"api", "other"}));
  EXPECT_EQ(jwt->expires_at, 1700003600.0);
  EXPECT_EQ(jwt->not_before, 1700000000.0);
  EXPECT_EQ(jwt->issued_at, 1700000000.0);
  EXPECT_EQ(jwt->header_json, R"({"alg":"HS256","typ":"JWT"})");
  EXPECT_TRUE(jwt->payload_json.starts_with(R"({"sub":"user-1",)"));

  auto aud = verify_jwt_hs256(kAudString, kKey, at(1700000000, {.audience = "api"}));
  ASSERT_TRUE(aud.ok());
  EXPECT_EQ(aud->audience, std::vector<std::string>{"api"});
  auto uni = verify_jwt_hs256(kUnicode, kKey, at(1700000000));
  ASSERT_TRUE(uni.ok()) << uni.error().message();
  EXPECT_EQ(uni->subject, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"");
  EXPECT_EQ(uni->expires_at, 1700003600.0);
}

// RFC 7515 appendix A.1: the HS256 example (a JWK key; CRLF and spaces inside the JSON; exp in 2011).
TEST(Jwt, Rfc7515AppendixA1) {
  std::string key;
  ASSERT_TRUE(decode_base64url(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow", key));
  const std::string_view token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
      "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  auto jwt = verify_jwt_hs256(token, key, at(1300819379, {.issuer = "joe"}));
  ASSERT_TRUE(jwt.ok()) << jwt.error().message();
  EXPECT_EQ(jwt->issuer, "joe");
  EXPECT_EQ(verify_jwt_hs256(token, key, at(1300819380)).error(), JwtError::expired);  // exp is exclusive
}

TEST(Jwt, RefusesAlgorithmsOtherThanHs256) {
  EXPECT_EQ(verify_jwt_hs256(kAlgNone, kKey, at(1700000100)).error(), JwtError::alg_not_allowed);
  EXPECT_EQ(verify_jwt_hs256(kHs384, kKey, at(1700000100)).error(), JwtError::alg_not_allowed);
  // Headers built by hand (signature irrelevant: alg is checked first).
  for (std::string_view header : {R"({})", R"({"typ":"JWT"})", R"({"alg":"hs256"})", R"({"alg":"RS256"})",
                                  R"({"alg":["HS256"]})", R"({"alg":null})", R"({"alg":"HS256 "})"}) {
    std::string token;
    append_base64url(header, token);
    token += ".e30.AAAA";
    EXPECT_EQ(verify_jwt_hs256(token, kKey, at(0)).error(), JwtError::alg_not_allowed) << header;
  }
  std::string crit;
  append_base64url(R"({"alg":"HS256","crit":["exp"],"exp":1})", crit);
  EXPECT_EQ(verify_jwt_hs256(crit + ".e30.AAAA", kKey, at(0)).error(), JwtError::malformed);
  std::string dup;
  append_base64url(R"({"alg":"none","alg":"HS256"})", dup);
  EXPECT_EQ(verify_jwt_hs256(dup + ".e30.AAAA", kKey, at(0)).error(), JwtError::malformed);
}

TEST(Jwt, RefusesBadSignatures) {
  EXPECT_EQ(verify_jwt_hs256(kOtherKey, kKey, at(1700000100)).error(), JwtError::bad_signature);
  EXPECT_EQ(verify_jwt_hs256(kValid, "a-string-secret-at-least-256-bits-lonG", at(1700000100)).error(),
            JwtError::bad_signature);
  // Every single-character change of the signature (a valid base64url spelling) is refused.
  const std::size_t sig = kValid.rfind('.') + 1;
  for (std::size_t i = sig; i < kValid.size(); ++i) {
    std::string t(kValid);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    auto r = verify_jwt_hs256(t, kKey, at(1700000100));
    EXPECT_TRUE(r.error() == JwtError::bad_signature || r.error() == JwtError::malformed) << i;
  }
  // A truncated signature, a payload changed after signing (sub "user-2").
  EXPECT_EQ(verify_jwt_hs256(kValid.substr(0, kValid.size() - 3), kKey, at(1700000100)).error(),
            JwtError::bad_signature);
  const std::size_t d1 = kValid.find('.'), d2 = kValid.rfind('.');
  std::string payload;
  ASSERT_TRUE(decode_base64url(kValid.substr(d1 + 1, d2 - d1 - 1), payload));
  payload.replace(payload.find("user-1"), 6, "user-2");
  std::string forged(kValid.substr(0, d1 + 1));
  append_base64url(payload, forged);
  forged += kValid.substr(d2);
  EXPECT_EQ(verify_jwt_hs256(forged, kKey, at(1700000100)).error(), JwtError::bad_signature);
  EXPECT_EQ(verify_jwt_hs256(kValid, "short-key", at(1700000100)).error(), JwtError::weak_key);
}

TEST(Jwt, RefusesMalformedTokens) {
  const std::string v(kValid);
  const std::size_t d1 = v.find('.'), d2 = v.rfind('.');
  for (const std::string& bad :
       {std::string(), std::string("a.b"), v + ".x", std::string("..."),
        v.substr(0, d1) + ".." + v.substr(d2 + 1), "=" + v, v.substr(0, d1) + "=" + v.substr(d1), v + "=",
        v.substr(0, d2) + "." + v.substr(d2 + 1) + " ", std::string("Bearer ") + v,
        std::string("bm90anNvbg.e30.") + v.substr(d2 + 1)}) {
    EXPECT_EQ(verify_jwt_hs256(bad, kKey, at(1700000100)).error(), JwtError::malformed) << bad;
  }
  EXPECT_EQ(verify_jwt_hs256(kValid, kKey, at(1700000100, {.max_token_size = kValid.size() - 1})).error(),
            JwtError::malformed);
  // Signed by us, but claims of the wrong type, or a payload that is not an object.
  for (std::string_view payload :
       {R"({"exp":"1700003600"})", R"({"exp":1,"iss":5})", R"({"aud":["a",1]})", R"({"sub":null})",
        R"({"nbf":true})", R"({"exp":1,"exp":2})", R"( {"a":)"}) {
    auto token = sign_jwt_hs256(payload, kKey);
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(verify_jwt_hs256(*token, kKey, at(0)).error(), JwtError::malformed) << payload;
  }
  EXPECT_EQ(sign_jwt_hs256("[1]", kKey).error(), JwtError::malformed);
  EXPECT_EQ(sign_jwt_hs256("{}", "short").error(), JwtError::weak_key);
}

TEST(Jwt, TimeClaimsWithClockSkew) {
  auto err = [](int64_t now, JwtVerifyOptions o = {}) {
    return verify_jwt_hs256(kValid, kKey, at(now, o)).error();
  };
  EXPECT_EQ(err(1700000000), std::error_code{});  // nbf is inclusive
  EXPECT_EQ(err(1699999999), JwtError::not_yet_valid);
  EXPECT_EQ(err(1700003599), std::error_code{});
  EXPECT_EQ(err(1700003600), JwtError::expired);
  EXPECT_EQ(err(1699999970, {.clock_skew = 30s}), std::error_code{});
  EXPECT_EQ(err(1699999969, {.clock_skew = 30s}), JwtError::not_yet_valid);
  EXPECT_EQ(err(1700003629, {.clock_skew = 30s}), std::error_code{});
  EXPECT_EQ(err(1700003630, {.clock_skew = 30s}), JwtError::expired);
  // iat in the future (beyond the skew) is refused even without nbf.
  auto iat = sign_jwt_hs256(R"({"iat":1000,"exp":5000})", kKey);
  ASSERT_TRUE(iat.ok());
  EXPECT_EQ(verify_jwt_hs256(*iat, kKey, at(999)).error(), JwtError::not_yet_valid);
  EXPECT_EQ(verify_jwt_hs256(*iat, kKey, at(999, {.clock_skew = 1s})).error(), std::error_code{});
  // No exp: refused unless the caller allows it.
  EXPECT_EQ(verify_jwt_hs256(kNoExp, kKey, at(1)).error(), JwtError::missing_expiry);
  EXPECT_TRUE(verify_jwt_hs256(kNoExp, kKey, at(1, {.require_exp = false})).ok());
  // The system clock by default: these tokens expired in 2023.
  EXPECT_EQ(verify_jwt_hs256(kValid, kKey).error(), JwtError::expired);
}

TEST(Jwt, IssuerAndAudience) {
  auto err = [](JwtVerifyOptions o, std::string_view token = kValid) {
    return verify_jwt_hs256(token, kKey, at(1700000100, o)).error();
  };
  EXPECT_EQ(err({.issuer = "https://id.example"}), std::error_code{});
  EXPECT_EQ(err({.issuer = "https://id.example/"}), JwtError::wrong_issuer);
  EXPECT_EQ(err({.issuer = "x"}, kAudString), JwtError::wrong_issuer);  // absent
  EXPECT_EQ(err({.audience = "api"}), std::error_code{});
  EXPECT_EQ(err({.audience = "API"}), JwtError::wrong_audience);
  EXPECT_EQ(err({.audience = "api"}, kUnicode), JwtError::wrong_audience);  // absent
}

TEST(Jwt, SignsWhatNodeVerifies) {
  // Our signature over the same signing input equals Node's (HMAC is deterministic).
  auto token = sign_jwt_hs256(
      R"({"sub":"user-1","iss":"https://id.example","aud":["api","other"],"iat":1700000000,"nbf":1700000000,)"
      R"("exp":1700003600})",
      kKey);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, kValid);
  auto round = sign_jwt_hs256(R"({"sub":"me","exp":4102444800})", kKey);  // 2100-01-01
  ASSERT_TRUE(round.ok());
  auto jwt = verify_jwt_hs256(*round, kKey);
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->subject, "me");
}

TEST(Jwt, BearerToken) {
  EXPECT_EQ(bearer_token("Bearer abc.def-_~+/=="), "abc.def-_~+/==");
  EXPECT_EQ(bearer_token("bearer   x"), "x");
  EXPECT_EQ(bearer_token("Bearer"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer "), std::nullopt);
  EXPECT_EQ(bearer_token("Basic abc"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer a b"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer =abc"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer a=b"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer a\r\n"), std::nullopt);
}

}  // namespace
}  // namespace waitless::web
