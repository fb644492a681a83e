#include "waitless/proxy/config.hpp"

#include <gtest/gtest.h>

namespace waitless::proxy {
namespace {

std::string error_of(std::string_view json) {
  std::string message;
  auto c = parse_config(json, &message);
  EXPECT_FALSE(c.ok()) << json;
  return message;
}

TEST(ProxyConfig, TheIssueExampleParses) {
  std::string message;
  auto c = parse_config(R"({ "listen": "127.0.0.1:8080",
    "upstreams": { "app": { "servers": ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"],
                            "balance": "round_robin",
                            "health": { "path": "/healthz", "interval_ms": 500, "timeout_ms": 200, "rise": 2, "fall": 2 } } },
    "routes": [ { "prefix": "/", "upstream": "app" } ] })",
                        &message);
  ASSERT_TRUE(c.ok()) << message;
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8080);
  ASSERT_EQ(c->upstreams.size(), 1u);
  const UpstreamSpec& u = c->upstreams[0];
  EXPECT_EQ(u.name, "app");
  ASSERT_EQ(u.servers.size(), 3u);
  EXPECT_EQ(u.servers[2].addr, "127.0.0.1:9003");
  EXPECT_EQ(u.servers[2].host, "127.0.0.1");
  EXPECT_EQ(u.servers[2].port, 9003);
  EXPECT_EQ(u.servers[2].weight, 1u);
  EXPECT_EQ(u.balance, Balance::round_robin);
  EXPECT_TRUE(u.health.enabled);
  EXPECT_EQ(u.health.path, "/healthz");
  EXPECT_EQ(u.health.interval, Millis(500));
  EXPECT_EQ(u.health.timeout, Millis(200));
  EXPECT_EQ(u.health.rise, 2u);
  ASSERT_EQ(c->routes.size(), 1u);
  EXPECT_EQ(c->routes[0].prefix, "/");
  EXPECT_EQ(c->routes[0].upstream_index, 0u);
}

TEST(ProxyConfig, EveryOptionalFieldParses) {
  std::string message;
  auto c = parse_config(R"({ "listen": {"addr": "[::1]:8443", "tls": {"cert": "c.pem", "key": "k.pem"}},
    "threads": 2, "metrics_path": "/metrics", "retry_budget_percent": 10, "via": "edge",
    "timeouts": {"connect_ms": 100, "first_byte_ms": 200, "idle_ms": 300, "keepalive_ms": 400},
    "upstreams": {
      "a": { "servers": [{"addr": "10.0.0.1:80", "weight": 5}, "h.example:81"], "balance": "hash",
             "hash_key": "header:X-User", "hash_load_factor": 1.5, "passive": {"max_fails": 2, "eject_ms": 50},
             "slow_start_ms": 1000, "rewrite_host": true, "max_connections": 8, "sticky_cookie": "srv" },
      "b": { "servers": ["127.0.0.1:1"], "balance": "least_conn" } },
    "routes": [ { "host": "api.example", "prefix": "/v1", "upstream": "a" }, { "upstream": "b" } ] })",
                        &message);
  ASSERT_TRUE(c.ok()) << message;
  EXPECT_EQ(c->listen_host, "::1");
  EXPECT_EQ(c->listen_port, 8443);
  EXPECT_EQ(c->tls_cert, "c.pem");
  EXPECT_EQ(c->tls_key, "k.pem");
  EXPECT_EQ(c->threads, 2u);
  EXPECT_EQ(c->metrics_path, "/metrics");
  EXPECT_EQ(c->retry_budget_percent, 10u);
  EXPECT_EQ(c->via, "edge");
  EXPECT_EQ(c->connect_timeout, Millis(100));
  EXPECT_EQ(c->first_byte_timeout, Millis(200));
  EXPECT_EQ(c->idle_timeout, Millis(300));
  EXPECT_EQ(c->keepalive_timeout, Millis(400));
  ASSERT_EQ(c->upstreams.size(), 2u);
  const UpstreamSpec& a = c->upstreams[0];
  EXPECT_EQ(a.servers[0].weight, 5u);
  EXPECT_EQ(a.servers[1].host, "h.example");
  EXPECT_EQ(a.balance, Balance::hash);
  EXPECT_EQ(a.hash_key.kind, HashKey::Kind::header);
  EXPECT_EQ(a.hash_key.name, "X-User");
  EXPECT_DOUBLE_EQ(a.hash_load_factor, 1.5);
  EXPECT_EQ(a.passive.max_fails, 2u);
  EXPECT_EQ(a.passive.eject, Millis(50));
  EXPECT_EQ(a.slow_start, Millis(1000));
  EXPECT_TRUE(a.rewrite_host);
  EXPECT_EQ(a.max_connections, 8u);
  EXPECT_EQ(a.sticky_cookie, "srv");
  EXPECT_FALSE(a.health.enabled);
  EXPECT_EQ(c->upstreams[1].balance, Balance::least_conn);
  EXPECT_EQ(c->routes[0].host, "api.example");
  EXPECT_EQ(c->routes[1].prefix, "/");
  EXPECT_EQ(c->routes[1].upstream_index, 1u);
}

