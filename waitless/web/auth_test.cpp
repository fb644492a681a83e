#include "waitless/web/auth.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "waitless/web/app_test_support.hpp"
#include "waitless/web/base64.hpp"
#include "waitless/web/basic_auth.hpp"
#include "waitless/web/jwt.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using http::testing::get;
using test::request;
using test::serve;

const std::string kKey = "0123456789abcdef0123456789abcdef";  // 32 bytes

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string token(const std::string& claims, const std::string& key = kKey) {
  auto t = sign_jwt_hs256(claims, key);
  EXPECT_TRUE(t.ok());
  return t ? *t : std::string();
}

std::string bearer(const std::string& t) { return "Authorization: Bearer " + t + "\r\n"; }

std::string b64url(std::string_view s) {
  std::string out;
  append_base64url(s, out);
  return out;
}

std::string base64_encode(std::string_view s) {
  std::string out;
  append_base64(s, out);
  return out;
}

TEST(BearerJwt, AcceptsAValidTokenAndRefusesEveryBadOne) {
  App app;
  app.use(errors());
  app.use(bearer_jwt({.secret = kKey, .issuer = "https://id.example", .audience = "api", .clock_skew = 5s}));
  app.get("/me", [](Request& req, Response& res) {
    const Identity* id = identity(req);
    res.send(id ? id->scheme + ":" + id->subject : "anonymous");
  });
  const int64_t now = unix_now();
  auto claims = [&](int64_t exp, std::string extra = {}) {
    return "{\"sub\":\"alice\",\"iss\":\"https://id.example\",\"aud\":\"api\",\"exp\":" +
           std::to_string(exp) + extra + "}";
  };
  const std::string good = token(claims(now + 60));
  serve(app, [&](uint16_t port) {
    auto ok = request(port, get("/me", bearer(good)));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "Bearer:alice");

    auto none = request(port, get("/me"));
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"api\"");
    EXPECT_EQ(none.header("Content-Type"), "application/problem+json");

    auto expired = request(port, get("/me", bearer(token(claims(now - 60)))));
    EXPECT_EQ(expired.status, 401);
    EXPECT_EQ(expired.header("WWW-Authenticate")
                  .rfind("Bearer realm=\"api\", error=\"invalid_token\", "
                         "error_description=\"",
                         0),
              0u);
    // Within the clock skew: still accepted.
    EXPECT_EQ(request(port, get("/me", bearer(token(claims(now - 2))))).status, 200);
    EXPECT_EQ(
        request(port, get("/me", bearer(token(claims(now + 60, ",\"nbf\":" + std::to_string(now + 600))))))
            .status,
        401);
    auto wrong_sig = request(port, get("/me", bearer(token(claims(now + 60), std::string(32, 'z')))));
    EXPECT_EQ(wrong_sig.status, 401);
    EXPECT_NE(wrong_sig.header("WWW-Authenticate").find("invalid_token"), std::string::npos);
    // A signature bit flipped.
    std::string flipped = good;
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(request(port, get("/me", bearer(flipped))).status, 401);
    // alg: none, and HS512 with the right key's HMAC-SHA256 signature: refused.
    const std::string body = b64url(claims(now + 60));
    const std::string none_token = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + body + ".";
    EXPECT_EQ(request(port, get("/me", bearer(none_token))).status, 401);
    const std::string good_sig = good.substr(good.rfind('.'));
    const std::string hs512 = b64url("{\"alg\":\"HS512\",\"typ\":\"JWT\"}") + "." + body + good_sig;
    EXPECT_EQ(request(port, get("/me", bearer(hs512))).status, 401);
    // Issuer and audience.
    EXPECT_EQ(request(port, get("/me", bearer(token("{\"sub\":\"a\",\"iss\":\"https://evil\",\"aud\":\"api\","
                                                    "\"exp\":" +
                                                    std::to_string(now + 60) + "}"))))
                  .status,
              401);
    EXPECT_EQ(request(port, get("/me", bearer(token("{\"sub\":\"a\",\"iss\":\"https://id.example\","
                                                    "\"aud\":[\"other\",\"api\"],\"exp\":" +
                                                    std::to_string(now + 60) + "}"))))
                  .status,
              200);
    EXPECT_EQ(request(port, get("/me", bearer(token("{\"sub\":\"a\",\"iss\":\"https://id.example\","
                                                    "\"exp\":" +
                                                    std::to_string(now + 60) + "}"))))
                  .status,
              401);
    // No exp: refused by default.
    EXPECT_EQ(
        request(port,
                get("/me", bearer(token("{\"sub\":\"a\",\"iss\":\"https://id.example\",\"aud\":\"api\"}"))))
            .status,
        401);
    // Other schemes and garbage.
    auto basic = request(port, get("/me", "Authorization: Basic YTpi\r\n"));
    EXPECT_EQ(basic.status, 401);
    EXPECT_NE(basic.header("WWW-Authenticate").find("invalid_request"), std::string::npos);
    EXPECT_EQ(request(port, get("/me", "Authorization: Bearer\r\n")).status, 401);
    EXPECT_EQ(request(port, get("/me", bearer("a.b.c"))).status, 401);
    EXPECT_EQ(request(port, get("/me", bearer(std::string(9000, 'a')))).status, 401);
  });
}

