// WebSocket routes through the App: middleware run before the upgrade (a refusal there means no upgrade),
// the per-connection user data comes from the request, and a routed echo works.
#include "waitless/web/websocket.hpp"

#include <gtest/gtest.h>

#include "waitless/http/websocket_test_support.hpp"
#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using http::testing::RawWebSocket;

TEST(WebWebSocket, MiddlewareRunsBeforeTheUpgradeAndGivesTheUserData) {
  App app;
  auto echo = std::make_shared<http::WebSocketConfig>();
  echo->handlers.message = [](http::WebSocket& ws, std::string_view m, bool) {
    (void)ws.send(std::any_cast<std::string>(ws.user_data()) + ": " + std::string(m));
  };
  auto require_token = [](Request& req, Response& res, Next next) {
    if (req.header("authorization") != "Bearer good") {
      res.status(401).send("no");
      return;
    }
    next();
  };
  app.get("/chat/:room", require_token,
          websocket(echo, [](Request& req) -> std::any { return std::string(req.param("room")); }));
  test::serve(app, [](uint16_t port) {
    {
      http::testing::TestClient c(port);
      ASSERT_TRUE(c.send(http::testing::ws_request("/chat/lobby")));
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401);  // refused before any upgrade
    }
    RawWebSocket ws(port);
    ASSERT_TRUE(ws.send(http::testing::ws_request("/chat/lobby", "Authorization: Bearer good\r\n")));
    auto head = ws.http().read_response(true);
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 101);
    ASSERT_TRUE(ws.send_frame(http::ws::Opcode::text, "hi"));
    auto f = ws.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "lobby: hi");
    ASSERT_TRUE(ws.send_frame(http::ws::Opcode::close, http::ws::close_payload(1000, "")));
    f = ws.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->close_code(), 1000);
  });
}

TEST(WebWebSocket, AppWsRouteAndPublish) {
  App app;
  auto room = std::make_shared<http::WebSocketConfig>();
  room->handlers.open = [](http::WebSocket& ws) { ws.subscribe("news"); };
  room->handlers.message = [](http::WebSocket&, std::string_view m, bool) { (void)App::publish("news", m); };
  app.ws("/news", room);
  test::serve(app, [](uint16_t port) {
    RawWebSocket a(port), b(port);
    ASSERT_TRUE(a.send(http::testing::ws_request("/news")) && b.send(http::testing::ws_request("/news")));
    auto ha = a.http().read_response(true), hb = b.http().read_response(true);
    ASSERT_TRUE(ha && hb);
    ASSERT_EQ(ha->status, 101);
    ASSERT_EQ(hb->status, 101);
    // b's subscription is in place once a message b itself published comes back to it.
    ASSERT_TRUE(b.send_frame(http::ws::Opcode::text, "ready"));
    auto f = b.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "ready");
    ASSERT_TRUE(a.send_frame(http::ws::Opcode::text, "headline"));
    for (RawWebSocket* c : {&a, &b}) {
      f = c->read_frame();
      ASSERT_TRUE(f);
      if (f->payload == "ready") f = c->read_frame();  // a may also have been subscribed in time for it
      ASSERT_TRUE(f);
      EXPECT_EQ(f->payload, "headline");
    }
  });
}

}  // namespace
}  // namespace waitless::web
