// Upgrades through the proxy over TLS, on one loop with real peers: a TLS listener in front (wss://), an
// upstream reached over TLS (https://), and both. Each upgraded connection hands its TLS session over with
// its socket (upgrade.hpp), so the tunnel carries plaintext between a TLS side and a plain one, or two TLS
// sides. Peers: the waitless WebSocket client (wss://) against a waitless WebSocket echo server, and raw
// ends (a net::Transport with or without a TLS layer) that write and read bytes as the test says, to check
// the bytes sent right behind the upgrade head, large transfers byte for byte with backpressure both ways,
// half-close and the end of the tunnel when the client goes.
#include <gtest/gtest.h>

#include <functional>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/http/client_test_support.hpp"
#include "waitless/http/websocket_client.hpp"
#include "waitless/net/tls_layer.hpp"
#include "waitless/net/tls_test_support.hpp"
#include "waitless/proxy/proxy.hpp"
#include "waitless/proxy/tunnel.hpp"

namespace waitless::proxy {
namespace {

using namespace std::chrono_literals;
using http::testing::run_bounded;
using http::testing::TestServer;
using net::test::RawEnd;
using net::test::TestCerts;

using net::test::client_tls;
using net::test::server_tls;

// The proxy to one upstream server on `port`, over TLS (verified with the test CA) when `tls`.
ProxyConfig config_for(uint16_t port, bool tls) {
  const std::string server = std::string(tls ? "https://" : "") + "127.0.0.1:" + std::to_string(port);
  std::string json = R"({"listen": "127.0.0.1:1", "upstreams": {"app": {"servers": [")" + server + "\"]";
  if (tls) json += R"(, "tls": {"ca": ")" + TestCerts::get().path("ca.crt") + "\"}";
  json += R"(}}, "routes": [{"prefix": "/", "upstream": "app"}]})";
  std::string message;
  auto c = parse_config(json, &message);
  EXPECT_TRUE(c.ok()) << message;
  return c.ok() ? std::move(*c) : ProxyConfig{};
}

// Bytes that differ along the way (a reordering or a loss shows).
std::string pattern(std::size_t size, uint32_t seed) {
  std::string s(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// Until `pred` or about 10 s.
Task<bool> until(std::function<bool()> pred) {
  for (int i = 0; i < 5000 && !pred(); ++i) co_await sleep(2ms);
  co_return pred();
}

// Until a write queue stops moving (everything between the two ends is full, or it emptied).
Task<> until_stalled(std::function<std::size_t()> queued) {
  std::size_t last = queued() + 1;
  for (int same = 0, i = 0; same < 3 && i < 500; ++i) {
    co_await sleep(20ms);
    const std::size_t q = queued();
    same = q == last ? same + 1 : 0;
    last = q;
  }
}

struct Sides {
  bool front_tls;
  bool upstream_tls;
  std::string name() const {
    return std::string(front_tls ? "wss" : "ws") + " to the proxy, " + (upstream_tls ? "https" : "http") +
           " to the upstream";
  }
};
constexpr Sides kSides[] = {{true, false}, {false, true}, {true, true}};

// A tunnel side holds at most high_water plus one read's plaintext (and, toward a TLS side, that read's
// record overhead) in its write queue.
constexpr std::size_t kQueueBound = TunnelOptions{}.high_water + net::Transport::kReceiveBufferSize + 1024;

class ProxyTunnelTls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(TestCerts::get().ok()) << "openssl could not make the test certificates";
    reset_tunnel_stats();
  }
  void TearDown() override { reset_tunnel_stats(); }
};

