// The WebSocket client against the waitless server over loopback: handshake, echo both ways with and
// without permessage-deflate, ping/pong, close codes seen from both ends, and refused handshakes.
#include "waitless/http/websocket_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "waitless/http/test_client.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using testing::Harness;

std::shared_ptr<WebSocketConfig> echo_server(bool deflate, std::atomic<int>* server_close) {
  auto c = std::make_shared<WebSocketConfig>();
  c->options.handshake.deflate.enabled = deflate;
  c->options.handshake.subprotocols = {"echo"};
  c->handlers.message = [](WebSocket& ws, std::string_view m, bool binary) {
    if (m == "close-please") {
      ws.close(4001, "asked");
      return;
    }
    (void)ws.send(m, binary);
  };
  c->handlers.close = [server_close](WebSocket&, uint16_t code, std::string_view) { *server_close = code; };
  return c;
}

struct ClientRun {
  std::vector<std::string> got;
  uint16_t close_code = 0;
  std::string close_reason;
  bool compressed = false;
  std::string protocol;
  int pongs = 0;
};

// Connects, sends `messages`, then "close-please"; returns what the client saw.
ClientRun run_client(uint16_t port, bool deflate, std::vector<std::string> messages) {
  Loop loop;
  ClientRun out;
  auto config = std::make_shared<WebSocketConfig>();
  config->options.handshake.deflate.enabled = deflate;
  config->handlers.open = [&](WebSocket& ws) {
    out.compressed = ws.compression();
    out.protocol = std::string(ws.protocol());
    (void)ws.ping("p");
  };
  config->handlers.pong = [&](WebSocket& ws, std::string_view) {
    ++out.pongs;
    for (const std::string& m : messages) (void)ws.send(m, m.size() % 2 == 1);
    (void)ws.send("close-please");
  };
  config->handlers.message = [&](WebSocket&, std::string_view m, bool) { out.got.emplace_back(m); };
  config->handlers.close = [&](WebSocket&, uint16_t code, std::string_view reason) {
    out.close_code = code;
    out.close_reason = std::string(reason);
  };
  auto task = [&]() -> Task<> {
    auto ws = co_await connect_websocket(loop, "ws://127.0.0.1:" + std::to_string(port) + "/x?y=1", config,
                                         {.protocols = {"other", "echo"}});
    EXPECT_TRUE(ws.ok()) << ws.error().message();
  };
  run(task(), loop);
  loop.run();  // until the connection ends
  EXPECT_EQ(loop.handle_count(), 0u);
  return out;
}

TEST(WebSocketClient, EchoPingAndServerInitiatedClose) {
  for (bool deflate : {false, true}) {
    std::atomic<int> server_close{0};
    Harness h;
    auto config = echo_server(deflate, &server_close);
    h.start([config](Request& req, Response& res) { (void)accept_websocket(req, res, config); });
    h.run([&](uint16_t port) {
      std::string big;
      for (int i = 0; i < 5000; ++i) big += "line " + std::to_string(i % 13) + "\n";
      ClientRun r = run_client(port, deflate, {"a", "hello", big, std::string(100000, 'z')});
      EXPECT_EQ(r.compressed, deflate);
      EXPECT_EQ(r.protocol, "echo");
      EXPECT_EQ(r.pongs, 1);
      ASSERT_EQ(r.got.size(), 4u);
      EXPECT_EQ(r.got[0], "a");
      EXPECT_EQ(r.got[1], "hello");
      EXPECT_EQ(r.got[2], big);
      EXPECT_EQ(r.got[3], std::string(100000, 'z'));
      EXPECT_EQ(r.close_code, 4001);
      EXPECT_EQ(r.close_reason, "asked");
      for (int i = 0; i < 1000 && server_close.load() == 0; ++i) std::this_thread::sleep_for(10ms);
      EXPECT_EQ(server_close.load(), 4001);
    });
  }
}

TEST(WebSocketClient, RefusedHandshakesAreErrors) {
  Harness h;
  h.start([](Request&, Response& res) { (void)res.send(404, "no", "text/plain"); });
  h.run([&](uint16_t port) {
    Loop loop;
    auto config = std::make_shared<WebSocketConfig>();
    auto task = [&]() -> Task<> {
      auto ws = co_await connect_websocket(loop, "ws://127.0.0.1:" + std::to_string(port) + "/", config);
      EXPECT_EQ(ws.error(), make_error_code(Error::protocol_error));
      auto bad = co_await connect_websocket(loop, "http://127.0.0.1/", config);  // not ws:// nor wss://
      EXPECT_EQ(bad.error(), make_error_code(Error::invalid_argument));
    };
    run(task(), loop);
    EXPECT_EQ(loop.handle_count(), 0u);
  });
}

}  // namespace
}  // namespace waitless::http
