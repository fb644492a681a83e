// The edge rate limit of a route, through the proxy's handler on one loop: a real upstream that counts
// what reaches it, the proxy's front server, and the HTTP client as the user.
#include "waitless/proxy/edge_limit.hpp"

#include <gtest/gtest.h>

#include "waitless/proxy/proxy_test_support.hpp"

namespace waitless::proxy {
namespace {

using http::testing::run_bounded;
using http::testing::TestServer;
using testing::config_for;
using testing::finish_all;
using testing::Front;

struct Counted {
  int requests = 0;
  http::Handler handler() {
    return [this](http::Request&, http::Response& res) -> Task<> {
      ++requests;
      (void)res.send("ok");
      co_return;
    };
  }
};

RateLimitSpec spec(double rate, uint32_t burst, std::string header = {}) {
  RateLimitSpec s;
  s.enabled = true;
  s.rate = rate;
  s.burst = burst;
  s.header = std::move(header);
  return s;
}

Task<Result<http::ClientResponse>> get(http::Client& client, std::string url, std::string api_key = {}) {
  http::ClientRequest req{.url = std::move(url)};
  if (!api_key.empty()) req.headers.add("X-Api-Key", api_key);
  co_return co_await client.request(std::move(req));
}

TEST(ProxyEdgeLimit, BurstThen429WithStandardHeadersAndTheUpstreamUntouched) {
  Loop loop;
  {
    Counted up;
    TestServer a(loop, up.handler());
    ProxyConfig cfg = config_for({a.port()});
    // 2 tokens refilled at one per 10 s: the headers are exact however slow the machine (well under 1 s).
    cfg.routes[0].rate_limit = spec(0.1, 2);
    Front front(loop, cfg);
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      for (int i = 0; i < 2; ++i) {
        auto r = co_await get(client, front.url("/x"));
        EXPECT_TRUE(r.ok());
        if (!r) co_return;
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "ok");
        EXPECT_EQ(r->header("ratelimit-policy"), "2;w=20");
        EXPECT_EQ(r->header("ratelimit-limit"), "2");
        EXPECT_EQ(r->header("ratelimit-remaining"), i == 0 ? "1" : "0");
        EXPECT_EQ(r->header("ratelimit-reset"), i == 0 ? "10" : "20");
        EXPECT_EQ(r->header("retry-after"), "");
      }
      for (int i = 0; i < 3; ++i) {
        auto r = co_await get(client, front.url("/x"));
        EXPECT_TRUE(r.ok());
        if (!r) co_return;
        EXPECT_EQ(r->status, 429);
        EXPECT_EQ(r->body, "429 too many requests\n");
        EXPECT_EQ(r->header("retry-after"), "10");
        EXPECT_EQ(r->header("ratelimit-remaining"), "0");
        EXPECT_EQ(r->header("ratelimit-reset"), "20");
      }
    }());
    EXPECT_EQ(up.requests, 2);  // the refused ones never reached it
    EXPECT_EQ(testing::metric(front.proxy, "waitless_proxy_rate_limited_total{route=\"/\"}"), 3);
    EXPECT_EQ(testing::metric(front.proxy, "waitless_proxy_requests_total{upstream=\"app\",server=\"" +
                                               testing::addr(a.port()) + "\"}"),
              2);
    finish_all(loop, {&*front.server, &a});
  }
  net::test::expect_empty(loop);
}

TEST(ProxyEdgeLimit, KeyedByAHeaderEachKeyHasItsOwnBucketAndOtherRoutesAreFree) {
  Loop loop;
  {
    Counted up;
    TestServer a(loop, up.handler());
    ProxyConfig cfg = config_for({a.port()});
    RouteSpec limited = cfg.routes[0];
    limited.prefix = "/api";
    limited.rate_limit = spec(0.1, 1, "X-Api-Key");
    cfg.routes.push_back(limited);
    Front front(loop, cfg);
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      auto status = [&](std::string path, std::string key) -> Task<int> {
        auto r = co_await get(client, front.url(path), key);
        co_return r ? r->status : -1;
      };
      EXPECT_EQ(co_await status("/api/a", "k1"), 200);
      EXPECT_EQ(co_await status("/api/a", "k1"), 429);
      EXPECT_EQ(co_await status("/api/b", "k2"), 200);  // another key
      EXPECT_EQ(co_await status("/api/b", "k2"), 429);
      EXPECT_EQ(co_await status("/api/c", ""), 200);  // no header: keyed by the client's IP
      EXPECT_EQ(co_await status("/api/c", ""), 429);
      for (int i = 0; i < 5; ++i) EXPECT_EQ(co_await status("/free", "k1"), 200);  // the "/" route: no limit
    }());
    EXPECT_EQ(up.requests, 8);
    EXPECT_EQ(testing::metric(front.proxy, "waitless_proxy_rate_limited_total{route=\"/api\"}"), 3);
    EXPECT_EQ(testing::metric(front.proxy, "waitless_proxy_rate_limited_total{route=\"/\"}"), -1);
    finish_all(loop, {&*front.server, &a});
  }
  net::test::expect_empty(loop);
}

