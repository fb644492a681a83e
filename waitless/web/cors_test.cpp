#include "waitless/web/cors.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using http::testing::get;
using test::request;
using test::serve;

std::string preflight(std::string_view path, std::string_view origin, std::string_view extra = {}) {
  return "OPTIONS " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nOrigin: " + std::string(origin) +
         "\r\nAccess-Control-Request-Method: PUT\r\n" + std::string(extra) + "\r\n";
}

TEST(Cors, AnyOriginByDefault) {
  App app;
  app.use(cors());
  app.get("/x", [](Request&, Response& res) { res.send("x"); });
  app.put("/x", [](Request&, Response& res) { res.send("put"); });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/x", "Origin: https://a.example\r\n"));
    EXPECT_EQ(r.body, "x");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
    EXPECT_FALSE(r.has("Vary"));
    EXPECT_FALSE(r.has("Access-Control-Allow-Credentials"));
    EXPECT_EQ(request(port, get("/x")).header("Access-Control-Allow-Origin"), "*");

    auto p = request(port, preflight("/x", "https://a.example",
                                     "Access-Control-Request-Headers: X-Token, Content-Type\r\n"));
    EXPECT_EQ(p.status, 204);
    EXPECT_EQ(p.body, "");
    EXPECT_EQ(p.header("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(p.header("Access-Control-Allow-Methods"), "GET, HEAD, PUT, PATCH, POST, DELETE");
    EXPECT_EQ(p.header("Access-Control-Allow-Headers"), "X-Token, Content-Type");
    EXPECT_EQ(p.header("Vary"), "Access-Control-Request-Headers");
    EXPECT_FALSE(p.has("Access-Control-Max-Age"));
    // A plain OPTIONS is not a preflight: the router's answer.
    auto o = request(port, "OPTIONS /x HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\n\r\n");
    EXPECT_EQ(o.status, 204);
    EXPECT_EQ(o.header("Allow"), "GET, HEAD, PUT, OPTIONS");
  });
}

TEST(Cors, AllowListCredentialsAndMaxAge) {
  App app;
  app.use(cors({.origins = {"https://app.example", "http://localhost:3000"},
                .allowed_headers = {"Content-Type", "Authorization"},
                .exposed_headers = {"X-Total"},
                .credentials = true,
                .max_age = 600s}));
  app.get("/x", [](Request&, Response& res) { res.send("x"); });
  serve(app, [&](uint16_t port) {
    auto ok = request(port, get("/x", "Origin: https://app.example\r\n"));
    EXPECT_EQ(ok.header("Access-Control-Allow-Origin"), "https://app.example");
    EXPECT_EQ(ok.header("Access-Control-Allow-Credentials"), "true");
    EXPECT_EQ(ok.header("Access-Control-Expose-Headers"), "X-Total");
    EXPECT_EQ(ok.header("Vary"), "Origin");
    auto other = request(port, get("/x", "Origin: https://evil.example\r\n"));
    EXPECT_EQ(other.status, 200);  // served; the browser withholds it
    EXPECT_FALSE(other.has("Access-Control-Allow-Origin"));
    EXPECT_FALSE(other.has("Access-Control-Allow-Credentials"));
    EXPECT_EQ(other.header("Vary"), "Origin");
    EXPECT_FALSE(
        request(port, get("/x", "Origin: https://APP.example\r\n")).has("Access-Control-Allow-Origin"));
    EXPECT_FALSE(request(port, get("/x", "Origin: null\r\n")).has("Access-Control-Allow-Origin"));
    EXPECT_FALSE(request(port, get("/x")).has("Access-Control-Allow-Origin"));

    auto p = request(port,
                     preflight("/x", "http://localhost:3000", "Access-Control-Request-Headers: X-Other\r\n"));
    EXPECT_EQ(p.status, 204);
    EXPECT_EQ(p.header("Access-Control-Allow-Origin"), "http://localhost:3000");
    EXPECT_EQ(p.header("Access-Control-Allow-Credentials"), "true");
    EXPECT_EQ(p.header("Access-Control-Allow-Headers"), "Content-Type, Authorization");
    EXPECT_EQ(p.header("Access-Control-Max-Age"), "600");
    EXPECT_EQ(p.header("Vary"), "Origin");
    auto bad = request(port, preflight("/x", "https://evil.example"));
    EXPECT_EQ(bad.status, 204);
    EXPECT_FALSE(bad.has("Access-Control-Allow-Origin"));
    EXPECT_FALSE(bad.has("Access-Control-Allow-Methods"));
  });
}

TEST(Cors, OriginFunctionAndPreflightContinue) {
  App app;
  app.use(cors({.allow_origin = [](std::string_view o) { return o.ends_with(".example.com"); },
                .preflight_continue = true}));
  app.get("/x", [](Request&, Response& res) { res.set_header("Vary", "Accept").send("x"); });
  app.options("/x", [](Request&, Response& res) { res.status(200).send("mine"); });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/x", "Origin: https://a.example.com\r\n"));
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://a.example.com");
    EXPECT_EQ(r.header("Vary"), "Origin");
    EXPECT_FALSE(
        request(port, get("/x", "Origin: https://example.org\r\n")).has("Access-Control-Allow-Origin"));
    auto p = request(port, preflight("/x", "https://a.example.com"));
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.body, "mine");
    EXPECT_EQ(p.header("Access-Control-Allow-Methods"), "GET, HEAD, PUT, PATCH, POST, DELETE");
  });
}

TEST(Cors, BadOptionsAreRefusedAtStartup) {
  EXPECT_THROW(cors({.methods = {"GET", "BAD METHOD"}}), std::invalid_argument);
  EXPECT_THROW(cors({.allowed_headers = {"X:Y"}}), std::invalid_argument);
  EXPECT_THROW(cors({.origins = {"https://a\r\nX: y"}}), std::invalid_argument);
  EXPECT_THROW(cors({.preflight_status = 404}), std::invalid_argument);
}

}  // namespace
}  // namespace waitless::web