TEST_F(ProxyTunnelTls, WebSocketEchoesThroughTlsOnEitherSideAndBoth) {
  for (const Sides sides : kSides) {
    SCOPED_TRACE(sides.name());
    Loop loop;
    std::vector<std::pair<std::string, bool>> messages;
    uint16_t close_code = 0;
    bool closed = false;
    const std::string big = pattern(std::size_t{3} << 20, 7);
    {
      auto echo = std::make_shared<http::WebSocketConfig>();
      echo->handlers.message = [](http::WebSocket& ws, std::string_view m, bool binary) {
        if (m == "close-please") {
          ws.close(4001, "asked");
          return;
        }
        (void)ws.send(m, binary);
      };
      TestServer up(
          loop,
          [echo](http::Request& req, http::Response& res) { (void)http::accept_websocket(req, res, echo); },
          {}, sides.upstream_tls ? server_tls() : nullptr);
      Proxy proxy(config_for(up.port(), sides.upstream_tls));
      ProxyLoop pl(proxy, loop);
      TestServer front(loop, proxy.handler(), {}, sides.front_tls ? server_tls() : nullptr);
      auto config = std::make_shared<http::WebSocketConfig>();
      config->handlers.open = [&](http::WebSocket& ws) {
        (void)ws.send("hello");
        (void)ws.send(std::string("\x00\x01\xff", 3), true);
        (void)ws.send(big, true);
        (void)ws.send("close-please");
      };
      config->handlers.message = [&](http::WebSocket&, std::string_view m, bool binary) {
        messages.emplace_back(std::string(m), binary);
      };
      config->handlers.close = [&](http::WebSocket&, uint16_t code, std::string_view) {
        close_code = code;
        closed = true;
      };
      run_bounded(
          loop,
          [&]() -> Task<> {
            http::WebSocketClientOptions options;
            options.tls = client_tls();
            const std::string url = std::string(sides.front_tls ? "wss" : "ws") +
                                    "://127.0.0.1:" + std::to_string(front.port()) + "/chat";
            auto ws = co_await http::connect_websocket(loop, url, config, std::move(options));
            EXPECT_TRUE(ws.ok()) << ws.error().message();
            co_await until([&] { return closed && tunnel_stats().open == 0; });
          }(),
          20s);
      EXPECT_TRUE(closed);
      EXPECT_EQ(close_code, 4001);
      ASSERT_EQ(messages.size(), 3u);
      EXPECT_EQ(messages[0], std::make_pair(std::string("hello"), false));
      EXPECT_EQ(messages[1], std::make_pair(std::string("\x00\x01\xff", 3), true));
      EXPECT_TRUE(messages[2].first == big) << messages[2].first.size();
      EXPECT_EQ(tunnel_stats().open, 0u);
      EXPECT_LE(tunnel_stats().max_queued, kQueueBound);
      front.shutdown();
      up.shutdown();
      loop.run();
    }
    net::test::expect_empty(loop);
  }
}

// Raw bytes (Upgrade: raw) through the tunnel: the client's first bytes ride in the same write as its
// upgrade request; then 16 MiB each way while the receiving end reads nothing until the pipe is full (the
// tunnel must stop reading at its high-water mark rather than queue the rest), byte for byte; then the
// client half-closes (close_notify over TLS, FIN), the upstream sees the end, its answer still comes back,
// and the tunnel closes. One test per pair of sides, so that each stays well under 10 s under the sanitizers.
void raw_bytes_both_ways(const Sides sides) {
  constexpr std::size_t kEachWay = std::size_t{16} << 20;
  const std::string up_data = pattern(kEachWay, 1), down_data = pattern(kEachWay, 2);
  {
    SCOPED_TRACE(sides.name());
    Loop loop;
    {
      std::unique_ptr<RawEnd> upstream;
      TestServer up(
          loop,
          [&](http::Request& req, http::Response& res) {
            EXPECT_EQ(req.header("upgrade"), "raw");
            auto ec = http::switch_protocols(
                res, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n",
                [&](Result<http::Upgraded> u) {
                  EXPECT_TRUE(u.ok());
                  if (u)
                    upstream = std::make_unique<RawEnd>(*u->loop, u->fd, std::move(u->tls), u->unsent,
                                                        std::move(u->received), false);
                });
            EXPECT_FALSE(ec);
          },
          {}, sides.upstream_tls ? server_tls() : nullptr);
      Proxy proxy(config_for(up.port(), sides.upstream_tls));
      ProxyLoop pl(proxy, loop);
      TestServer front(loop, proxy.handler(), {}, sides.front_tls ? server_tls() : nullptr);
      auto ctls = client_tls();
      RawEnd client(loop, front.port(), sides.front_tls ? ctls.get() : nullptr);
      run_bounded(
          loop,
          [&]() -> Task<> {
            if (!co_await until([&] { return client.connected; })) co_return;
            EXPECT_FALSE(client.write(
                "GET /t HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\nfirst bytes|"));
            co_await until([&] { return client.received.find("\r\n\r\n") != std::string::npos; });
            const std::size_t end = client.received.find("\r\n\r\n");
            if (end == std::string::npos || !co_await until([&] { return upstream != nullptr; })) {
              ADD_FAILURE() << "no switch: " << client.received << client.error.message();
              co_return;
            }
            EXPECT_EQ(client.received.substr(0, 12), "HTTP/1.1 101");
            client.received.erase(0, end + 4);

            // Up: the upstream reads nothing until the client's queue stops moving.
            for (std::size_t at = 0; at < kEachWay; at += 256 * 1024)
              EXPECT_FALSE(client.write(std::string_view(up_data).substr(at, 256 * 1024)));
            co_await until_stalled([&] { return client.queued(); });
            // The path is full and the client still holds bytes: the tunnel stopped taking them.
            EXPECT_GT(client.queued(), 0u);
            upstream->set_reading(true);
            const std::size_t up_total = std::string_view("first bytes|").size() + kEachWay;
            co_await until([&] { return upstream->received.size() >= up_total || upstream->error; });
            EXPECT_EQ(upstream->received.size(), up_total);
            EXPECT_TRUE(upstream->received.substr(0, 12) == "first bytes|");
            EXPECT_TRUE(std::string_view(upstream->received).substr(12) == up_data);

            // Down: the same toward a client that reads nothing for a while.
            client.set_reading(false);
            EXPECT_FALSE(upstream->write(down_data));
            co_await until_stalled([&] { return upstream->queued(); });
            EXPECT_GT(upstream->queued(), 0u);
            client.set_reading(true);
            co_await until([&] { return client.received.size() >= kEachWay || client.error; });
            EXPECT_EQ(client.received.size(), kEachWay);
            EXPECT_TRUE(client.received == down_data);
            client.received.clear();

            // Half-close: the client's end reaches the upstream, whose answer still reaches the client.
            EXPECT_FALSE(client.shutdown());
            EXPECT_TRUE(co_await until([&] { return upstream->eof; }));
            EXPECT_FALSE(upstream->write("bye"));
            EXPECT_FALSE(upstream->shutdown());
            EXPECT_TRUE(co_await until([&] { return client.eof; }));
            EXPECT_EQ(client.received, "bye");
            EXPECT_TRUE(co_await until([] { return tunnel_stats().open == 0; }));
            EXPECT_FALSE(client.error);
            EXPECT_FALSE(upstream->error);
          }(),
          30s);
      EXPECT_EQ(tunnel_stats().open, 0u);
      EXPECT_LE(tunnel_stats().max_queued, kQueueBound);
      client.close();
      upstream.reset();
      front.shutdown();
      up.shutdown();
      loop.run();
    }
    net::test::expect_empty(loop);
  }
}