TEST(ProxyConfig, HashKeysOfEachKind) {
  for (auto [text, kind, name] : {std::tuple{"client_ip", HashKey::Kind::client_ip, ""},
                                  std::tuple{"cookie:sid", HashKey::Kind::cookie, "sid"},
                                  std::tuple{"header:X-A", HashKey::Kind::header, "X-A"}}) {
    std::string message;
    auto c =
        parse_config(std::string(R"({"listen":"127.0.0.1:1","upstreams":{"u":{"servers":["127.0.0.1:2"],)") +
                         R"("balance":"hash","hash_key":")" + text + R"("}},"routes":[{"upstream":"u"}]})",
                     &message);
    ASSERT_TRUE(c.ok()) << message;
    EXPECT_EQ(c->upstreams[0].hash_key.kind, kind);
    EXPECT_EQ(c->upstreams[0].hash_key.name, name);
  }
}

TEST(ProxyConfig, ErrorsNameTheField) {
  const std::string up = R"("upstreams":{"app":{"servers":["127.0.0.1:9001"]}})";
  const std::string routes = R"("routes":[{"upstream":"app"}])";
  EXPECT_EQ(error_of("{" + up + "," + routes + "}"), "listen: missing");
  EXPECT_EQ(error_of(R"({"listen":"nope",)" + up + "," + routes + "}"), "listen: 'nope' is not host:port");
  EXPECT_EQ(error_of(R"({"listen":"127.0.0.1:99999",)" + up + "," + routes + "}"),
            "listen: '127.0.0.1:99999' is not host:port");
  EXPECT_EQ(error_of(R"({"listen":"127.0.0.1:1","lisen":2,)" + up + "," + routes + "}"),
            "lisen: unknown key");
  EXPECT_EQ(error_of(R"({"listen":"127.0.0.1:1",)" + routes + "}"), "upstreams: missing");
  EXPECT_EQ(error_of(R"({"listen":"127.0.0.1:1",)" + up + "}"), "routes: missing");
  EXPECT_EQ(error_of(R"({"listen":"127.0.0.1:1","upstreams":{"app":{"servers":[]}},)" + routes + "}"),
            "upstreams.app.servers: expected a non-empty array");
  EXPECT_EQ(
      error_of(
          R"({"listen":"127.0.0.1:1","upstreams":{"app":{"servers":["a:1",{"addr":"b:2","weight":0}]}},)" +
          routes + "}"),
      "upstreams.app.servers[1].weight: 0 is out of range [1, 1000]");
  EXPECT_EQ(
      error_of(R"({"listen":"127.0.0.1:1","upstreams":{"app":{"servers":["a:1"],"balance":"random"}},)" +
               routes + "}"),
      "upstreams.app.balance: 'random': expected round_robin, least_conn or hash");
  EXPECT_EQ(
      error_of(
          R"({"listen":"127.0.0.1:1","upstreams":{"app":{"servers":["a:1"],"balance":"hash","hash_key":"ip"}},)" +
          routes + "}"),
      "upstreams.app.hash_key: 'ip': expected \"header:Name\", \"cookie:name\" or \"client_ip\"");
  EXPECT_EQ(
      error_of(R"({"listen":"127.0.0.1:1","upstreams":{"app":{"servers":["a:1"],"health":{"rise":"2"}}},)" +
               routes + "}"),
      "upstreams.app.health.rise: expected a whole number");
  EXPECT_EQ(
      error_of(R"({"listen":"127.0.0.1:1","upstreams":{"app":{"servers":["a:1"],"sticky_cookie":"a b"}},)" +
               routes + "}"),
      "upstreams.app.sticky_cookie: expected a cookie name (letters, digits, _ and -)");
  EXPECT_EQ(error_of(R"({"listen":"127.0.0.1:1",)" + up + R"(,"routes":[{"upstream":"ap"}]})"),
            "routes[0].upstream: no upstream named 'ap'");
  EXPECT_EQ(error_of(R"({"listen":"127.0.0.1:1",)" + up + R"(,"routes":[{"prefix":"x","upstream":"app"}]})"),
            "routes[0].prefix: must start with /");
  EXPECT_EQ(error_of("{\"listen\": "), "invalid JSON at line 1, column 12: incomplete JSON");
}

TEST(ProxyConfig, LoadConfigNamesTheFile) {
  std::string message;
  EXPECT_FALSE(load_config("/nonexistent/proxy.json", &message).ok());
  EXPECT_EQ(message, "/nonexistent/proxy.json: cannot be read");
}

TEST(ProxyConfig, SplitHostPort) {
  std::string host;
  uint16_t port = 0;
  EXPECT_TRUE(split_host_port("[::1]:80", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 80);
  EXPECT_TRUE(split_host_port("example.com:443", host, port));
  EXPECT_EQ(host, "example.com");
  EXPECT_FALSE(split_host_port("::1:80", host, port));
  EXPECT_FALSE(split_host_port("a:0", host, port));
  EXPECT_FALSE(split_host_port("a:", host, port));
  EXPECT_FALSE(split_host_port(":80", host, port));
  EXPECT_FALSE(split_host_port("a/b:80", host, port));
}

}  // namespace
}  // namespace waitless::proxy
