// Upgrade through the proxy on one loop: a waitless WebSocket echo upstream, the proxy's server, and the
// waitless WebSocket client as the user; the 101 is relayed, then the tunnel carries the frames both ways.
#include "waitless/proxy/tunnel.hpp"

#include <gtest/gtest.h>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/http/client_test_support.hpp"
#include "waitless/http/websocket_client.hpp"
#include "waitless/net/tcp_stream.hpp"
#include "waitless/proxy/proxy.hpp"

namespace waitless::proxy {
namespace {

using namespace std::chrono_literals;
using http::testing::run_bounded;
using http::testing::TestServer;

std::shared_ptr<http::WebSocketConfig> echo_config(bool deflate) {
  auto c = std::make_shared<http::WebSocketConfig>();
  c->options.handshake.deflate.enabled = deflate;
  c->options.handshake.subprotocols = {"echo"};
  c->handlers.message = [](http::WebSocket& ws, std::string_view m, bool binary) {
    if (m == "close-please") {
      ws.close(4001, "asked");
      return;
    }
    (void)ws.send(m, binary);
  };
  return c;
}

ProxyConfig config_for(uint16_t port) {
  ProxyConfig c;
  UpstreamSpec u;
  u.name = "app";
  u.servers.push_back(ServerSpec{"127.0.0.1:" + std::to_string(port), "127.0.0.1", port, 1});
  c.upstreams.push_back(u);
  c.routes.push_back(RouteSpec{"", "/", "app", 0});
  return c;
}

struct Seen {
  std::vector<std::pair<std::string, bool>> messages;
  std::string protocol;
  bool compressed = false;
  uint16_t close_code = 0;
  bool closed = false;
  std::string metrics_while_open;
};

void finish_servers(Loop& loop, TestServer& a, TestServer& b) {
  a.server().shutdown(200ms);
  b.server().shutdown(200ms);
  loop.run();
  a.finish();
  b.finish();
}

TEST(ProxyTunnel, WebSocketEchoesTextBinaryAndOneMegabyteThenCloses) {
  for (bool deflate : {false, true}) {
    Loop loop;
    Seen seen;
    {
      TestServer up(loop, [config = echo_config(deflate)](http::Request& req, http::Response& res) {
        (void)http::accept_websocket(req, res, config);
      });
      Proxy proxy(config_for(up.port()));
      ProxyLoop pl(proxy, loop);
      TestServer front(loop, proxy.handler());
      const std::string big(1 << 20, 'm');
      std::string binary("\x00\x01\xff\xfe", 4);
      auto config = std::make_shared<http::WebSocketConfig>();
      config->options.handshake.deflate.enabled = deflate;
      config->handlers.open = [&](http::WebSocket& ws) {
        seen.compressed = ws.compression();
        seen.protocol = std::string(ws.protocol());
        seen.metrics_while_open = proxy.metrics_text();
        (void)ws.send("hello");
        (void)ws.send(binary, true);
        (void)ws.send(big);
        (void)ws.send("close-please");
      };
      config->handlers.message = [&](http::WebSocket&, std::string_view m, bool bin) {
        seen.messages.emplace_back(std::string(m), bin);
      };
      config->handlers.close = [&](http::WebSocket&, uint16_t code, std::string_view) {
        seen.close_code = code;
        seen.closed = true;
      };
      run_bounded(loop, [&]() -> Task<> {
        auto ws =
            co_await http::connect_websocket(loop, "ws://127.0.0.1:" + std::to_string(front.port()) + "/chat",
                                             config, {.protocols = {"echo"}});
        EXPECT_TRUE(ws.ok()) << ws.error().message();
        // Until the close handshake is done and the tunnel has closed both sockets.
        for (int i = 0; i < 1000 && (!seen.closed || tunnel_stats().open > 0); ++i) co_await sleep(5ms);
      }());
      EXPECT_TRUE(seen.closed);
      EXPECT_EQ(seen.close_code, 4001);
      EXPECT_EQ(seen.protocol, "echo");
      EXPECT_EQ(seen.compressed, deflate);  // the extension is negotiated end to end, through the proxy
      ASSERT_EQ(seen.messages.size(), 3u);
      EXPECT_EQ(seen.messages[0], std::make_pair(std::string("hello"), false));
      EXPECT_EQ(seen.messages[1], std::make_pair(binary, true));
      EXPECT_TRUE(seen.messages[2].first == big) << seen.messages[2].first.size();
      EXPECT_NE(
          seen.metrics_while_open.find("waitless_proxy_tunnels_open{upstream=\"app\",server=\"127.0.0.1:" +
                                       std::to_string(up.port()) + "\"} 1"),
          std::string::npos)
          << seen.metrics_while_open;
      EXPECT_EQ(tunnel_stats().open, 0u);
      EXPECT_EQ(proxy.snapshot()->upstreams[0]->server(0).tunnels.load(), 0u);
      // The upstream connection of the tunnel never went back to the pool.
      EXPECT_EQ(pl.client_metrics().idle_connections, 0u);
      // Bounded buffering: no write queue beyond the high-water mark plus one read.
      EXPECT_LE(tunnel_stats().max_queued, TunnelOptions{}.high_water + net::Transport::kReceiveBufferSize);
      finish_servers(loop, front, up);
    }
    net::test::expect_empty(loop);
  }
}

TEST(ProxyTunnel, AnUpgradeAnsweredWithoutA101IsAnOrdinaryResponse) {
  Loop loop;
  {
    TestServer up(loop, [](http::Request& req, http::Response& res) {
      (void)res.send(426, std::string("no upgrade here: ") + std::string(req.header("upgrade")),
                     "text/plain");
    });
    Proxy proxy(config_for(up.port()));
    ProxyLoop pl(proxy, loop);
    TestServer front(loop, proxy.handler());
    http::Client client(loop);
    auto r = run_bounded(loop, [&]() -> Task<Result<http::ClientResponse>> {
      http::ClientRequest req{.url = front.url("/ws")};
      req.headers.add("Connection", "Upgrade");
      req.headers.add("Upgrade", "websocket");
      co_return co_await client.request(std::move(req));
    }());
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->status, 426);
    EXPECT_EQ(r->body, "no upgrade here: websocket");  // the Upgrade field reached the upstream
    finish_servers(loop, front, up);
  }
  net::test::expect_empty(loop);
}

// Backpressure and half-close through a tunnel of raw bytes (Upgrade: raw). The upstream answers 101 and
// reads nothing until the client is stuck (its own queue full: everything between is full too); the
// tunnel must have stopped reading the client at its high-water mark rather than queueing the rest. Then
// the upstream reads all 64 MiB, the client's FIN reaches it, and its answer still goes back (half-close).
TEST(ProxyTunnel, BackpressureBoundsTheQueueAndAFinIsPassedOn) {
  Loop loop;
  {
    constexpr std::size_t kTotal = std::size_t{64} << 20;
    bool client_stuck = false;
    uint64_t upstream_got = 0;
    bool upstream_saw_fin = false;
    std::unique_ptr<net::TcpStream> upstream;
    auto listener = net::TcpListener::listen(loop, {}, [&](int fd) {
      auto s = net::TcpStream::adopt(loop, fd);
      ASSERT_TRUE(s.ok());
      upstream = std::move(*s);
    });
    ASSERT_TRUE(listener.ok());
    const uint16_t up_port = (*listener)->port();
    auto upstream_side = [&]() -> Task<> {
      for (int i = 0; i < 1000 && !upstream; ++i) co_await sleep(2ms);
      if (!upstream) co_return;
      std::string head;
      while (head.find("\r\n\r\n") == std::string::npos) {
        auto piece = co_await upstream->read();
        if (!piece || piece->empty()) co_return;
        head += *piece;
      }
      EXPECT_NE(head.find("Upgrade: raw"), std::string::npos) << head;
      (void)upstream->write(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n");
      for (int i = 0; i < 2000 && !client_stuck; ++i) co_await sleep(5ms);  // not reading meanwhile
      EXPECT_TRUE(client_stuck);
      for (;;) {
        auto piece = co_await upstream->read();
        if (!piece) break;
        if (piece->empty()) {
          upstream_saw_fin = true;
          break;
        }
        upstream_got += piece->size();
      }
      (void)upstream->write("bye");
      upstream->end();
    };
    Proxy proxy(config_for(up_port));
    ProxyLoop pl(proxy, loop);
    TestServer front(loop, proxy.handler());
    std::string client_got;
    auto client_side = [&]() -> Task<> {
      auto c = co_await net::TcpStream::connect(loop, "127.0.0.1", front.port());
      if (!c) co_return;
      net::TcpStream& s = **c;
      (void)s.write("GET /t HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n");
      std::string head;
      while (head.find("\r\n\r\n") == std::string::npos) {
        auto piece = co_await s.read();
        if (!piece || piece->empty()) co_return;
        head += *piece;
      }
      EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 101");
      const std::string piece(64 * 1024, 'r');
      for (std::size_t sent = 0; sent < kTotal; sent += piece.size()) {
        if (!s.write(piece)) {
          client_stuck = true;  // the tunnel stopped taking bytes
          if (co_await s.drain()) co_return;
        }
      }
      (void)s.shutdown();  // half-close: the answer must still come back
      for (;;) {
        auto r = co_await s.read();
        if (!r || r->empty()) break;
        client_got += *r;
      }
      s.close();
    };
    run_bounded(
        loop,
        [&]() -> Task<> {
          co_await when_all(upstream_side(), client_side());
          for (int i = 0; i < 400 && tunnel_stats().open > 0; ++i) co_await sleep(5ms);
        }(),
        30s);
    EXPECT_EQ(upstream_got, kTotal);
    EXPECT_TRUE(upstream_saw_fin);
    EXPECT_EQ(client_got, "bye");
    EXPECT_EQ(tunnel_stats().open, 0u);
    EXPECT_LE(tunnel_stats().max_queued, TunnelOptions{}.high_water + net::Transport::kReceiveBufferSize);
    upstream.reset();
    listener->reset();
    front.server().shutdown(200ms);
    loop.run();
    front.finish();
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::proxy
