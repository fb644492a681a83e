// Upstreams over TLS: real waitless servers speaking TLS with throwaway certificates (made by the `openssl`
// command, net/tls_test_support.hpp) behind the proxy's handler on one loop; the configuration parsed from
// JSON as the command reads it.
#include "waitless/proxy/upstream_tls.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "waitless/async/sleep.hpp"
#include "waitless/net/tls_test_support.hpp"
#include "waitless/proxy/health.hpp"
#include "waitless/proxy/proxy_test_support.hpp"

namespace waitless::proxy {
namespace {

using namespace std::chrono_literals;
using http::testing::run_bounded;
using http::testing::TestServer;
using net::test::TestCerts;
using testing::finish_all;
using testing::Front;

// Answers the port of the connection it came on (the same port twice: the connection was reused).
Task<> whoami(http::Request& req, http::Response& res) {
  auto peer = req.peer_address();
  (void)res.send("tls from port " + std::to_string(peer ? peer->port() : 0));
  co_return;
}

// A server context with `cert` by default and `extra` chosen by SNI (names from TestCerts).
std::shared_ptr<net::TlsContext> upstream_tls(const char* cert, const char* extra = nullptr) {
  const auto& c = TestCerts::get();
  net::TlsServerConfig config{.certificate = {c.path((std::string(cert) + ".crt").c_str()),
                                              c.path((std::string(cert) + ".key").c_str())}};
  if (extra) {
    config.extra.push_back(
        {c.path((std::string(extra) + ".crt").c_str()), c.path((std::string(extra) + ".key").c_str())});
  }
  auto tls = net::TlsContext::server(config);
  EXPECT_TRUE(tls.ok());
  return tls ? tls.value() : nullptr;
}

ProxyConfig parse(const std::string& json) {
  std::string message;
  auto c = parse_config(json, &message);
  EXPECT_TRUE(c.ok()) << message;
  return c.ok() ? std::move(*c) : ProxyConfig{};
}

// One upstream "app" with `servers` (JSON) and `extra` upstream keys, route "/" to it.
std::string config_json(const std::string& servers, const std::string& extra = "") {
  return R"({"listen": "127.0.0.1:1", "metrics_path": "/__metrics", "upstreams": {"app": {"servers": )" +
         servers + extra + R"(}}, "routes": [{"prefix": "/", "upstream": "app"}]})";
}

std::string ca() { return TestCerts::get().path("ca.crt"); }

struct Answer {
  int status = 0;
  std::string body;
};

Answer get(Loop& loop, http::Client& client, const std::string& url) {
  return run_bounded(loop, [&]() -> Task<Answer> {
    auto r = co_await client.get(url);
    if (!r) co_return Answer{-1, r.error().message()};
    co_return Answer{r->status, r->body};
  }());
}

// A TLS upstream (`cert`, `extra` by SNI) and the proxy with config_of(its port) in front (one ProxyLoop per
// thread: both made and gone here); one GET through them.
Answer through(Loop& loop, const char* cert, const char* extra,
               const std::function<std::string(uint16_t)>& config_of) {
  TestServer up(loop, whoami, {}, upstream_tls(cert, extra));
  Front front(loop, parse(config_of(up.port())));
  http::Client client(loop);
  Answer a = get(loop, client, front.url("/"));
  up.shutdown();
  finish_all(loop, {&*front.server});
  up.finish();
  return a;
}

class ProxyUpstreamTls : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(TestCerts::get().ok()); }
};

TEST_F(ProxyUpstreamTls, HttpsServersAreVerifiedAndTheirConnectionsPooled) {
  Loop loop;
  {
    TestServer up(loop, whoami, {}, upstream_tls("server"));
    const std::string server = "\"https://127.0.0.1:" + std::to_string(up.port()) + "\"";
    Front front(loop, parse(config_json("[" + server + "]", R"(, "tls": {"ca": ")" + ca() + "\"}")));
    http::Client client(loop);
    auto a = get(loop, client, front.url("/"));
    auto b = get(loop, client, front.url("/"));
    EXPECT_EQ(a.status, 200) << a.body;
    EXPECT_NE(a.body.find("tls from port "), std::string::npos);
    EXPECT_EQ(a.body, b.body);  // the same upstream connection: pooled keep-alive over TLS
    EXPECT_EQ(front.pl.client_metrics().connections_opened, 0u);  // not the plain-HTTP pools
    up.shutdown();
    finish_all(loop, {&*front.server});
  }
  net::test::expect_empty(loop);
}