TEST_F(ProxyTunnelTls, RawBytesWssToHttpBothWaysWithBackpressureAndHalfClose) {
  raw_bytes_both_ways({true, false});
}
TEST_F(ProxyTunnelTls, RawBytesWsToHttpsBothWaysWithBackpressureAndHalfClose) {
  raw_bytes_both_ways({false, true});
}
TEST_F(ProxyTunnelTls, RawBytesWssToHttpsBothWaysWithBackpressureAndHalfClose) {
  raw_bytes_both_ways({true, true});
}

// The client goes away (its socket closed, no close_notify): the upstream sees the end of its input, and
// once it closes too the tunnel is gone.
TEST_F(ProxyTunnelTls, TheClientLeavingEndsTheUpstreamSide) {
  for (const Sides sides : kSides) {
    SCOPED_TRACE(sides.name());
    Loop loop;
    {
      std::unique_ptr<RawEnd> upstream;
      TestServer up(
          loop,
          [&](http::Request&, http::Response& res) {
            (void)http::switch_protocols(
                res, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n",
                [&](Result<http::Upgraded> u) {
                  if (u)
                    upstream = std::make_unique<RawEnd>(*u->loop, u->fd, std::move(u->tls), u->unsent,
                                                        std::move(u->received), true);
                });
          },
          {}, sides.upstream_tls ? server_tls() : nullptr);
      Proxy proxy(config_for(up.port(), sides.upstream_tls));
      ProxyLoop pl(proxy, loop);
      TestServer front(loop, proxy.handler(), {}, sides.front_tls ? server_tls() : nullptr);
      auto ctls = client_tls();
      auto client = std::make_unique<RawEnd>(loop, front.port(), sides.front_tls ? ctls.get() : nullptr);
      run_bounded(loop, [&]() -> Task<> {
        if (!co_await until([&] { return client->connected; })) co_return;
        EXPECT_FALSE(
            client->write("GET /t HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n"));
        EXPECT_TRUE(co_await until([&] { return client->received.find("\r\n\r\n") != std::string::npos; }));
        if (!co_await until([&] { return upstream != nullptr; })) {
          ADD_FAILURE() << "no switch: " << client->received;
          co_return;
        }
        EXPECT_FALSE(client->write("ping"));
        EXPECT_TRUE(co_await until([&] { return upstream->received == "ping"; }));
        client.reset();  // closed at once
        EXPECT_TRUE(co_await until([&] { return upstream->eof || upstream->error; }));
        EXPECT_EQ(tunnel_stats().open, 1u);  // half-closed: the upstream may still answer
        upstream->close();
        EXPECT_TRUE(co_await until([] { return tunnel_stats().open == 0; }));
      }());
      EXPECT_EQ(tunnel_stats().open, 0u);
      upstream.reset();
      front.shutdown();
      up.shutdown();
      loop.run();
    }
    net::test::expect_empty(loop);
  }
}

}  // namespace
}  // namespace waitless::proxy
