// WebSocket over TLS (wss://): a waitless server with a TLS listener hands each upgraded connection over
// with its TLS session (upgrade.hpp), and the WebSocket reads and writes through it. Peers on one loop: the
// waitless client over wss:// (its http::Client connection hands its session over the same way), and a raw
// TLS end that sends its first frame in the same write as the upgrade request.
#include <gtest/gtest.h>

#include "waitless/async/sleep.hpp"
#include "waitless/http/client_test_support.hpp"
#include "waitless/http/websocket.hpp"
#include "waitless/http/websocket_client.hpp"
#include "waitless/http/websocket_test_support.hpp"
#include "waitless/net/tls_test_support.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using net::test::RawEnd;
using net::test::TestCerts;
using testing::run_bounded;

using net::test::client_tls;
using net::test::server_tls;

std::shared_ptr<WebSocketConfig> echo(bool deflate) {
  auto c = std::make_shared<WebSocketConfig>();
  c->options.handshake.deflate.enabled = deflate;
  c->handlers.message = [](WebSocket& ws, std::string_view m, bool binary) {
    if (m == "close-please") {
      ws.close(4001, "asked");
      return;
    }
    (void)ws.send(m, binary);
  };
  return c;
}

Task<bool> until(std::function<bool()> pred) {
  for (int i = 0; i < 2500 && !pred(); ++i) co_await sleep(2ms);
  co_return pred();
}

class WebSocketTls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(TestCerts::get().ok()) << "openssl could not make the test certificates";
  }
};

TEST_F(WebSocketTls, WssEchoesBothWaysAndClosesWithTheServersCode) {
  for (bool deflate : {false, true}) {
    SCOPED_TRACE(deflate ? "permessage-deflate" : "no extension");
    Loop loop;
    std::vector<std::string> got;
    uint16_t close_code = 0;
    bool closed = false, compressed = false;
    std::string big(std::size_t{2} << 20, 'b');
    for (std::size_t i = 0; i < big.size(); i += 101) big[i] = static_cast<char>('a' + i % 26);
    {
      Server server([config = echo(deflate)](Request& req, Response& res) {
        (void)accept_websocket(req, res, config);
      });
      auto port = server.attach(loop, net::ListenOptions{}, server_tls());
      ASSERT_TRUE(port.ok());
      auto config = std::make_shared<WebSocketConfig>();
      config->options.handshake.deflate.enabled = deflate;
      config->handlers.open = [&](WebSocket& ws) {
        compressed = ws.compression();
        (void)ws.send("hello");
        (void)ws.send(big, true);
        (void)ws.send("close-please");
      };
      config->handlers.message = [&](WebSocket&, std::string_view m, bool) { got.emplace_back(m); };
      config->handlers.close = [&](WebSocket&, uint16_t code, std::string_view) {
        close_code = code;
        closed = true;
      };
      run_bounded(loop, [&]() -> Task<> {
        WebSocketClientOptions options;
        options.tls = client_tls();
        auto ws = co_await connect_websocket(loop, "wss://127.0.0.1:" + std::to_string(*port) + "/chat",
                                             config, std::move(options));
        EXPECT_TRUE(ws.ok()) << ws.error().message();
        co_await until([&] { return closed; });
      }());
      EXPECT_TRUE(closed);
      EXPECT_EQ(close_code, 4001);
      EXPECT_EQ(compressed, deflate);
      ASSERT_EQ(got.size(), 2u);
      EXPECT_EQ(got[0], "hello");
      EXPECT_TRUE(got[1] == big) << got[1].size();
      server.shutdown(200ms);
      loop.run();
    }
    net::test::expect_empty(loop);
  }
}

// The client's first frame rides in the same TLS record as its upgrade request: the server decrypted it
// with the head, and the WebSocket gets it as its first input.
TEST_F(WebSocketTls, AFrameSentWithTheUpgradeRequestIsNotLost) {
  Loop loop;
  {
    Server server(
        [config = echo(false)](Request& req, Response& res) { (void)accept_websocket(req, res, config); });
    auto port = server.attach(loop, net::ListenOptions{}, server_tls());
    ASSERT_TRUE(port.ok());
    auto ctls = client_tls();
    RawEnd client(loop, *port, ctls.get());
    run_bounded(loop, [&]() -> Task<> {
      if (!co_await until([&] { return client.connected; })) co_return;
      EXPECT_FALSE(client.write(testing::ws_request("/") +
                                testing::RawWebSocket::frame(ws::Opcode::text, "first frame")));
      // 101 head, then the echo: an unmasked text frame of 11 bytes.
      const std::string echo = std::string("\x81\x0b") + "first frame";
      EXPECT_TRUE(co_await until([&] { return client.received.find(echo) != std::string::npos; }))
          << client.received << client.error.message();
      EXPECT_EQ(client.received.substr(0, 12), "HTTP/1.1 101");
      EXPECT_FALSE(client.write(testing::RawWebSocket::frame(ws::Opcode::close, "\x03\xe8")));
      EXPECT_TRUE(co_await until([&] { return client.eof; }));  // close frame back, then close_notify/FIN
    }());
    client.close();
    server.shutdown(200ms);
    loop.run();
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::http