TEST(BearerJwt, OptionalCredentialsAndConfigurationErrors) {
  App app;
  app.use(bearer_jwt({.secret = kKey, .credentials_required = false}));
  app.get("/me", [](Request& req, Response& res) {
    const Identity* id = identity(req);
    res.send(id ? id->subject : "anonymous");
  });
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, get("/me")).body, "anonymous");
    EXPECT_EQ(
        request(port, get("/me",
                          bearer(token("{\"sub\":\"bob\",\"exp\":" + std::to_string(unix_now() + 60) + "}"))))
            .body,
        "bob");
    EXPECT_EQ(request(port, get("/me", bearer("x.y.z"))).status, 401);
  });
  EXPECT_THROW(bearer_jwt({.secret = "short"}), std::invalid_argument);
  EXPECT_THROW(bearer_jwt({.secret = kKey, .realm = "a\nb"}), std::invalid_argument);
}

TEST(BasicAuth, VerifiesCredentialsPlainAndAsync) {
  App app;
  app.use(errors());
  app.use("/plain", basic_auth({.verify =
                                    [](std::string_view u, std::string_view p) {
                                      return u == "admin" && constant_time_equal(p, "s3cret:x");
                                    },
                                .realm = "admin area"}));
  app.use("/async", basic_auth({.verify_async = [](std::string u, std::string p) -> Task<bool> {
            co_await sleep(1ms);
            co_return u == "bob" && p == "pw";
          }}));
  app.get("/plain/x", [](Request& req, Response& res) { res.send(identity(req)->subject); });
  app.get("/async/x", [](Request& req, Response& res) { res.send(identity(req)->subject); });
  auto basic = [](std::string_view user_pass) {
    return "Authorization: Basic " + base64_encode(user_pass) + "\r\n";
  };
  serve(app, [&](uint16_t port) {
    auto ok = request(port, get("/plain/x", basic("admin:s3cret:x")));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "admin");
    auto bad = request(port, get("/plain/x", basic("admin:wrong")));
    EXPECT_EQ(bad.status, 401);
    EXPECT_EQ(bad.header("WWW-Authenticate"), "Basic realm=\"admin area\", charset=\"UTF-8\"");
    EXPECT_EQ(request(port, get("/plain/x")).status, 401);
    EXPECT_EQ(request(port, get("/plain/x", "Authorization: Basic !!!\r\n")).status, 401);
    EXPECT_EQ(
        request(port, get("/plain/x", "Authorization: Basic " + base64_encode("nocolon") + "\r\n")).status,
        401);
    EXPECT_EQ(request(port, get("/async/x", basic("bob:pw"))).body, "bob");
    auto abad = request(port, get("/async/x", basic("bob:no")));
    EXPECT_EQ(abad.status, 401);
    EXPECT_EQ(abad.header("WWW-Authenticate"), "Basic realm=\"restricted\", charset=\"UTF-8\"");
  });
  EXPECT_THROW(basic_auth({}), std::invalid_argument);
}

TEST(Authenticate, CustomScheme) {
  App app;
  app.use(authenticate(
      {.challenge = "ApiKey realm=\"api\"", .verify = [](Request& req) -> std::optional<Identity> {
         if (req.header("X-Api-Key") != "k1") return std::nullopt;
         return Identity{.subject = "service-1"};
       }}));
  app.get("/x", [](Request& req, Response& res) {
    res.send(identity(req)->scheme + ":" + identity(req)->subject);
  });
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, get("/x", "X-Api-Key: k1\r\n")).body, "ApiKey:service-1");
    auto no = request(port, get("/x", "X-Api-Key: k2\r\n"));
    EXPECT_EQ(no.status, 401);
    EXPECT_EQ(no.header("WWW-Authenticate"), "ApiKey realm=\"api\"");
  });
  EXPECT_THROW(authenticate({.challenge = "", .verify = [](Request&) { return std::optional<Identity>{}; }}),
               std::invalid_argument);
}

}  // namespace
}  // namespace waitless::web