TEST(ProxyEdgeLimit, TheStoreRuleFollowsRateAndBurst) {
  EXPECT_EQ(EdgeLimiter(spec(100, 200)).rule().limit, 200u);
  EXPECT_EQ(EdgeLimiter(spec(100, 200)).rule().window, std::chrono::milliseconds(2000));
  EXPECT_EQ(EdgeLimiter(spec(3, 1)).rule().window, std::chrono::milliseconds(333));
  EXPECT_EQ(EdgeLimiter(spec(1e6, 1)).rule().window, std::chrono::milliseconds(1));  // at least 1 ms
}

TEST(ProxyEdgeLimit, AReloadKeepsTheBucketsOfAnUnchangedRoute) {
  ProxyConfig a = config_for({1});
  a.routes[0].rate_limit = spec(10, 20);
  RouteSpec other = a.routes[0];
  other.prefix = "/other";
  a.routes.push_back(other);
  auto first = make_edge_limiters(a, nullptr, nullptr);
  ASSERT_EQ(first.size(), 2u);
  ProxyConfig b = a;
  b.routes[1].rate_limit.burst = 5;  // changed: a new limiter
  RouteSpec plain = a.routes[0];
  plain.prefix = "/plain";
  plain.rate_limit = {};
  b.routes.push_back(plain);
  auto second = make_edge_limiters(b, &a, &first);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0], first[0]);
  EXPECT_NE(second[1], first[1]);
  EXPECT_EQ(second[1]->rule().limit, 5u);
  EXPECT_EQ(second[2], nullptr);
}

}  // namespace
}  // namespace waitless::proxy

namespace waitless::proxy {
namespace {

std::string with_route(const std::string& extra) {
  return R"({"listen": "127.0.0.1:1", "upstreams": {"a": {"servers": ["127.0.0.1:2"]}},
             "routes": [{"prefix": "/", "upstream": "a")" +
         extra + "}]}";
}

TEST(ProxyEdgeLimitConfig, ParsedStrictly) {
  std::string message;
  auto c = parse_config(
      with_route(R"(, "rate_limit": {"rate": 100, "burst": 200, "key": "header:X-Api-Key"})"), &message);
  ASSERT_TRUE(c.ok()) << message;
  const RateLimitSpec& r = c->routes[0].rate_limit;
  EXPECT_TRUE(r.enabled);
  EXPECT_EQ(r.rate, 100);
  EXPECT_EQ(r.burst, 200u);
  EXPECT_EQ(r.header, "X-Api-Key");
  c = parse_config(with_route(R"(, "rate_limit": {"rate": 2.5})"), &message);
  ASSERT_TRUE(c.ok()) << message;
  EXPECT_EQ(c->routes[0].rate_limit.burst, 2u);  // burst defaults to the rate
  EXPECT_TRUE(c->routes[0].rate_limit.header.empty());
  EXPECT_FALSE(parse_config(with_route(R"(, "rate_limit": {"burst": 2})"), &message).ok());
  EXPECT_EQ(message, "routes[0].rate_limit.rate: missing");
  EXPECT_FALSE(parse_config(with_route(R"(, "rate_limit": {"rate": 0})"), &message).ok());
  EXPECT_EQ(message, "routes[0].rate_limit.rate: expected 0.001 to 1000000");
  EXPECT_FALSE(parse_config(with_route(R"(, "rate_limit": {"rate": 1, "key": "cookie:x"})"), &message).ok());
  EXPECT_EQ(message, "routes[0].rate_limit.key: 'cookie:x': expected \"client_ip\" or \"header:Name\"");
  EXPECT_FALSE(parse_config(with_route(R"(, "rate_limit": {"rate": 1, "brust": 2})"), &message).ok());
  EXPECT_EQ(message, "routes[0].rate_limit.brust: unknown key");
}

}  // namespace
}  // namespace waitless::proxy