TEST_F(ProxyUpstreamTls, AFailedVerificationIs502WithAClearBody) {
  Loop loop;
  {
    // The system's store does not know the throwaway CA.
    auto a = through(loop, "server", nullptr, [](uint16_t port) {
      return config_json("[\"https://127.0.0.1:" + std::to_string(port) + "\"]");
    });
    EXPECT_EQ(a.status, 502);
    EXPECT_EQ(a.body, "502 bad gateway: upstream TLS peer certificate verification failed\n");
    // An expired certificate too, even from the trusted CA; `"verify": false` accepts it.
    auto expired = [](const std::string& tls) {
      return [tls](uint16_t port) {
        return config_json("[\"127.0.0.1:" + std::to_string(port) + "\"]", ", \"tls\": " + tls);
      };
    };
    EXPECT_EQ(through(loop, "expired", nullptr, expired(R"({"ca": ")" + ca() + "\"}")).status, 502);
    EXPECT_EQ(through(loop, "expired", nullptr, expired(R"({"verify": false})")).status, 200);
  }
  net::test::expect_empty(loop);
}

TEST_F(ProxyUpstreamTls, SniNamesTheCertificateToAskForAndToVerify) {
  Loop loop;
  {
    // Default certificate: localhost / 127.0.0.1; "other.test" only when the client sends that SNI.
    auto with = [&](const std::string& tls) {
      return through(loop, "server", "other", [tls](uint16_t port) {
        return config_json("[\"127.0.0.1:" + std::to_string(port) + "\"]", ", \"tls\": " + tls);
      });
    };
    EXPECT_EQ(with(R"({"ca": ")" + ca() + "\"}").status, 200);
    EXPECT_EQ(with(R"({"ca": ")" + ca() + R"(", "sni": "other.test"})").status, 200);  // sent, got, verified
    EXPECT_EQ(with(R"({"ca": ")" + ca() + R"(", "sni": "nope.example"})").status,
              502);  // no such certificate
  }
  net::test::expect_empty(loop);
}

TEST_F(ProxyUpstreamTls, ActiveHealthChecksSpeakTls) {
  Loop loop;
  {
    TestServer good(loop, whoami, {}, upstream_tls("server"));
    TestServer plain(loop, whoami);  // listed as https: its checks fail
    Proxy proxy(parse(config_json(
        "[\"127.0.0.1:" + std::to_string(good.port()) + "\", \"127.0.0.1:" + std::to_string(plain.port()) +
            "\"]",
        R"(, "tls": {"ca": ")" + ca() +
            R"("}, "health": {"path": "/", "interval_ms": 10, "timeout_ms": 500, "rise": 1, "fall": 1})")));
    const auto snap = proxy.snapshot();
    Upstream& up = *snap->upstreams[0];
    up.set_up(0, false, Upstream::now_ns());  // down until a check over TLS passes
    CancelSource stop;
    {
      Loop::Scope on(loop);
      spawn(run_health_checks(proxy, loop, 5ms), stop.token());
    }
    run_bounded(loop, [&]() -> Task<> {
      for (int i = 0; i < 400 && (!up.server(0).active_up.load() || up.server(1).active_up.load()); ++i)
        co_await sleep(5ms);
      EXPECT_TRUE(up.server(0).active_up.load());
      EXPECT_FALSE(up.server(1).active_up.load());
    }());
    stop.cancel();
    plain.server().shutdown(200ms);
    good.finish();
    plain.finish();
  }
  net::test::expect_empty(loop);
}

TEST(ProxyUpstreamTlsConfig, ParsedStrictly) {
  std::string message;
  auto c = parse_config(config_json(R"(["https://127.0.0.1:9443", "127.0.0.1:9444"])",
                                    R"(, "tls": {"verify": false, "sni": "api.internal"})"),
                        &message);
  ASSERT_TRUE(c.ok()) << message;
  const UpstreamSpec& u = c->upstreams[0];
  EXPECT_EQ(u.servers[0].addr, "127.0.0.1:9443");
  EXPECT_TRUE(u.servers[0].tls);
  EXPECT_TRUE(u.servers[1].tls);  // a "tls" section: every server
  EXPECT_EQ(u.tls.sni, "api.internal");
  EXPECT_FALSE(u.tls.verify);
  EXPECT_NE(u.tls.context, nullptr);
  c = parse_config(config_json(R"(["127.0.0.1:9443"])"), &message);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->upstreams[0].servers[0].tls);
  EXPECT_EQ(c->upstreams[0].tls.context, nullptr);
  EXPECT_FALSE(
      parse_config(config_json(R"(["127.0.0.1:1"])", R"(, "tls": {"ca": "/no/such/ca.pem"})"), &message)
          .ok());
  EXPECT_EQ(message.rfind("upstreams.app.tls.ca: '/no/such/ca.pem' cannot be used", 0), 0u) << message;
  EXPECT_FALSE(parse_config(config_json(R"(["127.0.0.1:1"])", R"(, "tls": {"sni": ""})"), &message).ok());
  EXPECT_EQ(message, "upstreams.app.tls.sni: expected a host name");
  EXPECT_FALSE(parse_config(config_json(R"(["127.0.0.1:1"])", R"(, "tls": {"cert": "x"})"), &message).ok());
  EXPECT_EQ(message, "upstreams.app.tls.cert: unknown key");
  EXPECT_FALSE(parse_config(config_json(R"(["ftp://127.0.0.1:1"])"), &message).ok());
}

}  // namespace
}  // namespace waitless::proxy
